"""Trailing medians and the robust z (:mod:`detector.views`), compiled: the same answers to the bit.

numpy sorts every point's window (twice for the robust z: values, then deviations from their median);
here one window per row stays sorted as it slides (:func:`detector.compiled_tail.slide_counted`), and the
deviations' median is read off it without sorting them: the deviations of the values below the median
grow as one walks down from it, those above as one walks up: two sorted runs, whose merged order
statistics are found by binary search. Every float operation is numpy's (the same subtraction, ``abs``,
interpolation, pairwise sum and order of products), so the answers are equal to the bit;
``tests/detector/test_compiled_kernels.py`` compares both on random inputs. Values of ±inf or beyond 1e300 (where numpy's masking of infinite
deviations matters) are left to numpy: :func:`robust_z_rows` returns ``None`` for them.
"""

from __future__ import annotations

import math

import numba  # type: ignore[import-untyped]
import numpy as np

from detector.compiled_tail import first_not_below, pairwise_sum, slide_counted, sorted_quantile
from detector.views import MAD_TO_SIGMA, MEAN_AD_TO_SIGMA


@numba.njit(cache=True, error_model="numpy")  # type: ignore[misc]
def _load(s: np.ndarray, row: np.ndarray, end: int) -> int:
    """Fill ``s`` with the ``s.size`` values of ``row`` before ``end`` (NaN before the row starts and for
    non-finite values), sorted, NaN last; returns how many are finite."""
    w = s.size
    for j in range(w):
        k = end - w + j
        v = row[k] if k >= 0 else np.nan
        s[j] = v if math.isfinite(v) else np.nan
    s[:] = np.sort(s)
    count = 0
    for j in range(w):
        if not math.isnan(s[j]):
            count += 1
    return count


@numba.njit(cache=True, error_model="numpy")  # type: ignore[misc]
def _distance_quantile(s: np.ndarray, count: int, center: float, q: float) -> float:
    """The ``q`` quantile of ``|s[i] - center|`` over the first ``count`` values of sorted ``s``, as
    :func:`detector.tail._row_quantile` gives it on those distances sorted."""
    if count == 0 or math.isnan(center):
        return np.nan
    last = count - 1
    pos = q * last
    lo = int(pos)
    hi = min(lo + 1, last)
    split = first_not_below(s, count, center)
    a = _merged_distance(s, count, center, split, lo)
    b = a if hi == lo else _merged_distance(s, count, center, split, hi)
    return a + (pos - lo) * (b - a)


@numba.njit(cache=True, error_model="numpy")  # type: ignore[misc]
def _merged_distance(s: np.ndarray, count: int, center: float, split: int, rank: int) -> float:
    """The ``rank``-th smallest (from 0) of ``|s[i] - center|`` over the first ``count`` values of sorted
    ``s``, ``split`` the first not below the center. The distances below the center grow walking down
    from it, those above walking up: two sorted runs, whose merged ``rank``-th value is found by binary
    search on how many of it come from the run below (the value is the merge's, whatever the order of
    equal distances; each distance is the same ``abs`` of the same subtraction)."""
    below, above = split, count - split
    want = rank + 1  # how many distances make up the smallest ``rank + 1``
    lo, hi = max(0, want - above), min(want, below)
    while lo < hi:
        i = (lo + hi) // 2  # taken from below; the rest, want - i, from above
        j = want - i
        if j > 0 and i < below and abs(s[split + j - 1] - center) > abs(s[split - 1 - i] - center):
            lo = i + 1  # the largest taken from above exceeds the next one below: take more from below
        else:
            hi = i
    i, j = lo, want - lo
    d = -np.inf
    if i > 0:
        d = abs(s[split - i] - center)
    if j > 0:
        d = max(d, abs(s[split + j - 1] - center))
    return d


@numba.njit(cache=True, error_model="numpy")  # type: ignore[misc]
def _trailing_median(x: np.ndarray, window: int) -> np.ndarray:
    """Per row, the median of the finite values among the ``window`` before each point (NaN if none):
    :func:`detector.views.trailing_median` (``window`` already clipped to ``[1, n]``)."""
    rows, n = x.shape
    out = np.empty((rows, n))
    s = np.empty(window)
    for r in range(rows):
        count = _load(s, x[r], 0)
        for t in range(n):
            if t > 0:
                k = t - 1 - window
                count = slide_counted(s, count, x[r, k] if k >= 0 else np.nan, x[r, t - 1])
            out[r, t] = sorted_quantile(s, count, 0.5)
    return out


@numba.njit(cache=True, error_model="numpy")  # type: ignore[misc]
def _robust_z(
    x: np.ndarray, window: int, rel_floor: float, mad_to_sigma: float, half_mean_ad: float, margin: float
) -> np.ndarray:
    rows, n = x.shape
    out = np.empty((rows, n))
    s = np.empty(window)
    dev = np.empty(window)
    for r in range(rows):
        count = _load(s, x[r], 1)  # the window ending at the point, the point included
        for t in range(n):
            if t > 0:
                k = t - window
                count = slide_counted(s, count, x[r, k] if k >= 0 else np.nan, x[r, t])
            med = sorted_quantile(s, count, 0.5)
            mad = mad_to_sigma * _distance_quantile(s, count, med, 0.5)
            if mad > 0:
                scale = mad
            else:
                # The mean deviation, summed in the window's own order (NaN as 0) as numpy sums it.
                known = 0
                for j in range(window):
                    k = t - window + 1 + j
                    v = x[r, k] if k >= 0 else np.nan
                    d = abs(v - med)
                    if math.isnan(d):
                        dev[j] = 0.0
                    else:
                        dev[j] = d
                        known += 1
                scale = half_mean_ad * (pairwise_sum(dev, 0, window) / known)
            largest = max(abs(s[0]), abs(s[count - 1])) if count > 0 else np.nan
            bound = (rel_floor * largest + 1e-12) * margin
            if not (scale > bound):
                least = rel_floor * _distance_quantile(s, count, 0.0, 0.5) + 1e-12
                # np.fmax: the one that is not NaN.
                if math.isnan(scale) or least > scale:
                    scale = least
            a = x[r, t]
            out[r, t] = (a - med) / scale if (math.isfinite(a) and math.isfinite(med)) else np.nan
    return out


def trailing_median_rows(x: np.ndarray, window: int) -> np.ndarray:
    """:func:`detector.views.trailing_median` of each row of 2-D ``x`` (``window`` clipped to ``[1, n]``)."""
    out: np.ndarray = _trailing_median(np.ascontiguousarray(x, dtype=np.float64), int(window))
    return out


def robust_z_rows(x: np.ndarray, window: int, rel_floor: float) -> np.ndarray | None:
    """:func:`detector.views.robust_z` of each row of 2-D ``x`` (``window`` already clipped to
    ``[1, n]``); ``None`` when a value is infinite or beyond 1e300 (numpy's path then)."""
    v = np.ascontiguousarray(x, dtype=np.float64)
    if v.size == 0 or not bool(np.fmax.reduce(np.abs(v), axis=None) < 1e300):
        return None
    out: np.ndarray = _robust_z(
        v, int(window), float(rel_floor), MAD_TO_SIGMA, 0.5 * MEAN_AD_TO_SIGMA, 1.0 + 1e-6
    )
    return out


_INSERTION_MAX = 32  # rows up to this long are sorted by insertion, longer ones by numba's sort


@numba.njit(cache=True, error_model="numpy")  # type: ignore[misc]
def _row_quantile(rows: np.ndarray, q: float) -> np.ndarray:
    count_rows, w = rows.shape
    out = np.empty(count_rows)
    buf = np.empty(w)
    for r in range(count_rows):
        count = 0
        for j in range(w):
            v = rows[r, j]
            if not math.isnan(v):
                if w <= _INSERTION_MAX:
                    # Insertion into the sorted values so far (±inf included, as numpy's sort keeps them).
                    k = count
                    while k > 0 and buf[k - 1] > v:
                        buf[k] = buf[k - 1]
                        k -= 1
                    buf[k] = v
                else:
                    buf[count] = v
                count += 1
        if w > _INSERTION_MAX:
            buf[:count] = np.sort(buf[:count])  # long rows (hourly windows of a sweep): a real sort
        out[r] = sorted_quantile(buf, count, q)
    return out


def row_quantile(rows: np.ndarray, q: float) -> np.ndarray:
    """:func:`detector.tail.row_quantile`: the ``q`` quantile of each row's values that are not NaN (the
    last axis), interpolated as numpy's sorted rows are."""
    v = np.asarray(rows, dtype=np.float64)
    flat = np.ascontiguousarray(v.reshape(-1, v.shape[-1])) if v.shape[-1] else v.reshape(-1, 0)
    out: np.ndarray = _row_quantile(flat, float(q)).reshape(v.shape[:-1])
    return out


@numba.njit(cache=True, error_model="numpy")  # type: ignore[misc]
def _trailing_mean(x: np.ndarray, k: int) -> np.ndarray:
    n = x.size
    # The cumulative sums numpy's cumsum gives (left to right, the first value as it is), 0 before them.
    csum = np.zeros(n + 1)
    ccnt = np.zeros(n + 1, dtype=np.int64)
    for i in range(n):
        finite = math.isfinite(x[i])
        value = x[i] if finite else 0.0
        csum[i + 1] = value if i == 0 else csum[i] + value
        ccnt[i + 1] = ccnt[i] + (1 if finite else 0)
    out = np.empty(n)
    for i in range(n):
        end = i + 1
        start = max(end - k, 0)
        m = ccnt[end] - ccnt[start]
        out[i] = (csum[end] - csum[start]) / max(m, 1) if m > 0 else np.nan
    return out


def trailing_mean(x: np.ndarray, k: int) -> np.ndarray:
    """:func:`detector.tail.trailing_mean` of a 1-D ``x`` with ``k > 1``."""
    out: np.ndarray = _trailing_mean(np.ascontiguousarray(x, dtype=np.float64), int(k))
    return out
