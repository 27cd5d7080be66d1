"""Faults: the state database connection lost mid-sweep, a full disk under the fact store, a corrupt model.

A receiver that is down for a while (5xx and 429 answers, then recovery, each event delivered once) is
covered by ``tests/alerts/test_end_to_end.py::test_a_receiver_that_fails_then_recovers_gets_each_event_once``
and the dispatcher's retry tests in ``tests/alerts/test_dispatcher.py``.
"""

from __future__ import annotations

import os
import subprocess
import uuid
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, select, text
from sqlalchemy.exc import DBAPIError

import alerts.incident_store as incident_store
from alerts.dispatcher import Dispatcher
from alerts.service import AlertService
from alerts.tables import incidents, outbox
from core.clock import FixedClock, SystemClock
from core.db import make_engine, migrate
from core.errors import StoreError
from core.settings import Settings
from ingestion.demo_data import write_demo_export
from ingestion.fact_store import FactStore
from ingestion.ingest import Ingestor
from models.registry import ModelRegistry
from tests.alerts.factories import T0, evaluation
from tests.alerts.receiver_server import Receiver, running
from tests.alerts.test_end_to_end import FAST, routing_for
from tests.conftest import PG_URL
from tests.ingestion.focus_rows import hourly_rows, write_csv
from tests.security.snapshots import facts_snapshot
from training import sweep_job
from training.sweep_job import run_sweep
from training.train_job import train_all

H = timedelta(hours=1)
CLOCK = FixedClock(datetime(2026, 11, 1, tzinfo=UTC))
PRODUCTS = ("shop", "search", "ads")


# -- PostgreSQL connection lost during a sweep ---------------------------------------------------------


@pytest.fixture
def pg() -> Iterator[tuple[Engine, Engine, str]]:
    """``(engine of the service, admin engine, the service's application_name)`` on a fresh schema."""
    if not PG_URL:
        pytest.skip("SPENDSENTRY_TEST_DATABASE_URL is not set: PostgreSQL fault tests not run")
    schema, app_name = f"t_{uuid.uuid4().hex[:12]}", f"spendsentry-fault-{uuid.uuid4().hex[:8]}"
    admin = make_engine(PG_URL)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    engine = make_engine(
        PG_URL, connect_args={"options": f"-csearch_path={schema}", "application_name": app_name}
    )
    migrate(engine)
    try:
        yield engine, admin, app_name
    finally:
        engine.dispose()
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def terminate_backends(admin: Engine, app_name: str) -> int:
    """What a server restart does to the service: every one of its connections is cut."""
    with admin.begin() as conn:
        killed = conn.execute(
            text(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE application_name = :name AND pid <> pg_backend_pid()"
            ),
            {"name": app_name},
        ).scalar_one()
    return int(killed)


def alerting_for(engine: Engine, receiver: Receiver, client: httpx.Client) -> Any:
    routing = routing_for(receiver, tickets=False)
    clock = SystemClock()  # the dispatcher's backoff runs in real (short) time
    return SimpleNamespace(
        service=AlertService(engine, clock, routing),
        dispatcher=Dispatcher(engine, routing.notifiers(client), clock, retry=FAST),
    )


def paging_sweep(monkeypatch: pytest.MonkeyPatch) -> None:
    """The sweep's verdicts: three series paging at once (the detector is not what is under test)."""

    def evaluate(self: Any, as_of: datetime, report: Any, progress: Any = None) -> list[Any]:
        report.series = report.evaluated = len(PRODUCTS)
        return [evaluation(as_of, burn=(4.0, 4.0), impact=900.0, product=p) for p in PRODUCTS]

    monkeypatch.setattr(sweep_job.Sweeper, "evaluate", evaluate)


def assert_one_incident_and_one_page_each(engine: Engine, receiver: Receiver) -> None:
    with engine.connect() as conn:
        rows = conn.execute(select(incidents.c.fingerprint, incidents.c.status)).all()
        queued = conn.execute(select(outbox.c.fingerprint, outbox.c.action, outbox.c.status)).all()
    assert sorted(Counter(r.fingerprint for r in rows).values()) == [1, 1, 1]
    assert {r.status for r in rows} == {"open"}
    assert sorted((r.action, r.status) for r in queued) == [("open", "delivered")] * 3
    triggers = Counter(fp for action, fp in receiver.pagerduty_events() if action == "trigger")
    assert sorted(triggers) == sorted(r.fingerprint for r in rows) and set(triggers.values()) == {1}


@pytest.mark.postgres
def test_connection_lost_inside_the_incident_transaction(
    pg: tuple[Engine, Engine, str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    engine, admin, app_name = pg
    settings = Settings(data_dir=tmp_path / "data", _env_file=None)  # type: ignore[call-arg]
    paging_sweep(monkeypatch)
    original, calls = incident_store.add_event, Counter[str]()

    def add_event_then_lose_the_server(conn: Any, state: Any, *args: Any, **kwargs: Any) -> None:
        # The second series' incident is saved and its page queued, but not yet committed: cut here.
        calls[state.product] += 1
        if state.product == "search" and calls["search"] == 1:
            assert terminate_backends(admin, app_name) >= 1
        original(conn, state, *args, **kwargs)

    monkeypatch.setattr(incident_store, "add_event", add_event_then_lose_the_server)
    with running(Receiver()) as receiver, httpx.Client(timeout=5.0) as client:
        alerting = alerting_for(engine, receiver, client)
        with pytest.raises(DBAPIError):  # the sweep fails cleanly: an error, nothing half-written
            run_sweep(settings, engine, CLOCK, at=T0 + H, alerting=alerting)
        with engine.connect() as conn:
            committed = conn.execute(select(incidents.c.product, incidents.c.notify_seq)).all()
            queued = conn.execute(select(outbox.c.fingerprint)).all()
        # "shop" committed whole before the cut; "search" left no incident without its notification.
        assert [r.product for r in committed] == ["shop"] and len(queued) == 1
        # The next sweep (the scheduler's next run) finds a fresh connection and completes the work.
        report = run_sweep(settings, engine, CLOCK, at=T0 + H, alerting=alerting)
        assert report.incidents["opened"] == 2 and report.delivered["delivered"] == 3
        run_sweep(settings, engine, CLOCK, at=T0 + 2 * H, alerting=alerting)  # and again: no twin
        assert_one_incident_and_one_page_each(engine, receiver)


@pytest.mark.postgres
def test_connection_lost_between_the_sweep_and_delivery(
    pg: tuple[Engine, Engine, str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    engine, admin, app_name = pg
    settings = Settings(data_dir=tmp_path / "data", _env_file=None)  # type: ignore[call-arg]
    paging_sweep(monkeypatch)
    with running(Receiver()) as receiver, httpx.Client(timeout=5.0) as client:
        alerting = alerting_for(engine, receiver, client)
        process = alerting.service.process

        def process_then_lose_the_server(evaluations: Any) -> Any:
            outcome = process(evaluations)
            # Pooled connections are now dead; the dispatcher must not lose the queued pages.
            assert terminate_backends(admin, app_name) >= 1
            return outcome

        alerting.service.process = process_then_lose_the_server
        report = run_sweep(settings, engine, CLOCK, at=T0 + H, alerting=alerting)
        assert report.delivered["delivered"] == 3
        assert_one_incident_and_one_page_each(engine, receiver)


# -- disk full under the fact store ------------------------------------------------------------------


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 4 MiB tmpfs mounted where the facts go (needs root, as in CI; skipped with the reason otherwise)."""
    mount_point = tmp_path / "data" / "facts"
    mount_point.mkdir(parents=True)
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(mount_point)], capture_output=True, text=True
    )
    if done.returncode != 0:
        pytest.skip(
            f"cannot mount a tmpfs here ({done.stderr.strip() or done.returncode}): the unit test "
            "tests/ingestion/test_ingest.py::test_failed_write_keeps_the_previous_facts still runs"
        )
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", "-l", str(mount_point)], check=False)


def fill(folder: Path) -> Path:
    """Write until the device says ENOSPC; the returned file is the ballast to remove later."""
    ballast = folder / "ballast.bin"
    # Unbuffered: a buffered file keeps what a short write left over and raises ENOSPC again on close.
    with ballast.open("wb", buffering=0) as fh:
        try:
            while True:
                fh.write(os.urandom(64 * 1024))
        except OSError as exc:
            assert exc.errno == 28  # ENOSPC
    return ballast


def test_disk_full_while_writing_parquet_keeps_the_previous_facts(
    engine: Engine, small_disk: Path, tmp_path: Path
) -> None:
    settings = Settings(data_dir=tmp_path / "data", _env_file=None)  # type: ignore[call-arg]
    ing = Ingestor(settings, engine, CLOCK)
    first = write_csv(tmp_path / "v1.csv", hourly_rows(48, cost=1.0))
    os.utime(first, (1_700_000_000, 1_700_000_000))
    ing.ingest_paths([first])
    parquet_before = {k: v for k, v in facts_snapshot(small_disk).items() if k.endswith(".parquet")}
    assert parquet_before
    ballast = fill(small_disk)

    newer = write_csv(
        tmp_path / "v2.csv", hourly_rows(48, cost=9.0) + hourly_rows(24, cost=5.0, billing_account="77")
    )
    os.utime(newer, (1_700_003_600, 1_700_003_600))
    with pytest.raises(StoreError) as err:
        ing.ingest_paths([newer])
    assert "could not write facts" in str(err.value)
    after = facts_snapshot(small_disk)
    assert {k: v for k, v in after.items() if k.endswith(".parquet")} == parquet_before
    assert [k for k in after if k != "ballast.bin" and not k.endswith(".parquet")] == []  # no staging left
    total = ing.store.query("SELECT sum(cost) AS c FROM facts").iloc[0, 0]
    assert total == pytest.approx(48.0)  # the previous facts are readable and the same

    ballast.unlink()  # space again: the same export now goes in
    ing.ingest_paths([newer])
    assert ing.store.query("SELECT sum(cost) AS c FROM facts").iloc[0, 0] == pytest.approx(
        48 * 9.0 + 24 * 5.0
    )


# -- a corrupt model artifact ------------------------------------------------------------------------


def test_a_corrupt_model_falls_back_for_that_series_and_the_others_continue(
    engine: Engine, tmp_path: Path
) -> None:
    write_demo_export(tmp_path / "demo", days=70)
    settings = Settings(data_dir=tmp_path / "data", _env_file=None)  # type: ignore[call-arg]
    Ingestor(settings, engine, CLOCK).ingest_paths([tmp_path / "demo"])
    train_all(settings, engine, CLOCK, model="seasonal", workers=1)
    current = ModelRegistry(engine, settings.models_path).current()
    victim, entry = sorted(current.items())[0]
    assert entry.artifact is not None
    (settings.models_path / entry.artifact).write_bytes(b"\x00{not json at all")

    last = FactStore(settings.facts_dir).last_period()
    assert last is not None
    # Swept just after the newest facts, whatever the sweep's lookback window is.
    report = run_sweep(settings, engine, CLOCK, at=(last + timedelta(days=1)).replace(tzinfo=UTC))
    assert report.series == len(current) >= 2
    assert report.evaluated == report.series and report.skipped == []
    [(series, reason)] = report.fallbacks
    assert series == victim and "stored model unusable" in reason and "fitted on the spot" in reason
    assert victim in "\n".join(report.lines())  # reported to whoever ran the sweep
