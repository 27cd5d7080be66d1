"""Leases in the state database, so that across replicas one sweep and one training run at a time.

A lease is a row per job name with an owner and an expiry. It is taken by compare-and-set (free, expired
or already ours), renewed by a heartbeat while the work runs, and released at the end. A replica that dies
stops renewing; once the lease expires another replica takes it and finishes the dead one's run (runs are
recorded in ``job_runs``; sweeps and trainings are idempotent, so redoing one is safe). Leases use the wall
clock: they are about liveness, not about the time a sweep evaluates.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, insert, or_, select, update
from sqlalchemy.exc import IntegrityError

from core.clock import Clock, SystemClock
from training.tables import job_leases, job_runs

log = logging.getLogger(__name__)


def default_owner() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


def _aware(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


class Lease:
    def __init__(
        self,
        engine: Engine,
        name: str,
        *,
        owner: str | None = None,
        ttl: timedelta = timedelta(seconds=60),
        clock: Clock | None = None,
    ) -> None:
        self.engine = engine
        self.name = name
        self.owner = owner or default_owner()
        self.ttl = ttl
        self.clock = clock or SystemClock()
        self.lost = threading.Event()

    def acquire(self, run_id: str | None = None) -> bool:
        now = self.clock.now()
        values = {"owner": self.owner, "run_id": run_id, "expires_at": now + self.ttl}
        with self.engine.begin() as conn:
            taken = conn.execute(
                update(job_leases)
                .where(
                    job_leases.c.name == self.name,
                    or_(job_leases.c.expires_at < now, job_leases.c.owner == self.owner),
                )
                .values(**values)
            ).rowcount
        if taken == 1:
            return True
        try:
            with self.engine.begin() as conn:
                conn.execute(insert(job_leases).values(name=self.name, **values))
            return True
        except IntegrityError:
            return False  # another replica holds it

    def renew(self) -> bool:
        now = self.clock.now()
        with self.engine.begin() as conn:
            renewed = conn.execute(
                update(job_leases)
                .where(job_leases.c.name == self.name, job_leases.c.owner == self.owner)
                .values(expires_at=now + self.ttl)
            ).rowcount
        if renewed != 1:
            self.lost.set()
        return renewed == 1

    def release(self) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                update(job_leases)
                .where(job_leases.c.name == self.name, job_leases.c.owner == self.owner)
                .values(expires_at=self.clock.now() - timedelta(seconds=1), run_id=None)
            )

    def heartbeat(self) -> Callable[[], None]:
        """Renew every third of the TTL in a daemon thread; returns the function that stops it."""
        stop = threading.Event()

        def beat() -> None:
            while not stop.wait(self.ttl.total_seconds() / 3):
                try:
                    if not self.renew():
                        log.warning("lease %s lost by %s", self.name, self.owner)
                        return
                except Exception:  # a database blip: try again at the next beat
                    log.warning("lease %s renewal failed", self.name, exc_info=True)

        thread = threading.Thread(target=beat, name=f"lease-{self.name}", daemon=True)
        thread.start()

        def stop_beating() -> None:
            stop.set()
            thread.join(timeout=5)

        return stop_beating


@dataclass
class JobOutcome:
    name: str
    ran: bool
    run_id: str | None = None
    recovered: list[str] = field(default_factory=list)  # runs of dead replicas finished here
    result: Any = None
    reason: str = ""


def _start_run(engine: Engine, name: str, owner: str, as_of: datetime | None, now: datetime) -> str:
    run_id = str(uuid.uuid4())
    with engine.begin() as conn:
        conn.execute(
            insert(job_runs).values(
                id=run_id, name=name, owner=owner, status="running", as_of=as_of, started_at=now, attempts="1"
            )
        )
    return run_id


def _finish_run(engine: Engine, run_id: str, status: str, summary: dict[str, Any], now: datetime) -> None:
    with engine.begin() as conn:
        conn.execute(
            update(job_runs)
            .where(job_runs.c.id == run_id)
            .values(status=status, finished_at=now, summary=json.dumps(summary, default=str))
        )


def run_exclusive(
    engine: Engine,
    name: str,
    work: Callable[[datetime | None], Any],
    *,
    as_of: datetime | None,
    ttl: timedelta = timedelta(seconds=60),
    owner: str | None = None,
    summarize: Callable[[Any], dict[str, Any]] = lambda r: {},
) -> JobOutcome:
    """Run ``work(as_of)`` if no other replica runs job ``name``; first finish any run a dead replica left."""
    lease = Lease(engine, name, owner=owner, ttl=ttl)
    wall = lease.clock
    if not lease.acquire():
        return JobOutcome(name, ran=False, reason="another replica holds the lease")
    stop = lease.heartbeat()
    outcome = JobOutcome(name, ran=True)
    try:
        # Holding the lease, any run still marked running belongs to a replica that died mid-way.
        with engine.connect() as conn:
            orphans = conn.execute(
                select(job_runs.c.id, job_runs.c.as_of, job_runs.c.attempts)
                .where(job_runs.c.name == name, job_runs.c.status == "running")
                .order_by(job_runs.c.started_at)
            ).all()
        for orphan in orphans:
            with engine.begin() as conn:
                conn.execute(
                    update(job_runs)
                    .where(job_runs.c.id == orphan.id)
                    .values(owner=lease.owner, attempts=str(int(orphan.attempts) + 1))
                )
            try:
                result = work(_aware(orphan.as_of))
                _finish_run(
                    engine, orphan.id, "done", {**summarize(result), "recovered_by": lease.owner}, wall.now()
                )
            except Exception as exc:
                _finish_run(
                    engine, orphan.id, "failed", {"error": f"{type(exc).__name__}: {exc}"}, wall.now()
                )
                raise
            outcome.recovered.append(orphan.id)
        run_id = _start_run(engine, name, lease.owner, as_of, wall.now())
        outcome.run_id = run_id
        try:
            outcome.result = work(as_of)
        except Exception as exc:
            _finish_run(engine, run_id, "failed", {"error": f"{type(exc).__name__}: {exc}"}, wall.now())
            raise
        _finish_run(engine, run_id, "done", summarize(outcome.result), wall.now())
        return outcome
    finally:
        stop()
        lease.release()


def last_runs(engine: Engine) -> dict[str, dict[str, Any]]:
    """The newest run of each job, for metrics and the dashboard."""
    out: dict[str, dict[str, Any]] = {}
    with engine.connect() as conn:
        for row in conn.execute(select(job_runs).order_by(job_runs.c.started_at.desc()).limit(200)):
            if row.name in out:
                continue
            out[row.name] = {
                "id": row.id,
                "status": row.status,
                "as_of": _aware(row.as_of),
                "started_at": _aware(row.started_at),
                "finished_at": _aware(row.finished_at),
                "summary": json.loads(row.summary) if row.summary else {},
            }
    return out
