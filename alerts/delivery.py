"""No silent failure: a notification that fails for good (a permanent error, or retries exhausted) opens
a ``delivery`` incident for its receiver, and that incident is notified to a fallback receiver.

A delivery incident is an ordinary incident row told apart by its scope (``delivery``) and product
(``(spendsentry)``), with no spend, no anomalies and no impact: budgets, training exclusions and the
spend metrics never see it. One is open per failing receiver; more failures extend it (and escalate it to
a page when a failed notification was a page), and the next successful delivery to that receiver
resolves it. Its notifications (open, escalation, resolve) are queued to the fallback receiver in the
same transaction as the outbox row's failure, so even this alarm survives a crash.

Failures of the delivery notifications themselves open nothing (no alarm loops); they stay visible as
failed outbox rows in ``/metrics`` and the logs.
"""

from __future__ import annotations

import json
import logging
import uuid
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, func, select

from alerts import incident_store
from alerts.fingerprint import fingerprint
from alerts.lifecycle import IncidentState
from alerts.notification import Action, Notification
from alerts.outbox import FAILED, enqueue
from alerts.severity import Severity
from alerts.tables import incident_events, incidents, outbox

log = logging.getLogger(__name__)

DELIVERY_SCOPE = "delivery"
DELIVERY_PRODUCT = "(spendsentry)"
MAX_LISTED = 10  # failed notifications named in a delivery incident's details


def delivery_fingerprint(receiver: str) -> str:
    return fingerprint(DELIVERY_PRODUCT, f"delivery to {receiver}", "", DELIVERY_SCOPE)


def is_delivery(state: IncidentState) -> bool:
    return state.scope == DELIVERY_SCOPE


@dataclass(frozen=True)
class Failure:
    """One notification given up for good."""

    outbox_id: int
    receiver: str
    notification: Notification
    reason: str  # safe to store: DeliveryError reasons never carry secrets


def _severity(n: Notification) -> Severity:
    # A lost page is a page; anything else lost is at least worth a ticket.
    return Severity.PAGE if n.severity == Severity.PAGE.value else Severity.TICKET


def _summary(receiver: str, failed: int, reason: str, action: Action) -> str:
    if action == "resolve":
        return f"Resolved: notifications to receiver {receiver} are delivered again ({failed} had failed)"
    return f"Notifications to receiver {receiver} are failing: {failed} given up; last: {reason}"


@dataclass(frozen=True)
class DeliveryAlarm:
    """Opens, extends and resolves delivery incidents on the dispatcher's connection."""

    fallback: str | None = None
    public_url: str = "http://127.0.0.1:8000"

    def gave_up(self, conn: Connection, failure: Failure, now: datetime) -> IncidentState | None:
        """Record ``failure``; return the delivery incident (``None`` for a failed delivery alarm)."""
        if failure.notification.labels.get("kind") == DELIVERY_SCOPE:
            log.error(
                "delivery alarm %s to %s failed for good: %s",
                failure.notification.event_key,
                failure.receiver,
                failure.reason,
            )
            return None
        current = incident_store.load_open(conn, delivery_fingerprint(failure.receiver))
        severity = _severity(failure.notification)
        listed = {
            "outbox_id": failure.outbox_id,
            "incident_id": failure.notification.incident_id,
            "action": failure.notification.action,
            "summary": failure.notification.summary[:300],
            "reason": failure.reason,
        }
        if current is None:
            state = IncidentState(
                id=str(uuid.uuid4()),
                fingerprint=delivery_fingerprint(failure.receiver),
                product=DELIVERY_PRODUCT,
                cost_line=f"delivery to {failure.receiver}",
                currency="",
                scope=DELIVERY_SCOPE,
                status="open",
                severity=severity,
                peak_severity=severity,
                opened_at=now,
                updated_at=now,
                labels={"kind": DELIVERY_SCOPE, "receiver": failure.receiver},
                anomalies={},
                root_causes=[],
            )
            kinds = ["opened"]
        else:
            peak = max(current.peak_severity, severity, key=lambda s: s.rank)
            state = replace(current, severity=peak, peak_severity=peak, updated_at=now)
            kinds = ["escalated"] if peak > current.peak_severity else ["extended"]
        count = int(state.labels.get("failed", "0")) + 1
        state = replace(
            state,
            labels={**state.labels, "failed": str(count)},
            reasons=(
                f"{count} notification(s) to {failure.receiver} failed for good; last: {failure.reason}",
            ),
        )
        # The event first: the notification lists the failures from the incident's history.
        incident_store.add_event(conn, state, kinds[0], now, listed)
        action: Action | None = "open" if current is None else ("update" if kinds == ["escalated"] else None)
        if action is not None:
            state = self._notify(conn, state, action, failure.receiver, count, failure.reason, now)
        incident_store.save(conn, state, new=current is None)
        log.error(
            "notification %s to %s failed for good: %s",
            listed["incident_id"],
            failure.receiver,
            failure.reason,
        )
        return state

    def recovered(self, conn: Connection, receiver: str, now: datetime) -> IncidentState | None:
        """Resolve ``receiver``'s delivery incident after a successful delivery to it, if one is open."""
        current = incident_store.load_open(conn, delivery_fingerprint(receiver))
        if current is None:
            return None
        state = replace(current, status="resolved", resolved_at=now, updated_at=now, severity=Severity.NONE)
        count = int(state.labels.get("failed", "0"))
        if state.receivers:
            state = self._notify(conn, state, "resolve", receiver, count, "", now)
        incident_store.save(conn, state, new=False)
        incident_store.add_event(conn, state, "resolved", now, {"receiver": receiver})
        log.info("notifications to %s are delivered again; delivery incident %s resolved", receiver, state.id)
        return state

    def _notify(
        self,
        conn: Connection,
        state: IncidentState,
        action: Action,
        receiver: str,
        failed: int,
        reason: str,
        now: datetime,
    ) -> IncidentState:
        targets = list(state.receivers) if action == "resolve" else [self.fallback] if self.fallback else []
        # The broken receiver cannot carry its own alarm; the incident, the logs and /metrics still do.
        targets = [t for t in targets if t != receiver]
        if not targets:
            if action == "open":
                log.error(
                    "no fallback receiver for the delivery incident of %s (set DELIVERY_FALLBACK_RECEIVER)",
                    receiver,
                )
            return state
        seq = state.notify_seq + 1
        link = f"{self.public_url.rstrip('/')}/incidents/{state.id}"
        n = delivery_notification(
            state,
            action,
            seq=seq,
            link=link,
            receiver=receiver,
            failed=failed,
            reason=reason,
            listed=_failures(conn, state.id),
        )
        for target in targets:
            enqueue(conn, n, target, now)
        return replace(
            state,
            notify_seq=seq,
            notified_severity=state.peak_severity,
            notified_impact=0.0,
            notified_at=now,
            receivers=tuple(dict.fromkeys([*state.receivers, *targets])),
        )


def delivery_notification(
    state: IncidentState,
    action: Action,
    *,
    seq: int,
    link: str,
    receiver: str,
    failed: int,
    reason: str,
    listed: list[dict[str, Any]],
) -> Notification:
    """A delivery incident's notification, with the keys every receiver reads (zero $: nothing was spent)."""
    details: dict[str, Any] = {
        "product": state.product,
        "cost_line": state.cost_line,
        "currency": state.currency,
        "scope": state.scope,
        "severity": state.peak_severity.value,
        "actual": 0.0,
        "expected": 0.0,
        "impact": 0.0,
        "burn_rate": None,
        "projected_month_impact": 0.0,
        "root_causes": [],
        "receiver": receiver,
        "failed": failed,
        "last_error": reason or None,
        "failed_notifications": listed,
        "incident_id": state.id,
        "opened_at": state.opened_at.isoformat(),
        "link": link,
    }
    return Notification(
        action=action,
        incident_id=state.id,
        fingerprint=state.fingerprint,
        seq=seq,
        product=state.product,
        cost_line=state.cost_line,
        currency=state.currency,
        severity=state.peak_severity.value,
        summary=_summary(receiver, failed, reason, action),
        details=details,
        labels={"kind": DELIVERY_SCOPE, "receiver": receiver, "severity": state.peak_severity.value},
        link=link,
        at=state.updated_at.isoformat(),
        started_at=state.opened_at.isoformat(),
    )


def _failures(conn: Connection, incident_id: str) -> list[dict[str, Any]]:
    """The newest failed notifications recorded on a delivery incident, oldest first."""
    rows = conn.execute(
        select(incident_events.c.detail)
        .where(incident_events.c.incident_id == incident_id, incident_events.c.kind != "resolved")
        .order_by(incident_events.c.id.desc())
        .limit(MAX_LISTED)
    ).scalars()
    return [d for d in (json.loads(r) for r in rows) if "outbox_id" in d][::-1]


def failed_by_receiver(engine: Engine) -> dict[str, int]:
    """Outbox rows given up for good, per receiver (``/metrics``)."""
    with engine.connect() as conn:
        rows = conn.execute(
            select(outbox.c.receiver, func.count())
            .where(outbox.c.status == FAILED)
            .group_by(outbox.c.receiver)
        )
        return {str(r): int(n) for r, n in rows}


def open_delivery_incidents(engine: Engine) -> dict[str, int]:
    """Open delivery incidents by the failing receiver (``/metrics``)."""
    with engine.connect() as conn:
        rows = conn.execute(
            select(incidents.c.labels).where(
                incidents.c.status == "open", incidents.c.scope == DELIVERY_SCOPE
            )
        )
        out: dict[str, int] = {}
        for (labels,) in rows:
            receiver = str(json.loads(labels).get("receiver", ""))
            out[receiver] = out.get(receiver, 0) + 1
        return out
