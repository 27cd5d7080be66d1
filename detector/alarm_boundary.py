"""The alarm boundary: per point, the value beyond which the detector flags it — the band the charts draw.

The decision at a point depends only on the points up to it, so with the rest of the series held as it is,
whether a point is flagged depends on its own value alone. :mod:`detector.score_threshold` inverts the
score (where it reaches the post-rules' threshold); here the post-rules that gate a candidate are applied
to that value the same way :func:`detector.post_rules.decide` applies them to the actual one:

* the side: a spike must be above the expected spend, a dip below it, and only watched sides alarm;
* the $ and % impact rules (``min_impact``, ``min_impact_pct``): the boundary is at least that far from
  the expected spend (both rules with ``impact_rule="and"``, the nearer one with ``"or"``);
* completeness: a period held back never alarms, a partial one never alarms downwards, and a partial
  period is scored as projected to a full one (so its boundary is that of a full one, scaled back);
* cold start and a model not yet ready to alert: no boundary (no value alarms);
* hysteresis: right after a flagged period on the same side, the weaker sustaining evidence is enough;
* persistence: with ``min_persistence`` above one, only a point that completes such a run can be flagged.

``upper`` is +∞ and ``lower`` −∞ where no value would be flagged on that side. The boundary is of
``flagged`` (what ``is_anomaly`` marks in the default ``alarm="run"`` mode; in ``"onset"`` mode only the
first period of each flagged run is marked). The alerting layer's $ materiality floor is not a per-point
rule (it weighs an incident's whole excess), so it is not part of the boundary.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from detector.detector import Detection, infer_step
from detector.post_rules import DetectorConfig, cold_start_mask, min_alert_span
from detector.score_threshold import score_threshold


@dataclass(frozen=True, slots=True)
class AlarmBoundary:
    """Per point, in the series' unit: a value at or above ``upper`` (at or below ``lower``) is flagged."""

    upper: np.ndarray
    lower: np.ndarray


def _decades_needed(config: DetectorConfig) -> float:
    """Decades of surprise at which the tail score ``s / (s + scale)`` reaches the threshold."""
    th = config.threshold
    if th >= 1.0:
        return math.inf
    return max(config.score.scale * th / (1.0 - th), 0.0)


def _impact_floor(expected: np.ndarray, config: DetectorConfig) -> np.ndarray:
    """How far from the (completeness-scaled) expected spend the $ and % rules want a point (0: no rule)."""
    size = np.abs(expected)
    rules: list[np.ndarray] = []
    if config.min_impact is not None:
        rules.append(np.full(expected.shape, float(config.min_impact)))
    if config.min_impact_pct is not None:
        rules.append(size * config.min_impact_pct / 100.0)
    if not rules:
        return np.zeros(expected.shape)
    stacked = np.stack(rules)
    return np.asarray(stacked.max(axis=0) if config.impact_rule == "and" else stacked.min(axis=0))


def _run_before(candidate: np.ndarray, side: int, length: int) -> np.ndarray:
    """Whether the ``length`` points before each point are all candidates on ``side``."""
    n = candidate.size
    on_side = (candidate == side).astype(np.int64)
    csum = np.concatenate([[0], np.cumsum(on_side)])
    end = np.arange(n)
    start = end - length
    return np.where(start >= 0, csum[end] - csum[np.maximum(start, 0)] == length, length == 0)


def alarm_boundary(
    detection: Detection, config: DetectorConfig, *, alerting_ready: bool | np.ndarray = True
) -> AlarmBoundary:
    """The alarm boundary of every point of ``detection`` (decided with ``config``; ``alerting_ready`` as
    given to the decision: one flag, or one per point)."""
    columns = detection.columns
    index = detection.index
    value = np.asarray(columns["value"], dtype=np.float64)
    expected = np.asarray(columns["expected"], dtype=np.float64)
    completeness = np.nan_to_num(np.asarray(columns["completeness"], dtype=np.float64), nan=1.0)
    candidate = np.asarray(columns["candidate"], dtype=np.int8)
    held = np.asarray(columns["held_back"], dtype=bool)
    n = value.size
    upper, lower = np.full(n, np.inf), np.full(n, -np.inf)
    need = _decades_needed(config)
    if n == 0 or not math.isfinite(need):
        return AlarmBoundary(upper, lower)
    # As the score projects a partial period: the point is judged at value / c.
    c = np.clip(completeness, 1e-6, 1.0)
    y = value / c
    times = np.maximum.accumulate(np.asarray(index.as_unit("ns").asi8, dtype=np.int64))
    step = infer_step(index)
    scored = np.isfinite(expected) & np.isfinite(value)
    ready = cold_start_mask(
        n,
        first_scored=int(np.argmax(scored)) if scored.any() else n,
        warmup=config.cold_start_points if config.cold_start_points is not None else 0,
        alerting_ready=alerting_ready,
    )
    possible = ready & ~held & np.isfinite(expected)
    mode = "both" if config.direction == "both" else "up"
    sides = {"up": (1,), "down": (-1,), "both": (1, -1)}[config.direction]
    for side in sides:
        # The gate: on its side of the expected spend, and by the $ / % impact rules (in the mirrored
        # series' unit: the lower side is the upper side of the mirrored series, every view is symmetric).
        gate = side * expected * completeness + _impact_floor(expected * completeness, config)
        bound = score_threshold(
            side * y,
            side * expected,
            times,
            step,
            decades=need,
            above=gate / c,
            mode=mode,
            config=config.score,
        )
        opens, sustains = bound.opens * c, bound.sustains * c
        # Right after a candidate on the same side, the sustaining evidence alone keeps the event going.
        continuing = np.concatenate([[False], candidate[:-1] == side])
        edge = np.fmax(np.where(continuing, np.minimum(opens, sustains), opens), gate)
        allowed = possible & _run_before(candidate, side, max(config.min_persistence, 1) - 1)
        if side < 0:
            allowed &= completeness >= 1.0  # a shortfall in a partial period is what missing data looks like
        edge = np.where(allowed & ~np.isnan(edge), edge, np.inf)
        if side > 0:
            upper = edge
        else:
            lower = -edge
    return AlarmBoundary(upper, lower)


def alerting_ready(baseline: object, detection: Detection) -> bool:
    """Whether :meth:`detector.detector.Detector.run` let ``baseline`` alert on ``detection``'s points: its
    complete periods span two seasons, and the model says it is ready (the same test, on its output)."""
    index = detection.index
    seen = index[
        np.nan_to_num(np.asarray(detection.columns["completeness"], dtype=np.float64), nan=1.0) >= 1.0
    ]
    mature = len(seen) > 1 and (seen[-1] - seen[0]) >= min_alert_span(infer_step(index))
    return mature and bool(getattr(baseline, "alerting_ready_", True))
