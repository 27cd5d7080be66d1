"""Shared fixtures: the reference data folder, and a state database on SQLite and on PostgreSQL."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from core.db import make_engine, migrate
from core.settings import Settings

REPO = Path(__file__).resolve().parents[1]
# The reference data sits beside the project's folder (as in CI's fresh clone); overridable for other layouts.
SHARED_DATA = Path(os.environ.get("SPENDSENTRY_SHARED_DATA", REPO.parent / "shared" / "data"))
# The vendors' published API specifications sit beside it (PagerDuty Events v2 OpenAPI).
SHARED_SPECS = Path(os.environ.get("SPENDSENTRY_SHARED_SPECS", REPO.parent / "shared" / "specs"))
PG_URL = os.environ.get("SPENDSENTRY_TEST_DATABASE_URL")


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.skip(f"reference data not found at {SHARED_DATA} (set SPENDSENTRY_SHARED_DATA)")
    return SHARED_DATA


@pytest.fixture(scope="session")
def shared_specs() -> Path:
    if not SHARED_SPECS.is_dir():
        pytest.skip(f"vendor API specifications not found at {SHARED_SPECS} (set SPENDSENTRY_SHARED_SPECS)")
    return SHARED_SPECS


def _postgres_schema_engine(base_url: str) -> Iterator[Engine]:
    # Each test gets its own schema so tests never see each other's rows and can run repeatedly.
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = make_engine(base_url)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    engine = make_engine(base_url, connect_args={"options": f"-csearch_path={schema}"})
    try:
        yield engine
    finally:
        engine.dispose()
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture(params=["sqlite", "postgres"])
def db_url_engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, Engine]]:
    """A migrated engine on SQLite and, when SPENDSENTRY_TEST_DATABASE_URL is set, on PostgreSQL."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'state.db'}"
        engine = make_engine(url)
        migrate(engine)
        yield url, engine
        engine.dispose()
        return
    if not PG_URL:
        pytest.skip("SPENDSENTRY_TEST_DATABASE_URL is not set: PostgreSQL variant not run")
    for engine in _postgres_schema_engine(PG_URL):
        migrate(engine)
        yield PG_URL, engine


@pytest.fixture
def engine(db_url_engine: tuple[str, Engine]) -> Engine:
    return db_url_engine[1]


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(
        database_url=f"sqlite:///{tmp_path / 'state.db'}",
        data_dir=tmp_path / "data",
        _env_file=None,  # type: ignore[call-arg]
    )
