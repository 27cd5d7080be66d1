""":func:`detector.recurrence.recurrences`, compiled: the same counts, in one loop per point.

numpy builds the trailing window of block maxima for every point and compares the magnitude with all of
it; here the blocks before a point are read where they are (block ``j`` ends at ``t − 1 − j·block``), and
the excursion scan (:func:`detector.recurrence.excursion_starts`) runs on an array stack instead of a
Python list. The answers are integers, counted with the same comparisons, so they are equal;
``tests/detector/test_compiled_kernels.py`` checks them against numpy's on random inputs.
"""

from __future__ import annotations

import math

import numba  # type: ignore[import-untyped]
import numpy as np


@numba.njit(cache=True, error_model="numpy")  # type: ignore[misc]
def _recurrences(m: np.ndarray, window: int, block: int) -> tuple[np.ndarray, np.ndarray]:
    n = m.size
    finite = np.empty(n)
    for i in range(n):
        finite[i] = m[i] if math.isfinite(m[i]) else -np.inf
    # Maximum of the ``block`` points ending at each index (−∞ where none is finite).
    peak = np.empty(n)
    for i in range(n):
        best = -np.inf
        for k in range(max(i - block + 1, 0), i + 1):
            if finite[k] > best:
                best = finite[k]
        peak[i] = best
    # The previous-smaller-element scan: where each point's excursion starts.
    start = np.empty(n, dtype=np.int64)
    stack = np.empty(n, dtype=np.int64)
    top = 0
    for i in range(n):
        while top > 0 and finite[stack[top - 1]] >= finite[i]:
            top -= 1
        start[i] = stack[top - 1] if top > 0 else -1
        stack[top] = i
        top += 1
    reached = np.zeros(n, dtype=np.int64)
    blocks = np.zeros(n, dtype=np.int64)
    columns = (window + block - 1) // block
    for t in range(n):
        first = math.ceil((t - 1 - start[t]) / block)
        a = m[t]
        for j in range(columns):
            k = t - 1 - j * block
            if k < 0:
                break
            p = peak[k]
            if not math.isfinite(p):
                continue
            blocks[t] += 1
            if j >= first and p >= a:
                reached[t] += 1
    return reached, blocks


def recurrences(magnitude: np.ndarray, window: int, block: int) -> tuple[np.ndarray, np.ndarray]:
    """:func:`detector.recurrence.recurrences` (how many blocks reached each point, how many there were)."""
    reached, blocks = _recurrences(np.ascontiguousarray(magnitude, dtype=np.float64), int(window), int(block))
    return np.asarray(reached), np.asarray(blocks)
