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
def _lane(a: np.ndarray, lo: int, k: int, first: int, last: int, end: int) -> float:
    """Accumulator ``k`` of numpy's block sum from ``lo``: ``a[lo + k]``, then every eighth value before
    ``end``, the values outside ``[first, last)`` taken as zeros without reading them."""
    j = lo + k
    r = a[j] if first <= j < last else 0.0
    j += 8
    if j < first:
        j += (first - j + 7) // 8 * 8
    stop = min(last, end)
    while j < stop:
        r += a[j]
        j += 8
    return float(r)


@numba.njit(cache=True, error_model="numpy")  # type: ignore[misc]
def _block_sum_span(a: np.ndarray, lo: int, n: int, first: int, last: int) -> float:
    """numpy's pairwise sum of at most 128 values ``a[lo:lo + n]`` (eight accumulators, then the rest one
    by one), where the values outside ``[first, last)`` are zeros and those inside positive: each zero
    numpy adds changes nothing, so it is skipped (over the whole range nothing is skipped, and any values
    add as numpy adds them)."""
    b, e = max(first, lo), min(last, lo + n)
    if n == 0 or b >= e:
        return 0.0
    if n < 8:
        res = -0.0
        for i in range(b, e):
            res += a[i]
        return float(res)
    end = lo + n - n % 8
    r0, r1 = _lane(a, lo, 0, b, e, end), _lane(a, lo, 1, b, e, end)
    r2, r3 = _lane(a, lo, 2, b, e, end), _lane(a, lo, 3, b, e, end)
    r4, r5 = _lane(a, lo, 4, b, e, end), _lane(a, lo, 5, b, e, end)
    r6, r7 = _lane(a, lo, 6, b, e, end), _lane(a, lo, 7, b, e, end)
    res = ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7))
    for i in range(max(end, b), e):
        res += a[i]
    return float(res)


@numba.njit(cache=True, error_model="numpy")  # type: ignore[misc]
def pairwise_sum_span(a: np.ndarray, lo: int, n: int, first: int, last: int) -> float:
    """``np.add.reduce(a[lo:lo + n])`` as numpy computes it, where the values outside ``[first, last)``
    are zeros (not read) and those inside positive: blocks of up to 128 values, above that the two halves
    (the first rounded down to a multiple of 8) summed apart and then added, each block's zeros skipped
    (adding them changes nothing) and a block without a value inside the span summing to the 0.0 numpy
    gets for it. The tail's excess over its quantile is such an array, nonzero only above the quantile:
    about a tenth of the window.

    numpy recurses; here the same tree is walked with explicit stacks (a recursive kernel cannot be
    cached and called from another module): left half, right half, then their sum. The reduction starts
    from its identity, 0.0, so a sum of negative zeros is 0.0 as numpy's is."""
    if first >= last:
        return 0.0
    if n <= 128:
        return 0.0 + _block_sum_span(a, lo, n, first, last)
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
            values[held] = _block_sum_span(a, at, size, first, last)
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
def pairwise_sum(a: np.ndarray, lo: int, n: int) -> float:
    """``np.add.reduce(a[lo:lo + n])`` as numpy computes it, for any values: :func:`pairwise_sum_span`
    over the whole range, where nothing is skipped."""
    return float(pairwise_sum_span(a, lo, n, lo, lo + n))


@numba.njit(cache=True, error_model="numpy")  # type: ignore[misc]
def first_not_below(s: np.ndarray, count: int, x: float) -> int:
    """The first of the ``count`` sorted values ``s`` not below ``x`` (``count`` if none): bisection."""
    lo, hi = 0, count
    while lo < hi:
        mid = (lo + hi) // 2
        if s[mid] < x:
            lo = mid + 1
        else:
            hi = mid
    return lo


@numba.njit(cache=True, error_model="numpy")  # type: ignore[misc]
def first_above(s: np.ndarray, count: int, x: float) -> int:
    """The first of the ``count`` sorted values ``s`` above ``x`` (``count`` if none): bisection."""
    lo, hi = 0, count
    while lo < hi:
        mid = (lo + hi) // 2
        if s[mid] > x:
            hi = mid
        else:
            lo = mid + 1
    return lo


@numba.njit(cache=True, error_model="numpy")  # type: ignore[misc]
def slide_counted(s: np.ndarray, count: int, old: float, new: float) -> int:
    """Replace ``old`` by ``new`` in the sorted window ``s`` (NaN last; a non-finite value counts as NaN)
    whose finite values are its first ``count``; returns the new count.

    Both places are found by binary search and only the finite values move: walking and shifting the
    whole window, NaN padding included, cost most where the window is longer than the history seen so
    far, and counting its finite values anew after each step as much again. The value that leaves is the
    first equal to ``old`` (as ``==`` finds it, so 0.0 and -0.0 alike); the one that comes goes after the
    values equal to it, so equal values keep their order of arrival.
    ``tests/detector/test_compiled_kernels.py`` checks it against numpy's sort of each window."""
    if math.isfinite(old):
        lo = first_not_below(s, count, old)  # the first equal to ``old``
        for j in range(lo, count - 1):
            s[j] = s[j + 1]
        count -= 1
        s[count] = np.nan
    if math.isfinite(new):
        lo = first_above(s, count, new)
        for j in range(count, lo, -1):
            s[j] = s[j - 1]
        s[lo] = new
        count += 1
    return count


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
        count = 0
        for j in range(window):
            if not math.isnan(s[j]):
                count += 1
        for t in range(start, n):
            if t > start:
                k = t - 1 - window
                count = slide_counted(s, count, history[r, k] if k >= 0 else np.nan, history[r, t - 1])
            u = sorted_quantile(s, count, q)
            # The values above the quantile are the last of the finite ones: only they have an excess
            # (numpy's array of excesses is zero elsewhere, and its sum is taken as numpy takes it).
            over = first_above(s, count, u)
            for j in range(over, count):
                excess_row[j] = s[j] - u
            excess = pairwise_sum_span(excess_row, 0, window, over, count) / max(count - over, 1)
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
