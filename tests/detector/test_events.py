"""Flagged points become events with spend, impact, decomposition and month projection."""

from __future__ import annotations

import dataclasses
import struct

import numpy as np
import pandas as pd
import pytest

from core.anomaly import Anomaly
from detector.compiled import use_compiled
from detector.events import MAX_IMPACT_PCT, build_events, events_from_arrays


def frame(values, expected, flags, candidate=None, completeness=None, start="2024-03-25") -> pd.DataFrame:
    n = len(values)
    exp = np.asarray(expected, dtype=float)
    return pd.DataFrame(
        {
            "value": values,
            "expected": exp,
            "trend": exp * 0.75,
            "seasonal": exp * 0.25,
            "completeness": completeness if completeness is not None else [1.0] * n,
            "tail_score": [0.9 if f else 0.1 for f in flags],
            "is_anomaly": flags,
            "candidate": candidate if candidate is not None else [1 if f else 0 for f in flags],
        },
        index=pd.date_range(start, periods=n, freq="D"),
    )


DAY = pd.Timedelta(days=1)


def test_one_event_per_run_with_totals_and_decomposition() -> None:
    f = frame([10, 30, 40, 10, 10], [10] * 5, [False, True, True, False, False])
    [event] = build_events(f, DAY)
    assert (event.start, event.end) == (pd.Timestamp("2024-03-26"), pd.Timestamp("2024-03-27"))
    assert event.actual == 70 and event.expected == 20 and event.impact == 50
    assert event.impact_pct == pytest.approx(250.0)
    assert event.expected_trend == pytest.approx(15.0) and event.expected_seasonal == pytest.approx(5.0)
    assert event.direction == "up" and event.anomaly_score == pytest.approx(0.9)


def test_persistence_delay_does_not_move_the_start() -> None:
    # Candidates from day 1, anomalous only from day 3 (persistence 3): the event starts on day 1.
    f = frame([10, 30, 30, 30, 10], [10] * 5, [False, False, False, True, False], candidate=[0, 1, 1, 1, 0])
    [event] = build_events(f, DAY)
    assert event.start == pd.Timestamp("2024-03-26") and event.impact == 60


def test_merge_gap_and_sides() -> None:
    f = frame([30, 10, 30, 0], [10] * 4, [True, False, True, True], candidate=[1, 0, 1, -1])
    assert len(build_events(f, DAY, merge_gap=0)) == 3
    merged = build_events(f, DAY, merge_gap=1)
    assert [e.direction for e in merged] == ["up", "down"]
    assert merged[0].actual == 70  # the normal day inside the event counts too


def test_month_projection_continues_the_rate_to_month_end() -> None:
    # Event on Mar 29-30 at +20/day; Mar 31 remains: 40 so far + 20 more.
    f = frame([10] * 4 + [30, 30, 10], [10] * 7, [False] * 4 + [True, True, False])
    [event] = build_events(f, DAY)
    assert event.projected_month_impact == pytest.approx(60.0)


def test_partial_newest_period_is_compared_with_its_share() -> None:
    f = frame([10, 10, 15], [10, 10, 10], [False, False, True], completeness=[1.0, 1.0, 0.5])
    [event] = build_events(f, DAY)
    assert event.expected == pytest.approx(5.0) and event.impact == pytest.approx(10.0)
    assert event.completeness == pytest.approx(0.5)


def test_zero_expected_caps_impact_pct() -> None:
    f = frame([0, 5], [0, 0], [False, True])
    assert build_events(f, DAY)[0].impact_pct == MAX_IMPACT_PCT


def test_events_span_flagged_periods_when_only_the_onset_alarms() -> None:
    points = frame([10, 30, 30, 30, 10], [10] * 5, [0, 1, 0, 0, 0], candidate=[0, 1, 1, 1, 0])
    points["flagged"] = [False, True, True, True, False]
    (event,) = build_events(points, pd.Timedelta(days=1))
    assert event.start == pd.Timestamp("2024-03-26") and event.end == pd.Timestamp("2024-03-28")
    assert event.actual == pytest.approx(90.0) and event.impact == pytest.approx(60.0)


@pytest.mark.parametrize("freq", ["D", "h"])
@pytest.mark.parametrize("unit", ["ns", "us", "s"])
def test_times_from_the_index_integers_are_pandas_own(freq: str, unit: str) -> None:
    """Event times and month projections worked out on a tz-naive index's integers are what the
    Timestamp and month-offset arithmetic gives (the path an aware index takes: here in UTC)."""
    rng = np.random.default_rng(len(freq) + len(unit))
    step = pd.Timedelta(days=1) if freq == "D" else pd.Timedelta(hours=1)
    for start in ["2024-01-30", "2024-02-27 13:00", "2025-12-31", "2026-03-01", "2026-06-29 23:00"]:
        index = pd.date_range(start, periods=int(rng.integers(3, 60)), freq=freq).as_unit(unit)
        value = rng.normal(100, 30, len(index))
        c = np.ones(len(index))
        c[-1] = 0.5
        flags = list(rng.random(len(index)) < 0.4)
        f = frame(value, [80.0] * len(index), flags, completeness=c)
        f.index = index
        naive = build_events(f, step)
        f.index = index.tz_localize("UTC")
        aware = build_events(f, step)
        assert naive and len(naive) == len(aware)
        for a, b in zip(naive, aware, strict=True):
            assert type(a.start) is type(b.start) and a.start.tzinfo is None
            assert (a.start, a.end) == (b.start.replace(tzinfo=None), b.end.replace(tzinfo=None))
            assert a.projected_month_impact == b.projected_month_impact


def _sums_one_by_one(part: dict[str, np.ndarray]) -> list[float]:
    """The event's sums as they were computed before they were stacked: one nansum per column."""
    c = np.nan_to_num(part["completeness"], nan=1.0)
    sums = [part["value"], part["expected"] * c, part["trend"] * c, part["seasonal"] * c]
    return [float(np.nansum(s)) for s in sums]


def _clipped_pct(impact: float, expected: float) -> float:
    return float(np.clip(impact / abs(expected) * 100.0, -MAX_IMPACT_PCT, MAX_IMPACT_PCT))


@pytest.mark.parametrize("seed", range(12))
def test_stacked_sums_are_each_columns_nansum_to_the_bit(seed: int) -> None:
    rng = np.random.default_rng(300 + seed)
    for _ in range(25):
        n = int(rng.choice([1, 2, 3, 5, 7, 8, 9, 16, 17, 40, 129, 300]))
        scale = 10.0 ** rng.integers(-3, 7, n)
        cols = {k: rng.normal(0, 1, n) * scale for k in ("value", "expected", "trend", "seasonal")}
        cols["value"][rng.random(n) < 0.2] = np.nan  # periods no point was sent for
        cols["completeness"] = np.where(rng.random(n) < 0.3, rng.random(n), 1.0)
        cols["completeness"][rng.random(n) < 0.1] = np.nan
        cols["tail_score"] = rng.random(n)
        cols["flagged"] = np.ones(n, dtype=bool)
        cols["candidate"] = np.ones(n, dtype=np.int64)
        index = pd.date_range("2026-01-01", periods=n, freq="D")
        (event,) = events_from_arrays(cols, index, DAY)
        actual, expected, trend, seasonal = _sums_one_by_one(cols)
        got = [event.actual, event.expected, event.expected_trend, event.expected_seasonal]
        assert [struct.pack("<d", v) for v in got] == [
            struct.pack("<d", v) for v in (actual, expected, trend, seasonal)
        ]
        if abs(expected) > 0:
            assert struct.pack("<d", event.impact_pct) == struct.pack(
                "<d", _clipped_pct(actual - expected, expected)
            )


@pytest.mark.parametrize(
    ("actual", "expected"),
    [(1.0, 1.0), (51.0, 1.0), (1e5, 1.0), (1e300, 1e-300), (-1e300, 1e-300), (np.inf, 1.0), (np.inf, np.inf)],
)
def test_the_impact_percentage_is_clipped_as_np_clip_clips(actual: float, expected: float) -> None:
    cols = {
        "value": np.array([actual]),
        "expected": np.array([expected]),
        "trend": np.array([expected]),
        "seasonal": np.array([0.0]),
        "completeness": np.array([1.0]),
        "tail_score": np.array([0.9]),
        "flagged": np.array([True]),
        "candidate": np.array([1]),
    }
    with np.errstate(all="ignore"):
        (event,) = events_from_arrays(cols, pd.date_range("2026-01-01", periods=1, freq="D"), DAY)
        want = _clipped_pct(actual - expected, expected)
    assert struct.pack("<d", event.impact_pct) == struct.pack("<d", want)


def _fields(events: list[Anomaly]) -> list[tuple[object, ...]]:
    """Every field of every event, floats as their bytes (NaN and signed zeros compared exactly)."""
    return [
        tuple(struct.pack("<d", v) if isinstance(v, float) else v for v in dataclasses.astuple(e))
        for e in events
    ]


@pytest.mark.parametrize("seed", range(8))
def test_compiled_event_numbers_are_numpys(seed: int) -> None:
    """Events over runs of any length, gaps (NaN values), partial and unknown completeness, infinities,
    NaN scores, daily and hourly steps across a month's end: the same events, field for field."""
    rng = np.random.default_rng(900 + seed)
    for trial in range(20):
        n = int(rng.choice([3, 9, 40, 200, 400]))
        hourly = trial % 2 == 1
        step = pd.Timedelta(hours=1) if hourly else DAY
        index = pd.date_range("2026-01-20", periods=n, freq="h" if hourly else "D")
        scale = 10.0 ** rng.integers(-2, 6, n)
        cols = {k: rng.normal(0, 1, n) * scale for k in ("value", "expected", "trend", "seasonal")}
        cols["value"][rng.random(n) < 0.15] = np.nan
        cols["expected"][rng.random(n) < 0.03] = np.inf
        cols["completeness"] = np.where(rng.random(n) < 0.3, rng.random(n), 1.0)
        cols["completeness"][rng.random(n) < 0.1] = np.nan
        cols["completeness"][rng.random(n) < 0.05] = 0.0
        cols["tail_score"] = np.where(rng.random(n) < 0.1, np.nan, rng.random(n))
        cols["flagged"] = rng.random(n) < 0.3
        cols["candidate"] = np.where(rng.random(n) < 0.5, 1, np.where(rng.random(n) < 0.5, -1, 0))
        with use_compiled(False):
            want = events_from_arrays(cols, index, step, merge_gap=1)
        got = events_from_arrays(cols, index, step, merge_gap=1)
        assert len(want) > 0 or not cols["flagged"].any()
        assert _fields(got) == _fields(want), (seed, trial)
