"""The peaks-over-threshold tail with SPOT's exclusion run point by point, as SPOT runs it: compiled.

:func:`detector.tail.tail_decades` keeps anomalies out of the tail history in two passes: the points its
first pass flags (against a history that still holds every earlier spike) are left out of the second
pass's history. A point the first pass misses because an earlier excursion had already raised the tail
stays in, though SPOT itself would have left it out. SPOT judges each point against a history without
the points it flagged *before it*, so whether a point is flagged depends on the flags before it: a
recurrence, one point after another, which no sort of every window at once can give. Here it is one
compiled loop per series that keeps the trailing history sorted (one removal and one or two insertions
per point, instead of a sort of the whole window per point).

The same view of a point as a pass of :func:`detector.tail.tail_decades` (90th percentile ``u``, mean
excess ``β`` over it with numpy's pairwise summation over the sorted row, floor, minimum history), so a
series where nothing is ever flagged gets the very decades of that function's first pass; only the
history differs where something is. Besides the decades it returns ``u``, ``β`` and the history's size
for every point, which :mod:`detector.score_threshold` inverts.

The kernel is compiled on first use (``cache=True``: once per installation); nothing here is imported by
the CLI's ``--help``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numba import njit  # type: ignore[import-untyped]

from detector.compiled_tail import first_above, pairwise_sum_span, sorted_quantile
from detector.tail import LN10, TAIL_QUANTILE, tail_decades

_FIRST_DECADE = float(-np.log10(1.0 - TAIL_QUANTILE))  # decades at the threshold u (the same double)


@dataclass(frozen=True, slots=True)
class TailReference:
    """Per point (same shape as the magnitudes): its decades of surprise, and the history it was judged on:
    the threshold ``u`` (NaN without history), the mean excess ``beta`` (floored) and the history's size."""

    decades: np.ndarray
    u: np.ndarray
    beta: np.ndarray
    count: np.ndarray


def sequential_tail(
    magnitude: np.ndarray,
    *,
    window: int,
    min_history: int,
    floor: float | np.ndarray,
    exclude: float | None = 3.0,
    memory: int | None = None,
) -> TailReference:
    """Decades of surprise of each magnitude against the ``window`` before it, without the points flagged
    (``exclude`` decades or more) before it, for ``memory`` points (None: while in the window).

    ``magnitude`` may be 2-D, one independent series per row (``floor`` broadcast against it); each row
    gets the answer it gets alone.
    """
    m = np.asarray(magnitude, dtype=np.float64)
    one = m.ndim == 1
    rows = np.ascontiguousarray(m[None, :] if one else m)
    floors = np.ascontiguousarray(np.broadcast_to(np.asarray(floor, dtype=np.float64), m.shape))
    if one:
        floors = floors[None, :]
    window = max(int(window), 1)
    keep_out = np.inf if exclude is None else float(exclude)
    # A memory as long as the window keeps a flagged point out for as long as it is in the history.
    span = window if memory is None else min(max(int(memory), 1), window)
    decades, u, beta, count = _kernel(
        rows, floors, window, int(min_history), keep_out, span, TAIL_QUANTILE, _FIRST_DECADE, LN10
    )
    if one:
        return TailReference(decades[0], u[0], beta[0], count[0])
    return TailReference(decades, u, beta, count)


def twin_tail(
    magnitude: np.ndarray,
    exclusion: str,
    *,
    window: int,
    min_history: int,
    floor: float | np.ndarray,
    exclude: float | None,
    memory: int | None,
) -> np.ndarray:
    """The decades of the twin view's tail, with flagged points kept out ``"sequential"``-ly (here) or in
    ``"two-pass"`` (:func:`detector.tail.tail_decades`)."""
    if exclusion == "sequential":
        return sequential_tail(
            magnitude, window=window, min_history=min_history, floor=floor, exclude=exclude, memory=memory
        ).decades
    if exclusion == "two-pass":
        return tail_decades(
            magnitude, window=window, min_history=min_history, floor=floor, exclude=exclude, memory=memory
        )
    raise ValueError(f"twin_exclusion must be 'sequential' or 'two-pass', not {exclusion!r}")


@njit(cache=True)  # type: ignore[misc]
def _insert(s: np.ndarray, k: int, v: float) -> int:  # pragma: no cover - compiled
    """Insert ``v`` into the sorted ``s[:k]``; the new size."""
    j = np.searchsorted(s[:k], v)
    for i in range(k, j, -1):
        s[i] = s[i - 1]
    s[j] = v
    return k + 1


@njit(cache=True)  # type: ignore[misc]
def _remove(s: np.ndarray, k: int, v: float) -> int:  # pragma: no cover - compiled
    """Remove one ``v`` from the sorted ``s[:k]``; the new size (NaN fills the freed cell)."""
    j = np.searchsorted(s[:k], v)
    for i in range(j, k - 1):
        s[i] = s[i + 1]
    s[k - 1] = np.nan
    return k - 1


@njit(cache=True)  # type: ignore[misc]
def _kernel(
    m: np.ndarray,
    floor: np.ndarray,
    window: int,
    min_history: int,
    exclude: float,
    memory: int,
    q: float,
    c0: float,
    ln10: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:  # pragma: no cover - compiled
    rows, n = m.shape
    decades = np.zeros((rows, n))
    us = np.full((rows, n), np.nan)
    betas = np.full((rows, n), np.nan)
    counts = np.zeros((rows, n), dtype=np.int64)
    s = np.full(window, np.nan)  # the history, sorted, NaN after its ``k`` values (numpy's sorted row)
    excess = np.zeros(window)
    flagged = np.zeros(n, dtype=np.bool_)
    for r in range(rows):
        s[:] = np.nan
        flagged[:] = False
        k = 0
        for t in range(n):
            if t >= 1:
                # The point leaving the history was in it unless flagged within ``memory`` (a flagged
                # point came back ``memory`` points later, before it left, when memory < window).
                old = t - 1 - window
                if old >= 0 and np.isfinite(m[r, old]) and (not flagged[old] or memory < window):
                    k = _remove(s, k, m[r, old])
                new = t - 1
                if np.isfinite(m[r, new]) and not flagged[new]:
                    k = _insert(s, k, m[r, new])
                back = t - 1 - memory
                if memory < window and back >= 0 and flagged[back] and np.isfinite(m[r, back]):
                    k = _insert(s, k, m[r, back])
            counts[r, t] = k
            if k == 0:
                continue
            u = sorted_quantile(s, k, q)
            # Only the values above the quantile have an excess: the last of the ``k`` sorted ones (numpy's
            # array of excesses is zero elsewhere, NaN included), summed in numpy's pairwise order over the
            # window without reading its zeros, as the tail's own pass does (compiled_tail._pass).
            over = first_above(s, k, u)
            for j in range(over, k):
                excess[j] = s[j] - u
            mean_excess = pairwise_sum_span(excess, 0, window, over, k) / max(k - over, 1)
            bound = floor[r, t] + 1e-12
            beta = mean_excess if mean_excess >= bound else bound
            us[r, t] = u
            betas[r, t] = beta
            a = m[r, t]
            if k >= min_history and np.isfinite(a) and a > u:
                d = c0 + (a - u) / beta / ln10
                decades[r, t] = d
                flagged[t] = d >= exclude
    return decades, us, betas, counts
