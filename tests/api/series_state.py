"""A real state to list: a demo export ingested (by the real CLI, which also writes the series catalog) and
a baseline trained per series, on a given database."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from core.clock import FixedClock
from core.db import make_engine, migrate
from core.settings import Settings
from ingestion.demo_data import write_demo_export
from tests.e2e.helpers import run_cli
from training.train_job import train_all

CLOCK = FixedClock(datetime(2026, 10, 1, tzinfo=UTC))  # after the demo's default start and 45 days


def trained_state(workdir: Path, database_url: str, *, days: int = 45) -> Settings:
    """Ingest a demo export into ``workdir/var`` (as ``tests.e2e.helpers.env_for`` points the CLI) and
    train every series; returns the settings the CLI will see."""
    settings = Settings(database_url=database_url, data_dir=workdir / "var", _env_file=None)  # type: ignore[call-arg]
    engine = make_engine(database_url)
    try:
        migrate(engine)
        write_demo_export(workdir / "export", days=days)
        ingested = run_cli(workdir, "ingest", str(workdir / "export"), SPENDSENTRY_DATABASE_URL=database_url)
        assert ingested.returncode == 0, ingested.stderr
        train_all(settings, engine, CLOCK, model="seasonal", workers=1)
    finally:
        engine.dispose()
    return settings
