"""The incident lifecycle as a pure function: one sweep's evaluation moves an incident from nothing to
open, keeps it open (extending it with new anomalies), or resolves it once the spend has been back in
the expected band for a configured time. No clock and no database: the caller passes ``now``.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from alerts.burn_rate import SeverityDecision, pick_window, sustained_hours
from alerts.severity import Severity
from core.anomaly import LevelShift, SeriesEvaluation

NEW_NORMAL = "new normal"  # the resolution of an incident whose lasting step was learned (alerts.rebaseline)


@dataclass(frozen=True)
class IncidentPolicy:
    resolve_after: timedelta = timedelta(hours=12)  # continuous time back in band before resolving
    # A notified incident does not count time back in band while its long window (``hold_hours``, two
    # periods at least) still burns above ``hold_factor`` (None: off): a drift whose hours sit in their band
    # while the day is still 1.2x is one problem going on, not one that resolves and opens again.
    hold_factor: float | None = None
    hold_hours: float = 24.0


@dataclass(frozen=True)
class IncidentState:
    id: str
    fingerprint: str
    product: str
    cost_line: str
    currency: str
    scope: str
    status: str  # open | resolved
    severity: Severity
    peak_severity: Severity
    opened_at: datetime
    updated_at: datetime
    resolved_at: datetime | None = None
    in_band_since: datetime | None = None
    period_start: datetime | None = None
    period_end: datetime | None = None
    impact: float = 0.0
    peak_impact: float = 0.0
    actual: float = 0.0
    expected: float = 0.0
    burn_rate: float | None = None
    projected_month_impact: float = 0.0
    notified_severity: Severity | None = None
    notified_impact: float | None = None
    notified_at: datetime | None = None  # the sweep time of the last notification
    notify_seq: int = 0
    receivers: tuple[str, ...] = ()
    feedback: str | None = None
    muted_by: str | None = None
    labels: dict[str, str] = field(default_factory=dict)
    anomalies: dict[str, dict[str, float | str]] = field(default_factory=dict)
    root_causes: list[dict[str, Any]] = field(default_factory=list)
    reasons: tuple[str, ...] = ()
    resolution: str | None = None  # why it resolved when not by going back in band ("new normal")
    level_shift: dict[str, Any] | None = None  # the newest lasting step under it (see level_shift_view)
    linked_to: str | None = None  # the owning incident while linked (alerts.grouping): no notifications
    linked: tuple[dict[str, Any], ...] = ()  # the series linked to this incident, by fingerprint

    @property
    def is_open(self) -> bool:
        return self.status == "open"


@dataclass(frozen=True)
class Step:
    state: IncidentState | None  # None: no incident, nothing to store
    events: tuple[str, ...]  # history kinds: opened, extended, escalated, resolved


def is_active(evaluation: SeriesEvaluation, decision: SeverityDecision) -> bool:
    """A series needs an incident while it has open anomaly events or burns above a severity rule."""
    return bool(evaluation.anomalies) or decision.severity is not Severity.NONE


def _absorb(state: IncidentState, evaluation: SeriesEvaluation, decision: SeverityDecision) -> IncidentState:
    # Anomaly events are keyed by their start so that a new event within the same incident adds to the
    # total; a reading that overlaps earlier ones is the same event read again (its start may move as the
    # sweep's window slides), so it replaces them instead of counting their $ twice.
    anomalies = dict(state.anomalies)
    for a in evaluation.anomalies:
        start, end = a.start.isoformat(), a.end.isoformat()
        for key in [k for k, v in anomalies.items() if k <= end and str(v["end"]) >= start]:
            del anomalies[key]
        anomalies[start] = {
            "end": end,
            "actual": a.actual,
            "expected": a.expected,
            "impact": a.impact,
            "kind": a.kind,
        }
    impact = sum(float(v["impact"]) for v in anomalies.values())
    actual = sum(float(v["actual"]) for v in anomalies.values())
    expected = sum(float(v["expected"]) for v in anomalies.values())
    newest = evaluation.anomalies[-1] if evaluation.anomalies else None
    starts = [a.start for a in evaluation.anomalies] + ([state.period_start] if state.period_start else [])
    ends = [a.end for a in evaluation.anomalies] + ([state.period_end] if state.period_end else [])
    root_causes = state.root_causes
    if newest is not None and newest.root_causes:
        root_causes = [
            {
                "dimensions": dict(c.dimensions),
                "actual": c.actual,
                "expected": c.expected,
                "contribution": c.contribution,
                "share": c.share,
                "usage_effect": c.usage_effect,
                "price_effect": c.price_effect,
                "driver": c.driver,
                "usage_change_pct": c.usage_change_pct,
                "price_change_pct": c.price_change_pct,
                "resources": list(c.resources),
                "label": c.label,
            }
            for c in newest.root_causes
        ]
    return replace(
        state,
        severity=decision.severity,
        peak_severity=max(state.peak_severity, decision.severity, key=lambda s: s.rank),
        impact=impact,
        peak_impact=max(state.peak_impact, impact),
        actual=actual,
        expected=expected,
        burn_rate=decision.burn_rate,
        projected_month_impact=newest.projected_month_impact if newest else state.projected_month_impact,
        period_start=min(starts) if starts else None,
        period_end=max(ends) if ends else None,
        anomalies=anomalies,
        root_causes=root_causes,
        labels={**state.labels, **evaluation.labels},
        reasons=decision.reasons,
        updated_at=evaluation.as_of,
        level_shift=level_shift_view(evaluation.level_shift),
    )


def level_shift_view(shift: LevelShift | None) -> dict[str, Any] | None:
    """A level shift as the JSON-safe dict the incident keeps (and feedback ``expected`` learns from)."""
    if shift is None:
        return None
    return {
        "since": shift.since.isoformat(),
        "hours": round(shift.hours, 1),
        "ratio": round(shift.ratio, 4),
        "month_impact": round(shift.month_impact, 2),
    }


def _held(current: IncidentState, evaluation: SeriesEvaluation, policy: IncidentPolicy) -> bool:
    """The excess someone was told about still burns over the long window (see ``IncidentPolicy``)."""
    if policy.hold_factor is None or current.notified_severity is None:
        return False
    window = pick_window(evaluation.windows, sustained_hours(evaluation, policy.hold_hours))
    return window is not None and window.burn_rate > policy.hold_factor


def advance(
    current: IncidentState | None,
    evaluation: SeriesEvaluation,
    decision: SeverityDecision,
    *,
    fingerprint: str,
    new_id: str,
    policy: IncidentPolicy,
) -> Step:
    """Apply one evaluation to the open incident of its fingerprint (or to none)."""
    now = evaluation.as_of
    active = is_active(evaluation, decision)
    if current is None or not current.is_open:
        if not active:
            return Step(None, ())
        fresh = IncidentState(
            id=new_id,
            fingerprint=fingerprint,
            product=evaluation.product,
            cost_line=evaluation.cost_line,
            currency=evaluation.currency,
            scope=evaluation.scope,
            status="open",
            severity=Severity.NONE,
            peak_severity=Severity.NONE,
            opened_at=now,
            updated_at=now,
        )
        return Step(_absorb(fresh, evaluation, decision), ("opened",))

    before = current.peak_severity
    state = _absorb(current, evaluation, decision)
    if active:
        state = replace(state, in_band_since=None)
        kind = "escalated" if state.peak_severity > before else "extended"
        return Step(state, (kind,))
    if not evaluation.in_band or evaluation.level_shift is not None or _held(current, evaluation, policy):
        # Quiet by the detector's rules but still outside the band, or a step still going on (each period
        # in its band, the days together above it): the resolve clock restarts, so a lasting excess stays
        # one incident instead of resolving and opening again.
        return Step(replace(state, in_band_since=None), ())
    since = current.in_band_since or now
    if now - since >= policy.resolve_after:
        resolved = replace(state, status="resolved", resolved_at=now, in_band_since=since)
        return Step(resolved, ("resolved",))
    return Step(replace(state, in_band_since=since), ())
