"""One pass of :func:`detector.tail.tail_decades`, compiled: the same answers to the bit, without numpy's
per-call overhead and a sort per point.

numpy sorts each point's trailing window anew; here one window per row stays sorted as it slides (one
removal and one insertion per point, NaN kept last as numpy's sort keeps it), the 90th percentile is
interpolated exactly as :func:`detector.tail._row_quantile` does, and the excess over it is summed in
numpy's own pairwise order (:func:`pairwise_sum`) over the sorted window, zeros where numpy has zeros, so
every float operation is the one numpy performs. ``tests/detector/test_compiled_tail.py`` compares both
passes on random inputs (NaN, ±inf, ties, windows longer than numpy's 128-value pairwise block).
"""

from __future__ import annotations

import math

import numba  # type: ignore[import-untyped]
import numpy as np

from detector.tail import LN10, TAIL_QUANTILE

_C0 = float(-np.log10(1.0 - TAIL_QUANTILE))


@numba.njit(cache=True, error_model="numpy")  # type: ignore[misc]
def _block_sum(a: np.ndarray, lo: int, n: int) -> float:
    """numpy's pairwise sum of at most 128 values: eight accumulators, then the rest one by one."""
    if n == 0:
        return 0.0  # the reduction's identity: numpy does not enter its loop
    if n < 8:
        res = -0.0
        for i in range(n):
            res += a[lo + i]
        return float(res)
    r0, r1, r2, r3 = a[lo], a[lo + 1], a[lo + 2], a[lo + 3]
    r4, r5, r6, r7 = a[lo + 4], a[lo + 5], a[lo + 6], a[lo + 7]
    i = 8
    while i < n - (n % 8):
        r0 += a[lo + i]
        r1 += a[lo + i + 1]
        r2 += a[lo + i + 2]
        r3 += a[lo + i + 3]
        r4 += a[lo + i + 4]
        r5 += a[lo + i + 5]
        r6 += a[lo + i + 6]
        r7 += a[lo + i + 7]
        i += 8
    res = ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7))
    while i < n:
        res += a[lo + i]
        i += 1
    return float(res)


@numba.njit(cache=True, error_model="numpy")  # type: ignore[misc]
def pairwise_sum(a: np.ndarray, lo: int, n: int) -> float:
    """``np.add.reduce(a[lo:lo + n])`` as numpy computes it: blocks of up to 128 values, above that the
    two halves (the first rounded down to a multiple of 8) summed apart and then added.

    numpy recurses; here the same tree is walked with explicit stacks (a recursive kernel cannot be
    cached and called from another module): left half, right half, then their sum. The reduction starts
    from its identity, 0.0, so a sum of negative zeros is 0.0 as numpy's is.
    """
    if n <= 128:
        return 0.0 + _block_sum(a, lo, n)
    task_lo = np.empty(128, dtype=np.int64)
    task_n = np.empty(128, dtype=np.int64)  # -1: add the two values on top of the value stack
    values = np.empty(128)
    tasks, held = 1, 0
    task_lo[0], task_n[0] = lo, n
    while tasks > 0:
        tasks -= 1
        at, size = task_lo[tasks], task_n[tasks]
        if size < 0:
            held -= 1
            values[held - 1] = values[held - 1] + values[held]
        elif size <= 128:
            values[held] = _block_sum(a, at, size)
            held += 1
        else:
            half = size // 2
            half -= half % 8
            task_lo[tasks], task_n[tasks] = 0, -1
            task_lo[tasks + 1], task_n[tasks + 1] = at + half, size - half
            task_lo[tasks + 2], task_n[tasks + 2] = at, half
            tasks += 3
    return 0.0 + float(values[0])


@numba.njit(cache=True, error_model="numpy")  # type: ignore[misc]
def slide(s: np.ndarray, old: float, new: float) -> None:
    """Replace ``old`` by ``new`` in the sorted window ``s`` (NaN last; a non-finite value counts as NaN)."""
    w = s.size
    idx = w - 1  # a NaN leaves from the end, where the NaN are
    if math.isfinite(old):
        idx = 0
        while s[idx] != old:
            idx += 1
    for j in range(idx, w - 1):
        s[j] = s[j + 1]
    s[w - 1] = np.nan
    if math.isfinite(new):
        j = w - 1
        while j > 0 and (math.isnan(s[j - 1]) or s[j - 1] > new):
            s[j] = s[j - 1]
            j -= 1
        s[j] = new


@numba.njit(cache=True, error_model="numpy")  # type: ignore[misc]
def sorted_quantile(s: np.ndarray, count: int, q: float) -> float:
    """The ``q`` quantile of the first ``count`` values of sorted ``s``, interpolated as
    :func:`detector.tail._row_quantile` interpolates (NaN when ``count`` is 0)."""
    if count == 0:
        return np.nan
    last = max(count - 1, 0)
    pos = q * last
    lo = int(pos)
    hi = min(lo + 1, last)
    return float(s[lo] + (pos - lo) * (s[hi] - s[lo]))


@numba.njit(cache=True, error_model="numpy")  # type: ignore[misc]
def _pass(
    m: np.ndarray,
    history: np.ndarray,
    window: int,
    min_history: int,
    floor: np.ndarray,
    start: int,
    q: float,
    c0: float,
    ln10: float,
) -> np.ndarray:
    rows, n = m.shape
    out = np.zeros((rows, max(n - start, 0)))
    s = np.empty(window)
    excess_row = np.empty(window)
    for r in range(rows):
        # The window before ``start`` (NaN-padded, non-finite as NaN), sorted once, then slid point by point.
        for j in range(window):
            k = start - window + j
            v = history[r, k] if k >= 0 else np.nan
            s[j] = v if math.isfinite(v) else np.nan
        s[:] = np.sort(s)
        for t in range(start, n):
            if t > start:
                k = t - 1 - window
                slide(s, history[r, k] if k >= 0 else np.nan, history[r, t - 1])
            count = 0
            for j in range(window):
                if not math.isnan(s[j]):
                    count += 1
            u = sorted_quantile(s, count, q)
            n_over = 0
            for j in range(window):
                over = s[j] > u
                excess_row[j] = s[j] - u if over else 0.0
                n_over += over
            excess = pairwise_sum(excess_row, 0, window) / max(n_over, 1)
            bound = floor[r, t] + 1e-12
            # np.maximum: NaN wins on either side.
            beta = excess if (excess >= bound or math.isnan(excess)) else bound
            a = m[r, t]
            if count >= min_history and math.isfinite(a) and a > u:
                out[r, t - start] = c0 + (a - u) / beta / ln10
    return out


def tail_pass(
    m: np.ndarray, history: np.ndarray, window: int, min_history: int, floor: np.ndarray, start: int
) -> np.ndarray:
    """:func:`detector.tail._pass` without ``flagged``: every row of ``m`` from ``start`` on, against the
    ``window`` values of its ``history`` row before each point."""
    out: np.ndarray = _pass(
        np.ascontiguousarray(m, dtype=np.float64),
        np.ascontiguousarray(history, dtype=np.float64),
        int(window),
        int(min_history),
        np.ascontiguousarray(np.broadcast_to(floor, np.shape(m)), dtype=np.float64),
        int(start),
        TAIL_QUANTILE,
        _C0,
        LN10,
    )
    return out
