"""Reading and writing incident rows and their history on a caller's connection (the service's
transaction), converting between rows and the pure ``IncidentState``."""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, insert, select, update

from alerts.lifecycle import IncidentState
from alerts.severity import Severity
from alerts.tables import aware, aware_opt, incident_events, incidents


def state_of(row: Any) -> IncidentState:
    return IncidentState(
        id=row.id,
        fingerprint=row.fingerprint,
        product=row.product,
        cost_line=row.cost_line,
        currency=row.currency,
        scope=row.scope,
        status=row.status,
        severity=Severity(row.severity),
        peak_severity=Severity(row.peak_severity),
        opened_at=aware(row.opened_at),
        updated_at=aware(row.updated_at),
        resolved_at=aware_opt(row.resolved_at),
        in_band_since=aware_opt(row.in_band_since),
        period_start=aware_opt(row.period_start),
        period_end=aware_opt(row.period_end),
        impact=row.impact,
        peak_impact=row.peak_impact,
        actual=row.actual,
        expected=row.expected,
        burn_rate=row.burn_rate,
        projected_month_impact=row.projected_month_impact,
        notified_severity=Severity(row.notified_severity) if row.notified_severity else None,
        notified_impact=row.notified_impact,
        notified_at=aware_opt(row.notified_at),
        notify_seq=row.notify_seq,
        receivers=tuple(json.loads(row.receivers)),
        feedback=row.feedback,
        muted_by=row.muted_by,
        labels=json.loads(row.labels),
        anomalies=json.loads(row.anomalies),
        root_causes=json.loads(row.root_causes),
        reasons=tuple(json.loads(row.reasons)),
        resolution=row.resolution,
        level_shift=json.loads(row.level_shift) if row.level_shift else None,
        linked_to=row.linked_to,
        linked=tuple(json.loads(row.linked)) if row.linked else (),
    )


def _finite(value: float | None) -> float | None:
    # JSON and some databases reject infinities; a burn rate over zero expected spend is stored as None.
    if value is None or value != value or value in (float("inf"), float("-inf")):
        return None
    return value


def values_of(state: IncidentState) -> dict[str, Any]:
    return {
        "id": state.id,
        "fingerprint": state.fingerprint,
        "open_key": state.fingerprint if state.is_open else None,
        "product": state.product,
        "cost_line": state.cost_line,
        "currency": state.currency,
        "scope": state.scope,
        "status": state.status,
        "severity": state.severity.value,
        "peak_severity": state.peak_severity.value,
        "opened_at": state.opened_at,
        "updated_at": state.updated_at,
        "resolved_at": state.resolved_at,
        "in_band_since": state.in_band_since,
        "period_start": state.period_start,
        "period_end": state.period_end,
        "impact": state.impact,
        "peak_impact": state.peak_impact,
        "actual": state.actual,
        "expected": state.expected,
        "burn_rate": _finite(state.burn_rate),
        "projected_month_impact": state.projected_month_impact,
        "notified_severity": state.notified_severity.value if state.notified_severity else None,
        "notified_impact": state.notified_impact,
        "notified_at": state.notified_at,
        "notify_seq": state.notify_seq,
        "receivers": json.dumps(list(state.receivers)),
        "feedback": state.feedback,
        "muted_by": state.muted_by,
        "labels": json.dumps(state.labels, sort_keys=True),
        "anomalies": json.dumps(state.anomalies, sort_keys=True),
        "root_causes": json.dumps(state.root_causes),
        "reasons": json.dumps(list(state.reasons)),
        "resolution": state.resolution,
        "level_shift": json.dumps(state.level_shift) if state.level_shift is not None else None,
        "linked_to": state.linked_to,
        "linked": json.dumps(list(state.linked)) if state.linked else None,
    }


def load_open(conn: Connection, fingerprint: str) -> IncidentState | None:
    """The open incident of ``fingerprint``, locked for this transaction where the database can."""
    row = conn.execute(select(incidents).where(incidents.c.open_key == fingerprint).with_for_update()).first()
    return state_of(row) if row is not None else None


def open_fingerprints(conn: Connection) -> set[str]:
    """Fingerprints with an open incident: a sweep skips the quiet series that have none in one query."""
    return {
        str(k) for (k,) in conn.execute(select(incidents.c.open_key).where(incidents.c.open_key.is_not(None)))
    }


def open_links(conn: Connection) -> dict[str, tuple[str, bool, str | None]]:
    """Every open incident by fingerprint: its id, whether it has notified, and its owner when linked."""
    query = select(
        incidents.c.open_key, incidents.c.id, incidents.c.notified_severity, incidents.c.linked_to
    ).where(incidents.c.open_key.is_not(None))
    return {str(k): (str(i), n is not None, lt) for k, i, n, lt in conn.execute(query)}


def open_members(conn: Connection, owner_id: str) -> list[IncidentState]:
    """The open incidents linked to the incident ``owner_id`` (locked: the caller closes them)."""
    query = select(incidents).where(incidents.c.open_key.is_not(None), incidents.c.linked_to == owner_id)
    return [state_of(row) for row in conn.execute(query.with_for_update())]


def open_states(conn: Connection, fingerprints: Iterable[str]) -> list[IncidentState]:
    """The open incidents of these fingerprints (series quiet this sweep whose incident waits to resolve)."""
    wanted = sorted(set(fingerprints))
    if not wanted:
        return []
    query = select(incidents).where(incidents.c.open_key.in_(wanted))
    return [state_of(row) for row in conn.execute(query)]


def load(conn: Connection, incident_id: str, *, lock: bool = False) -> IncidentState | None:
    query = select(incidents).where(incidents.c.id == incident_id)
    row = conn.execute(query.with_for_update() if lock else query).first()
    return state_of(row) if row is not None else None


def save(conn: Connection, state: IncidentState, *, new: bool) -> None:
    values = values_of(state)
    if new:
        conn.execute(insert(incidents).values(**values))
    else:
        conn.execute(update(incidents).where(incidents.c.id == state.id).values(**values))


def add_event(
    conn: Connection, state: IncidentState, kind: str, at: datetime, detail: dict[str, Any] | None = None
) -> None:
    conn.execute(
        insert(incident_events).values(
            incident_id=state.id,
            at=at,
            kind=kind,
            severity=state.peak_severity.value,
            impact=state.impact,
            detail=json.dumps(detail or {}, default=str),
        )
    )
