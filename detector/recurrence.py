"""How often a magnitude already came back in separate hours of the recent past: a cap on its surprise.

The peaks-over-threshold tail (:mod:`detector.tail`) extrapolates from single points, and extremes of
bursty series come in clusters: a burst of 30 five-minute points counts as 30 rare points, so the next
burst of the same height still looks like a 1-in-1000 event. Extreme-value practice *declusters* first
(block maxima, runs): here the ``window`` points before ``t`` are cut into blocks of an hour (one point
for hourly and daily series), and a magnitude that ``k`` earlier blocks already reached or topped has
happened about ``(k + 1) / (blocks + 1)`` of the time. That share, in decades, caps the surprise once
``k`` reaches ``min_count``: a series that made the same excursion in three separate hours lately is not
surprised by a fourth. A magnitude no block reached keeps its extrapolated surprise (the cap is ∞).
Blocks of the excursion the point belongs to (the run of points up to it at least as large) never count:
the fourth day of a lasting incident is not a recurrence of its first three.
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from detector import compiled
from detector.tail import trailing_view

_CELLS = 1 << 22  # block maxima compared at once: bounds memory only


def block_points(points_per_day: float, hours: float) -> int:
    """Points in a block of ``hours`` (at least one)."""
    return max(round(points_per_day / 24.0 * hours), 1)


def recurrences(magnitude: np.ndarray, *, window: int, block: int) -> tuple[np.ndarray, np.ndarray]:
    """Per point: how many of the blocks in the ``window`` points before it reached its magnitude, and how
    many blocks there were (blocks end at ``t − 1``, ``t − 1 − block``, …; NaN points count in none)."""
    m = np.asarray(magnitude, dtype=np.float64)
    n = m.size
    if n == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    if compiled.active():
        from detector.compiled_recurrence import recurrences as compiled_recurrences  # numba on first use

        return compiled_recurrences(m, window, block)
    finite = np.where(np.isfinite(m), m, -np.inf)
    # Maximum of the ``block`` points ending at each index (−∞ where none is finite).
    if block == 1:
        peak = finite  # hourly and daily series: a block is one point
    else:
        peak = sliding_window_view(np.concatenate([np.full(block - 1, -np.inf), finite]), block).max(axis=1)
    history = trailing_view(np.where(np.isfinite(peak), peak, np.nan), window)[:, ::-1][:, ::block]
    # Block j ends at t − 1 − j·block; it may count only if it ends before the point's own excursion.
    first_countable = np.ceil((np.arange(n) - 1 - excursion_starts(finite)) / block).astype(np.int64)
    columns = np.arange(history.shape[1])
    reached = np.zeros(n, dtype=np.int64)
    blocks = np.zeros(n, dtype=np.int64)
    rows = max(_CELLS // max(history.shape[1], 1), 1)
    for lo in range(0, n, rows):
        hi = min(lo + rows, n)
        past = history[lo:hi]
        apart = columns[None, :] >= first_countable[lo:hi, None]
        with np.errstate(invalid="ignore"):
            reached[lo:hi] = np.count_nonzero((past >= m[lo:hi, None]) & apart, axis=1)
        blocks[lo:hi] = np.count_nonzero(np.isfinite(past), axis=1)
    return reached, blocks


def excursion_starts(m: np.ndarray) -> np.ndarray:
    """Per point, the index of the last earlier point below it (−1 if none): its excursion starts after.

    The previous-smaller-element scan with a stack: each index is pushed and popped once.
    """
    out = np.full(m.size, -1, dtype=np.int64)
    stack: list[int] = []
    values = m.tolist()
    for i, v in enumerate(values):
        while stack and values[stack[-1]] >= v:
            stack.pop()
        out[i] = stack[-1] if stack else -1
        stack.append(i)
    return out


def recurrence_cap(
    magnitude: np.ndarray, *, window: int, block: int, min_count: int, min_blocks: int = 24
) -> np.ndarray:
    """Decades a point's surprise is capped at (∞ where fewer than ``min_count`` blocks reached it, or
    fewer than ``min_blocks`` blocks are known yet)."""
    reached, blocks = recurrences(magnitude, window=window, block=block)
    use = (reached >= max(min_count, 1)) & (blocks >= min_blocks)
    with np.errstate(divide="ignore"):
        cap = -np.log10((reached + 1.0) / (blocks + 1.0))
    return np.where(use, cap, np.inf)
