"""The alarm boundary is where the detector's own decision flips, checked against the detector itself.

On several series (daily with a weekly cycle, hourly with a daily cycle, flat, with a spike and a step),
with the stored model held fixed: every point the detector leaves alone lies inside the band and every
point it flags outside; and for a sample of points, moving the value just beyond the boundary (2% of the
boundary's distance from the expected spend) makes the detector flag it while just inside does not,
found by actually re-running the detector. The inversion is exact (no tolerance beyond those 2%); its one
documented limit, a repeat of an earlier same-phase excursion above the boundary, has a test of its own.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import numpy as np
import pandas as pd
import pytest

from detector.alarm_boundary import AlarmBoundary, alarm_boundary, alerting_ready
from detector.detector import Detection, Detector
from detector.post_rules import DetectorConfig
from detector.score_threshold import tail_threshold
from detector.tail import tail_decades
from models.seasonal import BatchedSeasonalBaseline

KINDS = ("daily", "hourly", "flat", "spike", "hourly_spike")
NUDGE = 0.02  # share of the boundary's distance from the expected spend


def series(kind: str) -> tuple[pd.Series, str]:
    """A test series and its granularity; the anomalies are planted at fixed places."""
    rng = np.random.default_rng(KINDS.index(kind))
    if kind in ("daily", "spike", "flat"):
        n = 120 if kind == "flat" else 365
        index = pd.date_range("2025-01-01", periods=n, freq="D")
        if kind == "flat":
            values = np.full(n, 500.0) + 2.0 * (np.arange(n) % 7 == 0)
        else:
            weekday = np.asarray(index.day_of_week < 5)
            values = 1000.0 + 200.0 * weekday + rng.normal(0.0, 40.0, n)
        if kind == "spike":
            values[250] *= 1.9
            values[300:304] *= 1.5
        return pd.Series(values, index=index), "day"
    n = 30 * 24
    index = pd.date_range("2025-01-01", periods=n, freq="h")
    hour = np.asarray(index.hour)
    values = 50.0 + 20.0 * np.sin(2 * np.pi * hour / 24) + rng.normal(0.0, 3.0, n)
    if kind == "hourly_spike":
        values[500] += 60.0
        values[600:606] += 25.0
    return pd.Series(values, index=index), "hour"


@dataclass(frozen=True)
class Case:
    y: pd.Series
    model: BatchedSeasonalBaseline
    detector: Detector
    detection: Detection
    boundary: AlarmBoundary
    as_of: pd.Timestamp | None


@cache
def case(kind: str, direction: str = "up", min_impact: float | None = None, cut: float = 0.0) -> Case:
    """The series scored with a model fitted once (the stored model), and its boundary; ``cut`` ends the
    clock that far into the newest period (a partial period)."""
    y, granularity = series(kind)
    step = pd.Timedelta(days=1) if granularity == "day" else pd.Timedelta(hours=1)
    as_of = y.index[-1] + step * cut if cut else None
    model = BatchedSeasonalBaseline(granularity=granularity).fit(y.iloc[:-1] if cut else y)
    detector = Detector(DetectorConfig(direction=direction, min_impact=min_impact))  # type: ignore[arg-type]
    detection = detector.run(model, y, fit=False, as_of=as_of)
    boundary = alarm_boundary(detection, detector.config, alerting_ready=alerting_ready(model, detection))
    return Case(y, model, detector, detection, boundary, as_of)


def flagged_with(c: Case, t: int, value: float) -> bool:
    """Whether the detector flags point ``t`` when its value is ``value`` (everything else as it is)."""
    y = c.y.copy()
    y.iloc[t] = value
    return bool(c.detector.run(c.model, y, fit=False, as_of=c.as_of).columns["flagged"][t])


def check_flips(c: Case, points: list[int]) -> None:
    expected = c.detection.columns["expected"] * c.detection.columns["completeness"]
    for t in points:
        for edge, outward in ((c.boundary.upper[t], 1.0), (c.boundary.lower[t], -1.0)):
            if not np.isfinite(edge):
                continue
            gap = max(abs(edge - expected[t]), 1e-3 * abs(edge))
            assert flagged_with(c, t, edge + outward * NUDGE * gap), (t, edge, "just beyond")
            assert not flagged_with(c, t, edge - outward * NUDGE * gap), (t, edge, "just inside")


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("direction", ["up", "both"])
def test_the_detector_flags_exactly_the_points_outside_the_band(kind: str, direction: str) -> None:
    c = case(kind, direction)
    value = c.detection.columns["value"]
    flagged = c.detection.columns["flagged"]
    outside = (value >= c.boundary.upper) | (value <= c.boundary.lower)
    assert np.isfinite(c.boundary.upper).sum() > len(value) // 2  # a band is drawn on most of the series
    assert np.array_equal(outside, flagged), np.flatnonzero(outside != flagged)
    if direction == "up":
        assert np.isneginf(c.boundary.lower).all()  # falling spend never alarms: no lower boundary
    else:
        assert np.isfinite(c.boundary.lower).sum() > len(value) // 2


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("direction", ["up", "both"])
def test_just_beyond_the_boundary_alarms_and_just_inside_does_not(kind: str, direction: str) -> None:
    c = case(kind, direction)
    finite = np.flatnonzero(np.isfinite(c.boundary.upper))
    rng = np.random.default_rng(7)
    sample = sorted(rng.choice(finite, size=5, replace=False).tolist())
    # The planted anomalies and the periods right after them (where an event goes on) are checked too.
    planted = {"spike": [250, 251, 301], "hourly_spike": [500, 501, 601]}.get(kind, [])
    check_flips(c, sample + planted)


def test_the_impact_rule_keeps_the_boundary_that_far_from_the_expected_spend() -> None:
    plain, floored = case("daily"), case("daily", min_impact=600.0)
    expected = floored.detection.columns["expected"]
    finite = np.isfinite(floored.boundary.upper)
    assert (floored.boundary.upper[finite] >= expected[finite] + 600.0 - 1e-9).all()
    # The $ rule binds where the score alone would alarm closer in.
    assert (floored.boundary.upper[finite] > plain.boundary.upper[finite] + 1.0).any()
    check_flips(floored, [100, 200, 300])


def test_a_partial_newest_period_is_judged_projected_and_never_as_a_dip() -> None:
    half = case("daily", "both", cut=0.5)
    assert half.detection.columns["completeness"][-1] == pytest.approx(0.5)
    assert np.isfinite(half.boundary.upper[-1]) and np.isneginf(half.boundary.lower[-1])
    check_flips(half, [len(half.y) - 1])


def test_no_boundary_where_the_detector_cannot_alarm() -> None:
    c = case("daily")
    unready = alarm_boundary(c.detection, c.detector.config, alerting_ready=False)
    assert np.isposinf(unready.upper).all()
    short = c.y.iloc[:10]  # under two weekly cycles: the model may not alert yet
    model = BatchedSeasonalBaseline(granularity="day").fit(short)
    detection = c.detector.run(model, short, fit=False)
    assert not alerting_ready(model, detection)
    # Persistence: a point can only be flagged where the run before it is long enough.
    persistent = DetectorConfig(min_persistence=2)
    detection = Detector(persistent).run(c.model, c.y, fit=False)
    boundary = alarm_boundary(detection, persistent)
    previous = np.concatenate([[0], detection.columns["candidate"][:-1]])
    assert np.isposinf(boundary.upper[previous != 1]).all()


def test_a_repeat_of_last_weeks_spike_is_routine_though_beyond_the_boundary() -> None:
    """The documented limit: the boundary is where alarms start. A value repeating an earlier same-phase
    excursion is routine to the twin view, so it stays quiet above the boundary; a week after a spike, a
    value just beyond the boundary (well below the spike) still alarms."""
    rng = np.random.default_rng(3)
    index = pd.date_range("2025-01-01", periods=300, freq="D")
    y = pd.Series(
        1000.0 + 200.0 * np.asarray(index.day_of_week < 5) + rng.normal(0.0, 40.0, 300), index=index
    )
    y.iloc[[200, 207]] *= 2.0
    model = BatchedSeasonalBaseline(granularity="day").fit(y)
    detector = Detector()
    detection = detector.run(model, y, fit=False)
    boundary = alarm_boundary(detection, detector.config, alerting_ready=alerting_ready(model, detection))
    assert detection.columns["flagged"][200] and not detection.columns["flagged"][207]
    assert y.iloc[207] > boundary.upper[207]
    c = Case(y, model, detector, detection, boundary, None)
    check_flips(c, [207])
    assert boundary.upper[207] < 0.8 * y.iloc[207]


@pytest.mark.parametrize("memory", [None, 30])
def test_the_tail_threshold_is_where_the_tail_reaches_its_decades(memory: int | None) -> None:
    """The inverted tail against :func:`detector.tail.tail_decades` itself, spikes kept out of its history
    (for ever, or for ``memory`` points) included."""
    rng = np.random.default_rng(5)
    m = rng.exponential(1.0, 400)
    m[[120, 121, 250]] = 40.0  # flagged by the first pass: out of the second pass's history
    settings = {"window": 100, "min_history": 14, "floor": np.full(400, 1e-6), "exclude": 3.0}
    reach = tail_threshold(m, 2.1, memory=memory, **settings)  # type: ignore[arg-type]
    assert np.isposinf(reach[:14]).all() and np.isfinite(reach[14:]).all()
    for t in (20, 122, 123, 200, 251, 330):
        for factor, above in ((1.0 + 1e-9, True), (1.0 - 1e-6, False)):
            trial = m.copy()
            trial[t] = reach[t] * factor
            assert bool(tail_decades(trial, memory=memory, **settings)[t] >= 2.1) is above, (t, factor)  # type: ignore[arg-type]
