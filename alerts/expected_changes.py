"""Expected-change windows: "this spend change is planned" (a migration, a load test, a launch).

A window is scoped by label matchers (the same syntax as routes: ``product="shop"``,
``cost_line=~"Compute|Storage"``), starts and ends at given times, mutes incidents whose labels it
matches while it is active, and (unless told otherwise) keeps its periods out of training.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, delete, insert, select, update

from alerts.matchers import match_all, parse_matchers
from alerts.tables import aware, expected_changes
from core.clock import Clock
from core.errors import InputError, NotFoundError


@dataclass(frozen=True)
class ExpectedChange:
    id: str
    name: str
    matchers: tuple[str, ...]
    starts_at: datetime
    ends_at: datetime
    mute: bool
    exclude_from_training: bool
    created_at: datetime
    created_by: str | None

    def active_at(self, at: datetime) -> bool:
        return self.starts_at <= at < self.ends_at

    def matches(self, labels: Mapping[str, str]) -> bool:
        return match_all(parse_matchers(self.matchers), labels)

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "matchers": list(self.matchers),
            "starts_at": self.starts_at.isoformat(),
            "ends_at": self.ends_at.isoformat(),
            "mute": self.mute,
            "exclude_from_training": self.exclude_from_training,
            "created_at": self.created_at.isoformat(),
            "created_by": self.created_by,
        }


def _change(row: Any) -> ExpectedChange:
    return ExpectedChange(
        id=row.id,
        name=row.name,
        matchers=tuple(json.loads(row.matchers)),
        starts_at=aware(row.starts_at),
        ends_at=aware(row.ends_at),
        mute=bool(row.mute),
        exclude_from_training=bool(row.exclude_from_training),
        created_at=aware(row.created_at),
        created_by=row.created_by,
    )


def create_expected_change(
    engine: Engine,
    clock: Clock,
    *,
    name: str,
    matchers: Sequence[str],
    starts_at: datetime,
    ends_at: datetime,
    mute: bool = True,
    exclude_from_training: bool = True,
    created_by: str | None = None,
) -> ExpectedChange:
    """Store a window; raise ``InputError`` for an empty name, bad matchers or an empty interval."""
    if not name.strip():
        raise InputError("name", "must not be empty")
    if isinstance(matchers, str) or not matchers:
        raise InputError("matchers", "at least one matcher is required (a window never matches everything)")
    parse_matchers(matchers)
    if starts_at.tzinfo is None or ends_at.tzinfo is None:
        raise InputError("starts_at", "times must carry a timezone")
    if ends_at <= starts_at:
        raise InputError("ends_at", "must be after starts_at")
    change_id = str(uuid.uuid4())
    with engine.begin() as conn:
        conn.execute(
            insert(expected_changes).values(
                id=change_id,
                name=name.strip(),
                matchers=json.dumps(list(matchers)),
                starts_at=starts_at,
                ends_at=ends_at,
                mute=mute,
                exclude_from_training=exclude_from_training,
                created_at=clock.now(),
                created_by=created_by,
            )
        )
    return get_expected_change(engine, change_id)


def get_expected_change(engine: Engine, change_id: str) -> ExpectedChange:
    with engine.connect() as conn:
        row = conn.execute(select(expected_changes).where(expected_changes.c.id == change_id)).first()
    if row is None:
        raise NotFoundError(f"expected change {change_id} not found")
    return _change(row)


def list_expected_changes(engine: Engine, *, active_at: datetime | None = None) -> list[ExpectedChange]:
    query = select(expected_changes).order_by(expected_changes.c.starts_at)
    if active_at is not None:
        query = query.where(expected_changes.c.starts_at <= active_at, expected_changes.c.ends_at > active_at)
    with engine.connect() as conn:
        return [_change(r) for r in conn.execute(query)]


def end_expected_change(engine: Engine, clock: Clock, change_id: str) -> ExpectedChange:
    """End a window now (kept for history; its past periods stay excluded from training)."""
    now = clock.now()
    current = get_expected_change(engine, change_id)
    with engine.begin() as conn:
        conn.execute(
            update(expected_changes)
            .where(expected_changes.c.id == change_id)
            .values(ends_at=max(current.starts_at, min(current.ends_at, now)))
        )
    return get_expected_change(engine, change_id)


def delete_expected_change(engine: Engine, change_id: str) -> None:
    with engine.begin() as conn:
        done = conn.execute(delete(expected_changes).where(expected_changes.c.id == change_id))
    if done.rowcount == 0:
        raise NotFoundError(f"expected change {change_id} not found")


def muting_change(conn: Connection, labels: Mapping[str, str], at: datetime) -> ExpectedChange | None:
    """The first active muting window whose matchers match ``labels`` at ``at``, if any."""
    rows = conn.execute(
        select(expected_changes)
        .where(
            expected_changes.c.mute.is_(True),
            expected_changes.c.starts_at <= at,
            expected_changes.c.ends_at > at,
        )
        .order_by(expected_changes.c.starts_at)
    )
    for row in rows:
        change = _change(row)
        if change.matches(labels):
            return change
    return None


def ended_change(conn: Connection, change_id: str, at: datetime) -> ExpectedChange | None:
    """The window ``change_id`` when it still exists and has ended by ``at`` (else ``None``)."""
    row = conn.execute(
        select(expected_changes).where(expected_changes.c.id == change_id, expected_changes.c.ends_at <= at)
    ).first()
    return _change(row) if row is not None else None
