"""SPOT's exclusion point by point: the compiled tail equals its definition, run one point at a time."""

from __future__ import annotations

import math

import numpy as np
import pytest

from detector.score_threshold import sequential_tail_threshold
from detector.sequential_tail import sequential_tail, twin_tail
from detector.tail import tail_decades


def definition(
    m: np.ndarray, window: int, min_history: int, floor: float, exclude: float | None, memory: int | None
) -> np.ndarray:
    """Each point against the ``window`` before it, without the points flagged before it (for ``memory``)."""
    out = np.zeros(m.size)
    flagged = np.zeros(m.size, dtype=bool)
    reach = window if memory is None else memory
    for t in range(m.size):
        lo = max(0, t - window)
        past = m[lo:t].copy()
        past[flagged[lo:t] & (np.arange(lo, t) >= t - reach)] = np.nan
        past = past[np.isfinite(past)]
        if past.size < min_history or not np.isfinite(m[t]):
            continue
        u = float(np.quantile(past, 0.9))
        over = past[past > u]
        beta = max(float((over - u).mean()) if over.size else 0.0, floor + 1e-12)
        if m[t] > u:
            out[t] = 1.0 + (m[t] - u) / beta / math.log(10.0)
            flagged[t] = exclude is not None and out[t] >= exclude
    return out


@pytest.mark.parametrize(("exclude", "memory"), [(None, None), (3.0, None), (3.0, 5), (2.0, 30)])
def test_compiled_tail_equals_the_point_by_point_definition(
    exclude: float | None, memory: int | None
) -> None:
    rng = np.random.default_rng(5)
    flagged_somewhere = False
    for _ in range(30):
        n = int(rng.integers(20, 400))
        m = rng.gamma(2.0, 1.0, n)
        for _ in range(int(rng.integers(0, 6))):  # spikes and plateaus, so exclusions happen and chain
            i = int(rng.integers(0, n))
            m[i : i + int(rng.integers(1, 30))] += rng.uniform(5, 40)
        m[rng.integers(0, n, 2)] = np.nan
        window = int(rng.integers(20, 120))
        want = definition(m, window, 8, 1e-6, exclude, memory)
        got = sequential_tail(m, window=window, min_history=8, floor=1e-6, exclude=exclude, memory=memory)
        np.testing.assert_allclose(got.decades, want, rtol=1e-9, atol=1e-12)
        flagged_somewhere |= exclude is not None and bool((want >= exclude).any())
    assert flagged_somewhere or exclude is None


@pytest.mark.parametrize("window", [56, 168, 2016])
def test_without_flags_it_is_the_two_pass_tail_to_the_bit(window: int) -> None:
    """Nothing flagged, nothing to keep out: numpy's own sums, to the bit (the excess is summed pairwise,
    in numpy's order, over windows of under and over 128 points)."""
    rng = np.random.default_rng(8)
    m = rng.gamma(2.0, 1.0, (3, 2600))
    m[rng.random(m.shape) < 0.03] = np.nan
    floor = 1e-3 * rng.uniform(0.5, 2.0, 2600)
    kwargs = {"window": window, "min_history": 21, "memory": None}
    alone = tail_decades(m, floor=floor, exclude=None, **kwargs)  # type: ignore[arg-type]
    got = sequential_tail(m, floor=floor, exclude=None, **kwargs)  # type: ignore[arg-type]
    assert got.decades.tobytes() == alone.tobytes()


def test_rows_are_scored_as_if_alone() -> None:
    rng = np.random.default_rng(9)
    rows = rng.gamma(2.0, 1.0, (4, 300))
    rows[:, 150:170] += 30.0
    floor = 1e-3 * np.ones(300)
    stacked = sequential_tail(rows, window=100, min_history=12, floor=floor, exclude=3.0)
    for r in range(4):
        one = sequential_tail(rows[r], window=100, min_history=12, floor=floor, exclude=3.0)
        for name in ("decades", "u", "beta", "count"):
            assert getattr(stacked, name)[r].tobytes() == getattr(one, name).tobytes(), name


def test_a_run_of_large_values_does_not_teach_the_tail_a_later_spike() -> None:
    """A day of large distances (a level shift before the same-phase values learn it) is over a tenth of
    the window: two passes flag only its start and let the rest raise the tail; run point by point, each
    is judged without those before it, so they all stay out and a spike after them still stands out."""
    rng = np.random.default_rng(2)
    m = rng.gamma(2.0, 0.5, 400)
    m[300:340] = rng.uniform(20.0, 24.0, 40)
    m[380] = 16.0
    settings = {"window": 200, "min_history": 25, "floor": 1e-6, "exclude": 3.0}
    two_pass = twin_tail(m, "two-pass", memory=None, **settings)  # type: ignore[arg-type]
    sequential = twin_tail(m, "sequential", memory=None, **settings)  # type: ignore[arg-type]
    assert two_pass[380] < 1.5 < 3.0 < sequential[380]
    with pytest.raises(ValueError, match="twin_exclusion"):
        twin_tail(m, "three-pass", memory=None, **settings)  # type: ignore[arg-type]


@pytest.mark.parametrize("memory", [None, 30])
def test_the_inverted_sequential_tail_is_where_it_reaches_its_decades(memory: int | None) -> None:
    """:func:`detector.score_threshold.sequential_tail_threshold` against the sequential tail itself, on a
    series whose run of large values is flagged point by point (and not by two passes)."""
    rng = np.random.default_rng(6)
    m = rng.exponential(1.0, 400)
    m[120:150] = rng.uniform(20.0, 24.0, 30)
    m[260] = 40.0
    settings = {"window": 100, "min_history": 14, "floor": np.full(400, 1e-6), "exclude": 3.0}
    flags = sequential_tail(m, memory=memory, **settings).decades >= 3.0  # type: ignore[arg-type]
    two_pass = tail_decades(m, memory=memory, **settings) >= 3.0  # type: ignore[arg-type]
    assert (flags != two_pass).any()  # the case tells the two apart
    reach = sequential_tail_threshold(m, 2.1, memory=memory, **settings)  # type: ignore[arg-type]
    assert np.isposinf(reach[:14]).all() and np.isfinite(reach[14:]).all()
    for t in (20, 125, 149, 151, 200, 261, 330):
        for factor, above in ((1.0 + 1e-9, True), (1.0 - 1e-6, False)):
            trial = m.copy()
            trial[t] = reach[t] * factor
            got = sequential_tail(trial, memory=memory, **settings).decades[t]  # type: ignore[arg-type]
            assert bool(got >= 2.1) is above, (t, factor)
