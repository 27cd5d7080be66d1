"""Level shifts: a step in spend that lasts (a region's compute at 2.5x for good), read from the newest periods.

Each period's band judges it alone, and a step that is ordinary for the band goes unseen there; summed
over days it is not. The periods are summed into day buckets, counted back from the newest one (a day
evens out an hourly series' daily shape and a daily series' noise), and a bucket is *shifted* when it
spends at least half the sustained factor's excess over its expected spend. The run of shifted buckets
that reaches the newest one (a single calm day inside it does not break it) is the shift; its start is
refined to the period where the step most likely began (a CUSUM split around the run's first day), and
it counts only when the run as a whole burns at the sustained factor and its excess is material. A drift
(an excess still growing) has no settled level yet: the shift read is then only its newest days.
Pure functions over arrays: no clock, no database.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from core.anomaly import HOURS_PER_MONTH, LevelShift

BUCKET = pd.Timedelta(hours=24)
MAX_DIPS = 1  # calm buckets tolerated inside a run, one at a time (a weekend, a holiday)
SETTLED = 0.25  # a level holds when its trend moves it by less than this share of its excess over the span
GROWING_T = 2.0  # ... and its rise is not clearly more than noise (the t-statistic of its slope)


def _buckets(values: np.ndarray, expected: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    """Sums of trailing buckets of ``size`` periods, newest first (an incomplete oldest bucket is dropped)."""
    whole = (len(values) // size) * size
    if whole == 0:
        return np.empty(0), np.empty(0)
    v = np.nan_to_num(values[len(values) - whole :]).reshape(-1, size).sum(axis=1)[::-1]
    x = np.nan_to_num(expected[len(expected) - whole :]).reshape(-1, size).sum(axis=1)[::-1]
    return v, x


def _run_length(shifted: np.ndarray) -> int:
    """Buckets (newest first) in the run that reaches the newest bucket, tolerating isolated calm ones."""
    if shifted.size == 0 or not shifted[0]:
        return 0
    length, calm = 0, 0
    for i, hit in enumerate(shifted):
        if hit:
            length, calm = i + 1, 0
        else:
            calm += 1
            if calm > MAX_DIPS:
                break
    return length


def _growing(span: np.ndarray, slope: float, intercept: float) -> bool:
    """Whether ``span`` (oldest first) still rises beyond doubt: its slope over ``GROWING_T`` standard errors.

    A trend small beside the excess is not enough: a slow drift is small over any few days of it, and read
    so it would be learned as a level a week later, while it still grows. Its slope is steady, though, and
    a week of it stands out of the day-to-day noise where a step's does not.
    """
    k = len(span)
    if k < 4 or slope <= 0:
        return False
    x = np.arange(k, dtype=np.float64)
    residual = span - (intercept + slope * x)
    noise = float(np.sqrt(residual @ residual / (k - 2)))
    spread = float(np.sqrt(((x - x.mean()) ** 2).sum()))
    return slope * spread > GROWING_T * max(noise, 1e-9)


def _settled(ratios: np.ndarray) -> int:
    """The newest buckets (``ratios`` newest first) whose level holds: the longest trailing span whose
    linear trend moves the ratio by at most ``SETTLED`` of the span's mean excess and does not clearly rise
    (a drift's does one or the other). The rise is judged with half as many buckets again from before the
    span, where the run has them: a level a drift reached must also stand out of the drift's own tail."""
    for k in range(len(ratios), 1, -1):
        span = ratios[:k][::-1]
        slope, intercept = (float(c) for c in np.polyfit(np.arange(k, dtype=np.float64), span, 1))
        if abs(slope) * (k - 1) > SETTLED * (float(span.mean()) - 1.0):
            continue
        wide = ratios[: min(len(ratios), k + k // 2)][::-1]
        if len(wide) > k:
            slope, intercept = (float(c) for c in np.polyfit(np.arange(len(wide), dtype=np.float64), wide, 1))
        if not _growing(wide, slope, intercept):
            return k
    return 1


def _change_point(excess: np.ndarray, expected: np.ndarray, lo: int, hi: int, ratio: float) -> int:
    """The split in ``[lo, hi)`` after which the excess best matches a step of ``ratio`` (CUSUM argmax)."""
    # Each period after the split gains what it spends over half the step; the best split gains most.
    gain = excess - 0.5 * (ratio - 1.0) * expected
    tail = np.cumsum(gain[::-1])[::-1]  # tail[k] = sum of gain[k:]
    return lo + int(np.argmax(tail[lo:hi]))


def find_level_shift(
    values: np.ndarray,
    expected: np.ndarray,
    index: pd.DatetimeIndex,
    step: pd.Timedelta,
    *,
    factor: float,
    floor: float,
) -> LevelShift | None:
    """The upward step still going on at the newest period, at the level it has settled at, or None.

    ``since`` is when that level began (a step's first period; for a drift that levelled off, the first
    day at the level) and ``hours`` how long it has held, so a drift still growing is never a new normal.

    ``values`` and ``expected`` are the judged periods (oldest first) and ``index`` their starts;
    ``factor`` is the sustained burn factor (the run must burn at least that much) and ``floor`` the $ of
    excess below which nothing counts.
    """
    n = len(values)
    size = max(int(BUCKET / step), 1)
    v, x = _buckets(np.asarray(values, dtype=np.float64), np.clip(expected, 0.0, None), size)
    threshold = 1.0 + 0.5 * (factor - 1.0)
    shifted = (x > 0) & (v >= threshold * x)
    run = _run_length(shifted)
    if run == 0:
        return None
    vals = np.nan_to_num(np.asarray(values, dtype=np.float64))
    exp = np.nan_to_num(np.clip(np.asarray(expected, dtype=np.float64), 0.0, None))
    # The level the run has settled at: a drift that still grows has not, so only the newest days whose
    # ratios hold level (their trend moves them less than a share of their excess) count.
    settled = _settled(v[:run] / x[:run])
    first = n - settled * size  # first period of the settled span's oldest bucket
    rough = float(v[:settled].sum() / x[:settled].sum())
    # A step is dated to its period, up to a bucket either side; a level a drift reached only counts from
    # the settled span on, never earlier, so a drift still growing is not read as older than it is.
    lo = max(first - size, 0) if settled >= run - 1 else first
    since = _change_point(vals - exp, exp, lo, min(first + size, n), rough)
    actual, baseline = float(vals[since:].sum()), float(exp[since:].sum())
    excess = actual - baseline
    if baseline <= 0 or actual < factor * baseline or excess < floor:
        return None
    hours = (index[-1] + step - index[since]) / pd.Timedelta(hours=1)
    return LevelShift(
        since=index[since].to_pydatetime(),
        hours=float(hours),
        ratio=actual / baseline,
        month_impact=excess / hours * HOURS_PER_MONTH,
    )
