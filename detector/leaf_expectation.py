"""Expected spend per leaf when only the series total is forecast.

Sweeps forecast one series per product and cost line, not one per leaf (service × region × account…),
yet root-cause ranking needs an expected value for every leaf. Cost is additive, so the forecast total
is split over the leaves by each leaf's recent share of the spend. Where spend is seasonal the share is
taken from the same hour of the same weekday (or the same hour of previous days), because the mix of
leaves itself changes over the week (batch jobs at night, weekday-only environments).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import numpy as np
import pandas as pd

from core.errors import InputError

Season = Literal["auto", "weekly", "daily", "none"]

_DAY = pd.Timedelta(days=1)
_WEEK = pd.Timedelta(days=7)


def reference_periods(
    periods_seen: pd.DatetimeIndex, at: pd.Timestamp, *, season: Season = "auto", count: int = 4
) -> tuple[list[pd.Timestamp], str]:
    """The earlier periods whose leaf mix stands for ``at``, newest first, and the season used.

    ``weekly`` takes the same weekday and hour in previous weeks, ``daily`` the same hour on previous
    days, ``none`` the periods just before. ``auto`` picks the longest season the history covers. When
    the chosen season finds no period, the periods just before ``at`` are used.
    """
    earlier = periods_seen[periods_seen < at].unique().sort_values()
    if earlier.empty:
        return [], "none"
    lags: dict[str, pd.Timedelta] = {"weekly": _WEEK, "daily": _DAY}
    if season == "auto":
        gaps = earlier.append(pd.DatetimeIndex([at])).to_series().diff().dropna()
        step = pd.Timedelta(gaps.min()) if not gaps.empty else _DAY
        season = "none"
        for name in ("weekly", "daily"):
            # Daily seasonality needs sub-daily data; a lag is usable if the history reaches it.
            if lags[name] > step and (at - lags[name]) in earlier:
                season = name  # type: ignore[assignment]
                break
    if season != "none":
        lag = lags[season]
        wanted = [at - lag * k for k in range(1, count + 1)]
        found = [t for t in wanted if t in earlier]
        if found:
            return found, season
    return [pd.Timestamp(t) for t in earlier[::-1][:count]], "none"


def disaggregate_expected(
    facts: pd.DataFrame,
    expected_total: float,
    *,
    at: pd.Timestamp | str,
    dimensions: Sequence[str] | None = None,
    timestamp: str = "timestamp",
    value: str = "value",
    season: Season = "auto",
    count: int = 4,
) -> pd.DataFrame:
    """The leaf table of period ``at``: one row per leaf with its dimensions, ``actual`` and ``expected``.

    ``facts`` holds leaf facts (``timestamp``, the dimension columns, ``value``) for ``at`` and for
    earlier periods. Each leaf's share is the median of its shares over the reference periods (robust to
    one of them being itself anomalous), renormalised to sum to one, and ``expected = expected_total ×
    share``. Leaves absent from the reference periods (new resources) get ``expected = 0``; leaves absent
    at ``at`` get ``actual = 0``. ``dimensions=None`` uses every column except timestamp and value.
    """
    if count < 1:
        raise InputError("count", "must be at least 1")
    if not np.isfinite(expected_total):
        raise InputError("expected_total", "must be a finite number")
    for column in (timestamp, value):
        if column not in facts.columns:
            raise InputError(column, "column not found in the leaf facts")
    dims = (
        [str(c) for c in facts.columns if c not in (timestamp, value)]
        if dimensions is None
        else list(dimensions)
    )
    if not dims:
        raise InputError("dimensions", "the leaf facts have no dimension columns")
    missing = [d for d in dims if d not in facts.columns]
    if missing:
        raise InputError(missing[0], "dimension column not found in the leaf facts")
    try:
        times = pd.DatetimeIndex(pd.to_datetime(facts[timestamp]))
        when = pd.Timestamp(at)
    except (ValueError, TypeError) as exc:
        raise InputError(timestamp, f"not a timestamp: {exc}") from exc
    if (times.tz is None) != (when.tz is None):
        raise InputError("at", "timezone-aware and naive timestamps cannot be compared")
    amounts = pd.to_numeric(facts[value], errors="coerce")
    if not np.isfinite(amounts.to_numpy(dtype=np.float64)).all():
        raise InputError(value, "non-numeric or non-finite value")

    refs, _ = reference_periods(times, when, season=season, count=count)
    if not refs:
        raise InputError("facts", f"no leaf facts before {when.isoformat()} to take shares from")
    frame = facts[dims].assign(__t=times, __v=amounts.to_numpy(dtype=np.float64))
    frame = frame[frame["__t"].isin([*refs, when])]
    table = (
        frame.groupby([*dims, "__t"], dropna=False, observed=True)["__v"].sum().unstack("__t", fill_value=0)
    )
    ref_values = table.reindex(columns=refs, fill_value=0.0).to_numpy(dtype=np.float64)
    actual = table[when].to_numpy(dtype=np.float64) if when in table.columns else np.zeros(len(table))

    shares = _shares(ref_values)
    if shares is None:
        raise InputError("facts", "the reference periods have no spend to take shares from")
    leaves = table.index.to_frame(index=False)
    leaves.columns = pd.Index(dims)
    leaves["actual"] = actual
    leaves["expected"] = expected_total * shares
    return leaves


def _shares(ref_values: np.ndarray) -> np.ndarray | None:
    totals = ref_values.sum(axis=0)
    usable = totals != 0
    if not usable.any():
        return None
    per_period = ref_values[:, usable] / totals[usable]
    shares = np.median(per_period, axis=1)
    if shares.sum() == 0:
        # Median is zero everywhere when every leaf is sporadic; the pooled share still tells the mix.
        shares = ref_values[:, usable].sum(axis=1)
    total = shares.sum()
    if total == 0:
        return None
    return np.asarray(shares / total, dtype=np.float64)


def reference_times(earlier: np.ndarray, at: int, *, count: int = 4) -> list[int]:
    """:func:`reference_periods` with ``season="auto"`` on times in nanoseconds: ``earlier`` are the
    distinct periods seen before ``at``, sorted. The sweep asks it for every period of every event."""
    if earlier.size == 0:
        return []
    seen = {int(t) for t in earlier}
    gaps = np.diff(np.append(earlier, at))
    step = int(gaps.min())
    for lag in (_WEEK.value, _DAY.value):
        # As there: a lag is usable if the history reaches it (daily seasonality needs sub-daily data).
        if lag > step and at - lag in seen:
            found = [at - lag * k for k in range(1, count + 1) if at - lag * k in seen]
            if found:
                return found
            break
    return [int(t) for t in earlier[::-1][:count]]
