"""Feedback on an incident: ``expected`` (a known change), ``not_anomaly`` (the model was wrong) or
``confirmed`` (a real problem being handled). Any feedback stops re-notification of that incident (its
resolve is still sent, so a page is always closed); the first two also keep its periods out of training.

``expected`` on an open incident whose step is still going on (the sweep read a level shift under it)
learns that level as the series' new normal at once (``alerts.rebaseline``): the incident resolves with
the resolution ``new normal`` and its receivers are told, with the $ a month the new level adds.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Any, Literal, get_args

from sqlalchemy import Connection, Engine, insert

from alerts import incident_store
from alerts.lifecycle import IncidentState
from alerts.notification import Action
from alerts.outbox import enqueue
from alerts.rebaseline import record_rebaseline, resolve_as_new_normal
from alerts.summary import build_notification, incident_labels
from alerts.tables import feedback
from core.clock import Clock
from core.errors import InputError, NotFoundError

FeedbackKind = Literal["expected", "not_anomaly", "confirmed"]
KINDS: tuple[str, ...] = get_args(FeedbackKind)
EXCLUDED_FROM_TRAINING = ("expected", "not_anomaly")


def record_feedback(
    engine: Engine,
    clock: Clock,
    incident_id: str,
    kind: str,
    *,
    note: str | None = None,
    author: str | None = None,
    public_url: str = "http://127.0.0.1:8000",
) -> dict[str, Any]:
    """Store feedback on an incident and return the feedback entry as a dict (with the incident's
    ``resolution`` and the ``rebaseline`` learned, when ``expected`` made its level the new normal)."""
    if kind not in KINDS:
        raise InputError("kind", f"must be one of {', '.join(KINDS)}")
    if note is not None and len(note) > 4000:
        raise InputError("note", "must be at most 4000 characters")
    now = clock.now()
    learned = None
    with engine.begin() as conn:
        state = incident_store.load(conn, incident_id, lock=True)
        if state is None:
            raise NotFoundError(f"incident {incident_id} not found")
        conn.execute(
            insert(feedback).values(incident_id=incident_id, kind=kind, note=note, author=author, at=now)
        )
        updated = replace(state, feedback=kind)
        if kind == "expected" and state.is_open and state.level_shift is not None:
            updated = resolve_as_new_normal(updated, now)
            learned = record_rebaseline(conn, updated, reason="feedback", now=now)
            updated = _notify_resolved(conn, updated, f"{public_url.rstrip('/')}/incidents/{updated.id}", now)
        incident_store.save(conn, updated, new=False)
        incident_store.add_event(conn, updated, "feedback", now, {"kind": kind, "author": author})
        if learned is not None:
            detail = {
                "resolution": updated.resolution,
                "rebaseline": learned.id,
                **(updated.level_shift or {}),
            }
            incident_store.add_event(conn, updated, "resolved", now, detail)
    return {
        "incident_id": incident_id,
        "kind": kind,
        "note": note,
        "author": author,
        "at": now.isoformat(),
        "resolution": updated.resolution,
        "rebaseline": learned.to_dict() if learned is not None else None,
    }


def _notify_resolved(conn: Connection, state: IncidentState, link: str, now: datetime) -> IncidentState:
    """Queue the resolve for every receiver told about ``state`` (none when nobody was), as a sweep would."""
    if state.notified_severity is None or not state.receivers:
        return state
    labels = incident_labels(state)
    seq = state.notify_seq + 1
    action: Action = "resolve"
    for receiver in state.receivers:
        enqueue(conn, build_notification(state, action, seq=seq, link=link, labels=labels), receiver, now)
    return replace(state, notify_seq=seq, notified_at=now)
