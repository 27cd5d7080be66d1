"""Raw residual → anomaly score in [0, 1]: the *score* half of the detector (no decisions here).

One threshold has to mean the same thing on a smooth daily spend series, a bursty CPU metric and a
noise-free artificial signal, so the score is a tail probability calibrated on each series' own recent
history rather than a fixed multiple of a standard deviation:

1. **Standardise.** ``z_t = (y_t − ŷ_t) / s_t`` where ``s_t`` is a robust scale (1.4826 × median |r|)
   of the residuals of the ``window`` points *before* ``t``, floored so a noise-free series cannot divide
   by zero. Partial periods are projected to a full period (``y / completeness``) first.
2. **Two time scales.** The point itself (``w = 1``, spikes) and the mean of the last ``short_window``
   standardised residuals (level shifts and drifts too small to stand out point by point).
3. **Peaks-over-threshold tail.** For each scale, the magnitudes seen over the previous ``window``
   points give a threshold ``u`` (their ``1 − tail_share`` quantile) and the mean excess ``β`` over it;
   the tail probability of the current magnitude ``a`` is ``tail_share · exp(−(a − u) / β)``, the
   exponential (γ = 0) case of the generalised Pareto tail that SPOT (Siffer et al., KDD 2017) fits. This
   is the same idea as Numenta's anomaly likelihood — judge a residual against the distribution of recent
   residuals, not against a Gaussian — with a tail that is honest for heavy-tailed metrics: an
   exponential tail overstates nothing for Gaussian noise and is exact for Laplace-like bursts, and
   autocorrelated noise raises the mean of the ``short_window`` scale's history, so it is absorbed too.
4. **Score.** ``p = min over scales × number of scales`` (Bonferroni), and
   ``anomaly_score = clip(−log10(p) / decades, 0, 1)``: with the default 10 decades, 0.5 means a
   one-in-100 000 residual and 1.0 one in 10¹⁰.

Everything at ``t`` uses only residuals before ``t`` (plus ``t`` itself), so scoring a replayed series is
causal: a point's score does not change when later points change.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from core.anomaly import Direction

MAD_TO_SIGMA = 1.4826
ScoreDirection = Direction | str  # "up", "down" or "both"


@dataclass(frozen=True, slots=True)
class ScoreConfig:
    """Knobs of the score. Windows count points, so one config serves hours and days alike.

    window : past residuals the scale and the tail are estimated on (None: by points per day).
    short_window : points averaged by the second time scale (0 or 1 = spikes only).
    long_window : points averaged by the third time scale, for slow drifts and lost shapes (None: by
        points per day: three days of daily points, a quarter-day of intraday points; 0 = off).
    min_history : residuals needed before a point gets a tail score; earlier points score 0.
    tail_share : share of the history above the tail threshold (SPOT's ``q``).
    decades : ``-log10(p)`` that maps to a score of 1.
    z_cap : |z| is capped here inside the history, so one past outlier cannot mask the next for long.
    rel_floor : scale floor relative to the series' typical magnitude (noise-free series).
    exclude_score : points scoring at least this stay out of the history for ``memory`` points.
    memory : recent points that are not precedent for the current one, and how long an anomalous
        point stays out of the history when ``exclude_anomalies`` (None: the long window).
    exclude_anomalies : SPOT-style: keep anomalous points out of the tail history for ``memory``
        points, so a multi-period event stays anomalous over its whole length (off by default: on NAB
        it turns each level shift into a long run of flagged rows).
    """

    window: int | None = None
    short_window: int = 6
    long_window: int | None = None
    min_history: int | None = None
    tail_share: float = 0.1
    decades: float = 8.0
    z_cap: float = 50.0
    exclude_score: float = 0.5
    memory: int | None = None
    exclude_anomalies: bool = False
    rel_floor: float = 1e-3


def default_window(points_per_day: float) -> int:
    """A week of hourly points, a month of daily points, two days of five-minute points (≥ 28)."""
    if points_per_day <= 1.0:
        return 28
    if points_per_day <= 24.0:
        return round(7 * points_per_day)
    return max(round(2 * points_per_day), 168)


def default_long_window(points_per_day: float) -> int:
    """Three days of daily points, six hours of hourly ones, a quarter-day of finer points."""
    if points_per_day <= 1.0:
        return 3
    return max(round(points_per_day / 4), 6)


def robust_scale(
    resid: np.ndarray, values: np.ndarray, window: int, min_history: int, rel_floor: float
) -> np.ndarray:
    """Trailing robust scale at each point, from the ``window`` residuals before it (NaN-aware)."""
    absr = np.abs(resid)
    past = _trailing(absr, window)  # row t: |r| of points t-window .. t-1
    count = _blockwise(past, lambda b: np.sum(~np.isnan(b), axis=1))
    med = _blockwise(past, lambda b: np.nanmedian(b, axis=1))
    level = _blockwise(_trailing(np.abs(values), window), lambda b: np.nanmedian(b, axis=1))
    level = np.where(np.isfinite(level), level, np.abs(values))
    floor = rel_floor * np.nan_to_num(level, nan=0.0) + 1e-9
    scale = MAD_TO_SIGMA * np.nan_to_num(med, nan=0.0)
    scale = np.where(count >= min_history, np.maximum(scale, floor), np.nan)
    return scale


def tail_probability(
    magnitude: np.ndarray,
    window: int,
    min_history: int,
    tail_share: float,
    beta_floor: np.ndarray | float = 1e-9,
) -> np.ndarray:
    """Exponential peaks-over-threshold tail probability of each magnitude against the ones before it."""
    past = _trailing(magnitude, window)
    count = _blockwise(past, lambda b: np.sum(~np.isnan(b), axis=1))
    u = _blockwise(past, lambda b: np.nanquantile(b, 1.0 - tail_share, axis=1))

    def mean_excess(rows: slice) -> np.ndarray:
        block = past[rows]
        excess = np.where(block > u[rows, None], block - u[rows, None], np.nan)
        return np.asarray(np.nanmean(excess, axis=1))

    beta = _blockwise_rows(len(past), mean_excess)
    # A history without spread (a flat line, a perfect fit) has no excess; the floor (tied to the
    # series' magnitude by the caller) keeps rounding noise from looking infinitely surprising.
    beta = np.maximum(np.nan_to_num(beta, nan=0.0), beta_floor)
    above = magnitude - u
    p = np.where(above > 0, tail_share * np.exp(-np.maximum(above, 0.0) / beta), 1.0)
    # Never rarer than the history itself says: a magnitude already reached k times in the window has
    # happened k times (a nightly job's spike, a weekly batch), whatever the fitted tail extrapolates.
    reached = _blockwise_rows(len(past), lambda rows: np.sum(past[rows] >= magnitude[rows, None], axis=1))
    p = np.maximum(p, reached / np.maximum(count, 1))
    p = np.where((count >= min_history) & np.isfinite(magnitude), p, 1.0)
    return np.clip(p, 1e-300, 1.0)


def anomaly_scores(
    values: np.ndarray,
    expected: np.ndarray,
    *,
    direction: ScoreDirection = "both",
    completeness: np.ndarray | None = None,
    points_per_day: float = 24.0,
    config: ScoreConfig | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Score every point: returns ``(anomaly_score in [0, 1], z)``; NaN inputs score 0 with NaN z."""
    cfg = config or ScoreConfig()
    window = cfg.window or default_window(points_per_day)
    min_history = cfg.min_history or max(window // 8, 14)
    y = np.asarray(values, dtype=np.float64)
    f = np.asarray(expected, dtype=np.float64)
    if completeness is not None:
        c = np.clip(np.asarray(completeness, dtype=np.float64), 1e-6, 1.0)
        # Project a partial period to a full one: a half-day that already spent a day's worth is a spike.
        y = np.where(np.isfinite(c), y / np.where(np.isfinite(c), c, 1.0), y)
    resid = y - f
    scale = robust_scale(resid, f, window, min_history, cfg.rel_floor)
    with np.errstate(all="ignore"):
        z = np.clip(resid / scale, -cfg.z_cap, cfg.z_cap)
    level = _blockwise(_trailing(np.abs(f), window), lambda b: np.nanmedian(b, axis=1))
    beta_floor = cfg.rel_floor * np.nan_to_num(level, nan=0.0) + 1e-12
    long = cfg.long_window if cfg.long_window is not None else default_long_window(points_per_day)
    scales = sorted({1, max(cfg.short_window, 1), max(long, 1)})
    mags = []
    for w in scales:
        # The tail is fitted on raw residuals, not on z: a scale that drifts between refits (a fit that
        # improves) would make yesterday's z incomparable with today's.
        rw = resid if w == 1 else _trailing_mean(resid, w)
        if direction == "up":
            mags.append(np.maximum(rw, 0.0))
        elif direction == "down":
            mags.append(np.maximum(-rw, 0.0))
        else:
            mags.append(np.abs(rw))
    memory = cfg.memory if cfg.memory is not None else long
    best = sequential_tail(
        mags,
        window=window,
        min_history=min_history,
        tail_share=cfg.tail_share,
        beta_floor=beta_floor,
        usable=np.isfinite(scale),
        flag_p=10.0 ** (-cfg.exclude_score * cfg.decades) / len(scales),
        memory=memory,
        exclude=cfg.exclude_anomalies,
    )
    p = np.clip(best * len(scales), 1e-300, 1.0)
    score = np.clip(-np.log10(p) / cfg.decades, 0.0, 1.0)
    score = np.where(np.isfinite(z), score, 0.0)
    return score, z


def sequential_tail(
    mags: list[np.ndarray],
    *,
    window: int,
    min_history: int,
    tail_share: float,
    beta_floor: np.ndarray,
    usable: np.ndarray,
    flag_p: float,
    memory: int,
    exclude: bool = False,
) -> np.ndarray:
    """Smallest tail probability over the time scales, point by point, keeping anomalies out of history.

    As in SPOT, a point judged anomalous does not join the history the next points are judged against
    (else the second day of a three-day spike would look ordinary next to the first) — but only for
    ``memory`` points: a change that lasts becomes the new normal instead of alerting for ever.
    """
    n = mags[0].size
    best = np.ones(n)
    flagged = np.zeros(n, dtype=bool)
    finite = [np.isfinite(m) for m in mags]
    for t in range(n):
        if not usable[t]:
            continue
        lo = max(0, t - window)
        recent = flagged[lo:t].copy() if exclude else np.zeros(t - lo, dtype=bool)
        recent[: max(0, (t - memory) - lo)] = False  # flagged long ago: back in the history
        p_t = 1.0
        for m, ok in zip(mags, finite, strict=True):
            a = m[t]
            if not np.isfinite(a):
                continue
            hist = m[lo:t][ok[lo:t] & ~recent]
            if hist.size < min_history:
                continue
            u = _quantile(hist, 1.0 - tail_share)
            over = hist[hist > u]
            beta = max(float(over.sum() / over.size - u) if over.size else 0.0, float(beta_floor[t]))
            p = tail_share * math.exp(-(a - u) / beta) if a > u else 1.0
            # Never rarer than the history itself says: a magnitude already reached k times in the
            # window (a nightly job's spike, a weekly batch) has happened k times. Only history older
            # than ``memory`` counts as precedent, so an event's own first periods are not one.
            older = m[lo : max(lo, t - memory)]
            older = older[np.isfinite(older)]
            if older.size:
                p = max(p, float(np.count_nonzero(older >= a)) / hist.size)
            p_t = min(p_t, p)
        best[t] = p_t
        flagged[t] = p_t <= flag_p
    return best


def _quantile(values: np.ndarray, q: float) -> float:
    """``np.quantile(values, q)`` (linear interpolation) without its per-call overhead: this runs once per
    point and scale in the sequential scorer, on a few dozen values, where numpy's machinery dominates."""
    ordered = np.sort(values)
    pos = q * (ordered.size - 1)
    lo = int(pos)
    hi = min(lo + 1, ordered.size - 1)
    return float(ordered[lo] + (pos - lo) * (ordered[hi] - ordered[lo]))


def _trailing(x: np.ndarray, window: int) -> np.ndarray:
    """Row ``t`` holds ``x[t-window : t]`` (NaN-padded at the start): the history *before* ``t``."""
    padded = np.concatenate([np.full(window, np.nan), x.astype(np.float64)])
    return sliding_window_view(padded, window)[: x.size]


_BLOCK_ROWS = 2048  # rows of a trailing-window view materialised at once (memory, not results)


def _blockwise(view: np.ndarray, fn: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
    return _blockwise_rows(len(view), lambda rows: fn(view[rows]))


def _blockwise_rows(n: int, fn: Callable[[slice], np.ndarray]) -> np.ndarray:
    out = np.empty(n, dtype=np.float64)
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        # All-NaN rows (the first points) are expected and give NaN; numpy warns about each.
        warnings.simplefilter("ignore", RuntimeWarning)
        for start in range(0, n, _BLOCK_ROWS):
            rows = slice(start, min(start + _BLOCK_ROWS, n))
            out[rows] = fn(rows)
    return out


def _trailing_mean(x: np.ndarray, w: int) -> np.ndarray:
    """Mean of ``x[t-w+1 .. t]``, NaN until ``w`` finite points are available."""
    padded = np.concatenate([np.full(w - 1, np.nan), x])
    view = sliding_window_view(padded, w)
    with np.errstate(all="ignore"):
        return np.asarray(np.mean(view, axis=1))
