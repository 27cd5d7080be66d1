"""Flagged points → anomaly events (:class:`core.anomaly.Anomaly`): a run of periods, not a single point.

An event spans the candidate run that led to its anomalous points (so a persistence rule delays the
alert, not the start), merges runs of the same side separated by at most ``merge_gap`` normal periods,
and carries what a person triaging it needs: actual and expected spend over the event, the $ and %
impact, its strongest score, the expected value split into trend and seasonal parts, how complete its
newest period was, and the extra spend to the end of the month if it goes on at the same rate.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta

import numpy as np
import pandas as pd

from core.anomaly import Anomaly
from detector import compiled
from detector.nan_arrays import nan_to_num, nanmean, nansum

# |impact| / expected is capped so that an event on an expected value of ~0 still serialises as a number.
MAX_IMPACT_PCT = 1e6


def build_events(points: pd.DataFrame, step: pd.Timedelta, *, merge_gap: int = 0) -> list[Anomaly]:
    """Events from a frame with the post-rules' columns (``is_anomaly``, ``candidate``) and the forecast.

    Events cover every flagged period (the ``flagged`` column when present): with onset alarms
    ``is_anomaly`` marks only where an alarm was raised, but the event still spans the whole run.
    """
    column = "flagged" if "flagged" in points.columns else "is_anomaly"
    needed = (*_EVENT_COLUMNS, "candidate", column)
    arrays = {c: points[c].to_numpy() for c in needed}
    arrays["flagged"] = arrays[column]
    return events_from_arrays(arrays, pd.DatetimeIndex(points.index), step, merge_gap=merge_gap)


def events_from_arrays(
    points: Mapping[str, np.ndarray], index: pd.DatetimeIndex, step: pd.Timedelta, *, merge_gap: int = 0
) -> list[Anomaly]:
    """:func:`build_events` on plain arrays (``flagged``, ``candidate`` and the forecast columns)."""
    spans = _spans(
        np.asarray(points["flagged"], dtype=bool), np.asarray(points["candidate"], dtype=np.int64), merge_gap
    )
    if not spans:
        return []
    arrays = {c: np.asarray(points[c], dtype=np.float64) for c in _EVENT_COLUMNS}
    return [_event(arrays, index, lo, hi, step) for lo, hi in spans]


_EVENT_COLUMNS = ("value", "expected", "trend", "seasonal", "completeness", "tail_score")


def _spans(flagged: np.ndarray, candidate: np.ndarray, merge_gap: int) -> list[tuple[int, int]]:
    spans: list[tuple[int, int]] = []
    n = flagged.size
    following = 0  # the first period after the last span
    sides = candidate.tolist()  # Python ints: indexing a numpy array one item at a time costs more
    # From one flagged period to the next: the unflagged ones in between start nothing.
    for i in np.flatnonzero(flagged).tolist():
        if i < following:
            continue
        side = sides[i]
        lo = i
        while lo > 0 and sides[lo - 1] == side:
            lo -= 1  # the run began before persistence was reached
        hi = i
        while hi + 1 < n and sides[hi + 1] == side:
            hi += 1
        if spans and lo - spans[-1][1] - 1 <= merge_gap and sides[spans[-1][0]] == side:
            spans[-1] = (spans[-1][0], hi)
        else:
            spans.append((lo, hi))
        following = hi + 1
    return spans


def _event(
    arrays: dict[str, np.ndarray], index: pd.DatetimeIndex, lo: int, hi: int, step: pd.Timedelta
) -> Anomaly:
    if index.tz is None and compiled.active():
        # One compiled pass for the numbers (detector.compiled_events), the same to the bit.
        from detector.compiled_events import event_numbers

        in_month, remaining = _month_bounds(index.asi8[lo : hi + 1], index.unit, step)
        actual, expected, trend, seasonal, peak, so_far, rate, c_last = event_numbers(
            arrays, lo, hi, in_month
        )
        projected = _extended(so_far, rate, c_last, remaining)
    else:
        actual, expected, trend, seasonal, peak, c_last, projected = _numbers(arrays, index, lo, hi, step)
    impact = actual - expected
    if abs(expected) > 0:
        # np.clip's answer on a float (NaN stays NaN), without its array round trip.
        impact_pct = min(max(impact / abs(expected) * 100.0, -MAX_IMPACT_PCT), MAX_IMPACT_PCT)
    else:
        impact_pct = MAX_IMPACT_PCT if impact > 0 else (-MAX_IMPACT_PCT if impact < 0 else 0.0)
    return Anomaly(
        start=_moment(index, lo),
        end=_moment(index, hi),
        direction="up" if impact >= 0 else "down",
        actual=actual,
        expected=expected,
        impact=impact,
        impact_pct=impact_pct,
        anomaly_score=peak,  # the strongest evidence in the event
        projected_month_impact=projected,
        expected_trend=trend,
        expected_seasonal=seasonal,
        completeness=c_last if c_last < 1.0 else None,
    )


def _numbers(
    arrays: dict[str, np.ndarray], index: pd.DatetimeIndex, lo: int, hi: int, step: pd.Timedelta
) -> tuple[float, float, float, float, float, float, float]:
    """The event's four sums, strongest score, last completeness and month projection, by numpy (the
    reference of :mod:`detector.compiled_events`, and the path for an aware index)."""
    span = slice(lo, hi + 1)
    c = nan_to_num(arrays["completeness"][span], nan=1.0)
    value, forecast = arrays["value"][span], arrays["expected"][span]
    # Merged gaps may contain normal points; they belong to the event's spend all the same.
    # The four sums in one reduction: numpy sums each row of a C-contiguous block along its fast axis with
    # the pairwise sum it uses on a 1-D array, so each is nansum's answer to the bit, for a quarter of the
    # calls (tests/detector/test_events.py compares them).
    block = np.stack([value, forecast * c, arrays["trend"][span] * c, arrays["seasonal"][span] * c])
    actual, expected, trend, seasonal = np.add.reduce(np.where(block != block, 0.0, block), axis=1).tolist()
    peak = float(np.fmax.reduce(arrays["tail_score"][span]))
    projected = _projected(index, lo, hi, value, forecast, c, step)
    return actual, expected, trend, seasonal, peak, float(c[-1]), projected


_EPOCH = datetime(1970, 1, 1)
_MICROSECOND = timedelta(microseconds=1)
_TICKS_PER_US = {"s": 0, "ms": 0, "us": 1, "ns": 1000}


def _moment(index: pd.DatetimeIndex, i: int) -> datetime:
    """``index[i].to_pydatetime()``; for a tz-naive index on whole microseconds, from its integers
    (a Timestamp and its conversion cost more than the rest of the event)."""
    per_us = _TICKS_PER_US[index.unit]
    tick = int(index.asi8[i])
    if index.tz is None and per_us and tick % per_us == 0:
        return _EPOCH + timedelta(microseconds=tick // per_us)
    moment: datetime = index[i].to_pydatetime()
    return moment


def _projected(
    index: pd.DatetimeIndex,
    lo: int,
    hi: int,
    value: np.ndarray,
    expected: np.ndarray,
    c: np.ndarray,
    step: pd.Timedelta,
) -> float:
    """:func:`projected_month_impact` of the periods ``lo..hi`` of ``index``, without slicing a tz-naive
    index (a new DatetimeIndex costs more than the projection)."""
    if index.tz is None:
        months = _month_bounds(index.asi8[lo : hi + 1], index.unit, step)
        return _project(months, value, expected, c)
    return projected_month_impact(index[lo : hi + 1], value, expected, c, step)


def projected_month_impact(
    index: pd.DatetimeIndex, value: np.ndarray, expected: np.ndarray, c: np.ndarray, step: pd.Timedelta
) -> float:
    """Impact inside the month the event ends in, plus its mean rate over the periods left in that month.

    The rate uses full-period equivalents (partial periods projected), so a spike seen in half a day
    projects as a full day's worth, as burn-rate alerting expects.
    """
    if index.tz is None:
        months = _month_bounds(index.asi8, index.unit, step)
    else:
        end = index[-1]
        month_end = (end + pd.offsets.MonthBegin(1)).normalize()
        # On the index's integers (UTC ticks, as an aware comparison uses): comparing the DatetimeIndex
        # itself costs more than the rest of the event.
        first = end.replace(day=1).normalize().as_unit(index.unit)
        in_month = index.asi8 >= int(first.asm8.astype(np.int64))
        remaining = max(int((month_end - (end + step)) / step), 0)
        months = (in_month, remaining)
    return _project(months, value, expected, c)


def _project(months: tuple[np.ndarray, int], value: np.ndarray, expected: np.ndarray, c: np.ndarray) -> float:
    """The projection, given which periods are in the event's last month and how many are left in it."""
    in_month, remaining = months
    impact = value - expected * c
    so_far = nansum(impact[in_month])
    with np.errstate(all="ignore"):
        full = value / np.where(c > 0, c, 1.0) - expected
    rate = nanmean(full) if np.isfinite(full).any() else 0.0
    return _extended(so_far, rate, float(c[-1]), remaining)


def _extended(so_far: float, rate: float, c_last: float, remaining: int) -> float:
    """The impact so far, plus the rate over the newest period's missing share (still to come at the
    same rate) and over the periods left in the month."""
    return so_far + (1.0 - c_last) * rate + rate * remaining


def _month_bounds(ticks: np.ndarray, unit: str, step: pd.Timedelta) -> tuple[np.ndarray, int]:
    """For a tz-naive index's integers (``unit`` ticks): which periods fall in the month of the last one,
    and how many whole periods of ``step`` are left in that month after it, as the Timestamp and month
    offset arithmetic of :func:`projected_month_impact` gives them for an aware index."""
    end = int(ticks[-1])
    per_us = _TICKS_PER_US[unit]
    if per_us:
        moment = _EPOCH + timedelta(microseconds=end // per_us)
        first_day = datetime(moment.year, moment.month, 1)
        next_day = datetime(moment.year + moment.month // 12, moment.month % 12 + 1, 1)
        first = (first_day - _EPOCH) // _MICROSECOND * per_us
        following_ns = (next_day - _EPOCH) // _MICROSECOND * 1000
        end_ns = end * (1000 // per_us)
    else:
        last = ticks[-1:].astype(f"datetime64[{unit}]")
        month = last.astype("datetime64[M]")
        first = int(month.astype(f"datetime64[{unit}]").astype(np.int64)[0])
        following_ns = int((month + 1).astype("datetime64[ns]").astype(np.int64)[0])
        end_ns = int(last.astype("datetime64[ns]").astype(np.int64)[0])
    step_ns = int(step.value)
    # Timedelta / Timedelta is a float division of the nanoseconds; int() truncates as there.
    return ticks >= first, max(int((following_ns - (end_ns + step_ns)) / step_ns), 0)
