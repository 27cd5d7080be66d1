"""The sweep's cheap checks never skip a series the full readings would find something on: wherever a
check fails, the full reading (events still open, a level shift) finds nothing, on random series."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from detector.events import events_from_arrays
from detector.level_shift import find_level_shift
from detector.open_checks import may_have_open_event, may_shift


def _points(rng: np.random.Generator, n: int) -> dict[str, np.ndarray]:
    candidate = rng.choice([-1, 0, 0, 1], n).astype(np.int8)
    flagged = (candidate != 0) & (rng.random(n) < 0.4)
    if rng.random() < 0.1:
        flagged |= rng.random(n) < 0.05  # a flagged period without a side
    expected = rng.gamma(2.0, 50.0, n)
    return {
        "flagged": flagged,
        "candidate": candidate,
        "value": expected * rng.uniform(0.5, 2.0, n),
        "expected": expected,
        "trend": expected * 0.9,
        "seasonal": expected * 0.1,
        "completeness": np.ones(n),
        "tail_score": rng.uniform(0.0, 1.0, n),
    }


@pytest.mark.parametrize("seed", range(200))
def test_no_open_event_is_missed(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 40))
    points = _points(rng, n)
    index = pd.date_range("2026-08-01", periods=n, freq="D")
    gap = int(rng.integers(0, 3))
    since = index[-1] - pd.Timedelta(days=1) * gap
    events = events_from_arrays(points, index, pd.Timedelta(days=1), merge_gap=gap)
    still_open = [a for a in events if pd.Timestamp(a.end) >= since]
    check = may_have_open_event(points["flagged"], points["candidate"], int(index.searchsorted(since)))
    assert check or not still_open


def test_the_event_check_skips_events_that_ended() -> None:
    candidate = np.array([0, 1, 1, 0, 0, 0, 0], dtype=np.int8)
    flagged = np.array([0, 1, 1, 0, 0, 0, 0], dtype=bool)
    assert not may_have_open_event(flagged, candidate, 6)
    assert may_have_open_event(flagged, candidate, 2)
    assert not may_have_open_event(np.zeros(7, dtype=bool), candidate, 0)


@pytest.mark.filterwarnings("ignore:divide by zero:RuntimeWarning")
@pytest.mark.parametrize("hourly", [False, True])
@pytest.mark.parametrize("seed", range(150))
def test_no_level_shift_is_missed(seed: int, hourly: bool) -> None:
    rng = np.random.default_rng(seed)
    step = pd.Timedelta(hours=1) if hourly else pd.Timedelta(days=1)
    n = int(rng.integers(1, 24 * 9 if hourly else 40))
    expected = rng.gamma(2.0, 50.0, n)
    value = expected * rng.uniform(0.8, 1.3, n)
    at = int(rng.integers(0, n))
    value[at:] *= rng.choice([1.0, 1.6, 2.5, 4.0])  # a step, or none
    if rng.random() < 0.2:
        value[rng.random(n) < 0.1] = np.nan
    if rng.random() < 0.2:
        expected[rng.random(n) < 0.2] = rng.choice([0.0, -5.0, np.nan])
    index = pd.date_range("2026-08-01", periods=n, freq=step)
    factor = float(rng.choice([1.3, 1.5, 2.0]))
    shift = find_level_shift(
        value, expected, index, step, factor=factor, floor=float(rng.choice([0.0, 50.0]))
    )
    assert may_shift(value, expected, step, factor=factor) or shift is None


def test_the_shift_check_reads_the_newest_day() -> None:
    step = pd.Timedelta(days=1)
    expected = np.full(10, 100.0)
    assert not may_shift(np.full(10, 100.0), expected, step, factor=1.5)
    assert may_shift(np.r_[np.full(9, 100.0), 130.0], expected, step, factor=1.5)
    assert not may_shift(np.r_[np.full(9, 100.0), 124.0], expected, step, factor=1.5)
    assert not may_shift(np.full(10, 300.0), np.zeros(10), step, factor=1.5)
