"""The compiled kernels (``detector/compiled_*.py``) against the numpy reference, to the bit.

Random inputs of the kinds the detector passes: NaN gaps, ±inf, ties (rounded values), constant stretches
(the robust z's mean-deviation fallback and its floor), negative series, windows longer than the series
and longer than numpy's 128-value pairwise block.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from detector import recurrence, tail, views
from detector.compiled import active, use_compiled
from detector.compiled_tail import pairwise_sum, pairwise_sum_span, slide_counted
from detector.compiled_windows import _merged_distance

TRIALS = 150


def _series(rng: np.random.Generator, trial: int) -> np.ndarray:
    n = int(rng.choice([1, 2, 5, 30, 90, 200, 400]))
    x = 1000 + rng.normal(0, 50, n)
    if trial % 3 == 0:
        x = np.round(x / 100) * 100  # ties
    if trial % 5 == 0:
        x[:] = 7.0  # constant but for a few points: the MAD is 0
        x[rng.random(n) < 0.1] = 9.0
    if trial % 11 == 0:
        x = -x
    if trial % 13 == 0:
        x[:] = 0.0
    x[rng.random(n) < 0.07] = np.nan
    return x


def _same(a: np.ndarray, b: np.ndarray) -> bool:
    return a.shape == b.shape and a.tobytes() == b.tobytes()


def test_the_kernels_are_on_by_default() -> None:
    assert active()
    with use_compiled(False):
        assert not active()
    assert active()


@pytest.mark.parametrize(("setting", "expected"), [("0", "False"), ("1", "True")])
def test_the_environment_switches_the_kernels(setting: str, expected: str) -> None:
    probe = "from detector import compiled; print(compiled.active())"
    res = subprocess.run(
        [sys.executable, "-c", probe],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "SPENDSENTRY_COMPILED": setting},
        cwd=Path(__file__).resolve().parents[2],
    )
    assert res.stdout.strip() == expected, res.stderr


def test_pairwise_sum_adds_in_numpy_order() -> None:
    rng = np.random.default_rng(1)
    for n in [*range(0, 300), 511, 1000, 2016, 4097]:
        # Magnitudes over ten decades: another order of additions rounds differently.
        a = rng.normal(0, 1, n) * 10 ** rng.uniform(-5, 5, n)
        assert np.float64(pairwise_sum(a, 0, n)).tobytes() == np.add.reduce(a).tobytes(), n
        zeros = np.full(n, -0.0)
        assert np.float64(pairwise_sum(zeros, 0, n)).tobytes() == np.add.reduce(zeros).tobytes(), n


@pytest.mark.parametrize("window", [56, 168, 300])
def test_tail_decades_is_the_same(window: int) -> None:
    rng = np.random.default_rng(window)
    differ = []
    for trial in range(TRIALS):
        x = _series(rng, trial)
        n = x.size
        x[-3:] += rng.uniform(0, 2000)
        m = np.stack(
            [np.maximum(x - 1000, 0), np.abs(x - 1000), rng.exponential(1, n), -x, rng.normal(0, 1, n)]
        )
        if trial % 7 == 0:
            m[rng.random(m.shape) < 0.03] = np.inf
        floor = 1e-3 * np.abs(np.nan_to_num(x)) + 1e-12
        kwargs = {"window": window, "min_history": 14, "floor": floor, "exclude": 3.0}
        with use_compiled(False):
            want = tail.tail_decades(m, **kwargs)
        got = tail.tail_decades(m, **kwargs)
        if not _same(want, got):
            differ.append(trial)
        if trial == 0:
            assert np.count_nonzero(want) > 0 or n < 20  # the inputs do reach the tail
    assert differ == []


@pytest.mark.parametrize("window", [3, 24, 56, 288])
def test_robust_z_and_trailing_median_are_the_same(window: int) -> None:
    rng = np.random.default_rng(100 + window)
    differ = []
    for trial in range(TRIALS):
        x = _series(rng, trial)
        rows = np.stack([x, x - rng.normal(1000, 50, x.size)])
        with use_compiled(False):
            want = (views.robust_z(rows, window), views.robust_z(x, window), views.trailing_median(x, window))
        got = (views.robust_z(rows, window), views.robust_z(x, window), views.trailing_median(x, window))
        differ += [trial for w, g in zip(want, got, strict=True) if not _same(w, g)]
    assert differ == []


def test_infinite_values_are_left_to_numpy() -> None:
    x = np.array([1.0, 2.0, np.inf, 3.0, 2.0, 1.0, 5.0, np.nan, 2.0])
    with use_compiled(False):
        want = views.robust_z(x, 4)
    assert _same(views.robust_z(x, 4), want)


@pytest.mark.parametrize("block", [1, 3, 12])
def test_recurrences_are_the_same(block: int) -> None:
    rng = np.random.default_rng(200 + block)
    differ = []
    for trial in range(TRIALS):
        n = int(rng.choice([1, 2, 10, 90, 300]))
        window = int(rng.choice([56, 168, 300]))
        m = np.abs(rng.normal(0, 1, n))
        if trial % 3 == 0:
            m = np.round(m, 1)  # ties: ">=" reaches
        m[rng.random(n) < 0.05] = np.nan
        if trial % 7 == 0:
            m[rng.random(n) < 0.03] = np.inf
        args = {"window": window, "block": block}
        with use_compiled(False):
            want = (*recurrence.recurrences(m, **args), recurrence.recurrence_cap(m, **args, min_count=3))
        got = (*recurrence.recurrences(m, **args), recurrence.recurrence_cap(m, **args, min_count=3))
        if not all(_same(w, g) and w.dtype == g.dtype for w, g in zip(want, got, strict=True)):
            differ.append(trial)
    assert differ == []


def test_row_quantiles_and_trailing_means_are_the_same() -> None:
    rng = np.random.default_rng(9)
    differ = []
    for trial in range(TRIALS):
        n = int(rng.choice([1, 2, 5, 30, 90, 200]))
        x = rng.normal(0, 1, n) * 10 ** rng.uniform(-3, 3, n)  # sums that round differently by order
        if trial % 3 == 0:
            x = np.round(x, 1)
        if trial % 5 == 0:
            x[rng.random(n) < 0.1] = -0.0
        x[rng.random(n) < 0.1] = np.nan
        if trial % 7 == 0:
            x[rng.random(n) < 0.05] = np.inf  # a row quantile keeps ±inf (only NaN is left out)
        if trial % 11 == 0:
            x[rng.random(n) < 0.05] = -np.inf
        w = int(rng.choice([1, 3, 8, 56]))
        rows = np.lib.stride_tricks.sliding_window_view(np.concatenate([np.full(w - 1, np.nan), x]), w)
        k = int(rng.choice([2, 3, 6, 24]))
        with use_compiled(False):
            want = [tail.row_quantile(rows, q) for q in (0.5, 0.9)]
            want += [tail.row_quantile(np.stack([rows, rows[::-1]]), 0.5), tail.trailing_mean(x, k)]
        got = [tail.row_quantile(rows, q) for q in (0.5, 0.9)]
        got += [tail.row_quantile(np.stack([rows, rows[::-1]]), 0.5), tail.trailing_mean(x, k)]
        if not all(_same(w_, g) for w_, g in zip(want, got, strict=True)):
            differ.append(trial)
    assert differ == []


@pytest.mark.parametrize("lag", [1, 7, 24])
def test_same_phase_twins_and_levels_on_a_grid_are_the_same(lag: int) -> None:
    rng = np.random.default_rng(300 + lag)
    step = 3_600_000_000_000
    differ = []
    for trial in range(TRIALS):
        x = _series(rng, trial)
        if trial % 4 == 0:
            x[rng.random(x.size) < 0.05] = np.inf
        times = np.arange(x.size, dtype=np.int64) * step
        within = 0.25 * np.abs(np.nan_to_num(x - 1000.0))
        if trial % 6 == 0:
            within[rng.random(x.size) < 0.2] = np.inf  # a repeat even where no value is found
        args = {"period_ns": lag * step, "tolerance_ns": 0, "periods": int(rng.choice([1, 3, 4, 7]))}
        level_args = {**args, "tolerance_ns": 60_000_000_000}
        with use_compiled(False), np.errstate(invalid="ignore"):  # inf - inf in numpy's reference
            want = (
                *views.same_phase_twins(x, times, **args, within=within),
                *views.same_phase_level(x, times, **level_args),
            )
        got = (
            *views.same_phase_twins(x, times, **args, within=within),
            *views.same_phase_level(x, times, **level_args),
        )
        if not all(_same(w, g) and w.dtype == g.dtype for w, g in zip(want, got, strict=True)):
            differ.append(trial)
    assert differ == []


def test_a_counted_slide_keeps_each_window_sorted_and_counted() -> None:
    """The sorted window after every step is numpy's sort of the values in it (NaN last), with ties,
    zeros of both signs, NaN and infinities leaving and coming, and windows longer than the history."""
    rng = np.random.default_rng(7)
    for trial in range(60):
        n, window = int(rng.integers(1, 120)), int(rng.choice([1, 3, 24, 56, 288]))
        x = np.round(rng.normal(0, 3, n))  # ties and zeros
        x[rng.random(n) < 0.2] *= -0.0  # -0.0 beside 0.0 (and a few -0.0 * nonzero, i.e. sign flips)
        x[rng.random(n) < 0.08] = np.nan
        x[rng.random(n) < 0.03] = np.inf
        s = np.full(window, np.nan)
        count = 0
        for t in range(n):
            k = t - window
            count = slide_counted(s, count, x[k] if k >= 0 else np.nan, x[t])
            inside = x[max(0, t - window + 1) : t + 1]
            finite = np.sort(inside[np.isfinite(inside)])
            assert count == finite.size, (trial, t)
            assert np.array_equal(s[:count], finite), (trial, t)
            assert np.isnan(s[count:]).all(), (trial, t)


def test_the_merged_distance_is_the_order_statistic_of_the_distances() -> None:
    rng = np.random.default_rng(11)
    for _ in range(300):
        count = int(rng.integers(1, 60))
        s = np.sort(np.round(rng.normal(0, 4, count)))
        center = float(rng.choice([0.0, float(np.median(s)), float(rng.normal(0, 6))]))
        distances = np.sort(np.abs(s - center))
        split = int(np.searchsorted(s, center, side="left"))
        for rank in range(count):
            assert _merged_distance(s, count, center, split, rank) == distances[rank]


@pytest.mark.parametrize("n", [0, 1, 5, 8, 13, 56, 128, 129, 300, 2016, 4100])
def test_a_pairwise_sum_over_a_span_is_the_whole_sum(n: int) -> None:
    """Positive values inside the span and zeros outside: the same bits as numpy's sum of the whole."""
    rng = np.random.default_rng(n)
    for _ in range(40):
        first = int(rng.integers(0, n + 1))
        last = int(rng.integers(first, n + 1))
        a = np.zeros(n)
        a[first:last] = rng.lognormal(0, 3, last - first)
        want = np.add.reduce(a)
        assert pairwise_sum(a, 0, n) == want
        scribbled = a.copy()
        scribbled[:first] = np.nan  # never read
        scribbled[last:] = np.nan
        got = pairwise_sum_span(scribbled, 0, n, first, last)
        assert got.hex() == float(want).hex(), (first, last)
