"""Whether an incident change is worth telling anyone: a pure function, tested table by table.

Receivers hear about an incident once when it first reaches ticket or page severity, again at once when
its severity escalates or its impact doubles (by the $ step at least), and otherwise for impact growth past a $ or % step at most
once per ``min_interval`` (a day by default: a ticket that grows every sweep is not commented every
sweep), and once more when it resolves. Feedback and expected-change windows silence everything but the
resolve, so that a page already sent is always closed. :func:`what_changed` says why an update was sent.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from alerts.notification import Action
from alerts.severity import Severity


@dataclass(frozen=True)
class RenotifyPolicy:
    impact_step: float | None = 1000.0  # $ growth since the last notification that re-notifies
    impact_step_pct: float | None = 50.0  # % growth since the last notification that re-notifies
    min_interval: timedelta | None = timedelta(hours=24)  # impact-only updates at most this often
    urgent_pct: float | None = 100.0  # % growth that updates at once, whatever the interval (doubled)


@dataclass(frozen=True)
class NotifyInput:
    resolved: bool
    severity: Severity  # the incident's peak severity: a later calmer sweep never de-escalates
    impact: float
    notified_severity: Severity | None  # None: nothing sent yet
    notified_impact: float | None
    silenced: bool  # muted by an expected change, or feedback was given
    since_notified: timedelta | None = None  # time since the last notification (None: not known)


def impact_grew(before: float, now: float, policy: RenotifyPolicy) -> bool:
    growth = now - before
    if growth <= 0:
        return False
    if policy.impact_step is not None and growth >= policy.impact_step:
        return True
    return (
        policy.impact_step_pct is not None and before > 0 and growth / before * 100 >= policy.impact_step_pct
    )


def urgent_growth(before: float, now: float, policy: RenotifyPolicy) -> bool:
    """The impact grew by ``urgent_pct`` or more (from nothing, any growth is), and by ``impact_step`` $ at least.

    The $ step keeps a ticket opened early on a small impact (two hours of a lasting excess) from being
    commented every time its first few dollars double: such growth waits for the day like any other.
    """
    if policy.urgent_pct is None or now <= before:
        return False
    if policy.impact_step is not None and now - before < policy.impact_step:
        return False
    return before <= 0 or (now - before) / before * 100 >= policy.urgent_pct


def _quiet_long_enough(since: timedelta | None, policy: RenotifyPolicy) -> bool:
    return policy.min_interval is None or since is None or since >= policy.min_interval


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
    before = state.notified_impact or 0.0
    if not impact_grew(before, state.impact, policy):
        return None
    if _quiet_long_enough(state.since_notified, policy) or urgent_growth(before, state.impact, policy):
        return "update"
    return None


def what_changed(
    severity: Severity,
    impact: float,
    notified_severity: Severity | None,
    notified_impact: float | None,
    currency: str,
) -> str | None:
    """What an update tells that the last notification did not: an escalation, and how the impact moved."""
    if notified_severity is None:
        return None
    parts = []
    if severity > notified_severity:
        parts.append(f"escalated {notified_severity.value} → {severity.value}")
    before = notified_impact or 0.0
    if impact != before:
        pct = f" ({(impact - before) / abs(before) * 100:+.0f}%)" if before else ""
        parts.append(f"impact {before:+,.2f} → {impact:+,.2f} {currency}{pct}")
    return "; ".join(parts) or None
