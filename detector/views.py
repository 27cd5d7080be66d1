"""The model-free views a point is judged in, beside the baseline's forecast: each says how far the point is
from what a simple, assumption-light reading of the series' own past expects.

* :func:`robust_z`: distance from the median of the last ``window`` points (the point included), in
  robust standard deviations. Scale-free and blind to a few past spikes: what a rolling median/MAD
  monitor computes.
* :func:`same_phase_distance`: distance to the nearest value seen at the same phase (time of day, or day
  of week for daily series) in the previous periods, within a tolerance. A daily batch job's spike has a
  twin yesterday; a genuinely new spike has none. It is a nearest-neighbour novelty measure restricted to
  the seasonal context, in the spirit of contextual detectors (CAD OSE, KNN CAD).
  :func:`same_phase_twins` also counts the earlier periods that held a value close to the point: a
  daily job's spike that came at this hour on several days is routine, whatever its height.
* :func:`same_phase_level`: the median of the values at the same phase in the last few periods; the
  robust z of the point's distance to it is the *seasonal* z, which sees a level that is ordinary for the
  day but not for the hour (a plateau at half height, a daily jump that did not come).
* :func:`range_excess`: how far the point goes beyond everything seen before, in units of the range seen
  so far (HTM's "spatial anomaly": a value never seen before is news however calm its residual).
* :func:`trailing_median`: the level the last ``window`` points sit at (a second, model-free forecast).

Every view at ``t`` reads only points up to ``t``, so scores stay causal. ``sign`` arrays are signed
(positive above the reference) so each monitor's direction can be applied to them.
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import as_strided

from detector import compiled
from detector.nan_arrays import nanmean_rows
from detector.tail import row_quantile, trailing_view

MAD_TO_SIGMA = 1.4826
MEAN_AD_TO_SIGMA = 1.2533  # E|X − μ| = σ·√(2/π) for a normal variable


def _nanmedian_rows(v: np.ndarray, *, no_inf: bool = False) -> np.ndarray:
    """Median of the finite values of each row; ``no_inf`` says there is no ±inf to mask (NaN sorts last
    either way), which saves a pass over the windows."""
    return row_quantile(v if no_inf else np.where(np.isfinite(v), v, np.nan), 0.5)


def robust_z(values: np.ndarray, window: int, rel_floor: float = 1e-3) -> np.ndarray:
    """Signed ``(x − median) / scale`` over the ``window`` points ending at ``t`` (the point included).

    The scale is 1.4826 × MAD; where the MAD is 0 (a series that sits on one value most of the time, where
    any move would be infinite) half the mean-absolute-deviation equivalent stands in, and it is never
    below ``rel_floor`` of the typical magnitude (a noise-free series). Only the fallback uses the mean:
    the MAD is what ignores a lasting step's first days, so the z of a step stays large.

    A 2-D ``values`` holds one series per row, each judged alone (the same answer as one call per row).
    """
    x = np.asarray(values, dtype=np.float64)
    window = max(min(window, x.shape[-1]), 1)  # a longer window than the series only adds padding
    if compiled.active() and x.ndim in (1, 2):
        from detector.compiled_windows import robust_z_rows  # numba loads on first use

        z = robust_z_rows(x.reshape(-1, x.shape[-1]), window, rel_floor)
        if z is not None:
            shaped: np.ndarray = z.reshape(x.shape)
            return shaped
    padded = np.concatenate([np.full((*x.shape[:-1], window - 1), np.nan), x], axis=-1)
    # Row t is padded[t : t + window] (ends at t): the strided view sliding_window_view builds, without
    # its argument handling.
    step = padded.strides[-1]
    rows = as_strided(
        padded,
        shape=(*x.shape[:-1], x.shape[-1], window),
        strides=(*padded.strides[:-1], step, step),
        writeable=False,
    )
    # Values far from overflow and without ±inf: no window, deviation or magnitude is infinite, so the
    # medians need not mask any (NaN sorts last as it is).
    tame = bool(np.fmax.reduce(np.abs(x), axis=None) < 1e300) if x.size else False
    med = _nanmedian_rows(rows, no_inf=tame)
    dev = np.abs(rows - med[..., None])
    mad = MAD_TO_SIGMA * _nanmedian_rows(dev, no_inf=tame)
    fallback = ~(mad > 0)
    # The mean deviation only where the MAD cannot serve (the rows' means are independent of each other).
    mean_dev = np.full(mad.shape, np.nan)
    if fallback.any():
        mean_dev[fallback] = nanmean_rows(dev[fallback])
    scale = np.where(mad > 0, mad, 0.5 * MEAN_AD_TO_SIGMA * mean_dev)
    # The floor (a share of the median magnitude) only matters where the scale may be below it; it is
    # below the same share of the largest magnitude, so rows whose scale clears that bound (with a margin
    # for rounding) keep their scale, and only the others are sorted again.
    size = np.abs(rows)
    bound = (rel_floor * np.fmax.reduce(size, axis=-1) + 1e-12) * (1.0 + 1e-6)
    low = ~(scale > bound)
    if low.any():
        scale[low] = np.fmax(scale[low], rel_floor * _nanmedian_rows(size[low], no_inf=tame) + 1e-12)
    with np.errstate(all="ignore"):
        return np.where(np.isfinite(x) & np.isfinite(med), (x - med) / scale, np.nan)


def trailing_median(values: np.ndarray, window: int) -> np.ndarray:
    """Median of the ``window`` points before ``t`` (NaN when there are none); a 2-D ``values`` holds one
    series per row, each judged alone."""
    x = np.asarray(values, dtype=np.float64)
    w = max(min(window, x.shape[-1]), 1)  # a longer window than the series only adds padding
    if compiled.active() and x.ndim in (1, 2) and x.size:
        from detector.compiled_windows import trailing_median_rows  # numba loads on first use

        rows: np.ndarray = trailing_median_rows(x.reshape(-1, x.shape[-1]), w)
        return rows.reshape(x.shape)
    return _nanmedian_rows(trailing_view(x, w))


def same_phase_distance(
    values: np.ndarray, times_ns: np.ndarray, *, period_ns: int, tolerance_ns: int, periods: int
) -> np.ndarray:
    """Signed distance from ``x_t`` to the nearest earlier value within ``±tolerance`` of ``t − k·period``,
    ``k = 1..periods``; NaN where no such value exists (the first period).

    Found by time, not by position, so irregular sampling and gaps are handled.
    """
    x = np.asarray(values, dtype=np.float64)
    signed, _ = same_phase_twins(
        x, times_ns, period_ns=period_ns, tolerance_ns=tolerance_ns, periods=periods, within=np.zeros(x.size)
    )
    return signed


def grid_step(t: np.ndarray) -> int | None:
    """The one spacing of ``t`` when it is a regular grid of at least two points (else ``None``)."""
    if t.size < 2:
        return None
    gaps = t[1:] - t[:-1]
    step = int(gaps[0])
    return step if step > 0 and bool((gaps == step).all()) else None


def grid_lag(t: np.ndarray, period_ns: int, tolerance_ns: int, step: int | None = -1) -> int | None:
    """Points per period when ``t`` is a regular grid whose step divides the period and exceeds the
    tolerance: then the only value within tolerance of ``t − k·period`` is the one ``k`` periods back (or
    none, before the first period), and the same-phase views can shift instead of searching by time.
    ``step``: the grid's :func:`grid_step` when already known."""
    spacing = grid_step(t) if step == -1 else step
    if spacing is None or tolerance_ns >= spacing or period_ns % spacing:
        return None
    lag = period_ns // spacing
    return lag if lag >= 1 else None


def _lagged(x: np.ndarray, lag: int) -> np.ndarray:
    """``x`` shifted ``lag`` points later (NaN before)."""
    n = x.size
    return np.concatenate([np.full(min(lag, n), np.nan), x[: max(n - lag, 0)]])


def same_phase_twins(
    values: np.ndarray,
    times_ns: np.ndarray,
    *,
    period_ns: int,
    tolerance_ns: int,
    periods: int,
    within: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`same_phase_distance`, and in how many of the ``periods`` the nearest same-phase value lay
    within ``within`` (one bound per point) of ``x_t``: how often the point already happened at this phase.
    """
    x = np.asarray(values, dtype=np.float64)
    t = np.asarray(times_ns, dtype=np.int64)
    bound = np.asarray(within, dtype=np.float64)
    n = x.size
    best = np.full(n, np.inf)
    signed = np.full(n, np.nan)
    repeats = np.zeros(n, dtype=np.int64)
    position = np.arange(n)
    lag = grid_lag(t, period_ns, tolerance_ns)
    if lag is not None and compiled.active():
        from detector.compiled_phase import grid_twins  # numba loads on first use

        return grid_twins(x, lag, periods, bound)
    for k in range(1, periods + 1):
        if lag is not None:
            if k * lag >= n:
                continue  # no point has a value this many periods back
            diff = x - _lagged(x, k * lag)  # the one candidate: the value k periods back
            with np.errstate(all="ignore"):
                nearest = np.where(np.isnan(diff), np.inf, np.abs(diff))
            chosen = diff
        else:
            lo = np.searchsorted(t, t - k * period_ns - tolerance_ns, side="left")
            hi = np.minimum(np.searchsorted(t, t - k * period_ns + tolerance_ns, side="right"), position)
            width = int((hi - lo).max()) if n else 0
            if width <= 0:
                continue
            idx = lo[:, None] + np.arange(width)[None, :]
            candidates = np.where(idx < hi[:, None], x[np.minimum(idx, max(n - 1, 0))], np.nan)
            diffs = x[:, None] - candidates
            with np.errstate(all="ignore"):
                magnitude = np.where(np.isnan(diffs), np.inf, np.abs(diffs))
            # One candidate per point: nothing to choose between.
            pick = np.argmin(magnitude, axis=1) if width > 1 else np.zeros(n, dtype=np.intp)
            nearest = magnitude[position, pick]
            chosen = diffs[position, pick]
        with np.errstate(invalid="ignore"):
            repeats += nearest <= bound
        better = nearest < best
        best = np.where(better, nearest, best)
        signed = np.where(better, chosen, signed)
    return signed, repeats


def same_phase_level(
    values: np.ndarray, times_ns: np.ndarray, *, period_ns: int, tolerance_ns: int, periods: int
) -> tuple[np.ndarray, np.ndarray]:
    """Median of the values nearest ``t − k·period`` (within ``±tolerance``), ``k = 1..periods``, and how
    many were found; NaN where none was.

    One value per earlier period (the nearest in time), found by time, not by position, so irregular
    sampling and gaps are handled; only earlier rows count (a clock reset never looks ahead).
    """
    x = np.asarray(values, dtype=np.float64)
    t = np.asarray(times_ns, dtype=np.int64)
    n = x.size
    if n == 0:
        return np.empty(0), np.zeros(0, dtype=np.int64)
    position = np.arange(n)
    columns = []
    lag = grid_lag(t, period_ns, tolerance_ns)
    if lag is not None and periods >= 1 and compiled.active():
        from detector.compiled_phase import grid_level  # numba loads on first use

        return grid_level(x, lag, periods)
    for k in range(1, periods + 1):
        if lag is not None:  # a regular grid: the nearest value k periods back is the one k·lag points back
            columns.append(_lagged(x, k * lag))
            continue
        target = t - k * period_ns
        # np.minimum/np.maximum rather than np.clip: the same integers, without clip's Python wrapper.
        after = np.minimum(np.searchsorted(t, target), n - 1)  # searchsorted never returns below 0
        before = np.maximum(after - 1, 0)
        pick = np.where(np.abs(t[before] - target) < np.abs(t[after] - target), before, after)
        found = (np.abs(t[pick] - target) <= tolerance_ns) & (pick < position)
        columns.append(np.where(found, x[pick], np.nan))
    stacked = np.stack(columns, axis=1)
    return row_quantile(stacked, 0.5), np.add.reduce(np.isfinite(stacked), axis=1, dtype=np.intp)


def range_excess(values: np.ndarray, min_history: int, rel_floor: float = 1e-3) -> np.ndarray:
    """Signed excess beyond ``[min, max]`` of all earlier values, in units of that range (0 inside it)."""
    x = np.asarray(values, dtype=np.float64)
    finite = np.where(np.isfinite(x), x, np.nan)
    hi = np.fmax.accumulate(np.concatenate([[np.nan], finite[:-1]])) if x.size else x
    lo = np.fmin.accumulate(np.concatenate([[np.nan], finite[:-1]])) if x.size else x
    seen = np.concatenate([[0], np.cumsum(np.isfinite(x))[:-1]]) if x.size else np.zeros(0)
    width = np.fmax(hi - lo, rel_floor * np.fmax(np.abs(hi), np.abs(lo)) + 1e-12)
    with np.errstate(all="ignore"):
        above = (x - hi) / width
        below = (x - lo) / width
    out = np.where(above > 0, above, np.where(below < 0, below, 0.0))
    return np.where((seen >= min_history) & np.isfinite(out), out, 0.0)
