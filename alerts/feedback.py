"""Feedback on an incident: ``expected`` (a known change), ``not_anomaly`` (the model was wrong) or
``confirmed`` (a real problem being handled). Any feedback stops re-notification of that incident (its
resolve is still sent, so a page is always closed); the first two also keep its periods out of training.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any, Literal, get_args

from sqlalchemy import Engine, insert

from alerts import incident_store
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
) -> dict[str, Any]:
    """Store feedback on an incident and return the feedback entry as a dict."""
    if kind not in KINDS:
        raise InputError("kind", f"must be one of {', '.join(KINDS)}")
    if note is not None and len(note) > 4000:
        raise InputError("note", "must be at most 4000 characters")
    now = clock.now()
    with engine.begin() as conn:
        state = incident_store.load(conn, incident_id, lock=True)
        if state is None:
            raise NotFoundError(f"incident {incident_id} not found")
        conn.execute(
            insert(feedback).values(incident_id=incident_id, kind=kind, note=note, author=author, at=now)
        )
        updated = replace(state, feedback=kind)
        incident_store.save(conn, updated, new=False)
        incident_store.add_event(conn, updated, "feedback", now, {"kind": kind, "author": author})
    return {"incident_id": incident_id, "kind": kind, "note": note, "author": author, "at": now.isoformat()}
