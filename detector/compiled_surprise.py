""":func:`detector.scoring.anomaly_scores` compiled end to end: every view, their combination and the
alarm, in one call per block of series, with the same answers to the bit.

The views' heavy steps were compiled already (``detector/compiled_*.py``), but between them the score
made about a hundred small numpy calls per series (signs, NaN handling, stacking, minima and maxima,
the recurrence cap, the range view, the escalation), each paying numpy's per-call overhead on a
90-point series: more than the kernels' own work. Here one loop per series calls the same kernels and
does the glue in between element by element, with numpy's operations in numpy's order:
``np.maximum``/``np.minimum`` return their second operand on a tie (signed zeros) and NaN when either
side is NaN, ``nan_to_num`` clamps ±inf to the largest float. ``np.log10`` is not libm's ``log10`` on
every CPU (numpy uses SVML where AVX-512 is present), so the recurrence cap's logarithms are numpy's
own, computed once per window length into a table (:func:`_cap_table`).

:func:`detector.scoring.surprise` stays the readable definition: :func:`score_rows` answers only where
this kernel covers the configuration (a regular grid, flagged points kept out of the tail for as long
as they are in the window, values below 1e300) and returns ``None`` otherwise, and
``tests/detector/test_compiled_surprise.py`` compares both on random series, to the bit.
"""

from __future__ import annotations

import math
from functools import lru_cache

import numba  # type: ignore[import-untyped]
import numpy as np

from detector.compiled_phase import _level, _twins
from detector.compiled_recurrence import _recurrences
from detector.compiled_tail import _pass
from detector.compiled_windows import _robust_z, _trailing_mean, _trailing_median
from detector.sequential_tail import _kernel as _sequential_kernel
from detector.tail import LN10, TAIL_QUANTILE
from detector.views import MAD_TO_SIGMA, MEAN_AD_TO_SIGMA

_C0 = float(-np.log10(1.0 - TAIL_QUANTILE))
_MAX = float(np.finfo(np.float64).max)
_MIN_BLOCKS = 24  # detector.recurrence.recurrence_cap's default: blocks known before the cap applies
_SIGN = {"up": 0, "down": 1, "both": 2}


@numba.njit(cache=True, error_model="numpy")  # type: ignore[misc]
def _maximum(a: float, b: float) -> float:
    """``np.maximum``: NaN if either is NaN, else the larger, ``b`` on a tie (as x86's ``maxpd``)."""
    if math.isnan(a) or math.isnan(b):
        return np.nan
    return a if a > b else b


@numba.njit(cache=True, error_model="numpy")  # type: ignore[misc]
def _minimum(a: float, b: float) -> float:
    """``np.minimum``: NaN if either is NaN, else the smaller, ``b`` on a tie."""
    if math.isnan(a) or math.isnan(b):
        return np.nan
    return a if a < b else b


@numba.njit(cache=True, error_model="numpy")  # type: ignore[misc]
def _fmax(a: float, b: float) -> float:
    """``np.fmax``: the one that is not NaN."""
    if math.isnan(a):
        return b
    if math.isnan(b):
        return a
    return a if a > b else b


@numba.njit(cache=True, error_model="numpy")  # type: ignore[misc]
def _fmin(a: float, b: float) -> float:
    """``np.fmin``: the one that is not NaN."""
    if math.isnan(a):
        return b
    if math.isnan(b):
        return a
    return a if a < b else b


@numba.njit(cache=True, error_model="numpy")  # type: ignore[misc]
def _nan_to_num(v: float, nan: float, largest: float) -> float:
    """:func:`detector.nan_arrays.nan_to_num` of one value."""
    out = nan if v != v else v
    out = out if out > -largest else -largest
    return out if out < largest else largest


@numba.njit(cache=True, error_model="numpy")  # type: ignore[misc]
def _signed(v: float, mode: int) -> float:
    """:func:`detector.scoring._signed` of one value (mode 0: up, 1: down, 2: both)."""
    if mode == 2:
        return abs(v)
    if math.isnan(v):
        return np.nan
    return _maximum(v if mode == 0 else -v, 0.0)


@numba.njit(cache=True, error_model="numpy")  # type: ignore[misc]
def _tail(
    m: np.ndarray,
    floor: np.ndarray,
    window: int,
    min_history: int,
    has_exclude: bool,
    exclude: float,
    q: float,
    c0: float,
    ln10: float,
) -> np.ndarray:
    """:func:`detector.tail.tail_decades` of the rows of ``m`` (no memory: flagged points stay out of the
    second pass's history while they are in the window)."""
    rows, n = m.shape
    skip = min(max(min_history, 0), n)
    first = np.zeros((rows, n))
    first[:, skip:] = _pass(m, m, window, min_history, floor, skip, q, c0, ln10)
    if not has_exclude:
        return first
    for r in range(rows):
        # Up to the row's first flagged point the second pass repeats the first: it starts just after.
        start = -1
        for t in range(n):
            if first[r, t] >= exclude:
                start = t + 1
                break
        if start < 0:
            continue
        row = m[r : r + 1]
        history = row.copy()
        for t in range(n):
            if first[r, t] >= exclude:
                history[0, t] = np.nan
        first[r, start:] = _pass(row, history, window, min_history, floor[r : r + 1], start, q, c0, ln10)[0]
    return first


@numba.njit(cache=True, error_model="numpy")  # type: ignore[misc]
def _range_excess(x: np.ndarray, min_history: int, rel_floor: float) -> np.ndarray:
    """:func:`detector.views.range_excess`."""
    n = x.size
    out = np.zeros(n)
    hi = np.nan
    lo = np.nan
    seen = 0
    for t in range(n):
        width = _fmax(hi - lo, rel_floor * _fmax(abs(hi), abs(lo)) + 1e-12)
        above = (x[t] - hi) / width
        below = (x[t] - lo) / width
        v = above if above > 0 else (below if below < 0 else 0.0)
        out[t] = v if (seen >= min_history and math.isfinite(v)) else 0.0
        if math.isfinite(x[t]):
            hi = _fmax(hi, x[t])
            lo = _fmin(lo, x[t])
            seen += 1
    return out


@numba.njit(cache=True, error_model="numpy")  # type: ignore[misc]
def _escalation(
    score: np.ndarray, horizon: int, factor: float, largest: float, excursion: np.ndarray
) -> np.ndarray:
    """:func:`detector.scoring.escalation` (``factor`` is ``1 + ratio``; ``excursion`` signed, or empty: none)."""
    n = score.size
    s = np.empty(n)
    for t in range(n):
        s[t] = _nan_to_num(score[t], 0.0, largest)
    grown = excursion.size == n
    e = np.empty(n if grown else 0)
    side = np.zeros(n if grown else 0)
    for t in range(e.size):
        signed = _nan_to_num(excursion[t], 0.0, largest)
        e[t] = abs(signed)
        side[t] = 1.0 if signed > 0.0 else (-1.0 if signed < 0.0 else 0.0)
    out = np.zeros(n)
    run_start = 0  # where the point's run on its side of the forecast began (a point on it: its own)
    for t in range(n):
        if grown and (t == 0 or side[t] == 0.0 or side[t] != side[t - 1]):
            run_start = t
        previous = -np.inf
        top = -1  # the first highest score of the horizon, as numpy's argmax
        for k in range(max(t - horizon, 0), t):
            if s[k] > previous:
                top = k
            previous = _maximum(previous, s[k])
        odds = s[t] / (1.0 - s[t])
        before = previous / (1.0 - previous) if math.isfinite(previous) else 0.0
        if s[t] > previous and odds > factor * before:
            if grown and previous > 0.0:
                # The horizon's highest score's excursion, and every excursion of the horizon before the run.
                reference = e[top]
                for k in range(max(t - horizon, 0), min(run_start, t)):
                    reference = max(reference, e[k])
                if not e[t] > reference:
                    continue
            out[t] = s[t]
    return out


@numba.njit(cache=True, error_model="numpy")  # type: ignore[misc]
def _side_recurrences(
    residual: np.ndarray, magnitude: np.ndarray, mode: int, window: int, block: int
) -> tuple[np.ndarray, np.ndarray]:
    # :func:`detector.scoring._recurrence_caps`' counts: on both sides, each point among its own side's.
    if mode != 2:
        return _recurrences(magnitude.copy(), window, block)
    n = residual.size
    up = np.empty(n)
    down = np.empty(n)
    for t in range(n):
        up[t] = _signed(residual[t], 0)
        down[t] = _signed(residual[t], 1)
    reached, blocks = _recurrences(up, window, block)
    reached_down, blocks_down = _recurrences(down, window, block)
    for t in range(n):
        if not residual[t] >= 0.0:  # below, or NaN (as numpy's ``where`` picks the lower side for NaN)
            reached[t] = reached_down[t]
            blocks[t] = blocks_down[t]
    return reached, blocks


@numba.njit(cache=True, error_model="numpy")  # type: ignore[misc]
def _score_rows(
    values: np.ndarray,
    expected: np.ndarray,
    completeness: np.ndarray,
    ints: np.ndarray,
    floats: np.ndarray,
    cap_table: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, bool]:
    # The settings, unpacked in the order :func:`score_rows` packs them.
    window, min_history, level_window, short_k, mode = ints[0], ints[1], ints[2], ints[3], ints[4]
    block, min_count, level_lag, level_periods = ints[5], ints[6], ints[7], ints[8]
    twin_lag, twin_periods, z_window, repeat_min = ints[9], ints[10], ints[11], ints[12]
    has_exclude, sequential, range_min_points, horizon = ints[13] == 1, ints[14] == 1, ints[15], ints[16]
    z_per_decade, seasonal_z_per_decade, repeat_share, exclude = floats[0], floats[1], floats[2], floats[3]
    log10_views, range_per_width, scale, factor = floats[4], floats[5], floats[6], floats[7]
    q, c0, ln10, mad_to_sigma, half_mean_ad = floats[8], floats[9], floats[10], floats[11], floats[12]
    largest = floats[13]

    rows, n = values.shape
    tails = np.zeros((rows, n))
    alarms = np.zeros((rows, n))
    zs = np.zeros((rows, n))
    decades = np.zeros((rows, n))
    sustains = np.zeros((rows, n))
    c = np.empty(n)
    for t in range(n):
        c[t] = min(max(_nan_to_num(completeness[t], 1.0, largest), 1e-6), 1.0)  # np.clip
    k_views = 2 if short_k > 1 else 1
    views = 2 * k_views
    for r in range(rows):
        x = values[r] / c
        e = expected[r]
        # The tails' floor: a thousandth of the typical magnitude before each point.
        ax = np.abs(x).reshape(1, n)
        level = _trailing_median(ax, max(min(window, n), 1))[0]
        floor = np.empty(n)
        for t in range(n):
            typical = level[t] if math.isfinite(level[t]) else _nan_to_num(ax[0, t], 0.0, largest)
            floor[t] = 1e-3 * typical + 1e-12
        trailing = _trailing_median(x.reshape(1, n), max(min(level_window, n), 1))[0]
        forecast_residual = x - e
        level_residual = x - trailing
        magnitudes = np.empty((views, n))
        for v in range(2):
            residual = forecast_residual if v == 0 else level_residual
            for t in range(n):
                magnitudes[v * k_views, t] = _signed(residual[t], mode)
            if k_views == 2:
                mean = _trailing_mean(residual, short_k)
                for t in range(n):
                    magnitudes[v * k_views + 1, t] = _signed(mean[t], mode)
        reached, blocks = _side_recurrences(forecast_residual, magnitudes[0], mode, window, block)

        same_level, found = _level(x, level_lag, level_periods)
        both = np.empty((2, n))
        both[0] = x
        both[1] = x - same_level
        biggest = np.nan
        for v in range(2):
            for t in range(n):
                biggest = _fmax(biggest, abs(both[v, t]))
        if not biggest < 1e300:
            return tails, alarms, zs, decades, sustains, False  # ±inf or near overflow: numpy's path
        zz = _robust_z(both, max(min(z_window, n), 1), 1e-3, mad_to_sigma, half_mean_ad, 1.0 + 1e-6)
        within = np.empty(n)
        for t in range(n):
            within[t] = repeat_share * _nan_to_num(abs(level_residual[t]), 0.0, largest)
        twin, repeats = _twins(x, twin_lag, twin_periods, within)
        twin_gap = np.empty((1, n))
        for t in range(n):
            routine = math.isfinite(twin[t]) and repeats[t] >= repeat_min
            twin_gap[0, t] = 0.0 if routine else _signed(twin[t], mode)

        floors = np.empty((views, n))
        for v in range(views):
            floors[v] = floor
        deviations = _tail(magnitudes, floors, window, min_history, has_exclude, exclude, q, c0, ln10)
        if sequential:
            span = window  # flagged points stay out while they are in the window (no memory)
            context = _sequential_kernel(
                twin_gap, floors[:1], max(window, 1), min_history, exclude, span, q, c0, ln10
            )[0][0]
        else:
            context = _tail(twin_gap, floors[:1], window, min_history, has_exclude, exclude, q, c0, ln10)[0]
        beyond = _range_excess(x, range_min_points, 1e-3)

        twins_seen = 0
        for t in range(n):
            z = zz[0, t]
            z_decades = _nan_to_num(_signed(z, mode), 0.0, largest) / z_per_decade
            distance_z = zz[1, t] if found[t] >= 2 else np.nan
            seasonal_decades = _nan_to_num(_signed(distance_z, mode), 0.0, largest) / seasonal_z_per_decade
            rarest = deviations[0, t]
            for v in range(1, views):
                rarest = _maximum(rarest, deviations[v, t])
            deviation = _maximum(rarest - log10_views, 0.0)
            if math.isfinite(twin[t]):
                twins_seen += 1
            ctx = context[t] if twins_seen >= min_history else z_decades
            s = _minimum(_minimum(deviation, _maximum(z_decades, seasonal_decades)), ctx)
            use = reached[t] >= max(min_count, 1) and blocks[t] >= _MIN_BLOCKS
            s = _minimum(s, -cap_table[reached[t], blocks[t]] if use else np.inf)
            s = _maximum(s, range_per_width * _signed(beyond[t], mode))
            sustain = _maximum(deviation, z_decades)
            finite = math.isfinite(x[t])
            s = _maximum(s if finite else 0.0, 0.0)
            decades[r, t] = s
            tails[r, t] = s / (s + scale) + 0.0
            kept = _maximum(sustain if finite else 0.0, 0.0)
            sustains[r, t] = kept / (kept + scale) + 0.0
            zs[r, t] = z
        excursion = np.empty(n)  # signed, as the reference's: the escalation tells runs apart
        for t in range(n):
            excursion[t] = x[t] - e[t]
        alarms[r] = _escalation(tails[r], horizon, factor, largest, excursion)
    return tails, alarms, zs, decades, sustains, True


def escalation(
    score: np.ndarray, horizon: int, ratio: float, excursion: np.ndarray | None = None
) -> np.ndarray:
    """:func:`detector.scoring.escalation` of a 1-D ``score``."""
    out: np.ndarray = _escalation(
        np.ascontiguousarray(score, dtype=np.float64),
        int(horizon),
        1.0 + ratio,
        _MAX,
        np.zeros(0) if excursion is None else np.ascontiguousarray(excursion, dtype=np.float64),
    )
    return out


@lru_cache(maxsize=16)
def _cap_table(columns: int) -> np.ndarray:
    """``log10((reached + 1) / (blocks + 1))`` for every count up to ``columns``, by numpy's ``log10``
    (the cap negates it, as :func:`detector.recurrence.recurrence_cap` does)."""
    counts = np.arange(columns + 1, dtype=np.float64)
    table: np.ndarray = np.log10((counts[:, None] + 1.0) / (counts[None, :] + 1.0))
    table.flags.writeable = False
    return table


def score_rows(
    values: np.ndarray,
    expected: np.ndarray,
    completeness: np.ndarray,
    *,
    window: int,
    min_history: int,
    level_window: int,
    short_window: int,
    direction: str,
    block: int,
    min_count: int,
    level_lag: int,
    level_periods: int,
    twin_lag: int,
    twin_periods: int,
    z_window: int,
    z_per_decade: float,
    seasonal_z_per_decade: float,
    repeat_share: float,
    repeat_min: int,
    exclude: float | None,
    sequential: bool,
    views: int,
    range_min_points: int,
    range_per_width: float,
    scale: float,
    horizon: int,
    escalate_ratio: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray] | None:
    """Tail, alarm, z, decades and sustain scores of each row of ``values`` (series × periods, one
    ``completeness`` for all), as :func:`detector.scoring.anomaly_scores` gives each row alone; ``None``
    where a value is infinite or near overflow (numpy's path then)."""
    ints, floats, table = _packed(
        window,
        min_history,
        level_window,
        short_window,
        _SIGN[str(direction)],
        block,
        min_count,
        level_lag,
        level_periods,
        twin_lag,
        twin_periods,
        z_window,
        repeat_min,
        exclude,
        sequential,
        range_min_points,
        horizon,
        z_per_decade,
        seasonal_z_per_decade,
        repeat_share,
        views,
        range_per_width,
        scale,
        escalate_ratio,
    )
    tail, alarm, z, decades, sustain, ok = _score_rows(
        np.ascontiguousarray(values, dtype=np.float64),
        np.ascontiguousarray(expected, dtype=np.float64),
        np.ascontiguousarray(completeness, dtype=np.float64),
        ints,
        floats,
        table,
    )
    return (tail, alarm, z, decades, sustain) if ok else None


@lru_cache(maxsize=64)  # the same few settings on every request: packed once
def _packed(
    window: int,
    min_history: int,
    level_window: int,
    short_window: int,
    sign: int,
    block: int,
    min_count: int,
    level_lag: int,
    level_periods: int,
    twin_lag: int,
    twin_periods: int,
    z_window: int,
    repeat_min: int,
    exclude: float | None,
    sequential: bool,
    range_min_points: int,
    horizon: int,
    z_per_decade: float,
    seasonal_z_per_decade: float,
    repeat_share: float,
    views: int,
    range_per_width: float,
    scale: float,
    escalate_ratio: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`_score_rows`'s integer and float settings, in the order it unpacks them, and the recurrence
    cap's table."""
    ints = np.array(
        [
            window,
            min_history,
            level_window,
            short_window,
            sign,
            block,
            min_count,
            level_lag,
            level_periods,
            twin_lag,
            twin_periods,
            z_window,
            repeat_min,
            exclude is not None,
            sequential,
            range_min_points,
            horizon,
        ],
        dtype=np.int64,
    )
    floats = np.array(
        [
            z_per_decade,
            seasonal_z_per_decade,
            repeat_share,
            np.inf if exclude is None else exclude,
            float(np.log10(views)),  # numpy's, as the reference's Bonferroni term
            range_per_width,
            scale,
            1.0 + escalate_ratio,
            TAIL_QUANTILE,
            _C0,
            LN10,
            MAD_TO_SIGMA,
            0.5 * MEAN_AD_TO_SIGMA,
            _MAX,
        ]
    )
    # Shared by every call and never written by the kernel; left writable all the same, as a read-only
    # array is another type to numba (another compiled signature).
    return ints, floats, _cap_table((window + block - 1) // block)
