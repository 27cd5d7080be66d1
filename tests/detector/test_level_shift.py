"""Level shifts read from the newest periods: a lasting step, when it began, by how much, for how long."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from core.anomaly import HOURS_PER_MONTH
from detector.level_shift import find_level_shift

DAY, HOUR = pd.Timedelta(days=1), pd.Timedelta(hours=1)
FACTOR, FLOOR = 1.2, 100.0


def daily(ratios: dict[int, float], days: int = 40, level: float = 850.0) -> tuple[np.ndarray, np.ndarray]:
    """A weekly-shaped daily series with small noise; day ``d`` spends ``ratios[d]`` times its expected."""
    index = pd.date_range("2026-08-01", periods=days, freq="D")
    expected = level * np.where(index.day_of_week < 5, 1.0, 0.8)
    noise = 1 + 0.02 * np.random.default_rng(3).standard_normal(days)
    factor = np.array([ratios.get(d, 1.0) for d in range(days)])
    return expected * noise * factor, expected


def step(start: int, ratio: float, end: int | None = None, days: int = 40) -> dict[int, float]:
    return {d: ratio for d in range(start, end if end is not None else days)}


@pytest.mark.parametrize(
    ("name", "ratios", "since", "ratio"),
    [
        ("a step still going on, 8 days", step(32, 1.37), 32, 1.37),
        ("a large step, 3 days", step(37, 2.5), 37, 2.5),
        ("a calm day inside the run does not split it", {**step(30, 1.4), 34: 1.0}, 30, 1.36),
        ("a step that ended two days ago", step(25, 1.5, end=38), None, None),
        ("under the sustained factor", step(30, 1.12), None, None),
        ("no step", {}, None, None),
        ("a step down", step(30, 0.6), None, None),
    ],
)
def test_daily_shifts(name: str, ratios: dict[int, float], since: int | None, ratio: float | None) -> None:
    values, expected = daily(ratios)
    index = pd.date_range("2026-08-01", periods=len(values), freq="D")
    shift = find_level_shift(values, expected, index, DAY, factor=FACTOR, floor=FLOOR)
    if since is None:
        assert shift is None, name
        return
    assert shift is not None, name
    assert shift.since == index[since].to_pydatetime(), name
    assert shift.hours == (len(values) - since) * 24, name
    assert shift.ratio == pytest.approx(ratio, rel=0.03), name
    excess = values[since:].sum() - expected[since:].sum()
    assert shift.month_impact == pytest.approx(excess / shift.hours * HOURS_PER_MONTH), name


def test_an_immaterial_step_is_none() -> None:
    values, expected = daily(step(30, 1.5), level=5.0)  # +2.50 a day: under the $ floor over the run
    index = pd.date_range("2026-08-01", periods=len(values), freq="D")
    assert find_level_shift(values, expected, index, DAY, factor=FACTOR, floor=FLOOR) is None
    assert find_level_shift(values, expected, index, DAY, factor=FACTOR, floor=1.0) is not None


@pytest.mark.parametrize("start_hour", [13, 0, 23])
def test_an_hourly_step_is_dated_to_its_hour(start_hour: int) -> None:
    """Hourly series are judged in day buckets (a day evens out their daily shape); the start is the hour."""
    hours = 14 * 24
    index = pd.date_range("2026-09-01", periods=hours, freq="h")
    expected = 35.0 * (1 + 0.3 * np.sin(2 * np.pi * (index.hour.to_numpy() - 6) / 24))
    noise = 1 + 0.05 * np.random.default_rng(5).standard_normal(hours)
    begin = 6 * 24 + start_hour
    values = expected * noise * np.where(np.arange(hours) >= begin, 1.37, 1.0)
    shift = find_level_shift(values, expected, index, HOUR, factor=FACTOR, floor=FLOOR)
    assert shift is not None
    assert abs((shift.since - index[begin].to_pydatetime()).total_seconds()) <= 2 * 3600
    assert shift.hours == pytest.approx(hours - begin, abs=2)
    assert shift.ratio == pytest.approx(1.37, rel=0.03)


def test_a_drift_still_growing_has_not_settled() -> None:
    """A drift to 2.2x over two weeks is read (it keeps its incident open) but never as a week-long level."""
    ramp = {26 + d: 1.0 + 1.2 * (d + 1) / 14 for d in range(14)}
    values, expected = daily(ramp)
    index = pd.date_range("2026-08-01", periods=len(values), freq="D")
    shift = find_level_shift(values, expected, index, DAY, factor=FACTOR, floor=FLOOR)
    assert shift is not None and shift.hours < 7 * 24 and shift.ratio > 1.8
    # A drift that levelled off at 2.2x: once the level has held half as long again as a week (a level a
    # drift reached must stand out of the drift's own tail), it is a week-long level.
    for top, settled in ((33, False), (29, True)):
        values, expected = daily({**ramp, **step(top, 2.2)})
        shift = find_level_shift(values, expected, index, DAY, factor=FACTOR, floor=FLOOR)
        assert shift is not None and shift.ratio == pytest.approx(2.2, rel=0.05)
        assert (shift.hours >= 7 * 24) is settled, (top, shift)


@pytest.mark.parametrize("seed", [3, 11, 29])
def test_a_slow_drift_never_reads_as_a_week_long_level(seed: int) -> None:
    """A drift to 1.8x over five weeks (a lifecycle rule that stopped expiring objects), in 2% noise: on
    every day of it, the level read is younger than a week, so it is never learned as a new normal while
    it grows."""
    days = 60
    index = pd.date_range("2026-08-01", periods=days, freq="D")
    expected = 850.0 * np.where(index.day_of_week < 5, 1.0, 0.8)
    noise = 1 + 0.02 * np.random.default_rng(seed).standard_normal(days)
    ramp = np.array([1.0 + 0.8 * min(max(d - 10, 0), 35) / 35 for d in range(days)])
    values = expected * noise * ramp
    seen, old = 0, []
    for end in range(20, 46):  # the ramp's days, until it tops out at day 45
        shift = find_level_shift(values[:end], expected[:end], index[:end], DAY, factor=FACTOR, floor=FLOOR)
        if shift is not None:
            seen += 1
            if shift.hours >= 7 * 24:
                old.append((end, shift.hours))
    assert old == []  # the drift is read (its incident stays open), only never as settled
