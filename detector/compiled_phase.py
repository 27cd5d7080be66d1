""":func:`detector.views.same_phase_twins` and :func:`detector.views.same_phase_level` on a regular grid,
compiled: the same answers in one loop.

On a regular grid the one candidate ``k`` periods back is the value ``k·lag`` points back; numpy builds a
shifted copy, a difference, a mask and two selections per period, here each point looks back ``periods``
times. The comparisons and the one subtraction per candidate are numpy's, so the answers are equal;
``tests/detector/test_compiled_kernels.py`` checks them on random inputs.
"""

from __future__ import annotations

import math

import numba  # type: ignore[import-untyped]
import numpy as np

from detector.compiled_tail import sorted_quantile


@numba.njit(cache=True, error_model="numpy")  # type: ignore[misc]
def _twins(x: np.ndarray, lag: int, periods: int, bound: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    n = x.size
    signed = np.full(n, np.nan)
    repeats = np.zeros(n, dtype=np.int64)
    for t in range(n):
        best = np.inf
        for k in range(1, periods + 1):
            if k * lag >= n:
                break  # no point has a value this many periods back (nor further)
            j = t - k * lag
            diff = x[t] - (x[j] if j >= 0 else np.nan)
            nearest = np.inf if math.isnan(diff) else abs(diff)
            if nearest <= bound[t]:
                repeats[t] += 1
            if nearest < best:
                best = nearest
                signed[t] = diff
    return signed, repeats


def grid_twins(x: np.ndarray, lag: int, periods: int, within: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The nearest same-phase difference and the repeats, ``lag`` points per period (see
    :func:`detector.views.same_phase_twins`)."""
    signed, repeats = _twins(
        np.ascontiguousarray(x, dtype=np.float64),
        int(lag),
        int(periods),
        np.ascontiguousarray(np.broadcast_to(within, np.shape(x)), dtype=np.float64),
    )
    return np.asarray(signed), np.asarray(repeats)


@numba.njit(cache=True, error_model="numpy")  # type: ignore[misc]
def _level(x: np.ndarray, lag: int, periods: int) -> tuple[np.ndarray, np.ndarray]:
    n = x.size
    level = np.empty(n)
    found = np.zeros(n, dtype=np.int64)
    buf = np.empty(periods)
    for t in range(n):
        count = 0
        for k in range(1, periods + 1):
            j = t - k * lag
            v = x[j] if j >= 0 else np.nan
            if math.isfinite(v):
                found[t] += 1
            if not math.isnan(v):
                # Insertion into the sorted values so far (±inf too: numpy's median keeps them).
                i = count
                while i > 0 and buf[i - 1] > v:
                    buf[i] = buf[i - 1]
                    i -= 1
                buf[i] = v
                count += 1
        level[t] = sorted_quantile(buf, count, 0.5)
    return level, found


def grid_level(x: np.ndarray, lag: int, periods: int) -> tuple[np.ndarray, np.ndarray]:
    """The median of the values ``k·lag`` points back (``k = 1..periods``) and how many are finite (see
    :func:`detector.views.same_phase_level`)."""
    level, found = _level(np.ascontiguousarray(x, dtype=np.float64), int(lag), int(periods))
    return np.asarray(level), np.asarray(found)
