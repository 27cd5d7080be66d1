"""Two real processes on one state database: one training at a time, and a killed one's run finished."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from tests.e2e.helpers import BIN, env_for, fresh_database, run_cli


@pytest.fixture
def database(tmp_path: Path) -> Iterator[str]:
    """A fresh PostgreSQL database when the test server is configured, else a SQLite file."""
    with fresh_database(tmp_path / "var" / "state.db") as url:
        yield url


@pytest.mark.slow
def test_one_replica_trains_and_a_killed_ones_run_is_finished(tmp_path: Path, database: str) -> None:
    env = {"SPENDSENTRY_DATABASE_URL": database, "SPENDSENTRY_LEASE_SECONDS": "3"}
    assert run_cli(tmp_path, "demo-data", "export", "--days", "60", **env).returncode == 0
    assert run_cli(tmp_path, "ingest", "export", **env).returncode == 0
    # Replica A: a slow training (Prophet per series), killed once it holds the lease.
    a = subprocess.Popen(
        [str(BIN), "train", "--model", "prophet", "--workers", "1"],
        cwd=tmp_path,
        env=env_for(tmp_path, **env),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    engine = create_engine(database)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            with engine.connect() as conn:
                running = conn.execute(
                    text("SELECT count(*) FROM job_runs WHERE status = 'running'")
                ).scalar()
            if running:
                break
            assert a.poll() is None, a.stderr.read() if a.stderr else ""
            time.sleep(0.2)
        # Replica B while A is alive: skipped, nothing run twice.
        b = run_cli(tmp_path, "train", "--model", "seasonal", **env)
        assert b.returncode == 0 and "training skipped" in b.stdout
        os.kill(a.pid, signal.SIGKILL)
        a.wait(timeout=30)
        time.sleep(3.5)  # A's lease expires
        c = run_cli(tmp_path, "train", "--model", "seasonal", **env)
        assert c.returncode == 0, c.stderr
        assert "finished 1 training run(s) left by a replica that stopped" in c.stdout
        with engine.connect() as conn:
            runs = conn.execute(text("SELECT status, summary FROM job_runs ORDER BY started_at")).all()
            models = conn.execute(text("SELECT count(*) FROM model_versions WHERE status = 'ok'")).scalar()
        assert [r.status for r in runs] == ["done", "done"]
        assert "recovered_by" in runs[0].summary
        assert models and models > 0
    finally:
        if a.poll() is None:
            a.kill()
        engine.dispose()
