"""The value at which the anomaly score of each point reaches a given number of decades: the score, inverted.

:func:`detector.scoring.surprise` judges a point ``t`` by views whose references (the forecast, trailing
medians, the robust scale, the tail of recent residuals, same-phase values, the range so far) come from
points up to ``t - 1``; only the point's own value moves. On the side a monitor watches, every view grows
with that value, so each view's threshold can be solved for the value instead of trying values one by one:

* a tail view (:func:`detector.tail.tail_decades`) reaches ``D`` decades at the magnitude
  ``u + β·ln 10·(D − 1)``, ``u`` and ``β`` being the threshold and mean excess of the history before ``t``;
  the short-window deviation is a mean over ``short_window`` points, of which the point is one;
* a robust z reaches ``k`` at ``median + k·scale``; the point is part of its own window, so median and
  scale are taken with the point ranked above the rest (where its boundary lies, ``k`` being 6 and more
  scales above the median), and the mean-deviation fallback of a window without spread is solved exactly;
* the twin view alarms where the value is far enough from its nearest earlier same-phase value and repeats
  too few of them; that set is not one interval, so it is searched (:mod:`detector.twin_threshold`);
* the recurrence cap lets ``D`` decades through once fewer blocks than it tolerates reached the residual;
* the range view reaches ``D`` decades at ``high + width·D / range_per_width``.

The views combine as the score combines them: where the score takes the *least* surprised of several
views, all must alarm (the largest of their boundaries); where it takes the *most* surprised, one is enough
(the smallest). The result is the lowest value from which on the score alarms. It is exact, with two
limits (documented in the README):

* above it, a value that repeats an earlier same-phase value (last Monday's spike, again) is routine to the
  twin view and stays quiet: the boundary is where alarms start, not a promise that all beyond it alarm;
* the robust z's rank assumption fails only for windows of two or three points (the series' first points),
  and the recurrence cap is taken as alarming on every value above its bound (exact but during an
  excursion that zig-zags, where it is the bound above which every value passes).

Everything is a handful of sorted trailing windows, like the score itself: one pass, no trial values.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import partial

import numpy as np
import pandas as pd
from numpy.lib.stride_tricks import sliding_window_view

from detector.recurrence import block_points
from detector.scoring import ScoreConfig, tail_window
from detector.sequential_tail import sequential_tail
from detector.tail import LN10, TAIL_QUANTILE, trailing_mean, trailing_view
from detector.twin_threshold import same_phase_candidates, twin_threshold
from detector.views import MAD_TO_SIGMA, MEAN_AD_TO_SIGMA, same_phase_level, same_phase_twins, trailing_median

_BLOCK_CELLS = 1 << 21  # trailing-window cells sorted at once: bounds memory only
_MIN_BLOCKS = 24  # detector.recurrence.recurrence_cap's default: blocks known before the cap applies


@dataclass(frozen=True, slots=True)
class ScoreThreshold:
    """Per point, in the scored values' unit: where the score opens an alarm and where it sustains one.

    ``opens``: the value from which on the score reaches the decades asked for (+∞: no value does).
    ``sustains``: the same for the sustaining evidence (deviation or robust z alone), which keeps an event
    that already opened going (see :func:`detector.post_rules.decide`).
    """

    opens: np.ndarray
    sustains: np.ndarray


def _watched(x: np.ndarray, mode: str) -> np.ndarray:
    """The magnitude the score measures on the upper side: the positive part, or both parts for ``both``."""
    if mode == "both":
        return np.asarray(np.abs(x))
    return np.where(np.isnan(x), np.nan, np.maximum(x, 0.0))


def _quantile_sorted(ordered: np.ndarray, count: np.ndarray, q: float) -> np.ndarray:
    """Per row, the ``q`` quantile (linear interpolation) of its first ``count`` sorted finite values,
    the way :func:`detector.tail.row_quantile` computes it."""
    pos = q * np.maximum(count - 1, 0)
    lo = pos.astype(np.int64)
    hi = np.minimum(lo + 1, np.maximum(count - 1, 0))
    rows = np.arange(ordered.shape[0])
    a, b = ordered[rows, lo], ordered[rows, hi]
    with np.errstate(all="ignore"):
        out = a + (pos - lo) * (b - a)
    return np.where(count > 0, out, np.nan)


def _tail_reference(
    history: np.ndarray,
    window: int,
    floor: np.ndarray,
    rows: np.ndarray,
    *,
    flagged: np.ndarray | None = None,
    memory: int = 0,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For the points ``rows``: the tail threshold ``u``, the mean excess ``β`` and the history's size, as
    the passes of :func:`detector.tail.tail_decades` compute them (flagged points out for ``memory``)."""
    past_all = trailing_view(np.where(np.isfinite(history), history, np.nan), window)
    flags_all = None if flagged is None else trailing_view(flagged.astype(np.float64), window)
    recent = np.arange(window) >= window - memory
    u, beta = np.full(rows.size, np.nan), np.full(rows.size, np.nan)
    count = np.zeros(rows.size, dtype=np.int64)
    per_block = max(_BLOCK_CELLS // max(window, 1), 1)
    for lo in range(0, rows.size, per_block):
        take = rows[lo : lo + per_block]
        block = past_all[take]
        if flags_all is not None:
            block = np.where((flags_all[take] == 1.0) & recent[None, :], np.nan, block)
        past = np.sort(block, axis=1)
        n = np.count_nonzero(~np.isnan(past), axis=1)
        q = _quantile_sorted(past, n, TAIL_QUANTILE)
        with np.errstate(all="ignore"):
            over = past > q[:, None]
            excess = np.where(over, past - q[:, None], 0.0).sum(axis=1) / np.maximum(over.sum(axis=1), 1)
        u[lo : lo + take.size] = q
        beta[lo : lo + take.size] = np.maximum(excess, floor[take] + 1e-12)
        count[lo : lo + take.size] = n
    return u, beta, count


def tail_threshold(
    magnitude: np.ndarray,
    decades: float,
    *,
    window: int,
    min_history: int,
    floor: np.ndarray,
    exclude: float | None,
    memory: int | None,
) -> np.ndarray:
    """The magnitude at which :func:`detector.tail.tail_decades` gives each point ``decades`` (+∞ without
    enough history), judged against the same history the score uses (second pass included)."""
    m = np.asarray(magnitude, dtype=np.float64)
    every = np.arange(m.size)
    u, beta, count = _tail_reference(m, window, floor, every)
    if exclude is not None:
        # The first pass, as tail_decades computes it: its flags keep points out of the second one's history.
        with np.errstate(all="ignore"):
            decades_first = -np.log10(1.0 - TAIL_QUANTILE) + (m - u) / beta / LN10
            usable = (count >= min_history) & np.isfinite(m) & (m > u)
        flagged = np.where(usable, decades_first, 0.0) >= exclude
        if flagged.any():
            # Only points with a flagged point in their history see a different one: sort those again.
            reach = window if memory is None or memory >= window else memory
            marks = np.concatenate([[0], np.cumsum(flagged)])
            redo = np.flatnonzero(marks[every] - marks[np.maximum(every - reach, 0)] > 0)
            if memory is None or memory >= window:
                again = _tail_reference(np.where(flagged, np.nan, m), window, floor, redo)
            else:
                again = _tail_reference(m, window, floor, redo, flagged=flagged, memory=memory)
            u[redo], beta[redo], count[redo] = again
    return _reach(u, beta, count, decades, min_history)


def _reach(
    u: np.ndarray, beta: np.ndarray, count: np.ndarray, decades: float, min_history: int
) -> np.ndarray:
    """The magnitude at which a tail of threshold ``u`` and mean excess ``beta`` gives ``decades``."""
    # Decades are 1 at the threshold u and grow by 1 per β·ln 10 beyond it; below one decade, just past u.
    beyond = LN10 * max(decades + math.log10(1.0 - TAIL_QUANTILE), 0.0)
    return np.where(count >= min_history, u + beta * beyond, np.inf)


def sequential_tail_threshold(
    magnitude: np.ndarray,
    decades: float,
    *,
    window: int,
    min_history: int,
    floor: np.ndarray,
    exclude: float | None,
    memory: int | None,
) -> np.ndarray:
    """:func:`tail_threshold` for :func:`detector.sequential_tail.sequential_tail`: each point judged against
    the history without the points flagged before it (the flags the score itself sets)."""
    ref = sequential_tail(
        magnitude, window=window, min_history=min_history, floor=floor, exclude=exclude, memory=memory
    )
    return _reach(ref.u, ref.beta, ref.count, decades, min_history)


def z_threshold(values: np.ndarray, window: int, z: float, rel_floor: float = 1e-3) -> np.ndarray:
    """The value at which :func:`detector.views.robust_z` reaches ``z`` at each point (+∞ where it cannot)."""
    x = np.asarray(values, dtype=np.float64)
    window = max(min(window, x.size), 1)
    rows = sliding_window_view(np.concatenate([np.full(window - 1, np.nan), x]), window).copy()
    rows[:, -1] = np.inf  # the point itself, above the rest of its window (see the module docstring)
    ordered = np.sort(rows, axis=1)
    count = np.count_nonzero(~np.isnan(ordered), axis=1)
    med = _quantile_sorted(ordered, count, 0.5)
    with np.errstate(all="ignore"):
        dev = np.abs(rows - med[:, None])
        mad = MAD_TO_SIGMA * _quantile_sorted(np.sort(dev, axis=1), count, 0.5)
        magnitude = np.abs(rows)
        typical = _quantile_sorted(ordered if not (x < 0).any() else np.sort(magnitude, axis=1), count, 0.5)
        least = rel_floor * typical + 1e-12
        # Without spread the scale is half the mean-deviation σ, and the point's own deviation d is part of
        # that mean: d / max(c·(D + d)/m, least) = z is solved for d (no solution when m ≤ z·c).
        c = 0.5 * MEAN_AD_TO_SIGMA
        others = np.nansum(np.where(np.isfinite(dev), dev, np.nan), axis=1)
        by_mean = np.where(count > z * c, z * c * others / (count - z * c), np.inf)
        offset = np.where(mad > 0, z * np.fmax(mad, least), np.fmax(z * least, by_mean))
        out = med + offset
    return np.where(np.isfinite(out) & (count >= 2), out, np.inf)


def cap_threshold(
    magnitude: np.ndarray, *, window: int, block: int, min_count: int, decades: float
) -> np.ndarray:
    """The magnitude above which :func:`detector.recurrence.recurrence_cap` lets ``decades`` through
    (−∞ where the cap never holds the point below them)."""
    m = np.asarray(magnitude, dtype=np.float64)
    n = m.size
    if n == 0:
        return np.empty(0)
    finite = np.where(np.isfinite(m), m, -np.inf)
    peak = sliding_window_view(np.concatenate([np.full(block - 1, -np.inf), finite]), block).max(axis=1)
    history = trailing_view(np.where(np.isfinite(peak), peak, np.nan), window)[:, ::-1][:, ::block]
    blocks = np.count_nonzero(np.isfinite(history), axis=1)

    # The most blocks that may have reached the magnitude with the cap still at ``decades`` or more,
    # settled on the cap's own expression so float rounding cannot put it one block off.
    def lets_through(reached: np.ndarray) -> np.ndarray:
        with np.errstate(divide="ignore"):
            return np.asarray(-np.log10((reached + 1.0) / (blocks + 1.0)) >= decades)

    tolerated = np.floor((blocks + 1.0) * 10.0**-decades).astype(np.int64) - 1
    tolerated = np.where(lets_through(tolerated + 1), tolerated + 1, tolerated)
    tolerated = np.where((tolerated >= 0) & ~lets_through(tolerated), tolerated - 1, tolerated)
    tolerated = np.maximum(tolerated, max(min_count, 1) - 1)
    bound = np.where(blocks >= _MIN_BLOCKS, _kth_largest(history, tolerated + 1), -np.inf)
    # Blocks of the excursion the point belongs to do not count; where the newest point before it already
    # tops the bound, that excursion reaches down to it, so the bound is found level by level instead.
    before = np.concatenate([[-np.inf], finite[:-1]])
    for t in np.flatnonzero(np.isfinite(bound) & (before > bound)):
        bound[t] = _cap_scan(finite, history[t], int(t), int(blocks[t]), int(tolerated[t]), window, block)
    return bound


def _kth_largest(rows: np.ndarray, k: np.ndarray) -> np.ndarray:
    """Per row, its ``k[row]``-th largest finite value (−∞ where it has fewer)."""
    ordered = np.sort(rows, axis=1)
    count = np.count_nonzero(~np.isnan(ordered), axis=1)
    pick = ordered[np.arange(rows.shape[0]), np.clip(count - k, 0, max(rows.shape[1] - 1, 0))]
    return np.where((count >= k) & (k >= 1), pick, -np.inf)


def _cap_scan(
    finite: np.ndarray, row: np.ndarray, t: int, blocks: int, tolerated: int, window: int, block: int
) -> float:
    """The exact cap bound at ``t``: on each interval between the magnitudes before ``t``, both the blocks
    reaching a magnitude and the excursion it belongs to stay the same; the bound is the top of the highest
    interval where too many countable blocks reached it."""
    lo = max(t - window - block, 0)
    seg = finite[lo:t]
    levels = np.unique(seg[np.isfinite(seg)])[::-1]
    if levels.size == 0:
        return -np.inf
    below = seg[None, :] < levels[:, None]
    last = np.where(below.any(axis=1), lo + seg.size - 1 - np.argmax(below[:, ::-1], axis=1), lo - 1)
    first_countable = np.ceil((t - 1 - last) / block).astype(np.int64)
    columns = np.arange(row.size)
    with np.errstate(invalid="ignore"):
        reached = np.count_nonzero(
            (row[None, :] >= levels[:, None]) & (columns[None, :] >= first_countable[:, None]), axis=1
        )
    held = (reached > tolerated) & (blocks >= _MIN_BLOCKS)
    return float(levels[np.argmax(held)]) if held.any() else -np.inf


def _range_threshold(x: np.ndarray, decades: float, *, min_history: int, per_width: float) -> np.ndarray:
    """The value at which :func:`detector.views.range_excess` reaches ``decades / per_width`` widths."""
    finite = np.where(np.isfinite(x), x, np.nan)
    hi = np.fmax.accumulate(np.concatenate([[np.nan], finite[:-1]]))
    lo = np.fmin.accumulate(np.concatenate([[np.nan], finite[:-1]]))
    seen = np.concatenate([[0], np.cumsum(np.isfinite(x))[:-1]])
    width = np.fmax(hi - lo, 1e-3 * np.fmax(np.abs(hi), np.abs(lo)) + 1e-12)
    if per_width <= 0:
        return np.full(x.size, np.inf)
    out = hi + width * decades / per_width
    return np.where((seen >= min_history) & np.isfinite(out), out, np.inf)


def _previous_sum(x: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Sum and count of the finite values among the ``k − 1`` points before each point."""
    finite = np.isfinite(x)
    csum = np.concatenate([[0.0], np.cumsum(np.where(finite, x, 0.0))])
    ccnt = np.concatenate([[0], np.cumsum(finite)])
    end = np.arange(x.size)
    start = np.maximum(end - (k - 1), 0)
    return csum[end] - csum[start], ccnt[end] - ccnt[start]


def _finite_or_inf(x: np.ndarray) -> np.ndarray:
    """NaN (a reference that does not exist) becomes +∞ (no value reaches it)."""
    return np.where(np.isnan(x), np.inf, x)


def score_threshold(
    values: np.ndarray,
    expected: np.ndarray,
    times_ns: np.ndarray,
    step: pd.Timedelta,
    *,
    decades: float,
    above: np.ndarray | None = None,
    mode: str = "up",
    config: ScoreConfig | None = None,
) -> ScoreThreshold:
    """Per point, the value above which :func:`detector.scoring.surprise` reaches ``decades`` (and the
    sustaining evidence does), all other points as they are; with ``above``, the lowest such value at or
    above it (the post-rules' gate: the twin view can alarm in pockets, so where the search starts matters).

    ``mode`` is the magnitude on the upper side: ``"up"`` (the positive part) or ``"both"`` (the absolute
    value); for a lower boundary pass the negated series and negate the result. ``values`` are the scored
    values (a partial period already projected to a full one) and ``times_ns`` their non-decreasing times.
    """
    cfg = config or ScoreConfig()
    x = np.asarray(values, dtype=np.float64)
    e = np.asarray(expected, dtype=np.float64)
    n = x.size
    if n == 0 or decades <= 0:
        edge = np.full(n, -np.inf)
        return ScoreThreshold(edge, edge.copy())
    ppd = pd.Timedelta(days=1) / step
    window = tail_window(ppd, cfg.tail_days)
    min_history = max(window // 8, 14)
    memory = None if cfg.exclude_days is None else max(int(cfg.exclude_days * ppd), 1)
    level = trailing_median(np.abs(x), window)
    floor = 1e-3 * np.where(np.isfinite(level), level, np.nan_to_num(np.abs(x))) + 1e-12
    tail = partial(
        tail_threshold,
        window=window,
        min_history=min_history,
        floor=floor,
        exclude=cfg.exclude,
        memory=memory,
    )
    trailing = trailing_median(x, int(min(max(ppd, 24), 288)))

    # Deviation: the rarest of four tails, Bonferroni-corrected, so any one of them reaching
    # decades + log10(4) is enough: the smallest of their boundaries.
    spans = sorted({1, max(cfg.short_window, 1)})
    deviation = np.full(n, np.inf)
    for residual, reference in ((x - e, e), (x - trailing, trailing)):
        for k in spans:
            reach = tail(_watched(trailing_mean(residual, k), mode), decades + math.log10(2 * len(spans)))
            earlier, count = _previous_sum(residual, k)
            # The point is one of the (count + 1) residuals averaged: its own must make up the rest.
            deviation = np.fmin(deviation, _finite_or_inf(reference + reach * (count + 1) - earlier))

    z = z_threshold(x, cfg.z_window, decades * cfg.z_per_decade)
    intraday = ppd > 1.0
    period = int((pd.Timedelta(days=1) if intraday else pd.Timedelta(days=7)).value)
    same_level, found = same_phase_level(
        x,
        times_ns,
        period_ns=period,
        tolerance_ns=int(pd.Timedelta(minutes=cfg.context_tolerance_minutes if intraday else 60).value),
        periods=cfg.seasonal_periods,
    )
    seasonal = np.where(
        found >= 2,
        _finite_or_inf(
            same_level + z_threshold(x - same_level, cfg.z_window, decades * cfg.seasonal_z_per_decade)
        ),
        np.inf,
    )

    twin_tolerance = int(pd.Timedelta(minutes=cfg.context_tolerance_minutes).value) if intraday else 0
    twin_periods = cfg.context_periods if intraday else 4
    twin, repeats = same_phase_twins(
        x,
        times_ns,
        period_ns=period,
        tolerance_ns=twin_tolerance,
        periods=twin_periods,
        within=cfg.repeat_share * np.nan_to_num(np.abs(x - trailing)),
    )
    gap = np.where(np.isfinite(twin) & (repeats >= cfg.repeat_min), 0.0, _watched(twin, mode))
    candidates = same_phase_candidates(
        x, times_ns, period_ns=period, tolerance_ns=twin_tolerance, periods=twin_periods
    )
    # Until enough twins were seen the view stands in with the plain z (as the score does); the point's
    # own twin counts when it has a same-phase value, whatever its value.
    has_twin = np.isfinite(candidates).any(axis=(1, 2))
    seen_twins = np.concatenate([[0], np.cumsum(np.isfinite(twin))[:-1]]) + has_twin
    known = seen_twins >= min_history

    # The cap counts the blocks on the point's own side only (detector.scoring._recurrence_caps), and the
    # point sits above its forecast here: the upper side's magnitudes, whatever ``mode``.
    cap = e + cap_threshold(
        _watched(x - e, "up"),
        window=window,
        block=block_points(ppd, cfg.recurrence_hours),
        min_count=cfg.recurrence_min_count,
        decades=decades,
    )
    beyond = _range_threshold(x, decades, min_history=cfg.range_min_points, per_width=cfg.range_per_width)
    lowest = np.full(n, -np.inf) if above is None else np.asarray(above, dtype=np.float64)
    # s = max(min(deviation, max(z, seasonal z), twin, cap), range): every view of the minimum must alarm.
    # All but the twin view alarm on every value from their boundary up; the twin view is searched from
    # there (where it is not yet known, the plain z stands in for it).
    rest = np.maximum.reduce([deviation, np.minimum(z, seasonal), _finite_or_inf(cap), lowest])
    novel = np.full(n, np.inf)
    search = known & np.isfinite(rest)
    if search.any():
        twin_reach = (
            sequential_tail_threshold(
                gap,
                decades,
                window=window,
                min_history=min_history,
                floor=floor,
                exclude=cfg.exclude,
                memory=memory,
            )
            if cfg.twin_exclusion == "sequential"
            else tail(gap, decades)
        )
        novel[search] = twin_threshold(
            candidates[search],
            trailing[search],
            twin_reach[search],
            rest[search],
            mode=mode,
            repeat_share=cfg.repeat_share,
            repeat_min=cfg.repeat_min,
        )
    views = np.where(known, novel, np.maximum(rest, z))
    return ScoreThreshold(
        opens=np.minimum(views, np.maximum(beyond, lowest)),
        sustains=np.maximum(np.minimum(deviation, z), lowest),
    )
