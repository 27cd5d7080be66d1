"""The dispatcher: delivers outbox rows to their receivers through small stages, Alertmanager-style.

claim (a lease, so two dispatchers never send one row at once and a crashed one's rows come back after
the lease) → order (a row waits while an earlier row of the same receiver and incident fingerprint is
unfinished, so a resolve never overtakes its trigger) → dedup (over the notification log) → rate limit
(per routing key) → send → record (the notification log and the row, together, only after success).

Failures: 429, 5xx and network errors are retried with exponential backoff and jitter (honouring
``Retry-After``) up to ``max_attempts``; any other failure is recorded as failed with its reason and
never retried. A row given up for good opens (or extends) its receiver's delivery incident in the same
transaction, and the next success to that receiver resolves it (``alerts.delivery``): nothing fails
silently. A crash after a send but before the record redelivers once; receivers are idempotent by
fingerprint (PagerDuty's ``dedup_key``), so a page is never duplicated, and nothing is ever lost.
"""

from __future__ import annotations

import json
import logging
import random
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Engine, Row, and_, exists, insert, or_, select, update
from sqlalchemy.exc import IntegrityError

from alerts.dedup import LogEntry, dedup
from alerts.delivery import DeliveryAlarm, Failure
from alerts.notification import DeliveryError, Notification, Notifier
from alerts.outbox import DELIVERED, FAILED, PENDING, SENDING, SKIPPED
from alerts.rate_limit import TokenBuckets
from alerts.tables import aware, notification_log, outbox
from core.clock import Clock

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RetryPolicy:
    base_seconds: float = 5.0
    max_seconds: float = 900.0
    max_attempts: int = 15  # about a day of retries at the cap

    def delay(self, attempt: int, rng: random.Random) -> float:
        """Exponential backoff with "equal jitter": half fixed, half random, so that a crowd of
        retries after an outage spreads out instead of arriving together."""
        ceiling = min(self.max_seconds, self.base_seconds * 2.0 ** max(0, attempt - 1))
        return ceiling / 2 + rng.uniform(0, ceiling / 2)


@dataclass
class DispatchReport:
    delivered: int = 0
    retried: int = 0
    failed: int = 0
    skipped: int = 0
    deferred: int = 0  # held back by the rate limit, not counted as an attempt
    errors: list[str] = field(default_factory=list)

    @property
    def handled(self) -> int:
        return self.delivered + self.retried + self.failed + self.skipped + self.deferred


class Dispatcher:
    def __init__(
        self,
        engine: Engine,
        notifiers: Mapping[str, Notifier],
        clock: Clock,
        *,
        owner: str | None = None,
        lease: timedelta = timedelta(minutes=2),
        retry: RetryPolicy | None = None,
        per_minute: float = 120.0,
        rng: random.Random | None = None,
        alarm: DeliveryAlarm | None = None,
    ) -> None:
        self.engine = engine
        self.notifiers = dict(notifiers)
        self.clock = clock
        self.owner = owner or uuid.uuid4().hex
        self.lease = lease
        self.retry = retry or RetryPolicy()
        self.buckets = TokenBuckets(per_minute)
        self.rng = rng or random.Random()
        self.alarm = alarm or DeliveryAlarm()

    def __repr__(self) -> str:
        return f"Dispatcher(owner={self.owner!r}, receivers={sorted(self.notifiers)!r})"

    # -- claim --------------------------------------------------------------------------------------

    def _claimable(self, now: datetime) -> ColumnElement[bool]:
        due = or_(
            and_(outbox.c.status == PENDING, outbox.c.next_attempt_at <= now),
            and_(outbox.c.status == SENDING, outbox.c.lease_until < now),
        )
        earlier = outbox.alias("earlier")
        blocked = exists().where(
            earlier.c.receiver == outbox.c.receiver,
            earlier.c.fingerprint == outbox.c.fingerprint,
            earlier.c.id < outbox.c.id,
            earlier.c.status.in_((PENDING, SENDING)),
        )
        return and_(due, ~blocked)

    def claim(self, limit: int = 50) -> list[int]:
        """Lease up to ``limit`` due rows to this dispatcher; return their ids, oldest first."""
        now = self.clock.now()
        claimed: list[int] = []
        with self.engine.begin() as conn:
            ids = conn.execute(
                select(outbox.c.id).where(self._claimable(now)).order_by(outbox.c.id).limit(limit)
            ).scalars()
            for entry_id in list(ids):
                # Compare-and-set: only one dispatcher wins a row even without row locks (SQLite).
                due = or_(
                    and_(outbox.c.status == PENDING, outbox.c.next_attempt_at <= now),
                    and_(outbox.c.status == SENDING, outbox.c.lease_until < now),
                )
                result = conn.execute(
                    update(outbox)
                    .where(outbox.c.id == entry_id, due)
                    .values(status=SENDING, lease_owner=self.owner, lease_until=now + self.lease)
                )
                if result.rowcount == 1:
                    claimed.append(entry_id)
        return claimed

    # -- deliver ------------------------------------------------------------------------------------

    def run_once(self, limit: int = 50) -> DispatchReport:
        """Claim what is due and deliver it; never sleeps."""
        report = DispatchReport()
        for entry_id in self.claim(limit):
            self._deliver(entry_id, report)
        return report

    def _deliver(self, entry_id: int, report: DispatchReport) -> None:
        with self.engine.connect() as conn:
            row = conn.execute(select(outbox).where(outbox.c.id == entry_id)).one()
            logged = conn.execute(
                select(notification_log).where(
                    notification_log.c.receiver == row.receiver,
                    notification_log.c.fingerprint == row.fingerprint,
                )
            ).first()
        notification = Notification.from_dict(json.loads(row.payload))
        entry = LogEntry(logged.incident_id, logged.seq) if logged is not None else None
        decision = dedup(row.incident_id, row.seq, entry)
        if not decision.send:
            self._finish(entry_id, SKIPPED, decision.reason)
            report.skipped += 1
            return
        notifier = self.notifiers.get(row.receiver)
        if notifier is None:
            self._give_up(
                row, notification, f"no receiver named {row.receiver!r} is configured", attempts=None
            )
            report.failed += 1
            return
        if notifier.rate_key is not None:
            wait = self.buckets.take(notifier.rate_key, self.clock.now())
            if wait > 0:
                self._release(entry_id, self.clock.now() + timedelta(seconds=wait), row.attempts, None)
                report.deferred += 1
                return
        try:
            notifier.send(notification)
        except DeliveryError as exc:
            self._failed_attempt(row, exc, report)
            return
        except Exception as exc:  # a notifier bug must not stop the queue; its message may hold data
            self._failed_attempt(
                row, DeliveryError(f"internal error ({type(exc).__name__})", retryable=True), report
            )
            log.exception("notifier %s raised", row.receiver)
            return
        self._record(row, notification)
        report.delivered += 1
        log.info("delivered %s %s to %s", row.action, row.event_key, row.receiver)

    def _failed_attempt(self, row: Row[Any], exc: DeliveryError, report: DispatchReport) -> None:
        attempts = int(row.attempts) + 1
        entry_id = int(row.id)
        report.errors.append(exc.reason)
        if not exc.retryable or attempts >= self.retry.max_attempts:
            reason = exc.reason if not exc.retryable else f"gave up after {attempts} attempts: {exc.reason}"
            self._give_up(row, Notification.from_dict(json.loads(row.payload)), reason, attempts=attempts)
            report.failed += 1
            log.warning("notification %s to %s failed: %s", row.event_key, row.receiver, reason)
            return
        delay = self.retry.delay(attempts, self.rng)
        if exc.retry_after is not None:
            delay = max(delay, min(exc.retry_after, self.retry.max_seconds))
        self._release(entry_id, self.clock.now() + timedelta(seconds=delay), attempts, exc.reason)
        report.retried += 1
        log.info(
            "notification %s to %s will be retried in %.1fs: %s",
            row.event_key,
            row.receiver,
            delay,
            exc.reason,
        )

    def _give_up(self, row: Row[Any], n: Notification, reason: str, *, attempts: int | None) -> None:
        """Mark the row failed and raise its receiver's delivery alarm, in one transaction."""
        now = self.clock.now()
        values: dict[str, object] = {
            "status": FAILED,
            "last_error": reason,
            "finished_at": now,
            "lease_owner": None,
            "lease_until": None,
        }
        if attempts is not None:
            values["attempts"] = attempts
        failure = Failure(outbox_id=int(row.id), receiver=str(row.receiver), notification=n, reason=reason)
        for attempt in range(2):
            try:
                with self.engine.begin() as conn:
                    done = conn.execute(
                        update(outbox)
                        .where(outbox.c.id == row.id, outbox.c.lease_owner == self.owner)
                        .values(**values)
                    )
                    if done.rowcount == 1:  # still ours: a dispatcher whose lease ran out raises nothing
                        self.alarm.gave_up(conn, failure, now)
                return
            except IntegrityError:
                # Another dispatcher opened this receiver's delivery incident first: the retry extends it.
                if attempt == 1:
                    raise

    def _release(self, entry_id: int, at: datetime, attempts: int, error: str | None) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                update(outbox)
                .where(outbox.c.id == entry_id, outbox.c.lease_owner == self.owner)
                .values(
                    status=PENDING,
                    next_attempt_at=at,
                    attempts=attempts,
                    last_error=error,
                    lease_owner=None,
                    lease_until=None,
                )
            )

    def _finish(self, entry_id: int, status: str, reason: str | None, *, attempts: int | None = None) -> None:
        values: dict[str, object] = {
            "status": status,
            "last_error": reason,
            "finished_at": self.clock.now(),
            "lease_owner": None,
            "lease_until": None,
        }
        if attempts is not None:
            values["attempts"] = attempts
        with self.engine.begin() as conn:
            conn.execute(
                update(outbox)
                .where(outbox.c.id == entry_id, outbox.c.lease_owner == self.owner)
                .values(**values)
            )

    def _record(self, row: Row[Any], n: Notification) -> None:
        # The notification log and the row's status change together, only after the receiver accepted.
        now = self.clock.now()
        receiver, fingerprint = row.receiver, row.fingerprint
        values = {
            "incident_id": n.incident_id,
            "seq": n.seq,
            "action": n.action,
            "severity": n.severity,
            "event_key": row.event_key,
            "sent_at": now,
        }
        for _ in range(2):
            try:
                with self.engine.begin() as conn:
                    done = conn.execute(
                        update(notification_log)
                        .where(
                            notification_log.c.receiver == receiver,
                            notification_log.c.fingerprint == fingerprint,
                        )
                        .values(**values)
                    )
                    if done.rowcount == 0:
                        conn.execute(
                            insert(notification_log).values(
                                receiver=receiver, fingerprint=fingerprint, **values
                            )
                        )
                    conn.execute(
                        update(outbox)
                        .where(outbox.c.id == row.id)
                        .values(
                            status=DELIVERED,
                            finished_at=now,
                            lease_owner=None,
                            lease_until=None,
                            last_error=None,
                            attempts=row.attempts + 1,
                        )
                    )
                    # A success shows the receiver works again: its delivery incident, if any, resolves.
                    self.alarm.recovered(conn, receiver, now)
                return
            except IntegrityError:
                continue  # another dispatcher inserted the log row first: update it on the second pass

    # -- loops --------------------------------------------------------------------------------------

    def next_due(self) -> datetime | None:
        """When the earliest unfinished row becomes due (its lease end for a row being sent)."""
        with self.engine.connect() as conn:
            pending = conn.execute(
                select(outbox.c.next_attempt_at)
                .where(outbox.c.status == PENDING)
                .order_by(outbox.c.next_attempt_at)
                .limit(1)
            ).scalar()
            leased = conn.execute(
                select(outbox.c.lease_until)
                .where(outbox.c.status == SENDING)
                .order_by(outbox.c.lease_until)
                .limit(1)
            ).scalar()
        times = [aware(t) for t in (pending, leased) if t is not None]
        return min(times) if times else None

    def run_until_idle(
        self, *, timeout: float = 30.0, sleep: Callable[[float], None] = time.sleep, max_wait: float = 1.0
    ) -> DispatchReport:
        """Deliver until nothing is left to do or ``timeout`` wall seconds pass (tests, CLI sweeps)."""
        total = DispatchReport()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            report = self.run_once()
            for name in ("delivered", "retried", "failed", "skipped", "deferred"):
                setattr(total, name, getattr(total, name) + getattr(report, name))
            total.errors += report.errors
            if report.handled:
                continue
            due = self.next_due()
            if due is None:
                break
            wait = (due - self.clock.now()).total_seconds()
            sleep(min(max(wait, 0.01), max_wait))
        return total

    def run_forever(self, stop: threading.Event, *, poll_seconds: float = 2.0) -> None:
        """The serve loop: poll until ``stop`` is set. Errors are logged and the loop carries on."""
        while not stop.is_set():
            try:
                report = self.run_once()
            except Exception:
                log.exception("dispatcher pass failed")
                report = DispatchReport()
            if not report.handled:
                stop.wait(poll_seconds)
