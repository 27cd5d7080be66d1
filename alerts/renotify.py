"""Whether an incident change is worth telling anyone: a pure function, tested table by table.

Receivers hear about an incident once when it first reaches ticket or page severity, again only when
its severity escalates or its impact grows past a $ or % step since the last notification, and once
more when it resolves. Feedback and expected-change windows silence everything but the resolve, so
that a page already sent is always closed.
"""

from __future__ import annotations

from dataclasses import dataclass

from alerts.notification import Action
from alerts.severity import Severity


@dataclass(frozen=True)
class RenotifyPolicy:
    impact_step: float | None = 1000.0  # $ growth since the last notification that re-notifies
    impact_step_pct: float | None = 50.0  # % growth since the last notification that re-notifies


@dataclass(frozen=True)
class NotifyInput:
    resolved: bool
    severity: Severity  # the incident's peak severity: a later calmer sweep never de-escalates
    impact: float
    notified_severity: Severity | None  # None: nothing sent yet
    notified_impact: float | None
    silenced: bool  # muted by an expected change, or feedback was given


def impact_grew(before: float, now: float, policy: RenotifyPolicy) -> bool:
    growth = now - before
    if growth <= 0:
        return False
    if policy.impact_step is not None and growth >= policy.impact_step:
        return True
    return (
        policy.impact_step_pct is not None and before > 0 and growth / before * 100 >= policy.impact_step_pct
    )


def decide_notification(state: NotifyInput, policy: RenotifyPolicy) -> Action | None:
    """Return the action to send now, or None."""
    if state.resolved:
        return "resolve" if state.notified_severity is not None else None
    if state.silenced or state.severity is Severity.NONE:
        return None
    if state.notified_severity is None:
        return "open"
    if state.severity > state.notified_severity:
        return "update"
    if impact_grew(state.notified_impact or 0.0, state.impact, policy):
        return "update"
    return None
