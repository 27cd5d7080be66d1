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
from dataclasses import dataclass

import numpy as np
from numpy.lib.stride_tricks import as_strided, sliding_window_view

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
    resid: np.ndarray, level: np.ndarray, count_min: int, window: int, rel_floor: float
) -> np.ndarray:
    """Trailing robust scale at each point, from the ``window`` residuals before it (NaN-aware).

    ``level`` is the trailing median magnitude of the forecast (see :func:`trailing_quantile`): the scale
    is floored relative to it, so a noise-free series cannot divide by zero.
    """
    med, count = trailing_quantile(np.abs(resid), window, 0.5)
    floor = rel_floor * np.nan_to_num(level, nan=0.0) + 1e-9
    scale = MAD_TO_SIGMA * np.nan_to_num(med, nan=0.0)
    return np.where(count >= count_min, np.maximum(scale, floor), np.nan)


def trailing_quantile(x: np.ndarray, window: int, q: float) -> tuple[np.ndarray, np.ndarray]:
    """The ``q`` quantile (linear interpolation) of the finite values among the ``window`` before each point,
    and how many there were. NaN where there are none.

    One sort of the trailing-window matrix (non-finite values sort last as NaN) replaces ``nanquantile``,
    whose masked-array machinery costs more than the arithmetic on windows of a few dozen points.
    """
    out, count = np.empty(x.size), np.empty(x.size, dtype=np.int64)
    for rows in _row_blocks(x.size, window):
        ordered, count[rows] = _sorted_trailing(x, window, rows)
        out[rows] = _row_quantile(ordered, count[rows], q)
    return out, count


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
    level, _ = trailing_quantile(np.abs(f), window, 0.5)
    level = np.where(np.isfinite(level), level, np.abs(f))
    scale = robust_scale(resid, level, min_history, window, cfg.rel_floor)
    with np.errstate(all="ignore"):
        z = np.clip(resid / scale, -cfg.z_cap, cfg.z_cap)
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
    # + 0.0: -log10(1) is -0.0, which would print as "-0.0" in a backtest CSV.
    score = np.clip(-np.log10(p) / cfg.decades, 0.0, 1.0) + 0.0
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

    Every point is first judged against its full trailing window in one vectorised pass. That is the
    exact answer wherever no point of the last ``memory`` was flagged, which is almost everywhere (anomalies
    are rare), so only the points just after a flagged one are judged again one by one, without it. The
    sweep scores every series every hour: this keeps a 60-point series at a fraction of a millisecond.
    """
    n = mags[0].size
    # All scales in one pass: (scales × points) rows of trailing windows, one sort for them all.
    per_scale = _window_tail(np.stack(mags), window, min_history, tail_share, beta_floor, memory)
    best = np.where(usable, per_scale.min(axis=0), 1.0)
    vec_flag = usable & (best <= flag_p)
    if not exclude or not vec_flag.any():
        return best
    finite = [np.isfinite(m) for m in mags]
    flagged = np.zeros(n, dtype=bool)
    pending = np.flatnonzero(vec_flag)
    last = -(n + window + memory)  # the newest truly flagged point so far
    t = int(pending[0])
    while t < n:
        if usable[t] and last >= max(t - memory, t - window):
            # A flagged point is in this one's recent history: judge it again without those points.
            best[t] = _point_tail(
                mags, finite, flagged, t, window, min_history, tail_share, beta_floor, memory
            )
        flagged[t] = bool(usable[t]) and best[t] <= flag_p
        if flagged[t]:
            last = t
        if t + 1 - last <= memory:
            t += 1
        else:  # no flag within reach: the vectorised verdicts hold until the next vectorised flag
            nxt = int(np.searchsorted(pending, t + 1))
            if nxt >= pending.size:
                break
            t = int(pending[nxt])
    return best


def _window_tail(
    m: np.ndarray, window: int, min_history: int, tail_share: float, beta_floor: np.ndarray, memory: int
) -> np.ndarray:
    """Each scale's tail probability at every point against its whole trailing window (no exclusions).

    ``m`` is ``(scales, points)``; so is the answer.
    """
    k, n = m.shape
    clean = np.where(np.isfinite(m), m, np.nan)
    out = np.ones((k, n))
    for rows in _row_blocks(n, window * k):
        past = np.concatenate([_trailing(c, window)[rows] for c in clean])  # (k * rows, window)
        ordered = np.sort(past, axis=1)  # numpy sorts NaN last
        count = np.count_nonzero(~np.isnan(ordered), axis=1)
        u = _row_quantile(ordered, count, 1.0 - tail_share)
        a = clean[:, rows].reshape(-1)
        with np.errstate(all="ignore"):
            over = ordered > u[:, None]  # NaN (non-finite) entries compare False
            n_over = over.sum(axis=1)
            sum_over = np.where(over, ordered, 0.0).sum(axis=1)
            excess = np.where(n_over > 0, sum_over / np.maximum(n_over, 1) - u, 0.0)
            beta = np.maximum(excess, np.tile(beta_floor[rows], k))
            p = np.where(a > u, tail_share * np.exp(-(a - u) / beta), 1.0)
            # Never rarer than the history itself says: a magnitude already reached k times in the window
            # (a nightly job's spike, a weekly batch) has happened k times. Only history older than
            # ``memory`` counts as precedent, so an event's own first periods are not one.
            reached = (past[:, : max(window - memory, 0)] >= a[:, None]).sum(axis=1)
            p = np.maximum(p, reached / np.maximum(count, 1))
        out[:, rows] = np.where((count >= min_history) & np.isfinite(a), p, 1.0).reshape(k, -1)
    return out


def _point_tail(
    mags: list[np.ndarray],
    finite: list[np.ndarray],
    flagged: np.ndarray,
    t: int,
    window: int,
    min_history: int,
    tail_share: float,
    beta_floor: np.ndarray,
    memory: int,
) -> float:
    """The tail probability at ``t`` over all scales, leaving out points flagged in the last ``memory``."""
    lo = max(0, t - window)
    recent = flagged[lo:t].copy()
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
        older = m[lo : max(lo, t - memory)]
        older = older[np.isfinite(older)]
        if older.size:
            p = max(p, float(np.count_nonzero(older >= a)) / hist.size)
        p_t = min(p_t, p)
    return p_t


def _quantile(values: np.ndarray, q: float) -> float:
    """``np.quantile(values, q)`` (linear interpolation) without its per-call overhead: this runs once per
    point and scale in the sequential scorer, on a few dozen values, where numpy's machinery dominates."""
    ordered = np.sort(values)
    pos = q * (ordered.size - 1)
    lo = int(pos)
    hi = min(lo + 1, ordered.size - 1)
    return float(ordered[lo] + (pos - lo) * (ordered[hi] - ordered[lo]))


_BLOCK_CELLS = 1 << 22  # trailing-window cells materialised at once (~32 MiB of float64): memory, not results


def _row_blocks(n: int, window: int) -> list[slice]:
    size = max(_BLOCK_CELLS // max(window, 1), 1)
    return [slice(lo, min(lo + size, n)) for lo in range(0, max(n, 1), size)]


def _sorted_trailing(x: np.ndarray, window: int, rows: slice) -> tuple[np.ndarray, np.ndarray]:
    """Rows of :func:`_trailing` sorted ascending with non-finite values last (as NaN), and their counts."""
    clean = np.where(np.isfinite(x), x, np.nan)
    ordered = np.sort(_trailing(clean, window)[rows], axis=1)  # numpy sorts NaN last
    count = np.count_nonzero(~np.isnan(ordered), axis=1)
    return ordered, count


def _row_quantile(ordered: np.ndarray, count: np.ndarray, q: float) -> np.ndarray:
    """Per row, the ``q`` quantile of its first ``count`` (sorted, finite) values, as :func:`_quantile`."""
    pos = q * np.maximum(count - 1, 0)
    lo = pos.astype(np.int64)
    hi = np.minimum(lo + 1, np.maximum(count - 1, 0))
    rows = np.arange(ordered.shape[0])
    a, b = ordered[rows, lo], ordered[rows, hi]
    with np.errstate(all="ignore"):
        out = a + (pos - lo) * (b - a)
    return np.where(count > 0, out, np.nan)


def _trailing(x: np.ndarray, window: int) -> np.ndarray:
    """Row ``t`` holds ``x[t-window : t]`` (NaN-padded at the start): the history *before* ``t``.

    A read-only strided view (no copy), made directly: ``sliding_window_view``'s checks cost more than the
    arithmetic on the short series a sweep scores by the thousand.
    """
    padded = np.concatenate([np.full(window, np.nan), x.astype(np.float64)])
    step = padded.strides[0]
    return as_strided(padded, shape=(x.size, window), strides=(step, step), writeable=False)


def _trailing_mean(x: np.ndarray, w: int) -> np.ndarray:
    """Mean of ``x[t-w+1 .. t]``, NaN until ``w`` finite points are available."""
    padded = np.concatenate([np.full(w - 1, np.nan), x])
    view = sliding_window_view(padded, w)
    with np.errstate(all="ignore"):
        return np.asarray(np.mean(view, axis=1))
