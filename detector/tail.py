"""How rare a magnitude is against the series' own recent magnitudes: a peaks-over-threshold tail, in decades.

For each point ``t``, the ``window`` magnitudes before it give a threshold ``u`` (their 90th percentile)
and the mean excess ``β`` over it; a magnitude ``a > u`` has tail probability ``0.1 · exp(−(a − u) / β)``,
the exponential (γ = 0) case of the generalised Pareto tail that SPOT (Siffer et al., KDD 2017) fits.
The answer is ``−log10`` of that probability: *decades of surprise* (0 at or below ``u``). Working in
decades lets views of different kinds (a residual, a distance, a z-score) be compared and combined.

Two passes, as SPOT keeps anomalies out of its model: the first pass flags points of at least
``exclude`` decades; the second judges every point against a history without them, so a series whose
spikes are the anomalies (crash counts) does not learn each spike as the new normal. Flags of the first
pass are themselves causal, so the result at ``t`` still depends only on points up to ``t``.

The mean excess is used, not a robust spread of the body of the distribution, because it is honest about
heavy tails: a bursty metric whose bursts are ordinary has a large ``β`` and its bursts score low.
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import as_strided

from detector import compiled

TAIL_QUANTILE = 0.9
LN10 = float(np.log(10.0))
_BLOCK_CELLS = 1 << 21  # trailing-window cells sorted at once (~16 MiB of float64): bounds memory only


def trailing_view(x: np.ndarray, window: int) -> np.ndarray:
    """Row ``t`` holds ``x[t-window : t]`` (NaN-padded at the start): the history strictly *before* ``t``.

    A read-only strided view, no copy. For a 2-D ``x`` (one series per row) the view is 3-D: series,
    point, history.
    """
    v = np.asarray(x, dtype=np.float64)
    padded = np.concatenate([np.full((*v.shape[:-1], window), np.nan), v], axis=-1)
    step = padded.strides[-1]
    return as_strided(
        padded,
        shape=(*padded.shape[:-1], padded.shape[-1] - window, window),
        strides=(*padded.strides[:-1], step, step),
        writeable=False,
    )


def tail_decades(
    magnitude: np.ndarray,
    *,
    window: int,
    min_history: int,
    floor: float | np.ndarray,
    exclude: float | None = 3.0,
    memory: int | None = None,
) -> np.ndarray:
    """Decades of surprise of each magnitude against the ``window`` before it (0 without enough history).

    ``floor`` (one per point, or one for all) bounds ``β`` from below, in the magnitude's unit, so a
    noise-free history cannot make an infinitesimal change infinitely surprising. ``exclude`` (decades)
    enables the second pass.

    ``magnitude`` may be 2-D, one independent series per row (``floor`` broadcast against it): every row
    is judged on its own history, as if passed alone, and the answer is the same to the bit; stacking only
    saves the per-call overhead, which dominates on the short series a request or a sweep scores.
    """
    m = np.asarray(magnitude, dtype=np.float64)
    floor = np.broadcast_to(np.asarray(floor, dtype=np.float64), m.shape)
    if m.ndim == 1:
        one: np.ndarray = tail_decades(
            m[None, :],
            window=window,
            min_history=min_history,
            floor=floor[None, :],
            exclude=exclude,
            memory=memory,
        )[0]
        return one
    # A point has fewer than ``min_history`` points before it until ``min_history``: those score 0.
    skip = min(max(min_history, 0), m.shape[1])
    first = np.zeros(m.shape)
    first[:, skip:] = _pass(m, m, window, min_history, floor, start=skip)
    if exclude is None:
        return first
    flagged = first >= exclude
    again = np.flatnonzero(flagged.any(axis=1))  # rows with nothing to exclude keep their first pass
    if again.size == 0:
        return first
    out = first.copy()
    rows, hit = m[again], flagged[again]
    # Up to the first flagged point of these rows no history holds a flagged point, so the second pass
    # would repeat the first there: it starts just after (a spike at the end re-judges a point or two).
    start = int(np.argmax(hit.any(axis=0))) + 1
    if memory is None or memory >= window:
        redo = _pass(rows, np.where(hit, np.nan, rows), window, min_history, floor[again], start=start)
    else:
        redo = _pass(rows, rows, window, min_history, floor[again], flagged=hit, memory=memory, start=start)
    out[again, start:] = redo
    return out


def _pass(
    m: np.ndarray,
    history: np.ndarray,
    window: int,
    min_history: int,
    floor: np.ndarray,
    *,
    flagged: np.ndarray | None = None,
    memory: int = 0,
    start: int = 0,
) -> np.ndarray:
    """One pass over 2-D ``m`` (series × points), each point against its row's ``history`` before it.

    Only points from ``start`` on are judged (their histories still reach back before it); the answer
    has one column per judged point.
    """
    if flagged is None and compiled.active():
        from detector.compiled_tail import tail_pass  # numba loads on first use (detector.compiled)

        return tail_pass(m, history, window, min_history, floor, start)
    n = m.shape[1]
    out = np.zeros((m.shape[0], max(n - start, 0)))
    rows_per_block = max(_BLOCK_CELLS // max(window * m.shape[0], 1), 1)
    past_all = trailing_view(np.where(np.isfinite(history), history, np.nan), window)
    flags_all = None if flagged is None else trailing_view(flagged.astype(np.float64), window)
    recent = np.arange(window) >= window - memory  # the last ``memory`` columns of each history row
    for lo in range(start, n, rows_per_block):
        hi = min(lo + rows_per_block, n)
        rows = past_all[:, lo:hi]
        if flags_all is not None:
            # Flagged points stay out of the history for ``memory`` points, then count again.
            rows = np.where((flags_all[:, lo:hi] == 1.0) & recent, np.nan, rows)
        past = np.sort(rows, axis=-1)  # NaN sorts last
        count = finite_count(past)
        u = _row_quantile(past, count, TAIL_QUANTILE)
        a = m[:, lo:hi]
        with np.errstate(all="ignore"):
            over = past > u[..., None]  # NaN compares False
            n_over = over.sum(axis=-1)
            excess = np.where(over, past - u[..., None], 0.0).sum(axis=-1) / np.maximum(n_over, 1)
            beta = np.maximum(excess, floor[:, lo:hi] + 1e-12)
            decades = -np.log10(1.0 - TAIL_QUANTILE) + (a - u) / beta / LN10
        usable = (count >= min_history) & np.isfinite(a) & (a > u)
        out[:, lo - start : hi - start] = np.where(usable, decades, 0.0)
    return out


def row_quantile(rows: np.ndarray, q: float) -> np.ndarray:
    """The ``q`` quantile of the finite values of each row (NaN for a row without any).

    One sort, NaN last: ``np.nanquantile``/``nanmedian`` go through masked arrays, which cost more than
    the arithmetic on the short rows a sweep scores by the thousand. Rows are along the last axis.
    """
    if compiled.active() and np.ndim(rows) >= 1:
        from detector.compiled_windows import row_quantile as compiled_row_quantile  # numba on first use

        return compiled_row_quantile(rows, q)
    ordered = np.sort(rows, axis=-1)
    return _row_quantile(ordered, finite_count(ordered), q)


def finite_count(rows: np.ndarray) -> np.ndarray:
    """Values that are not NaN in each row (last axis): one comparison and one sum, where
    ``np.count_nonzero(..., axis=...)`` goes through a cast and several Python-level calls."""
    counted: np.ndarray = np.add.reduce(rows == rows, axis=-1, dtype=np.int64)  # NaN != NaN
    return counted


def _row_quantile(ordered: np.ndarray, count: np.ndarray, q: float) -> np.ndarray:
    """Per row (last axis), the ``q`` quantile (linear interpolation) of its first ``count`` sorted finite
    values."""
    last = np.maximum(count - 1, 0)
    pos = q * last
    lo = pos.astype(np.int64)
    hi = np.minimum(lo + 1, last)
    # Plain fancy indexing on the rows flattened: the same elements ``np.take_along_axis`` picks, without
    # its index building (it dominates on the short rows a request scores).
    flat = ordered.reshape(-1, ordered.shape[-1])
    rows = np.arange(flat.shape[0])
    a = flat[rows, lo.ravel()].reshape(lo.shape)
    b = flat[rows, hi.ravel()].reshape(lo.shape)
    with np.errstate(all="ignore"):
        out = a + (pos - lo) * (b - a)
    return np.where(count > 0, out, np.nan)


def trailing_mean(x: np.ndarray, k: int) -> np.ndarray:
    """Mean of ``x[t-k+1 .. t]`` (NaN-aware; NaN until a finite value is in reach), along the last axis."""
    if k <= 1:
        return np.asarray(x, dtype=np.float64)
    v = np.asarray(x, dtype=np.float64)
    if compiled.active() and v.ndim == 1:
        from detector.compiled_windows import trailing_mean as compiled_trailing_mean  # numba on first use

        return compiled_trailing_mean(v, k)
    finite = np.isfinite(v)
    zero = np.zeros((*v.shape[:-1], 1))
    csum = np.concatenate([zero, np.cumsum(np.where(finite, v, 0.0), axis=-1)], axis=-1)
    ccnt = np.concatenate([zero.astype(np.int64), np.cumsum(finite, axis=-1)], axis=-1)
    idx = np.arange(v.shape[-1]) + 1
    start = np.maximum(idx - k, 0)
    n = ccnt[..., idx] - ccnt[..., start]
    with np.errstate(all="ignore"):
        return np.where(n > 0, (csum[..., idx] - csum[..., start]) / np.maximum(n, 1), np.nan)
