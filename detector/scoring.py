"""Values and a forecast → anomaly scores in [0, 1]: the *score* half of the detector (no decisions here).

One threshold has to mean the same on a smooth daily spend series, a bursty crash count, a latency and a
noise-free artificial signal, so every view of a point is turned into *decades of surprise* (−log10 of
a probability, calibrated on the series' own past) before views are compared:

1. **Deviation** (:mod:`detector.tail`): the residual against the baseline's forecast and against the
   trailing median, each at two time scales (the point, and the mean of the last ``short_window`` points
   for shifts too small to stand out point by point), judged against the series' own recent residuals;
   the rarest of the four, Bonferroni-corrected.
2. **Robust z** (:func:`detector.views.robust_z`): the point against the median and MAD of the last
   ``z_window`` points, ``z_per_decade`` robust σ to a decade — or, where it says more, the *seasonal*
   z: the same for the point's distance to the median of its same-phase values in the last
   ``seasonal_periods`` periods (:func:`detector.views.same_phase_level`), ``seasonal_z_per_decade`` σ
   to a decade. The plain z explains a slow wobble away; the seasonal z keeps it from explaining away a
   level that is ordinary for the day but not for the hour.
3. **Same-phase novelty** (:func:`detector.views.same_phase_twins`): the distance to the nearest value
   at the same time of day (day of week for daily series) in the previous periods, judged against its
   own history as in 1 but with SPOT's exclusion run point by point (:mod:`detector.sequential_tail`:
   a day of large distances after a level shift must not teach the tail) — or none at all where the
   same excursion already came at this phase in ``repeat_min`` earlier periods (a daily job's spike is
   routine, however it compares to calm hours).

A point is as surprising as the *least* surprised of these views (each one can explain a point away: a
bursty metric's burst is ordinary to 1, a daily job's spike has a twin in 3, a slow wobble is small in 2),
and never more than the share of recent hours whose forecast residual already reached its own on the same
side of the forecast, once three did (:mod:`detector.recurrence`: bursts come in clusters, so rarity is
counted in hours, not points),
**or** as far as it goes beyond everything seen before (:func:`detector.views.range_excess`,
``range_per_width`` decades per width of the range so far), whichever is more.

``tail_score = s / (s + scale)`` maps ``s`` decades into [0, 1): ``scale`` decades score 0.5, the
service's alarm threshold. The ``alarm_score`` is what an alarm is raised or escalated on: the tail score
where it exceeds every tail score of the last ``alarm_hours`` (12 h; 6 h at hourly and coarser steps; at
least two periods) with a larger excursion from the forecast than the highest of them had (and, for a
new burst, than every burst of the horizon before it), 0 while an event just goes on — one alarm per
event, as a pager raises one alert per incident, and a new one only when the event grew
(:func:`escalation`). How ``scale`` and the other constants were chosen, on shared data only:
``bench/results/detection.md``.

Everything at ``t`` uses only points up to ``t``, so a replay scores exactly as the live service would.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np
import pandas as pd
from numpy.lib.stride_tricks import sliding_window_view

from core.anomaly import Direction
from detector import compiled
from detector.nan_arrays import nan_to_num
from detector.recurrence import block_points, recurrence_cap
from detector.sequential_tail import twin_tail
from detector.tail import tail_decades, trailing_mean
from detector.views import (
    grid_lag,
    grid_step,
    range_excess,
    robust_z,
    same_phase_level,
    same_phase_twins,
    trailing_median,
)

ScoreDirection = Direction | str  # "up", "down" or "both"


@dataclass(frozen=True, slots=True)
class ScoreConfig:
    """Knobs of the score; windows count points or time, so one config serves minutes, hours and days.

    scale : decades of surprise that score 0.5 (the alarm threshold of the post-rules).
    tail_days : history the residual and distance tails are judged against (168–2016 points; daily
        series: 56 days).
    exclude : decades at which a point is kept out of the tail history (None: never).
    exclude_days : for how long such a point stays out (None: as long as it is in the history).
    short_window : points averaged by the second time scale of the deviation view.
    z_window : points of the robust z's median and MAD (the point included).
    z_per_decade : robust standard deviations that count as one decade of surprise.
    seasonal_periods : previous days (intraday) or weeks (daily) whose same-phase values make the seasonal
        z's level (at least two must be found).
    seasonal_z_per_decade : robust standard deviations of the seasonal z that count as one decade.
    context_periods : previous days (intraday series) or weeks (daily series) searched for a twin.
    context_tolerance_minutes : how far from the same phase a twin may be (intraday series).
    repeat_share : how close (a share of the point's distance from the trailing median) a same-phase value
        must be for the point to count as a repeat of it.
    repeat_min : earlier periods with a repeat that make the point routine for the twin view.
    range_per_width : decades per width of the range seen so far, for values beyond it.
    recurrence_hours : block length of the recurrence cap (one point for hourly and coarser series).
    recurrence_min_count : earlier blocks that must have reached a residual before it is capped.
    range_min_points : points seen before the range view speaks (a record in a short history is no news).
    alarm_hours : how long a raised alarm covers the event it was raised for (at least two periods), for
        series sampled more often than hourly.
    alarm_hours_coarse : the same for hourly and coarser series, whose distinct incidents come closer
        together in periods (two crash bursts seven hours apart are two incidents).
    escalate_ratio : how much stronger (in decades) evidence must be to alarm again within that time
        (0: any new high escalates).
    twin_exclusion : how flagged points are kept out of the twin view's tail history: ``"sequential"``
        (each point judged without the points flagged before it, as SPOT does:
        :mod:`detector.sequential_tail`) or ``"two-pass"`` (without those a first pass flags, as the
        deviation view's tails).
    """

    scale: float = 1.5
    tail_days: float = 14.0
    exclude: float | None = 3.0
    exclude_days: float | None = None
    short_window: int = 6
    z_window: int = 288
    z_per_decade: float = 4.0
    seasonal_periods: int = 3
    seasonal_z_per_decade: float = 8.0
    context_periods: int = 7
    context_tolerance_minutes: float = 30.0
    repeat_share: float = 0.25
    repeat_min: int = 2
    range_per_width: float = 20.0
    recurrence_hours: float = 1.0
    recurrence_min_count: int = 3
    range_min_points: int = 200
    alarm_hours: float = 12.0
    alarm_hours_coarse: float = 6.0
    escalate_ratio: float = 0.0
    twin_exclusion: str = "sequential"


@dataclass(frozen=True, slots=True)
class Scores:
    """Per point: ``tail`` and ``alarm`` scores in [0, 1], the robust ``z``, and the decades of surprise.

    ``sustain`` (in [0, 1] like ``tail``) is the evidence that keeps an event that already opened going:
    the deviation from the forecast or the robust z alone, without the views that learn a new level within
    days (twins, tails). An event opens on ``tail`` and goes on while ``sustain`` holds, so a lasting step
    stays one event instead of fading as the twins learn it (see :func:`detector.post_rules.decide`).
    """

    tail: np.ndarray
    alarm: np.ndarray
    z: np.ndarray
    decades: np.ndarray
    sustain: np.ndarray


def tail_window(points_per_day: float, days: float) -> int:
    """Points of tail history: ``days`` of points within 168–2016, or 56 points for daily series."""
    if points_per_day <= 1.0:
        return 56
    return int(min(max(days * points_per_day, 168), 2016))


@lru_cache(maxsize=64)  # Timedelta arithmetic costs microseconds, and a service sees a handful of steps
def alarm_horizon(step: pd.Timedelta, hours: float, coarse_hours: float | None = None) -> int:
    """Periods a raised alarm covers: ``hours`` below an hourly step, ``coarse_hours`` from one (≥ 2)."""
    span = hours if coarse_hours is None or step < pd.Timedelta(hours=1) else coarse_hours
    return max(round(pd.Timedelta(hours=span) / step), 2)


@dataclass(frozen=True, slots=True)
class Windows:
    """What a :class:`ScoreConfig` means at one step, in points (:func:`windows`)."""

    points_per_day: float
    window: int  # tail history
    min_history: int  # points of history before a tail speaks
    memory: int | None  # how long a flagged point stays out of the tail history (None: while in it)
    level_window: int  # the trailing median's
    spans: tuple[int, ...]  # the deviation view's time scales
    block: int  # the recurrence cap's block
    period_ns: int  # a day (intraday series) or a week (daily ones): the same-phase views' period
    level_tolerance_ns: int
    twin_tolerance_ns: int
    twin_periods: int
    horizon: int  # periods an alarm covers


@lru_cache(maxsize=64)  # Timedelta arithmetic costs microseconds; a service sees a handful of steps
def windows(step: pd.Timedelta, cfg: ScoreConfig) -> Windows:
    """The windows of ``cfg`` at ``step``."""
    ppd = pd.Timedelta(days=1) / step
    window = tail_window(ppd, cfg.tail_days)
    intraday = ppd > 1.0
    period = pd.Timedelta(days=1) if intraday else pd.Timedelta(days=7)
    return Windows(
        points_per_day=ppd,
        window=window,
        min_history=max(window // 8, 14),
        memory=None if cfg.exclude_days is None else max(int(cfg.exclude_days * ppd), 1),
        level_window=int(min(max(ppd, 24), 288)),
        spans=tuple(sorted({1, max(cfg.short_window, 1)})),
        block=block_points(ppd, cfg.recurrence_hours),
        period_ns=int(period.value),
        level_tolerance_ns=int(pd.Timedelta(minutes=cfg.context_tolerance_minutes if intraday else 60).value),
        twin_tolerance_ns=int(pd.Timedelta(minutes=cfg.context_tolerance_minutes).value) if intraday else 0,
        twin_periods=cfg.context_periods if intraday else 4,
        horizon=alarm_horizon(step, cfg.alarm_hours, cfg.alarm_hours_coarse),
    )


def _signed(x: np.ndarray, direction: ScoreDirection) -> np.ndarray:
    """The magnitude a monitor of ``direction`` alerts on (NaN stays NaN)."""
    if direction == "up":
        return np.where(np.isnan(x), np.nan, np.maximum(x, 0.0))
    if direction == "down":
        return np.where(np.isnan(x), np.nan, np.maximum(-x, 0.0))
    return np.asarray(np.abs(x))


def _trailing_level(values: np.ndarray, window: int) -> np.ndarray:
    """Typical magnitude before each point (for scale floors); the point's own where nothing precedes it."""
    level = trailing_median(np.abs(values), window)
    return np.where(np.isfinite(level), level, nan_to_num(np.abs(values)))


def _recurrence_caps(
    residual: np.ndarray, direction: ScoreDirection, *, window: int, block: int, cfg: ScoreConfig
) -> np.ndarray:
    """The recurrence cap of each point's forecast residual, counted among earlier blocks on its own side.

    Monitoring both sides, a jump above the forecast recurs only where earlier jumps *above* it reached
    its size: a forecast that overshot a quiet series by as much (a baseline's blunder, or its echo after
    a burst) says nothing about how often the series itself jumps that far.
    """

    def caps(magnitude: np.ndarray) -> np.ndarray:
        return np.stack(
            [
                recurrence_cap(row, window=window, block=block, min_count=cfg.recurrence_min_count)
                for row in magnitude
            ]
        )

    if direction != "both":
        return caps(_signed(residual, direction))
    # NaN residuals take the lower side's cap, which is ∞ for them (nothing reaches NaN) as on either side.
    return np.where(residual >= 0.0, caps(_signed(residual, "up")), caps(_signed(residual, "down")))


def _per_row(
    view: Callable[..., tuple[np.ndarray, np.ndarray]], x: np.ndarray, **kw: object
) -> tuple[np.ndarray, np.ndarray]:
    """A view that takes one series at a time, on each row of ``x``; its two answers stacked."""
    answers = [view(row, **kw) for row in x]
    return np.stack([a for a, _ in answers]), np.stack([b for _, b in answers])


def surprise(
    values: np.ndarray,
    expected: np.ndarray,
    times_ns: np.ndarray,
    step: pd.Timedelta,
    *,
    direction: ScoreDirection = "both",
    config: ScoreConfig | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Decades of surprise of every point, its robust z (signed), and the decades that sustain an event.

    The definition of the score, in numpy. ``values`` and ``expected`` may be 2-D, one series per row
    (all on ``times_ns``): each row gets the answer it gets alone; the views that work on rows take them
    all in one call, the others go row by row.
    """
    cfg = config or ScoreConfig()
    x = np.asarray(values, dtype=np.float64)
    if x.ndim == 1:
        d, z, s = surprise(
            x[None, :], np.asarray(expected)[None, :], times_ns, step, direction=direction, config=cfg
        )
        return d[0], z[0], s[0]
    w = windows(step, cfg)
    window, min_history = w.window, w.min_history
    floor = 1e-3 * _trailing_level(x, window) + 1e-12

    forecast_residual = x - np.asarray(expected, dtype=np.float64)
    level_residual = x - trailing_median(x, w.level_window)
    magnitudes = [
        _signed(trailing_mean(residual, k), direction)
        for residual in (forecast_residual, level_residual)
        for k in w.spans
    ]
    cap = _recurrence_caps(forecast_residual, direction, window=window, block=w.block, cfg=cfg)

    level, found = _per_row(
        same_phase_level,
        x,
        times_ns=times_ns,
        period_ns=w.period_ns,
        tolerance_ns=w.level_tolerance_ns,
        periods=cfg.seasonal_periods,
    )
    # Both robust z's in one call (the point, and its distance to the same-phase level: a row each).
    both = robust_z(np.concatenate([x, x - level]), cfg.z_window)
    z, distance_z = both[: len(x)], both[len(x) :]
    z_decades = nan_to_num(_signed(z, direction), nan=0.0) / cfg.z_per_decade
    seasonal_z = np.where(found >= 2, distance_z, np.nan)
    seasonal_decades = nan_to_num(_signed(seasonal_z, direction), nan=0.0) / cfg.seasonal_z_per_decade
    within = cfg.repeat_share * nan_to_num(np.abs(level_residual))
    twins = [
        same_phase_twins(
            x[r],
            times_ns,
            period_ns=w.period_ns,
            tolerance_ns=w.twin_tolerance_ns,
            periods=w.twin_periods,
            within=within[r],
        )
        for r in range(len(x))
    ]
    twin = np.stack([t for t, _ in twins])
    repeats = np.stack([k for _, k in twins])
    # A routine: the same excursion (within ``repeat_share`` of its height) at this phase in ``repeat_min``
    # earlier periods. The twin's distance alone is judged against twin distances, which are tiny where the
    # series is calm, so a daily job's spike that differs from yesterday's by a noise step still looked new.
    twin_gap = np.where(np.isfinite(twin) & (repeats >= cfg.repeat_min), 0.0, _signed(twin, direction))
    # The deviations' tails at once (one row per series and view): the same answer as one call per view,
    # without paying numpy's per-call overhead for each.
    views = np.stack(magnitudes, axis=1)  # series × views × periods
    rows, k, n = views.shape
    deviations = tail_decades(
        views.reshape(rows * k, n),
        window=window,
        min_history=min_history,
        floor=np.broadcast_to(floor[:, None, :], views.shape).reshape(rows * k, n),
        exclude=cfg.exclude,
        memory=w.memory,
    ).reshape(rows, k, n)
    context = twin_tail(
        twin_gap,
        cfg.twin_exclusion,
        window=window,
        min_history=min_history,
        floor=floor,
        exclude=cfg.exclude,
        memory=w.memory,
    )
    deviation = np.maximum(np.max(deviations, axis=1) - np.log10(k), 0.0)
    # Until enough twins have been seen to judge one, the view has no say (rather than saying "normal").
    known = np.cumsum(np.isfinite(twin), axis=1) >= min_history
    context = np.where(known, context, z_decades)

    s = np.minimum(np.minimum(deviation, np.maximum(z_decades, seasonal_decades)), context)
    s = np.minimum(s, cap)
    beyond = _signed(np.stack([range_excess(row, min_history=cfg.range_min_points) for row in x]), direction)
    s = np.maximum(s, cfg.range_per_width * beyond)
    sustain = np.maximum(deviation, z_decades)
    finite = np.isfinite(x)
    return np.where(finite, s, 0.0), z, np.where(finite, sustain, 0.0)


def escalation(
    score: np.ndarray, horizon: int, ratio: float = 0.0, excursion: np.ndarray | None = None
) -> np.ndarray:
    """``score`` where it tops every score of the ``horizon`` points before it, else 0.

    Topping means a ``ratio`` larger share of decades of surprise (the odds ``t / (1 − t)`` of a tail
    score are its decades over the scale): an event whose evidence creeps up does not re-alarm every
    period, while a real escalation (or an alarm after a quiet spell) clears it easily.

    With ``excursion`` (the point's signed distance from its forecast), a new high within the horizon must
    also come with a larger excursion (by size) than the horizon's highest score had (the first of them,
    on a tie): the event grew. A higher score for an excursion no larger says that the calibration moved,
    not the event: the spike before it was kept out of the tail history, a recurrence count or a twin
    changed. Bursty series re-alarmed on every such move (a disk-write series' 4.5e8 spikes, hours apart).
    Where the point opens a new excursion within the horizon (its run of points on one side of the
    forecast began after an earlier point of the horizon: the series came back across its forecast and
    went out again), it must also top every excursion of the horizon before that run: a new burst
    escalates the incident only by going further than the bursts it already covers, whatever they scored.
    Within one run the earlier points are the same excursion growing, so a low-scored point of it does
    not hold back the run's later growth (a drop that deepens while its evidence builds up).
    """
    if compiled.active() and np.ndim(score) == 1:
        from detector.compiled_surprise import escalation as compiled_escalation  # numba on first use

        return compiled_escalation(score, horizon, ratio, excursion)
    s = nan_to_num(np.asarray(score, dtype=np.float64), nan=0.0)
    if s.size == 0:
        return s
    n = s.size
    padded = np.concatenate([np.full(horizon, -np.inf), s[:-1]])
    if horizon <= 8 and excursion is None:
        # A few shifted maxima (exact, like the window's) cost less than building the window view.
        previous = padded[:n].copy()
        for k in range(1, horizon):
            np.maximum(previous, padded[k : k + n], out=previous)
    else:
        view = sliding_window_view(padded, horizon)
        previous = view.max(axis=1)
    with np.errstate(all="ignore"):
        odds = s / (1.0 - s)
        before = np.where(np.isfinite(previous), previous / (1.0 - previous), 0.0)
    topped = (s > previous) & (odds > (1.0 + ratio) * before)
    if excursion is not None:
        signed = nan_to_num(np.asarray(excursion, dtype=np.float64), nan=0.0)
        e = np.abs(signed)
        top = view.argmax(axis=1)  # the first highest score of each horizon
        before_e = sliding_window_view(np.concatenate([np.zeros(horizon), e[:-1]]), horizon)
        reference = before_e[np.arange(n), top]
        # Where each point's run on its side of the forecast began (a point on the forecast, or NaN, is a
        # run of its own): column j of a horizon row is point t − horizon + j, before the run if j < lead.
        side = np.sign(signed)
        starts = np.ones(n, dtype=bool)
        starts[1:] = (side[1:] == 0.0) | (side[1:] != side[:-1])
        run_start = np.maximum.accumulate(np.where(starts, np.arange(n), 0))
        lead = run_start - np.arange(n) + horizon
        earlier = np.where(np.arange(horizon)[None, :] < lead[:, None], before_e, 0.0).max(axis=1)
        topped &= (previous <= 0.0) | (e > np.maximum(reference, earlier))
    return np.asarray(np.where(topped, s, 0.0))


def anomaly_scores(
    values: np.ndarray,
    expected: np.ndarray,
    *,
    times_ns: np.ndarray,
    step: pd.Timedelta,
    direction: ScoreDirection = "both",
    completeness: np.ndarray | None = None,
    config: ScoreConfig | None = None,
) -> Scores:
    """Score every point (see the module docstring); NaN values score 0 with NaN z.

    ``values`` and ``expected`` may be 2-D, one series per row (sharing ``times_ns`` and ``completeness``):
    every array of the answer then has a row per series, the one that series gets alone.
    """
    cfg = config or ScoreConfig()
    y = np.asarray(values, dtype=np.float64)
    if y.ndim == 1:
        rows = anomaly_scores(
            y[None, :],
            np.asarray(expected)[None, :],
            times_ns=times_ns,
            step=step,
            direction=direction,
            completeness=completeness,
            config=cfg,
        )
        return Scores(rows.tail[0], rows.alarm[0], rows.z[0], rows.decades[0], rows.sustain[0])
    c = np.ones(y.shape[-1]) if completeness is None else np.asarray(completeness, dtype=np.float64)
    # Rows out of time order (a clock reset) are judged in file order, at the latest time seen so far.
    times = np.maximum.accumulate(np.asarray(times_ns, dtype=np.int64)) if len(times_ns) else times_ns
    if compiled.active():
        found = _compiled_scores(y, expected, c, times, step, direction, cfg)
        if found is not None:
            return found
    # Project a partial period to a full one: a half-day that already spent a day's worth is a spike.
    y = y / np.clip(nan_to_num(c, nan=1.0), 1e-6, 1.0)
    decades, z, sustain = surprise(y, expected, times, step, direction=direction, config=cfg)
    s = np.maximum(decades, 0.0)
    # + 0.0: no -0.0 in a CSV.
    tail = s / (s + cfg.scale) + 0.0
    horizon = windows(step, cfg).horizon
    excursion = y - np.asarray(expected, dtype=np.float64)  # signed: the escalation tells runs apart
    alarm = np.stack(
        [escalation(row, horizon, cfg.escalate_ratio, e) for row, e in zip(tail, excursion, strict=True)]
    )
    kept = np.maximum(sustain, 0.0)
    return Scores(tail=tail, alarm=alarm, z=z, decades=s, sustain=kept / (kept + cfg.scale) + 0.0)


def _compiled_scores(
    y: np.ndarray,
    expected: np.ndarray,
    completeness: np.ndarray,
    times: np.ndarray,
    step: pd.Timedelta,
    direction: ScoreDirection,
    cfg: ScoreConfig,
) -> Scores | None:
    """:func:`anomaly_scores` by :mod:`detector.compiled_surprise` where it covers the case (a regular
    grid, no tail memory shorter than the window), else ``None``."""
    settings = _kernel_settings(cfg, step, grid_step(times), str(direction))
    if y.shape[-1] == 0 or settings is None:
        return None
    from detector.compiled_surprise import score_rows  # numba loads on first use

    e = np.asarray(expected, dtype=np.float64)
    # A forecast per row already (a request's one series): no broadcast_to and its Python-level cost.
    rows = e if e.shape == y.shape else np.broadcast_to(e, y.shape)
    found = score_rows(y, rows, completeness, **settings)
    if found is None:
        return None
    tail, alarm, z, decades, sustain = found
    return Scores(tail=tail, alarm=alarm, z=z, decades=decades, sustain=sustain)


# The kernel's settings per (config, step, grid spacing, direction): the same for every request of a
# monitor, and working them out (windows, lags, a dict of 27 settings) cost more than a tenth of the
# kernel's own time on a 90-point series. Keyed by the config's identity, not its value: hashing a
# frozen config of two dozen fields costs as much again, and a service scores with a handful of
# long-lived configs. The entry keeps its config alive, so an id is never reused while it is cached.
_SETTINGS: dict[tuple[int, int, int | None, str], tuple[ScoreConfig, dict[str, Any] | None]] = {}


def _kernel_settings(
    cfg: ScoreConfig, step: pd.Timedelta, spacing: int | None, direction: str
) -> dict[str, Any] | None:
    """:func:`detector.compiled_surprise.score_rows`'s settings for ``cfg`` on a grid of ``spacing``
    (:func:`detector.views.grid_step`), or ``None`` where the kernel does not cover the case."""
    key = (id(cfg), int(step.value), spacing, direction)
    found = _SETTINGS.get(key)
    if found is not None and found[0] is cfg:
        return found[1]
    settings = _settings_of(cfg, step, spacing, direction)
    if len(_SETTINGS) >= 256:  # configs made on the fly (a backtest's --set): never grows without bound
        _SETTINGS.clear()
    _SETTINGS[key] = (cfg, settings)
    return settings


def _settings_of(
    cfg: ScoreConfig, step: pd.Timedelta, spacing: int | None, direction: str
) -> dict[str, Any] | None:
    w = windows(step, cfg)
    level_lag = grid_lag(np.zeros(0), w.period_ns, w.level_tolerance_ns, spacing)
    twin_lag = grid_lag(np.zeros(0), w.period_ns, w.twin_tolerance_ns, spacing)
    if (
        level_lag is None
        or twin_lag is None
        or cfg.seasonal_periods < 1
        or (w.memory is not None and w.memory < w.window)
        or cfg.twin_exclusion not in ("sequential", "two-pass")
    ):
        return None
    return {
        "window": w.window,
        "min_history": w.min_history,
        "level_window": w.level_window,
        "short_window": w.spans[-1],
        "direction": direction,
        "block": w.block,
        "min_count": cfg.recurrence_min_count,
        "level_lag": level_lag,
        "level_periods": cfg.seasonal_periods,
        "twin_lag": twin_lag,
        "twin_periods": w.twin_periods,
        "z_window": cfg.z_window,
        "z_per_decade": cfg.z_per_decade,
        "seasonal_z_per_decade": cfg.seasonal_z_per_decade,
        "repeat_share": cfg.repeat_share,
        "repeat_min": cfg.repeat_min,
        "exclude": cfg.exclude,
        "sequential": cfg.twin_exclusion == "sequential",
        "views": 2 * len(w.spans),
        "range_min_points": cfg.range_min_points,
        "range_per_width": cfg.range_per_width,
        "scale": cfg.scale,
        "horizon": w.horizon,
        "escalate_ratio": cfg.escalate_ratio,
    }
