"""A measured prototype, not shipped: the detector's tail pass compiled with numba, against the numpy one.

Issue 20 asks for ``/v1/score`` at 10% of the framework's floor. After the numpy work the detector still
costs a few milliseconds per 90-point request, spread over some twenty vectorised steps whose cost is
numpy's per-call overhead and window sorts, not arithmetic. This prototype answers whether a compiled
path would close the gap, on the heaviest step (:func:`detector.tail.tail_decades`, two passes over
five magnitude rows): one loop per row that keeps the trailing window sorted (one removal and one
insertion per point instead of a sort per point) and sums the excess with numpy's own pairwise
summation, so the answers are the same to the bit. It checks that on random series first.

Shipped since as :mod:`detector.compiled_tail` (numba is now a dependency; its kernels are cached on disk
and warmed when the server starts); this prototype stays as the record of the first measurement, run with
``.venv/bin/python -m bench.proto_compiled_tail``. Nothing imports this module.
"""

from __future__ import annotations

import time

import numba  # type: ignore[import-not-found]
import numpy as np

from bench.machine import describe
from detector import tail
from detector.compiled import use_compiled

C0 = float(-np.log10(1.0 - tail.TAIL_QUANTILE))


@numba.njit(cache=False)  # type: ignore[misc]
def _pairwise(a, lo, n):  # numpy's pairwise sum: 8 accumulators, halves above 128 values
    if n < 8:
        res = -0.0
        for i in range(n):
            res += a[lo + i]
        return res
    if n <= 128:
        r = a[lo : lo + 8].copy()
        i = 8
        while i < n - (n % 8):
            for j in range(8):
                r[j] += a[lo + i + j]
            i += 8
        res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]))
        while i < n:
            res += a[lo + i]
            i += 1
        return res
    half = n // 2
    half -= half % 8
    return _pairwise(a, lo, half) + _pairwise(a, lo + half, n - half)


@numba.njit(cache=False)  # type: ignore[misc]
def _pass(m, history, window, min_history, floor, start, q, c0, ln10):
    rows, n = m.shape
    out = np.zeros((rows, n - start))
    s = np.empty(window)
    excess_row = np.empty(window)
    for r in range(rows):
        for j in range(window):  # the sorted window before ``start`` (NaN last), then slid point by point
            k = start - window + j
            v = history[r, k] if k >= 0 else np.nan
            s[j] = v if np.isfinite(v) else np.nan
        s[:] = np.sort(s)
        for t in range(start, n):
            if t > start:
                old = history[r, t - 1 - window] if t - 1 - window >= 0 else np.nan
                new = history[r, t - 1]
                idx = window - 1
                if np.isfinite(old):
                    idx = 0
                    while s[idx] != old:
                        idx += 1
                for j in range(idx, window - 1):
                    s[j] = s[j + 1]
                s[window - 1] = np.nan
                if np.isfinite(new):
                    j = window - 1
                    while j > 0 and (np.isnan(s[j - 1]) or s[j - 1] > new):
                        s[j] = s[j - 1]
                        j -= 1
                    s[j] = new
            count = 0
            for j in range(window):
                count += not np.isnan(s[j])
            last = max(count - 1, 0)
            pos = q * last
            lo = int(pos)
            hi = min(lo + 1, last)
            u = s[lo] + (pos - lo) * (s[hi] - s[lo]) if count > 0 else np.nan
            n_over = 0
            for j in range(window):
                over = s[j] > u
                excess_row[j] = s[j] - u if over else 0.0
                n_over += over
            excess = _pairwise(excess_row, 0, window) / max(n_over, 1)
            bound = floor[r, t] + 1e-12
            beta = excess if excess >= bound or np.isnan(excess) else bound
            a = m[r, t]
            if count >= min_history and np.isfinite(a) and a > u:
                out[r, t - start] = c0 + (a - u) / beta / ln10
    return out


def compiled_tail(
    m: np.ndarray, window: int, min_history: int, floor: np.ndarray, exclude: float
) -> np.ndarray:
    """:func:`detector.tail.tail_decades` (``memory=None``) with both passes compiled."""
    floor = np.ascontiguousarray(np.broadcast_to(floor, m.shape))
    skip = min(max(min_history, 0), m.shape[1])
    first = np.zeros(m.shape)
    args = (tail.TAIL_QUANTILE, C0, tail.LN10)
    first[:, skip:] = _pass(m, m, window, min_history, floor, skip, *args)
    flagged = first >= exclude
    again = np.flatnonzero(flagged.any(axis=1))
    if again.size == 0:
        return first
    out = first.copy()
    rows, hit = m[again], flagged[again]
    start = int(np.argmax(hit.any(axis=0))) + 1
    redo = _pass(rows, np.where(hit, np.nan, rows), window, min_history, floor[again], start, *args)
    out[again, start:] = redo
    return out


def _cpu_us(f, n: int = 2000) -> float:
    f()
    started = time.process_time()
    for _ in range(n):
        f()
    return (time.process_time() - started) / n * 1e6


def main() -> None:
    rng = np.random.default_rng(3)
    same = 0
    trials = 300
    for trial in range(trials):
        n = int(rng.choice([30, 90, 200]))
        x = 1000 + rng.normal(0, 50, n)
        x[-3:] += rng.uniform(0, 2000)
        if trial % 3 == 0:
            x = np.round(x / 100) * 100  # ties
        m = np.stack(
            [np.maximum(x - 1000, 0), np.abs(x - 1000), rng.exponential(1, n), -x, rng.normal(0, 1, n)]
        )
        m[rng.random(m.shape) < 0.05] = np.nan
        floor = 1e-3 * np.abs(x) + 1e-12
        with use_compiled(False):  # numpy's passes, the reference
            want = tail.tail_decades(m, window=56, min_history=14, floor=floor, exclude=3.0)
        same += want.tobytes() == compiled_tail(m, 56, 14, floor, 3.0).tobytes()
    # The score bench's request: a 90-day series with a weekly cycle and a spike on the last 3 days.
    x = 1000 + 120 * np.sin(np.arange(90) * 2 * np.pi / 7) + rng.normal(0, 25, 90)
    x[-3:] += 600
    m = np.stack([np.maximum(x - 1000, 0)] * 5)
    floor = 1e-3 * np.abs(x) + 1e-12
    with use_compiled(False):
        numpy_us = _cpu_us(lambda: tail.tail_decades(m, window=56, min_history=14, floor=floor, exclude=3.0))
    compiled_us = _cpu_us(lambda: compiled_tail(m, 56, 14, floor, 3.0))
    print(f"Machine: {describe()}")
    print(f"bit-identical on {same}/{trials} random 5-row inputs")
    print(
        f"tail_decades, 5 rows x 90 points, CPU per call: numpy {numpy_us:.0f} us, "
        f"compiled {compiled_us:.0f} us ({numpy_us / compiled_us:.1f}x)"
    )


if __name__ == "__main__":
    main()
