"""An event's numbers (:func:`detector.events._event`), compiled: the same answers to the bit.

An anomaly event needs four spend sums over its periods, its strongest score, and the month-end
projection's two sums; numpy spends a few microseconds of call overhead on each of the twenty-odd array
steps behind them, more than the arithmetic on an event of a few periods. Here they are one pass over
the event's periods with numpy's own float operations: the same products, NaN as 0 in the sums, and each
sum in numpy's pairwise order (:func:`detector.compiled_tail.pairwise_sum`).
``tests/detector/test_events.py`` compares both paths on random events.
"""

from __future__ import annotations

import math

import numba  # type: ignore[import-untyped]
import numpy as np

from detector.compiled_tail import pairwise_sum

_MAX = float(np.finfo(np.float64).max)


@numba.njit(cache=True, error_model="numpy")  # type: ignore[misc]
def _sum(x: np.ndarray, lo: int, c: np.ndarray, scaled: bool, buf: np.ndarray) -> float:
    """nansum of ``x[lo:lo + c.size]``, times ``c`` where ``scaled``: NaN as 0, numpy's pairwise order."""
    for t in range(c.size):
        v = x[lo + t] * c[t] if scaled else x[lo + t]
        buf[t] = 0.0 if math.isnan(v) else v
    return float(pairwise_sum(buf, 0, c.size))


@numba.njit(cache=True, error_model="numpy")  # type: ignore[misc]
def _numbers(
    value: np.ndarray,
    expected: np.ndarray,
    trend: np.ndarray,
    seasonal: np.ndarray,
    completeness: np.ndarray,
    tail: np.ndarray,
    lo: int,
    hi: int,
    in_month: np.ndarray,
) -> tuple[float, float, float, float, float, float, float, float]:
    m = hi - lo + 1
    c = np.empty(m)
    for t in range(m):
        v = completeness[lo + t]  # np.nan_to_num(nan=1.0): NaN is 1, ±inf the largest finite float
        c[t] = 1.0 if math.isnan(v) else min(max(v, -_MAX), _MAX)
    buf = np.empty(m)
    actual = _sum(value, lo, c, False, buf)
    forecast = _sum(expected, lo, c, True, buf)
    trend_sum = _sum(trend, lo, c, True, buf)
    seasonal_sum = _sum(seasonal, lo, c, True, buf)
    peak = np.nan  # np.fmax.reduce: the largest that is not NaN
    for t in range(m):
        v = tail[lo + t]
        if not math.isnan(v) and (math.isnan(peak) or v > peak):
            peak = v
    # The projection: the impact so far in the event's last month, and the mean full-period rate.
    kept = 0
    for t in range(m):
        if in_month[t]:
            v = value[lo + t] - expected[lo + t] * c[t]
            buf[kept] = 0.0 if math.isnan(v) else v
            kept += 1
    so_far = pairwise_sum(buf, 0, kept)
    known = 0
    finite = False
    for t in range(m):
        v = value[lo + t] / (c[t] if c[t] > 0 else 1.0) - expected[lo + t]
        finite = finite or math.isfinite(v)
        if math.isnan(v):
            buf[t] = 0.0
        else:
            buf[t] = v
            known += 1
    rate = pairwise_sum(buf, 0, m) / known if finite else 0.0
    return actual, forecast, trend_sum, seasonal_sum, peak, so_far, rate, c[m - 1]


def event_numbers(
    arrays: dict[str, np.ndarray], lo: int, hi: int, in_month: np.ndarray
) -> tuple[float, float, float, float, float, float, float, float]:
    """Over the periods ``lo..hi`` of the event columns (float64 arrays): the sums of the value and of
    the expected, trend and seasonal values times completeness; the largest tail score; the impact summed
    over the periods ``in_month`` (a mask of the event's periods); the mean full-period rate (0 when no
    period has a finite one); and the last period's completeness (NaN as 1)."""
    found: tuple[float, float, float, float, float, float, float, float] = _numbers(
        arrays["value"],
        arrays["expected"],
        arrays["trend"],
        arrays["seasonal"],
        arrays["completeness"],
        arrays["tail_score"],
        lo,
        hi,
        np.ascontiguousarray(in_month, dtype=np.bool_),
    )
    return found
