"""The transactional outbox: notifications are written on the caller's connection, inside the same
transaction as the incident change that caused them, so either both are stored or neither is. The
dispatcher delivers them later; these functions also let operators see and requeue what failed.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, func, insert, select, update

from alerts.notification import Notification
from alerts.tables import aware, aware_opt, outbox
from core.errors import ConflictError, NotFoundError

PENDING, SENDING, DELIVERED, FAILED, SKIPPED = "pending", "sending", "delivered", "failed", "skipped"


@dataclass(frozen=True)
class OutboxEntry:
    id: int
    event_key: str
    incident_id: str
    fingerprint: str
    receiver: str
    action: str
    seq: int
    status: str
    attempts: int
    next_attempt_at: datetime
    last_error: str | None
    created_at: datetime
    finished_at: datetime | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "receiver": self.receiver,
            "action": self.action,
            "seq": self.seq,
            "status": self.status,
            "attempts": self.attempts,
            "next_attempt_at": self.next_attempt_at.isoformat(),
            "last_error": self.last_error,
            "created_at": self.created_at.isoformat(),
            "finished_at": self.finished_at.isoformat() if self.finished_at else None,
        }


def entry_of(row: Any) -> OutboxEntry:
    return OutboxEntry(
        id=row.id,
        event_key=row.event_key,
        incident_id=row.incident_id,
        fingerprint=row.fingerprint,
        receiver=row.receiver,
        action=row.action,
        seq=row.seq,
        status=row.status,
        attempts=row.attempts,
        next_attempt_at=aware(row.next_attempt_at),
        last_error=row.last_error,
        created_at=aware(row.created_at),
        finished_at=aware_opt(row.finished_at),
    )


def enqueue(conn: Connection, notification: Notification, receiver: str, now: datetime) -> None:
    """Queue ``notification`` for ``receiver`` on ``conn`` (the caller owns the transaction)."""
    conn.execute(
        insert(outbox).values(
            event_key=f"{notification.event_key}:{receiver}",
            incident_id=notification.incident_id,
            fingerprint=notification.fingerprint,
            receiver=receiver,
            action=notification.action,
            seq=notification.seq,
            payload=json.dumps(notification.to_dict(), default=str),
            status=PENDING,
            attempts=0,
            next_attempt_at=now,
            created_at=now,
        )
    )


def list_outbox(
    engine: Engine, *, status: str | None = None, incident_id: str | None = None, limit: int = 100
) -> list[OutboxEntry]:
    query = select(outbox).order_by(outbox.c.id.desc()).limit(limit)
    if status is not None:
        query = query.where(outbox.c.status == status)
    if incident_id is not None:
        query = query.where(outbox.c.incident_id == incident_id)
    with engine.connect() as conn:
        return [entry_of(r) for r in conn.execute(query)]


def outbox_counts(engine: Engine) -> dict[str, int]:
    """Rows per status, for metrics and readiness."""
    with engine.connect() as conn:
        rows = conn.execute(select(outbox.c.status, func.count()).group_by(outbox.c.status))
        return {str(status): int(count) for status, count in rows}


def requeue(engine: Engine, entry_id: int, now: datetime) -> OutboxEntry:
    """Put a failed notification back in the queue (after fixing a receiver's configuration)."""
    with engine.begin() as conn:
        row = conn.execute(select(outbox).where(outbox.c.id == entry_id)).first()
        if row is None:
            raise NotFoundError(f"outbox entry {entry_id} not found")
        if row.status != FAILED:
            raise ConflictError(f"outbox entry {entry_id} is {row.status}, only failed entries are requeued")
        conn.execute(
            update(outbox)
            .where(outbox.c.id == entry_id)
            .values(status=PENDING, attempts=0, next_attempt_at=now, finished_at=None, last_error=None)
        )
        fresh = conn.execute(select(outbox).where(outbox.c.id == entry_id)).one()
    return entry_of(fresh)
