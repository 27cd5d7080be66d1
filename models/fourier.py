"""Design matrices of the seasonal baseline: piecewise-linear trend plus Fourier seasonality.

A :class:`DesignSpec` is everything needed to rebuild the regressors of one series at any timestamps, so
a fitted model is its spec plus one coefficient vector. Fixed-period terms (daily, weekly, yearly) are
phased on absolute time (days since the Unix epoch), so two series with the same span share the very
same matrix and can be solved together; the monthly terms follow the calendar month (day of month over
days in month), because month-start charges land on the 1st whatever the month's length.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from core.types import Granularity

_EPOCH = pd.Timestamp("1970-01-01")
_DAY = pd.Timedelta(days=1)
MONTHLY = "monthly"


@dataclass(frozen=True, slots=True)
class Seasonality:
    """One Fourier block: ``order`` sine/cosine pairs of period ``period_days`` (0 = calendar month)."""

    name: str
    period_days: float
    order: int


@dataclass(frozen=True, slots=True)
class DesignSpec:
    """Regressors of one fitted series: trend on ``[origin, origin + span_days]`` scaled to [0, 1]."""

    origin: pd.Timestamp
    span_days: float
    changepoints: tuple[float, ...]
    seasonalities: tuple[Seasonality, ...]
    month_start: bool
    month_end: bool = False
    calendar_by_hour: bool = False  # intraday: one calendar column per hour of the day, not per day

    @property
    def n_trend(self) -> int:
        return 2 + len(self.changepoints)

    @property
    def n_calendar(self) -> int:
        """Columns of each calendar effect: the whole day, or each of its 24 hours."""
        return 24 if self.calendar_by_hour else 1

    @property
    def n_columns(self) -> int:
        return (
            self.n_trend
            + sum(2 * s.order for s in self.seasonalities)
            + (int(self.month_start) + int(self.month_end)) * self.n_calendar
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "origin": self.origin.isoformat(),
            "span_days": self.span_days,
            "changepoints": list(self.changepoints),
            "seasonalities": [[s.name, s.period_days, s.order] for s in self.seasonalities],
            "month_start": self.month_start,
            "month_end": self.month_end,
            "calendar_by_hour": self.calendar_by_hour,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> DesignSpec:
        return cls(
            origin=pd.Timestamp(d["origin"]),
            span_days=float(d["span_days"]),
            changepoints=tuple(float(c) for c in d["changepoints"]),
            seasonalities=tuple(Seasonality(str(n), float(p), int(o)) for n, p, o in d["seasonalities"]),
            month_start=bool(d["month_start"]),
            # Specs written before the month-end effect existed have none.
            month_end=bool(d.get("month_end", False)),
            calendar_by_hour=bool(d.get("calendar_by_hour", False)),
        )


def to_utc_naive(index: pd.DatetimeIndex) -> pd.DatetimeIndex:
    """The contract's time axis: tz-naive UTC (aware input is converted, not rejected)."""
    if index.tz is not None:
        return index.tz_convert("UTC").tz_localize(None)
    return index


_PER_DAY = {"s": 86_400.0, "ms": 86_400e3, "us": 86_400e6, "ns": 86_400e9}


def days_since_epoch(index: pd.DatetimeIndex) -> np.ndarray:
    # The index's own unit (pandas 3 infers s/ms/us/ns) scales its integers; on naive UTC that is plain
    # arithmetic, many times cheaper than Timedelta division, which stays for aware indexes.
    if index.tz is None and index.unit in _PER_DAY:
        return np.asarray(index.asi8, dtype=np.float64) / _PER_DAY[index.unit]
    return np.asarray((index - _EPOCH) / _DAY, dtype=np.float64)


def infer_granularity(index: pd.DatetimeIndex, granularity: str | None = None) -> Granularity:
    """The stated granularity, else from the median spacing: under a day is intraday (hourly spec)."""
    if granularity is not None:
        return Granularity(granularity)
    if len(index) < 2:
        return Granularity.DAY
    step = float(np.median(np.diff(days_since_epoch(index))))
    return Granularity.HOUR if step < 1.0 - 1e-9 else Granularity.DAY


def make_spec(
    index: pd.DatetimeIndex,
    granularity: Granularity,
    *,
    n_changepoints: int,
    changepoint_range: float,
    daily_order: int,
    weekly_order: int,
    monthly_order: int,
    yearly_order: int,
    month_start: bool,
    month_end: bool = False,
) -> DesignSpec:
    """Choose the regressors for a series observed on ``index`` (first to last observed point).

    A seasonality enters only when the history holds two of its cycles, else it cannot be told from
    trend. Changepoints are evenly spaced over the first ``changepoint_range`` of the span, at most one
    per cycle of the shortest seasonality, so the trend cannot chase the seasonal pattern.
    """
    t = days_since_epoch(index)
    origin = index[0]
    span = max(float(t[-1] - t[0]), 1e-9)
    blocks: list[Seasonality] = []
    if granularity is Granularity.HOUR:
        if span >= 2.0 and daily_order > 0:
            blocks.append(Seasonality("daily", 1.0, daily_order))
        if span >= 14.0 and weekly_order > 0:
            blocks.append(Seasonality("weekly", 7.0, weekly_order))
        cycle = 1.0
    else:
        if span >= 14.0 and weekly_order > 0:
            blocks.append(Seasonality("weekly", 7.0, weekly_order))
        if span >= 60.0 and monthly_order > 0:
            blocks.append(Seasonality(MONTHLY, 0.0, monthly_order))
        if span >= 730.0 and yearly_order > 0:
            blocks.append(Seasonality("yearly", 365.25, yearly_order))
        cycle = 7.0
    n_cp = min(n_changepoints, int(span * changepoint_range // cycle))
    changepoints = tuple(changepoint_range * (j + 1) / (n_cp + 1) for j in range(n_cp))
    # Calendar effects of billing (charges on the 1st, month-end closing jobs) are learned once one previous
    # month shows them: any 32 days hold a first and a last day of a month. Billing puts them there on
    # purpose (monthly fees, month-start batch jobs), so the first repeat is the habit, not chance: waiting
    # for a second month paged every daily month-start batch of a two-month-old series. A one-off spike on
    # a 1st is learned too, and only makes the next 1st's alarm need more (a normal 1st then sits below its
    # expectation, which a monitor of rising spend does not alarm on). An intraday series learns them hour
    # by hour: a batch job on the 1st runs at its own hours, which a whole-day lift cannot follow.
    hourly = granularity is Granularity.HOUR
    calendar = span >= 32.0
    return DesignSpec(
        origin,
        span,
        changepoints,
        tuple(blocks),
        month_start and calendar,
        month_end and calendar,
        calendar_by_hour=hourly and calendar and (month_start or month_end),
    )


_DESIGN_CACHE: OrderedDict[tuple[DesignSpec, str, bytes], np.ndarray] = OrderedDict()
_DESIGN_CACHE_SIZE = 16
_DESIGN_CACHE_MAX_BYTES = 1 << 20
_DESIGN_LOCK = threading.Lock()


def build_design(index: pd.DatetimeIndex, spec: DesignSpec) -> np.ndarray:
    """The ``(len(index), spec.n_columns)`` regressor matrix: trend columns first, then seasonal.

    Read-only and cached: a sweep predicts thousands of series trained together, which share their spec
    and the sweep's time grid, so the matrix is built once per sweep rather than once per series.
    """
    key = (spec, str(index.tz or "") + index.unit, index.asi8.tobytes())
    with _DESIGN_LOCK:  # the API scores on a thread pool
        cached = _DESIGN_CACHE.get(key)
        if cached is not None:
            _DESIGN_CACHE.move_to_end(key)
            return cached
    X = _build_design(index, spec)
    X.flags.writeable = False
    if X.nbytes <= _DESIGN_CACHE_MAX_BYTES:  # long hourly histories are built once per fit anyway
        with _DESIGN_LOCK:
            _DESIGN_CACHE[key] = X
            if len(_DESIGN_CACHE) > _DESIGN_CACHE_SIZE:
                _DESIGN_CACHE.popitem(last=False)
    return X


def _build_design(index: pd.DatetimeIndex, spec: DesignSpec) -> np.ndarray:
    t_abs = days_since_epoch(index)
    t = (t_abs - days_since_epoch(pd.DatetimeIndex([spec.origin]))[0]) / spec.span_days
    cols: list[np.ndarray] = [np.ones_like(t), t]
    cols.extend(np.maximum(t - c, 0.0) for c in spec.changepoints)
    for block in spec.seasonalities:
        phase = _month_phase(index) if block.period_days == 0.0 else t_abs / block.period_days
        k = np.arange(1, block.order + 1)
        angle = 2.0 * np.pi * np.outer(phase, k)
        cols.extend(np.sin(angle).T)
        cols.extend(np.cos(angle).T)
    days: list[np.ndarray] = []
    if spec.month_start:
        days.append(np.asarray(index.day) == 1)
    if spec.month_end:
        days.append(np.asarray(index.day == index.days_in_month))
    hours = np.asarray(index.hour)
    for on in days:
        if spec.calendar_by_hour:
            cols.extend((on & (hours == h)).astype(np.float64) for h in range(24))
        else:
            cols.append(on.astype(np.float64))
    return np.column_stack(cols)


def _month_phase(index: pd.DatetimeIndex) -> np.ndarray:
    frac_day = days_since_epoch(index) % 1.0
    return (np.asarray(index.day, dtype=np.float64) - 1.0 + frac_day) / np.asarray(
        index.days_in_month, dtype=np.float64
    )
