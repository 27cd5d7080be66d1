"""Post-rules: the *decide* half of the detector, turning scores into ``is_anomaly`` (Merlion-style).

Each rule is a small pure function over arrays, so each can be tested alone and the order is explicit in
:func:`apply_post_rules`: threshold → direction → $ / % impact → completeness → cold start → persistence → alarm
(every flagged period, or only where an alarm is raised or escalated).

Candidates come from the *tail* score (how unusual each point is); the *alarm* score of
:mod:`detector.scoring` (the tail score where it tops the recent past) is recomputed here over the points
the rules let through, so ``anomaly_score`` is high exactly where the service raises or escalates an
alarm and 0 where the rules forbid one (cold start, a drop in a partial period, a side not monitored).
Data completeness is handled here because billing exports fill in late: the newest periods are often
partial, and a partial period looks like a drop. Two policies, chosen in :class:`DetectorConfig`:

* ``"scale"`` (default): a partial period is scored against its projection to a full period (the score
  does this) and its $ impact is measured against ``completeness × expected``; it can raise a *spike*
  but never a *drop*, because a shortfall is what missing data looks like.
* ``"hold"``: partial periods are held back entirely (``held_back`` true, never anomalous) until they
  are complete.

Either way a period below ``min_completeness`` is held back: too little of it is known to project.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from typing import Literal

import numpy as np
import pandas as pd

from detector import compiled
from detector.nan_arrays import nan_to_num
from detector.scoring import ScoreConfig, alarm_horizon, escalation

DirectionRule = Literal["up", "down", "both"]
CompletenessPolicy = Literal["scale", "hold"]
AlarmMode = Literal["run", "onset"]


@dataclass(frozen=True, slots=True)
class DetectorConfig:
    """Every decision knob; defaults suit a spend series scored on its own history.

    threshold : anomaly score at or above which a point is a candidate (0.5: the score's ``scale``, 1.5
        decades of surprise; lower thresholds score more on NAB and Microsoft but split a slow billing drift
        into two tickets, see the CHOICES of ``bench/bench_detection.py``).
    direction : which side alerts: spend going ``up`` (default), ``down`` or ``both``.
    min_impact : minimum |actual − expected| per period, in currency (None: no $ rule).
    min_impact_pct : minimum |actual − expected| / expected × 100 (None: no % rule).
    impact_rule : ``"and"`` needs both $ and % rules to pass, ``"or"`` either (a missing rule is ignored).
    min_persistence : consecutive candidate periods (same side) before the run is anomalous.
    cold_start_points : scored points before any alert (None: the score's own minimum history).
    completeness_policy : ``"scale"`` or ``"hold"`` for partial periods (see the module docstring).
    min_completeness : periods less complete than this are always held back.
    merge_gap : anomalous runs separated by at most this many normal periods form one event.
    alarm : what ``is_anomaly`` marks. ``"run"`` (default): every period of an anomalous run.
        ``"onset"``: only the periods an alarm is raised or escalated on — where the alarm score reaches
        the threshold, and the first flagged period after ``rearm_after`` quiet ones — as a pager raises
        one alert per incident. Every period of the runs is still in the ``flagged`` column and the events
        are built from it either way.
    rearm_after : quiet (unflagged) periods after which a new run raises a new alarm (``"onset"`` only;
        None: by granularity, see :func:`default_rearm`).
    """

    threshold: float = 0.5
    direction: DirectionRule = "up"
    min_impact: float | None = None
    min_impact_pct: float | None = None
    impact_rule: Literal["and", "or"] = "and"
    min_persistence: int = 1
    cold_start_points: int | None = None
    completeness_policy: CompletenessPolicy = "scale"
    min_completeness: float = 0.5
    merge_gap: int = 0
    alarm: AlarmMode = "run"
    rearm_after: int | None = None
    score: ScoreConfig = field(default_factory=ScoreConfig)


def threshold_mask(score: np.ndarray, threshold: float) -> np.ndarray:
    return np.asarray(nan_to_num(score, nan=0.0) >= threshold)


def direction_sign(impact: np.ndarray, direction: DirectionRule) -> np.ndarray:
    """+1 where the point may alert upwards, -1 downwards, 0 where its side is not monitored."""
    sign: np.ndarray = np.sign(nan_to_num(impact, nan=0.0)).astype(np.int8)
    if direction == "up":
        return np.where(sign > 0, sign, 0).astype(np.int8)
    if direction == "down":
        return np.where(sign < 0, sign, 0).astype(np.int8)
    return sign


def impact_mask(
    impact: np.ndarray,
    expected: np.ndarray,
    *,
    min_impact: float | None,
    min_impact_pct: float | None,
    rule: Literal["and", "or"],
) -> np.ndarray:
    """$ and / or % impact rules, like the threshold expressions FinOps tools take ("> $100 and > 20%")."""
    size = np.abs(nan_to_num(impact, nan=0.0))
    checks: list[np.ndarray] = []
    if min_impact is not None:
        checks.append(size >= min_impact)
    if min_impact_pct is not None:
        with np.errstate(all="ignore"):
            pct = np.where(np.abs(expected) > 0, size / np.abs(expected) * 100.0, np.inf)
        checks.append(np.where(size > 0, pct >= min_impact_pct, False))
    if not checks:
        return np.ones(impact.shape, dtype=bool)
    stacked = np.stack(checks)
    return np.asarray(stacked.all(axis=0) if rule == "and" else stacked.any(axis=0))


def completeness_masks(
    completeness: np.ndarray, sign: np.ndarray, *, policy: CompletenessPolicy, min_completeness: float
) -> tuple[np.ndarray, np.ndarray]:
    """``(allowed, held_back)``: partial periods never alert downwards; ``hold`` holds them all back."""
    c = nan_to_num(np.asarray(completeness, dtype=np.float64), nan=1.0)
    partial = c < 1.0
    held = c < min_completeness
    if policy == "hold":
        held = held | partial
    allowed = ~held & ~(partial & (sign < 0))
    return allowed, held


def cold_start_mask(
    n: int, *, first_scored: int, warmup: int, alerting_ready: bool | np.ndarray
) -> np.ndarray:
    """False until ``warmup`` points after the first scored one, and wherever the model was not ready.

    ``alerting_ready`` is one flag, or one per point when a replay used several fits (a series leaves
    cold start part-way through its history).
    """
    mask = np.zeros(n, dtype=bool)
    mask[min(n, max(first_scored, 0) + warmup) :] = True
    ready: np.ndarray = np.broadcast_to(np.asarray(alerting_ready, dtype=bool), (n,))
    out: np.ndarray = mask & ready
    return out


def persistence_mask(candidate_sign: np.ndarray, min_persistence: int) -> np.ndarray:
    """True from the point where a run of same-side candidates reaches ``min_persistence`` onwards.

    Causal on purpose: a point is never marked because of points after it, so a replay decides exactly
    as the live service would have at that time.
    """
    s = np.asarray(candidate_sign, dtype=np.int8)
    if min_persistence <= 1:
        return np.asarray(s != 0)  # every run reaches one at its first point
    out = np.zeros(s.size, dtype=bool)
    run = 0
    signs = s.tolist()  # Python ints: indexing a numpy array point by point costs more than the loop
    for i, sign in enumerate(signs):
        run = run + 1 if sign != 0 and i > 0 and sign == signs[i - 1] else (1 if sign != 0 else 0)
        out[i] = run >= min_persistence
    return out


def default_rearm(index: pd.DatetimeIndex) -> int:
    """Quiet periods before a new alarm: an hour of five-minute points (12), two days of daily ones.

    Intraday metrics flicker around a threshold for many periods during one incident; a daily series
    has few periods, and a long quiet requirement would let a stray alarm days earlier swallow a real
    incident's alarm.
    """
    if len(index) < 2:
        return 2
    step = pd.Timedelta(int(np.median(np.diff(index.asi8))), unit=index.unit)
    per_day = pd.Timedelta(days=1) / step if step > pd.Timedelta(0) else 1.0
    return 12 if per_day > 1.0 else 2


def onset_mask(flagged: np.ndarray, rearm_after: int) -> np.ndarray:
    """True where an alarm is raised: a flagged period after at least ``rearm_after`` unflagged ones.

    Scorers of alerting (NAB among them) and the people paged count alarms, not flagged periods: the
    second hour of an outage is not news. A run that starts within ``rearm_after`` periods of the last
    flagged one is the same incident flickering around the threshold, so it raises nothing new. Causal:
    each verdict depends only on the flags up to that period.
    """
    flags = np.asarray(flagged, dtype=bool)
    out = np.zeros(flags.size, dtype=bool)
    need = max(rearm_after, 1)
    quiet = need  # the start of the series counts as quiet: the first flagged period alarms
    for i in range(flags.size):
        if flags[i]:
            out[i] = quiet >= need
            quiet = 0
        else:
            quiet += 1
    return out


@lru_cache(maxsize=64)  # Timedelta construction and comparison cost microseconds per request
def min_alert_span(step: pd.Timedelta) -> pd.Timedelta:
    """History a fit needs before its forecasts may raise alerts: two cycles of the shortest season.

    Two days for intraday series (daily cycle), two weeks for daily ones (weekly cycle): a model that
    has not seen its season twice extrapolates a guess, and a guess must not page anyone.
    """
    return pd.Timedelta(days=2) if step < pd.Timedelta(days=1) else pd.Timedelta(days=14)


def period_completeness(
    index: pd.DatetimeIndex, step: pd.Timedelta, as_of: pd.Timestamp | None
) -> np.ndarray:
    """Elapsed share of each period at ``as_of`` (1.0 for periods already over, 0 for future ones).

    This is the completeness the clock alone implies, assuming spend accrues evenly over a period; a
    billing feed that knows better (rows still to come) passes its own completeness instead.
    """
    if as_of is None or len(index) == 0:
        return np.ones(len(index))
    if index.tz is None and pd.Timestamp(as_of).tzinfo is None:
        # Integer arithmetic in the index's unit: the sweep asks this of every series.
        unit = index.unit
        now = int(pd.Timestamp(as_of).as_unit(unit).asm8.astype(np.int64))
        elapsed = (now - index.asi8) / float(step / pd.Timedelta(1, unit=unit))
    else:
        elapsed = np.asarray((as_of - index) / step, dtype=np.float64)
    return np.clip(np.asarray(elapsed, dtype=np.float64), 0.0, 1.0)


DECISION_COLUMNS: tuple[str, ...] = ("candidate", "held_back", "flagged", "is_anomaly", "anomaly_score")


def decide(
    value: np.ndarray,
    expected: np.ndarray,
    completeness: np.ndarray,
    score: np.ndarray,
    config: DetectorConfig,
    *,
    alerting_ready: bool | np.ndarray = True,
    index: pd.DatetimeIndex | None = None,
    sustain: np.ndarray | None = None,
    step: pd.Timedelta | None = None,
) -> dict[str, np.ndarray]:
    """The post-rules on plain arrays: ``candidate`` (signed), ``held_back``, ``flagged``, ``is_anomaly``,
    and the ``anomaly_score`` of the alarms they let through (``score`` is the tail score).

    With ``sustain`` (the scorer's sustaining evidence), a point is also a candidate when it continues a
    run of candidates on the same side and its ``sustain`` reaches the threshold: an event opens on the
    full evidence and goes on while the deviation lasts (hysteresis, as alerting rules keep an alert
    firing on a weaker condition than the one that raised it).

    ``index`` is only needed for onset alarms without an explicit ``rearm_after`` (the quiet time depends
    on the granularity). Arrays, not frames: a sweep decides on thousands of series per run. ``step``:
    the index's typical spacing when the caller knows it (else it is worked out from ``index``).
    """
    value = np.asarray(value, dtype=np.float64)
    expected = np.asarray(expected, dtype=np.float64)
    if compiled.active() and value.ndim == 1:
        return _compiled_decide(
            value,
            expected,
            completeness,
            score,
            config,
            alerting_ready=alerting_ready,
            index=index,
            sustain=sustain,
            step=step,
        )
    c = nan_to_num(np.asarray(completeness, dtype=np.float64), nan=1.0)
    # Impact so far: a partial period is compared with the share of the expected spend it covers.
    impact = value - expected * c
    sign = direction_sign(impact, config.direction)
    allowed, held = completeness_masks(
        c, sign, policy=config.completeness_policy, min_completeness=config.min_completeness
    )
    scored = np.isfinite(expected) & np.isfinite(value)
    n = value.size
    first_scored = int(np.argmax(scored)) if scored.any() else n
    warmup = config.cold_start_points if config.cold_start_points is not None else 0
    ready = cold_start_mask(n, first_scored=first_scored, warmup=warmup, alerting_ready=alerting_ready)
    # Every rule but the threshold: where the service may alert at all.
    gate = (
        (sign != 0)
        & impact_mask(
            impact,
            expected * c,
            min_impact=config.min_impact,
            min_impact_pct=config.min_impact_pct,
            rule=config.impact_rule,
        )
        & allowed
        & ready
        & scored
    )
    tail = nan_to_num(np.asarray(score, dtype=np.float64), nan=0.0)
    keep = gate & threshold_mask(tail, config.threshold)
    if sustain is not None and keep.any():
        keep = keep | sustained(keep, gate & threshold_mask(np.asarray(sustain), config.threshold), sign)
    candidate = np.where(keep, sign, 0).astype(np.int8)
    flagged = persistence_mask(candidate, config.min_persistence) if keep.any() else np.zeros(n, dtype=bool)
    # The alarm score over the points the rules let through: one alarm per event, and another within its
    # horizon only when the impact grew (a same-size spike rescored higher is not a worse incident; a new
    # burst must go further than the horizon's earlier ones). The impact is signed: runs on one side count.
    horizon = alarm_horizon(
        step if step is not None else _step_of(index),
        config.score.alarm_hours,
        config.score.alarm_hours_coarse,
    )
    alarm = escalation(np.where(gate, tail, 0.0), horizon, config.score.escalate_ratio, impact)
    if config.alarm == "onset":
        rearm = config.rearm_after or default_rearm(index if index is not None else pd.DatetimeIndex([]))
        is_anomaly = flagged & ((alarm >= config.threshold) | onset_mask(flagged, rearm))
    else:
        is_anomaly = flagged
    return dict(zip(DECISION_COLUMNS, (candidate, held, flagged, is_anomaly, alarm), strict=True))


def _compiled_decide(
    value: np.ndarray,
    expected: np.ndarray,
    completeness: np.ndarray,
    score: np.ndarray,
    config: DetectorConfig,
    *,
    alerting_ready: bool | np.ndarray,
    index: pd.DatetimeIndex | None,
    sustain: np.ndarray | None,
    step: pd.Timedelta | None,
) -> dict[str, np.ndarray]:
    """:func:`decide` by :mod:`detector.compiled_decide` (the settings worked out here, as there)."""
    from detector.compiled_decide import decide as compiled  # numba loads on first use

    n = value.size
    rearm = None
    if config.alarm == "onset":
        rearm = config.rearm_after or default_rearm(index if index is not None else pd.DatetimeIndex([]))
    return compiled(
        value,
        expected,
        np.asarray(completeness, dtype=np.float64),
        np.asarray(score, dtype=np.float64),
        None if sustain is None else np.asarray(sustain, dtype=np.float64),
        # One flag for every point (what a scoring request passes): filled, not broadcast (which costs more).
        np.full(n, alerting_ready)
        if isinstance(alerting_ready, bool)
        else np.broadcast_to(np.asarray(alerting_ready, dtype=bool), (n,)),
        direction=config.direction,
        hold=config.completeness_policy == "hold",
        min_completeness=config.min_completeness,
        warmup=config.cold_start_points if config.cold_start_points is not None else 0,
        threshold=config.threshold,
        min_impact=config.min_impact,
        min_impact_pct=config.min_impact_pct,
        rule_and=config.impact_rule == "and",
        persistence=config.min_persistence,
        horizon=alarm_horizon(
            step if step is not None else _step_of(index),
            config.score.alarm_hours,
            config.score.alarm_hours_coarse,
        ),
        escalate_ratio=config.score.escalate_ratio,
        rearm=rearm,
    )


def sustained(opened: np.ndarray, holding: np.ndarray, sign: np.ndarray) -> np.ndarray:
    """Points that continue, without a break, a same-side stretch of ``holding`` points that ``opened``.

    A stretch is a run of consecutive points where ``opened | holding`` holds on one side; it counts from
    its first ``opened`` point to its end. Vectorised: a sweep decides on thousands of series per run.
    """
    live = (opened | holding) & (sign != 0)
    n = live.size
    if not live.any():
        return np.zeros(n, dtype=bool)
    starts = live & ~np.r_[False, live[:-1] & (sign[1:] == sign[:-1])]
    run = np.cumsum(starts)
    # Within each run, true from its first opened point on: a running max of "opened so far" per run.
    marker = np.where(opened & live, run, 0)
    seen = np.maximum.accumulate(marker)
    return np.asarray(live & (seen == run))


def _step_of(index: pd.DatetimeIndex | None) -> pd.Timedelta:
    """The typical spacing of ``index`` (one day when it cannot tell)."""
    if index is None or len(index) < 2:
        return pd.Timedelta(days=1)
    ticks = index.asi8
    gaps = ticks[1:] - ticks[:-1]
    # A regular grid's median is its one spacing (as np.median gives it: through a float), without a sort.
    middle = float(gaps[0]) if gaps.min() == gaps.max() else float(np.median(gaps))
    step = pd.Timedelta(int(middle), unit=index.unit)
    return step if step > pd.Timedelta(0) else pd.Timedelta(days=1)


def apply_post_rules(
    points: pd.DataFrame, config: DetectorConfig, *, alerting_ready: bool | np.ndarray = True
) -> pd.DataFrame:
    """Add ``candidate`` (signed), ``held_back``, ``flagged`` and ``is_anomaly`` to a scored frame, and set
    its ``anomaly_score`` to the alarms the rules let through.

    ``points`` needs ``value``, ``expected``, ``tail_score`` and ``completeness`` columns (and uses
    ``sustain_score`` when it has one).
    """
    decided = decide(
        points["value"].to_numpy(dtype=np.float64),
        points["expected"].to_numpy(dtype=np.float64),
        points["completeness"].to_numpy(dtype=np.float64),
        points["tail_score"].to_numpy(dtype=np.float64),
        config,
        alerting_ready=alerting_ready,
        index=pd.DatetimeIndex(points.index),
        sustain=points["sustain_score"].to_numpy(dtype=np.float64) if "sustain_score" in points else None,
    )
    columns = {str(c): points[c].to_numpy() for c in points.columns}
    return pd.DataFrame({**columns, **decided}, index=points.index, copy=False)
