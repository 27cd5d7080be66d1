"""An injectable clock: domain logic asks a ``Clock`` for the time instead of calling ``datetime.now()``."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Protocol

from core.errors import InputError


class Clock(Protocol):
    def now(self) -> datetime: ...


def not_in_future(at: datetime | None, clock: Clock, field: str) -> datetime | None:
    """``at`` as aware UTC, or ``InputError`` naming ``field`` when it is after ``clock``'s now.

    Sweeps, trainings and replays judge the past with the facts known then; a time to come has none yet.
    """
    if at is None:
        return None
    aware = at if at.tzinfo else at.replace(tzinfo=UTC)
    now = clock.now()
    if aware > now:
        raise InputError(
            field, f"{aware.isoformat()} is in the future (now is {now.isoformat(timespec='seconds')})"
        )
    return aware


class SystemClock:
    """The wall clock, always timezone-aware UTC."""

    def now(self) -> datetime:
        return datetime.now(UTC)


class FixedClock:
    """A clock that stays where it is put; tests and replays move it by hand."""

    def __init__(self, at: datetime) -> None:
        self._at = at if at.tzinfo else at.replace(tzinfo=UTC)

    def now(self) -> datetime:
        return self._at

    def set(self, at: datetime) -> None:
        self._at = at if at.tzinfo else at.replace(tzinfo=UTC)


class AdvancingClock:
    """A clock that is set to a time and runs on from it at wall-clock speed.

    A replay stamps the outbox with its own time; delivering on the wall clock would find rows stamped after
    "now" never due. This clock stands at the replay's time, so those rows are due at once, and still moves,
    so a retry's backoff passes while the replay waits for its deliveries.
    """

    def __init__(self, at: datetime) -> None:
        self.set(at)

    def set(self, at: datetime) -> None:
        self._base = at if at.tzinfo else at.replace(tzinfo=UTC)
        self._started = time.monotonic()

    def now(self) -> datetime:
        return self._base + timedelta(seconds=time.monotonic() - self._started)
