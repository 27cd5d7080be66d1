"""The tail surprise: the vectorised two-pass computation equals its point-by-point definition."""

from __future__ import annotations

import math

import numpy as np
import pytest

from detector.tail import tail_decades, trailing_mean


def _one_pass(
    m: np.ndarray,
    history: np.ndarray,
    window: int,
    min_history: int,
    floor: float,
    flagged: np.ndarray | None = None,
    memory: int = 0,
) -> np.ndarray:
    out = np.zeros(m.size)
    for t in range(m.size):
        lo = max(0, t - window)
        past = history[lo:t].copy()
        if flagged is not None:
            recent = np.arange(lo, t) >= t - memory
            past[flagged[lo:t] & recent] = np.nan
        past = past[np.isfinite(past)]
        if past.size < min_history or not np.isfinite(m[t]):
            continue
        u = float(np.quantile(past, 0.9))
        over = past[past > u]
        beta = max(float((over - u).mean()) if over.size else 0.0, floor + 1e-12)
        if m[t] > u:
            out[t] = 1.0 + (m[t] - u) / beta / math.log(10.0)
    return out


def reference(
    m: np.ndarray, window: int, min_history: int, floor: float, exclude: float | None, memory: int | None
) -> np.ndarray:
    first = _one_pass(m, m, window, min_history, floor)
    if exclude is None:
        return first
    if memory is None:
        return _one_pass(m, np.where(first >= exclude, np.nan, m), window, min_history, floor)
    return _one_pass(m, m, window, min_history, floor, flagged=first >= exclude, memory=memory)


@pytest.mark.parametrize(("exclude", "memory"), [(None, None), (3.0, None), (3.0, 5)])
def test_vectorised_tail_equals_the_definition(exclude: float | None, memory: int | None) -> None:
    rng = np.random.default_rng(11)
    for trial in range(40):
        n = int(rng.integers(20, 400))
        m = rng.gamma(2.0, 1.0, n)
        for _ in range(int(rng.integers(0, 5))):  # spikes and plateaus, so exclusions happen
            i = int(rng.integers(0, n))
            m[i : i + int(rng.integers(1, 10))] += rng.uniform(5, 40)
        m[rng.integers(0, n, 2)] = np.nan
        window = int(rng.choice([12, 28, 60]))
        fast = tail_decades(m, window=window, min_history=8, floor=1e-6, exclude=exclude, memory=memory)
        slow = reference(m, window, 8, 1e-6, exclude, memory)
        np.testing.assert_allclose(fast, slow, rtol=1e-9, atol=1e-12, err_msg=f"trial {trial}")


def test_exclusion_keeps_recurring_spikes_surprising() -> None:
    # Crash counts whose spikes are the anomalies: without the second pass each spike teaches the tail.
    m = np.full(400, 1.0) + np.random.default_rng(2).gamma(2.0, 0.1, 400)
    m[100::40] += 30.0
    plain = tail_decades(m, window=168, min_history=21, floor=1e-3, exclude=None)
    cleaned = tail_decades(m, window=168, min_history=21, floor=1e-3, exclude=3.0)
    assert cleaned[380] >= 3.0 > plain[380]


def test_trailing_mean_is_nan_aware() -> None:
    x = np.array([1.0, np.nan, 3.0, 5.0])
    np.testing.assert_allclose(trailing_mean(x, 2), [1.0, 1.0, 3.0, 4.0])
    assert np.isnan(trailing_mean(np.array([np.nan, 1.0]), 1)[0])


@pytest.mark.parametrize(("exclude", "memory"), [(None, None), (3.0, None), (3.0, 5)])
def test_stacked_rows_equal_one_call_per_row_to_the_bit(exclude: float | None, memory: int | None) -> None:
    """Several series in one call (one per row) answer exactly what each answers alone, including rows
    that have something to exclude beside rows that have nothing."""
    rng = np.random.default_rng(5)
    n = 300
    rows = rng.gamma(2.0, 1.0, (6, n))
    rows[1, 150:153] += 40.0  # a spike: excluded on the second pass
    rows[3, 200:] += 25.0  # a step
    rows[4, rng.integers(0, n, 5)] = np.nan
    floor = 1e-3 * (1.0 + rng.random(n))
    kwargs = {"window": 56, "min_history": 14, "exclude": exclude, "memory": memory}
    stacked = tail_decades(rows, floor=floor, **kwargs)  # type: ignore[arg-type]
    alone = np.stack([tail_decades(r, floor=floor, **kwargs) for r in rows])  # type: ignore[arg-type]
    assert stacked.shape == rows.shape
    assert np.array_equal(stacked, alone)
    assert (stacked[1] >= 3.0).any()  # the spike row did take the second pass
