""":func:`detector.post_rules.decide` compiled: the post-rules in one loop, with the same answers.

The rules are a dozen small functions over arrays (direction, impact, completeness, cold start, threshold,
sustain, persistence, alarm, onset), each a few numpy calls: on a 90-point request their per-call
overhead is all the cost. Here they run point by point in the order :func:`detector.post_rules.decide`
applies them; the answers are booleans, signs and the tail scores the rules let through (the escalation
is :func:`detector.compiled_surprise._escalation`, numpy's to the bit), so they are equal;
``tests/detector/test_compiled_decide.py`` compares both on random inputs and configurations.
"""

from __future__ import annotations

import math
from functools import lru_cache

import numba  # type: ignore[import-untyped]
import numpy as np

from detector.compiled_surprise import _MAX, _escalation, _nan_to_num
from detector.post_rules import DECISION_COLUMNS


@numba.njit(cache=True, error_model="numpy")  # type: ignore[misc]
def _decide(
    value: np.ndarray,
    expected: np.ndarray,
    completeness: np.ndarray,
    score: np.ndarray,
    sustain: np.ndarray,
    ready: np.ndarray,
    ints: np.ndarray,
    floats: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    mode, hold, warmup, has_sustain, persistence = ints[0], ints[1] == 1, ints[2], ints[3] == 1, ints[4]
    horizon, onset, rearm, rule_and = ints[5], ints[6] == 1, ints[7], ints[8] == 1
    threshold, min_completeness, min_impact, min_pct = floats[0], floats[1], floats[2], floats[3]
    factor, largest = floats[4], floats[5]
    n = value.size
    sign = np.zeros(n, dtype=np.int8)
    held = np.zeros(n, dtype=np.bool_)
    gate = np.zeros(n, dtype=np.bool_)
    tail = np.empty(n)
    keep = np.zeros(n, dtype=np.bool_)
    first_scored = n
    for t in range(n):
        if math.isfinite(expected[t]) and math.isfinite(value[t]):
            first_scored = t
            break
    start = min(n, max(first_scored, 0) + warmup)
    any_keep = False
    for t in range(n):
        c = _nan_to_num(completeness[t], 1.0, largest)
        impact = value[t] - expected[t] * c
        known = _nan_to_num(impact, 0.0, largest)
        s = 1 if known > 0 else (-1 if known < 0 else 0)
        if (mode == 0 and s < 0) or (mode == 1 and s > 0):
            s = 0
        sign[t] = s
        partial = c < 1.0
        held[t] = c < min_completeness or (hold and partial)
        allowed = not held[t] and not (partial and s < 0)
        # The $ and % impact rules (NaN: no such rule; none at all lets everything through).
        size = abs(known)
        checks = 0
        passed = 0
        if not math.isnan(min_impact):
            checks += 1
            passed += size >= min_impact
        if not math.isnan(min_pct):
            checks += 1
            base = abs(expected[t] * c)
            pct = size / base * 100.0 if base > 0 else np.inf
            passed += size > 0 and pct >= min_pct
        impact_ok = checks == 0 or (passed == checks if rule_and else passed > 0)
        scored = math.isfinite(expected[t]) and math.isfinite(value[t])
        gate[t] = s != 0 and impact_ok and allowed and t >= start and ready[t] and scored
        tail[t] = _nan_to_num(score[t], 0.0, largest)
        keep[t] = gate[t] and tail[t] >= threshold
        any_keep = any_keep or keep[t]
    if has_sustain and any_keep:
        # Runs of same-side points that opened or hold, from their first opened point on
        # (detector.post_rules.sustained).
        opened_in_run = False
        live_before = False
        for t in range(n):
            holding = gate[t] and _nan_to_num(sustain[t], 0.0, largest) >= threshold
            live = (keep[t] or holding) and sign[t] != 0
            if live:
                if not (t > 0 and live_before and sign[t] == sign[t - 1]):
                    opened_in_run = False  # a new run starts here
                opened_in_run = opened_in_run or keep[t]
                keep[t] = keep[t] or opened_in_run
            live_before = live
    candidate = np.zeros(n, dtype=np.int8)
    flagged = np.zeros(n, dtype=np.bool_)
    run = 0
    for t in range(n):
        candidate[t] = sign[t] if keep[t] else 0
        if any_keep:
            if persistence <= 1:
                flagged[t] = candidate[t] != 0
            else:
                cs = candidate[t]
                run = run + 1 if cs != 0 and t > 0 and cs == candidate[t - 1] else (1 if cs != 0 else 0)
                flagged[t] = run >= persistence
    gated = np.where(gate, tail, 0.0)
    # The impact, signed (the escalation tells a new burst from a growing one by its side of the forecast),
    # as the escalation of detector.post_rules.decide is given it.
    excursion = np.empty(n)
    for t in range(n):
        excursion[t] = value[t] - expected[t] * _nan_to_num(completeness[t], 1.0, largest)
    alarm = _escalation(gated, horizon, factor, largest, excursion)
    if not onset:
        return candidate, held, flagged, flagged.copy(), alarm
    is_anomaly = np.zeros(n, dtype=np.bool_)
    need = max(rearm, 1)
    quiet = need
    for t in range(n):
        if flagged[t]:
            is_anomaly[t] = alarm[t] >= threshold or quiet >= need
            quiet = 0
        else:
            quiet += 1
    return candidate, held, flagged, is_anomaly, alarm


def decide(
    value: np.ndarray,
    expected: np.ndarray,
    completeness: np.ndarray,
    score: np.ndarray,
    sustain: np.ndarray | None,
    ready: np.ndarray,
    *,
    direction: str,
    hold: bool,
    min_completeness: float,
    warmup: int,
    threshold: float,
    min_impact: float | None,
    min_impact_pct: float | None,
    rule_and: bool,
    persistence: int,
    horizon: int,
    escalate_ratio: float,
    rearm: int | None,
) -> dict[str, np.ndarray]:
    """The columns of :func:`detector.post_rules.decide` (``ready``: one alerting flag per point;
    ``rearm``: the quiet periods of onset alarms, ``None`` for alarms on every flagged period)."""
    n = np.size(value)
    ints, floats = _packed(
        direction,
        hold,
        warmup,
        sustain is not None,
        persistence,
        horizon,
        rearm,
        rule_and,
        threshold,
        min_completeness,
        min_impact,
        min_impact_pct,
        escalate_ratio,
    )
    candidate, held, flagged, is_anomaly, alarm = _decide(
        np.ascontiguousarray(value, dtype=np.float64),
        np.ascontiguousarray(expected, dtype=np.float64),
        np.ascontiguousarray(completeness, dtype=np.float64),
        np.ascontiguousarray(score, dtype=np.float64),
        np.ascontiguousarray(np.zeros(n) if sustain is None else sustain, dtype=np.float64),
        np.ascontiguousarray(ready, dtype=np.bool_),
        ints,
        floats,
    )
    return dict(zip(DECISION_COLUMNS, (candidate, held, flagged, is_anomaly, alarm), strict=True))


@lru_cache(maxsize=64)  # a monitor's settings are the same on every call: packed once
def _packed(
    direction: str,
    hold: bool,
    warmup: int,
    sustained: bool,
    persistence: int,
    horizon: int,
    rearm: int | None,
    rule_and: bool,
    threshold: float,
    min_completeness: float,
    min_impact: float | None,
    min_impact_pct: float | None,
    escalate_ratio: float,
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`_decide`'s integer and float settings, in the order it unpacks them (shared by every call
    and never written by it)."""
    ints = np.array(
        [
            {"up": 0, "down": 1}.get(str(direction), 2),
            hold,
            warmup,
            sustained,
            persistence,
            horizon,
            rearm is not None,
            rearm or 0,
            rule_and,
        ],
        dtype=np.int64,
    )
    floats = np.array(
        [
            threshold,
            min_completeness,
            np.nan if min_impact is None else min_impact,
            np.nan if min_impact_pct is None else min_impact_pct,
            1.0 + escalate_ratio,
            _MAX,
        ]
    )
    return ints, floats
