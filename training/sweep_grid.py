"""The time grid a sweep judges a series on, built once for every series that shares it.

A sweep reads every series of a granularity into one wide frame, so most series are observed on the very
same periods (those with spend over the whole lookback window). What depends only on those periods and the
sweep's clock — the index, each period's completeness, the forecast horizon to month end, which periods
fall in the current month — used to be rebuilt with pandas for every series, and cost more than scoring a
series' sixty-odd points. :func:`shared_grids` builds it once per distinct set of observed periods; a
series alone (:func:`series_grid`) gets the very same values, so sharing cannot change a verdict.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache

import numpy as np
import pandas as pd

from core.types import Granularity
from detector.post_rules import period_completeness


@dataclass(frozen=True, eq=False)
class SeriesGrid:
    """The observed periods of a series as of a sweep, and what the sweep derives from them alone."""

    index: pd.DatetimeIndex  # observed periods, oldest first
    step: pd.Timedelta
    now: pd.Timestamp  # the sweep's time, naive UTC
    completeness: np.ndarray  # elapsed share of each period at ``now``
    horizon: pd.DatetimeIndex  # ``index`` and the periods left until month end: one forecast serves both
    in_month: np.ndarray  # periods of the month ``now`` is in (for the month to date)

    def subset(self, positions: np.ndarray) -> pd.DatetimeIndex:
        """``index[positions]`` for sorted, distinct ``positions``; the index itself when they are all of it
        (building a new DatetimeIndex costs more than the arithmetic of a short series)."""
        return self.index if len(positions) == len(self.index) else self.index[positions]


def naive(at: datetime | pd.Timestamp) -> pd.Timestamp:
    """``at`` as the facts hold time: naive UTC."""
    ts = pd.Timestamp(at)
    return ts.tz_convert("UTC").tz_localize(None) if ts.tzinfo else ts


def grid_step(gran: Granularity) -> pd.Timedelta:
    return pd.Timedelta(hours=1) if gran is Granularity.HOUR else pd.Timedelta(days=1)


@lru_cache(maxsize=64)
def periods_in(hours: float, step: pd.Timedelta) -> int:
    """Periods of ``step`` in a window of ``hours`` (at least one): asked per series and window."""
    return max(int(pd.Timedelta(hours=hours) / step), 1)


def series_grid(index: pd.DatetimeIndex, gran: Granularity, as_of: datetime) -> SeriesGrid:
    """The grid of one series observed on ``index`` (at least one period), as of ``as_of``."""
    step = grid_step(gran)
    now = naive(as_of)
    month_start = now.normalize().replace(day=1)
    month_end = month_start + pd.offsets.MonthBegin(1)
    rest = pd.date_range(index[-1] + step, month_end - step, freq=step)
    return SeriesGrid(
        index=index,
        step=step,
        now=now,
        completeness=period_completeness(index, step, now),
        horizon=pd.DatetimeIndex(index.append(rest)),
        in_month=np.asarray(index >= month_start),
    )


def shared_grids(
    frame: pd.DataFrame, granularities: Sequence[Granularity], as_of: datetime
) -> list[tuple[np.ndarray, SeriesGrid]]:
    """Per column of ``frame`` (rows: periods; NaN: not observed) and its granularity, its observed values
    and its grid; columns of a granularity observed on the same periods share one grid object. A column
    observed nowhere gets an empty grid."""
    values = frame.to_numpy(dtype=np.float64, na_value=np.nan)
    observed = ~np.isnan(values)
    index = pd.DatetimeIndex(frame.index)
    grids: dict[tuple[Granularity, bytes], SeriesGrid] = {}
    out: list[tuple[np.ndarray, SeriesGrid]] = []
    for j, gran in zip(range(values.shape[1]), granularities, strict=True):
        mask = observed[:, j]
        key = (gran, mask.tobytes())
        grid = grids.get(key)
        if grid is None:
            kept = index[mask]
            grid = series_grid(kept, gran, as_of) if len(kept) else _empty(kept, gran, as_of)
            grids[key] = grid
        out.append((values[mask, j], grid))
    return out


def _empty(index: pd.DatetimeIndex, gran: Granularity, as_of: datetime) -> SeriesGrid:
    empty = np.empty(0)
    return SeriesGrid(index, grid_step(gran), naive(as_of), empty, index, empty.astype(bool))
