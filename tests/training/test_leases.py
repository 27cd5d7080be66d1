"""Leases: one sweep / one training at a time across replicas, and a dead replica's run finished by another."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, select

from training.leases import Lease, last_runs, run_exclusive
from training.tables import job_runs


def test_lease_is_exclusive_renewable_and_expires(engine: Engine) -> None:
    # Two seconds: long enough that a loaded CI machine cannot let the lease lapse between two statements.
    a = Lease(engine, "sweep", owner="a", ttl=timedelta(seconds=2))
    b = Lease(engine, "sweep", owner="b", ttl=timedelta(seconds=2))
    assert a.acquire() and not b.acquire()
    assert a.renew() and not b.renew()
    assert b.lost.is_set() and not a.lost.is_set()
    time.sleep(2.3)  # a stopped renewing: its lease is free for b
    assert b.acquire() and not a.renew()
    b.release()
    assert a.acquire()


def test_other_jobs_do_not_share_a_lease(engine: Engine) -> None:
    assert Lease(engine, "sweep", owner="a").acquire()
    assert Lease(engine, "train", owner="b").acquire()


def test_run_exclusive_skips_while_another_replica_holds_the_lease(engine: Engine) -> None:
    holder = Lease(engine, "sweep", owner="other", ttl=timedelta(minutes=5))
    assert holder.acquire()
    calls: list[object] = []
    outcome = run_exclusive(engine, "sweep", calls.append, as_of=datetime(2026, 9, 1, tzinfo=UTC))
    assert not outcome.ran and calls == [] and "another replica" in outcome.reason


def test_a_dead_replicas_run_is_finished_first(engine: Engine) -> None:
    dead = Lease(engine, "sweep", owner="dead", ttl=timedelta(seconds=0.3))
    assert dead.acquire()
    with engine.begin() as conn:
        conn.execute(
            job_runs.insert().values(
                id="r-dead",
                name="sweep",
                owner="dead",
                status="running",
                as_of=datetime(2026, 9, 1, tzinfo=UTC),
                started_at=datetime.now(UTC),
                attempts="1",
            )
        )
    time.sleep(0.4)
    seen: list[datetime | None] = []
    outcome = run_exclusive(
        engine, "sweep", seen.append, as_of=datetime(2026, 9, 2, tzinfo=UTC), summarize=lambda _: {"ok": True}
    )
    assert outcome.ran and outcome.recovered == ["r-dead"]
    assert [s.replace(tzinfo=UTC) if s and s.tzinfo is None else s for s in seen] == [
        datetime(2026, 9, 1, tzinfo=UTC),
        datetime(2026, 9, 2, tzinfo=UTC),
    ]
    with engine.connect() as conn:
        rows = {r.id: r for r in conn.execute(select(job_runs))}
    assert rows["r-dead"].status == "done" and rows["r-dead"].attempts == "2"
    assert last_runs(engine)["sweep"]["status"] == "done"


def test_a_failing_job_is_recorded_and_releases_the_lease(engine: Engine) -> None:
    def boom(_: datetime | None) -> None:
        raise RuntimeError("disk on fire")

    with pytest.raises(RuntimeError):
        run_exclusive(engine, "train", boom, as_of=None)
    run = last_runs(engine)["train"]
    assert run["status"] == "failed" and "disk on fire" in run["summary"]["error"]
    assert Lease(engine, "train", owner="next").acquire()
