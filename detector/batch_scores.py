""":meth:`detector.detector.Detector.score_arrays` for many series observed on the same periods at once.

A sweep scores thousands of series of sixty-odd points each, and on such short series the cost is numpy's
per-call overhead, not arithmetic: one series costs about a hundred calls whatever its length. The views
that hold nearly all of those calls (the peaks-over-threshold tails, the robust z, the trailing medians and
means) work row by row on a 2-D array, one series per row, and give every row the very answer it gets
alone; here they are called once for a block of series. The views with a sequential scan or a search by
time (recurrence, same-phase level and twins, range excess, escalation) are called per row, unchanged.

This mirrors :func:`detector.scoring.surprise` and :func:`detector.scoring.anomaly_scores` step by step;
a change there must be made here too: ``tests/detector/test_batch_scores.py`` compares both, to the bit.
"""

from __future__ import annotations

from functools import partial

import numpy as np
import pandas as pd

from detector import compiled
from detector.nan_arrays import nan_to_num
from detector.post_rules import DetectorConfig
from detector.recurrence import block_points, recurrence_cap
from detector.scoring import ScoreConfig, _signed, alarm_horizon, escalation, tail_window
from detector.sequential_tail import twin_tail
from detector.tail import tail_decades, trailing_view
from detector.views import _nanmedian_rows, range_excess, robust_z, same_phase_level, same_phase_twins

_CELLS = 1 << 21  # trailing-window cells of one block of series (16 MiB of float64 per view): bounds memory


def score_rows(
    values: np.ndarray,
    forecast: dict[str, np.ndarray],
    *,
    completeness: np.ndarray | None,
    step: pd.Timedelta,
    index: pd.DatetimeIndex,
    config: DetectorConfig,
) -> list[dict[str, np.ndarray]]:
    """Per row of ``values`` (series × periods of ``index``; ``forecast`` columns shaped alike, one
    ``completeness`` for all), what ``Detector(config).score_arrays`` gives that row alone."""
    x = np.asarray(values, dtype=np.float64)
    c = (
        np.ones(x.shape[1])
        if completeness is None
        else nan_to_num(np.asarray(completeness, dtype=np.float64), nan=1.0)
    )
    times = np.asarray(index.as_unit("ns").asi8, dtype=np.int64)
    n = max(x.shape[1], 1)
    rows = max(_CELLS // (n * n), 1)
    out: list[dict[str, np.ndarray]] = []
    for lo in range(0, x.shape[0], rows):
        hi = min(lo + rows, x.shape[0])
        tail, alarm, z, sustain = _anomaly_scores(
            x[lo:hi], forecast["expected"][lo:hi], times, step, config.direction, c, config.score
        )
        for r in range(hi - lo):
            out.append(
                {
                    "value": x[lo + r],
                    **{k: v[lo + r] for k, v in forecast.items()},
                    "completeness": c,
                    "z": z[r],
                    "tail_score": tail[r],
                    "sustain_score": sustain[r],
                    "anomaly_score": alarm[r],
                }
            )
    return out


def _anomaly_scores(
    values: np.ndarray,
    expected: np.ndarray,
    times_ns: np.ndarray,
    step: pd.Timedelta,
    direction: str,
    completeness: np.ndarray,
    cfg: ScoreConfig,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """:func:`detector.scoring.anomaly_scores` by rows: tail, alarm, z and sustain scores."""
    c = np.clip(nan_to_num(completeness, nan=1.0), 1e-6, 1.0)
    y = values / c
    times = np.maximum.accumulate(times_ns) if len(times_ns) else times_ns
    decades, z, sustain = _surprise(y, np.asarray(expected, dtype=np.float64), times, step, direction, cfg)
    s = np.maximum(decades, 0.0)
    tail = s / (s + cfg.scale) + 0.0
    horizon = alarm_horizon(step, cfg.alarm_hours, cfg.alarm_hours_coarse)
    alarm = np.stack([escalation(row, horizon, cfg.escalate_ratio) for row in tail]) if len(tail) else tail
    kept = np.maximum(sustain, 0.0)
    return tail, alarm, z, kept / (kept + cfg.scale) + 0.0


def _trailing_median(x: np.ndarray, window: int) -> np.ndarray:
    """:func:`detector.views.trailing_median` of each row."""
    w = max(min(window, x.shape[-1]), 1)
    if compiled.active() and x.size:
        # The kernel the single series' path uses (one sorted window slid along each row): a sort of
        # every row's window at every point was a fifth of a sweep's scoring.
        from detector.compiled_windows import trailing_median_rows  # numba loads on first use

        rows: np.ndarray = trailing_median_rows(x, w)
        return rows
    return _nanmedian_rows(trailing_view(x, w))


def _trailing_level(values: np.ndarray, window: int) -> np.ndarray:
    level = _trailing_median(np.abs(values), window)
    return np.where(np.isfinite(level), level, nan_to_num(np.abs(values)))


def _trailing_mean(x: np.ndarray, k: int) -> np.ndarray:
    """:func:`detector.tail.trailing_mean` of each row (a cumulative sum along the row, as there)."""
    if k <= 1:
        return x
    finite = np.isfinite(x)
    zero = np.zeros((x.shape[0], 1))
    csum = np.concatenate([zero, np.cumsum(np.where(finite, x, 0.0), axis=1)], axis=1)
    ccnt = np.concatenate([zero.astype(np.int64), np.cumsum(finite, axis=1)], axis=1)
    idx = np.arange(x.shape[1]) + 1
    start = np.maximum(idx - k, 0)
    n = ccnt[:, idx] - ccnt[:, start]
    with np.errstate(all="ignore"):
        return np.where(n > 0, (csum[:, idx] - csum[:, start]) / np.maximum(n, 1), np.nan)


def _surprise(
    x: np.ndarray,
    expected: np.ndarray,
    times: np.ndarray,
    step: pd.Timedelta,
    direction: str,
    cfg: ScoreConfig,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`detector.scoring.surprise` by rows."""
    S, n = x.shape
    ppd = pd.Timedelta(days=1) / step
    window = tail_window(ppd, cfg.tail_days)
    min_history = max(window // 8, 14)
    memory = None if cfg.exclude_days is None else max(int(cfg.exclude_days * ppd), 1)
    tail = partial(tail_decades, window=window, min_history=min_history, exclude=cfg.exclude, memory=memory)
    floor = 1e-3 * _trailing_level(x, window) + 1e-12
    level_window = int(min(max(ppd, 24), 288))

    forecast_residual = x - expected
    level_residual = x - _trailing_median(x, level_window)
    magnitudes = [
        _signed(_trailing_mean(residual, k), direction)
        for residual in (forecast_residual, level_residual)
        for k in sorted({1, max(cfg.short_window, 1)})
    ]
    signed_forecast = _signed(forecast_residual, direction)
    block = block_points(ppd, cfg.recurrence_hours)
    cap = np.stack(
        [
            recurrence_cap(row, window=window, block=block, min_count=cfg.recurrence_min_count)
            for row in signed_forecast
        ]
    )

    intraday = ppd > 1.0
    period = pd.Timedelta(days=1) if intraday else pd.Timedelta(days=7)
    level_tolerance = int(pd.Timedelta(minutes=cfg.context_tolerance_minutes if intraday else 60).value)
    levels = [
        same_phase_level(
            row,
            times,
            period_ns=int(period.value),
            tolerance_ns=level_tolerance,
            periods=cfg.seasonal_periods,
        )
        for row in x
    ]
    level = np.stack([lv for lv, _ in levels])
    found = np.stack([f for _, f in levels])
    both = robust_z(np.concatenate([x, x - level]), cfg.z_window)
    z, distance_z = both[:S], both[S:]
    z_decades = nan_to_num(_signed(z, direction), nan=0.0) / cfg.z_per_decade
    seasonal_z = np.where(found >= 2, distance_z, np.nan)
    seasonal_decades = nan_to_num(_signed(seasonal_z, direction), nan=0.0) / cfg.seasonal_z_per_decade
    within = cfg.repeat_share * nan_to_num(np.abs(level_residual))
    twin_tolerance = int(pd.Timedelta(minutes=cfg.context_tolerance_minutes).value) if intraday else 0
    twins = [
        same_phase_twins(
            x[r],
            times,
            period_ns=int(period.value),
            tolerance_ns=twin_tolerance,
            periods=cfg.context_periods if intraday else 4,
            within=within[r],
        )
        for r in range(S)
    ]
    twin = np.stack([t for t, _ in twins])
    repeats = np.stack([k for _, k in twins])
    twin_gap = np.where(np.isfinite(twin) & (repeats >= cfg.repeat_min), 0.0, _signed(twin, direction))
    views = np.stack(magnitudes, axis=1)  # series × views × periods
    k = views.shape[1]
    deviations = tail(
        views.reshape(S * k, n), floor=np.broadcast_to(floor[:, None, :], views.shape).reshape(S * k, n)
    ).reshape(S, k, n)
    context = twin_tail(
        twin_gap,
        cfg.twin_exclusion,
        window=window,
        min_history=min_history,
        floor=floor,
        exclude=cfg.exclude,
        memory=memory,
    )
    deviation = np.maximum(np.max(deviations, axis=1) - np.log10(deviations.shape[1]), 0.0)
    known = np.cumsum(np.isfinite(twin), axis=1) >= min_history
    context = np.where(known, context, z_decades)

    s = np.minimum(np.minimum(deviation, np.maximum(z_decades, seasonal_decades)), context)
    s = np.minimum(s, cap)
    beyond = _signed(np.stack([range_excess(row, min_history=cfg.range_min_points) for row in x]), direction)
    s = np.maximum(s, cfg.range_per_width * beyond)
    sustain = np.maximum(deviation, z_decades)
    finite = np.isfinite(x)
    return np.where(finite, s, 0.0), z, np.where(finite, sustain, 0.0)
