"""Incident history, queryable: what the API's ``/v1/incidents`` and the dashboard read.

Views are plain dicts of JSON-safe values (no secrets exist in incidents: receivers are stored by
name only).
"""

from __future__ import annotations

import json
import math
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, func, select

from alerts import incident_store
from alerts.delivery import DELIVERY_SCOPE
from alerts.lifecycle import IncidentState
from alerts.outbox import list_outbox
from alerts.tables import aware, feedback, incident_events, incidents
from core.errors import InputError, NotFoundError

STATUSES = ("open", "resolved")
SEVERITIES = ("none", "ticket", "page")


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def incident_view(state: IncidentState) -> dict[str, Any]:
    burn = state.burn_rate
    return {
        "id": state.id,
        "fingerprint": state.fingerprint,
        "product": state.product,
        "cost_line": state.cost_line,
        "currency": state.currency,
        "scope": state.scope,
        # "delivery": a receiver's notifications failing for good (alerts.delivery); "spend" otherwise.
        "kind": "delivery" if state.scope == DELIVERY_SCOPE else "spend",
        "status": state.status,
        "severity": state.severity.value,
        "peak_severity": state.peak_severity.value,
        "opened_at": _iso(state.opened_at),
        "updated_at": _iso(state.updated_at),
        "resolved_at": _iso(state.resolved_at),
        "period_start": _iso(state.period_start),
        "period_end": _iso(state.period_end),
        "actual": state.actual,
        "expected": state.expected,
        "impact": state.impact,
        "peak_impact": state.peak_impact,
        "burn_rate": burn if burn is None or math.isfinite(burn) else None,
        "projected_month_impact": state.projected_month_impact,
        "root_causes": state.root_causes,
        "reasons": list(state.reasons),
        "labels": state.labels,
        "feedback": state.feedback,
        "muted_by": state.muted_by,
        "notified_severity": state.notified_severity.value if state.notified_severity else None,
        "notified_at": state.notified_at.isoformat() if state.notified_at else None,
        "receivers": list(state.receivers),
        # How it ended when not by going back in band ("new normal"), and the lasting step read under it
        # (since, hours, ratio, month_impact): the level learned when the resolution is "new normal".
        "resolution": state.resolution,
        "level_shift": state.level_shift,
        "linked_to": state.linked_to,
        "linked": list(state.linked),
    }


def list_incidents(
    engine: Engine,
    *,
    status: str | None = None,
    product: str | None = None,
    cost_line: str | None = None,
    severity: str | None = None,
    since: datetime | None = None,
    limit: int = 100,
    offset: int = 0,
) -> list[dict[str, Any]]:
    """Incidents, newest first; ``severity`` filters on peak severity, ``since`` on last update."""
    if status is not None and status not in STATUSES:
        raise InputError("status", f"must be one of {', '.join(STATUSES)}")
    if severity is not None and severity not in SEVERITIES:
        raise InputError("severity", f"must be one of {', '.join(SEVERITIES)}")
    if not 1 <= limit <= 1000:
        raise InputError("limit", "must be between 1 and 1000")
    if offset < 0:
        raise InputError("offset", "must not be negative")
    query = (
        select(incidents).order_by(incidents.c.opened_at.desc(), incidents.c.id).limit(limit).offset(offset)
    )
    if status is not None:
        query = query.where(incidents.c.status == status)
    if product is not None:
        query = query.where(incidents.c.product == product)
    if cost_line is not None:
        query = query.where(incidents.c.cost_line == cost_line)
    if severity is not None:
        query = query.where(incidents.c.peak_severity == severity)
    if since is not None:
        query = query.where(incidents.c.updated_at >= since)
    with engine.connect() as conn:
        return [incident_view(incident_store.state_of(r)) for r in conn.execute(query)]


def count_incidents(engine: Engine, *, status: str | None = None) -> int:
    query = select(func.count()).select_from(incidents)
    if status is not None:
        query = query.where(incidents.c.status == status)
    with engine.connect() as conn:
        return int(conn.execute(query).scalar_one())


def get_incident(engine: Engine, incident_id: str) -> dict[str, Any]:
    """One incident with its history, feedback and notifications (status per receiver)."""
    with engine.connect() as conn:
        state = incident_store.load(conn, incident_id)
        if state is None:
            raise NotFoundError(f"incident {incident_id} not found")
        events = conn.execute(
            select(incident_events)
            .where(incident_events.c.incident_id == incident_id)
            .order_by(incident_events.c.at, incident_events.c.id)
        ).all()
        notes = conn.execute(
            select(feedback)
            .where(feedback.c.incident_id == incident_id)
            .order_by(feedback.c.at, feedback.c.id)
        ).all()
    view = incident_view(state)
    view["history"] = [
        {
            "at": aware(e.at).isoformat(),
            "kind": e.kind,
            "severity": e.severity,
            "impact": e.impact,
            "detail": json.loads(e.detail),
        }
        for e in events
    ]
    view["feedback_history"] = [
        {"at": aware(f.at).isoformat(), "kind": f.kind, "note": f.note, "author": f.author} for f in notes
    ]
    view["notifications"] = [e.to_dict() for e in reversed(list_outbox(engine, incident_id=incident_id))]
    return view
