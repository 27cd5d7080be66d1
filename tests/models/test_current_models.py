"""The registry read over the DB-API driver gives the entries ``ModelRegistry.current()`` gives, on SQLite
and PostgreSQL, and declines (None) whenever it cannot be sure: a schema not at the heads, another dialect,
no database yet (which it must not create)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, insert, text

from core.dbapi import open_direct, postgres_conninfo, sqlite_file
from models.current_models import read_current_models
from models.registry import ModelRegistry
from models.tables import model_versions
from tests.conftest import PG_URL

T0 = datetime(2026, 10, 1, 3, 0, 5, 123456, tzinfo=UTC)


def _row(series: str, status: str, at: datetime, **extra: object) -> dict[str, object]:
    product, cost_line, currency, granularity, *_scope = series.split("|")
    return {
        "series_id": series,
        "product": product,
        "cost_line": cost_line,
        "currency": currency,
        "granularity": granularity,
        "status": status,
        "trained_at": at,
        **extra,
    }


def _fill(engine: Engine) -> None:
    rows = [
        _row(
            "shop|Compute|USD|day",
            "ok",
            T0,
            model_type="seasonal",
            alerting_ready=True,
            points=90,
            metrics=json.dumps({"alerting_ready": True}),
            artifact="a/1.json",
            train_start=T0 - timedelta(days=90),
            train_end=T0,
        ),
        _row(
            "shop|Compute|USD|day",
            "ok",
            T0 + timedelta(hours=1),
            model_type="auto",
            alerting_ready=False,
            metrics=json.dumps({"selected_model_type": "prophet", "alerting_ready": False}),
        ),
        _row("shop|Compute|USD|day", "failed", T0 + timedelta(hours=2), error="boom"),
        _row("shop|(all)|USD|hour|product", "ok", T0, model_type="seasonal", metrics=None),
        _row("api|Storage|EUR|day", "failed", T0, error="no data"),
    ]
    with engine.begin() as conn:
        for row in rows:
            conn.execute(insert(model_versions).values(**row))


def _direct_url(url: str, engine: Engine) -> str:
    # The PostgreSQL fixture keeps each test in a schema of its own (search_path): say so in the URL.
    if not url.startswith("postgresql"):
        return url
    with engine.connect() as conn:
        schema = conn.execute(text("SELECT current_schema()")).scalar_one()
    return f"{url}?options=-csearch_path%3D{schema}"


def test_same_entries_as_the_registry(db_url_engine: tuple[str, Engine], tmp_path: Path) -> None:
    url, engine = db_url_engine
    _fill(engine)
    db = open_direct(_direct_url(url, engine))
    assert db is not None
    with db:
        direct = read_current_models(db)
    expected = ModelRegistry(engine, tmp_path).current()
    assert direct == expected
    assert set(expected) == {"shop|Compute|USD|day", "shop|(all)|USD|hour|product"}
    assert direct["shop|(all)|USD|hour|product"].key.scope == "product"


def test_a_schema_not_at_the_heads_is_left_to_sqlalchemy(db_url_engine: tuple[str, Engine]) -> None:
    url, engine = db_url_engine
    with engine.begin() as conn:
        conn.execute(
            text("UPDATE alembic_version SET version_num = 'api_0001' WHERE version_num LIKE 'api_%'")
        )
    db = open_direct(_direct_url(url, engine))
    assert db is not None
    with db:
        assert not db.at_heads() and read_current_models(db) is None
    with engine.begin() as conn:
        conn.execute(text("DROP TABLE alembic_version"))
    db = open_direct(_direct_url(url, engine))
    assert db is not None
    with db:
        assert read_current_models(db) is None


def test_no_database_yet_is_not_created(tmp_path: Path) -> None:
    missing = tmp_path / "state.db"
    assert open_direct(f"sqlite:///{missing}") is None
    assert not missing.exists()


@pytest.mark.parametrize(
    ("url", "path"),
    [
        ("sqlite:///var/state.db", "var/state.db"),
        ("sqlite:////srv/state.db", "/srv/state.db"),
        ("sqlite+pysqlite:///s.db", "s.db"),
        ("sqlite://", None),
        ("sqlite:///:memory:", None),
        ("sqlite:///s.db?timeout=5", None),
        ("sqlite:///a%20b.db", None),
        ("sqlite+aiosqlite:///s.db", None),
        ("postgresql+psycopg://u@h/db", None),
    ],
)
def test_sqlite_urls(url: str, path: str | None) -> None:
    assert sqlite_file(url) == path


def test_postgres_urls() -> None:
    assert postgres_conninfo("postgresql+psycopg://u:p%40ss@h:5432/db?sslmode=require") == (
        "postgresql://u:p%40ss@h:5432/db?sslmode=require"
    )
    assert postgres_conninfo("postgresql://u@h/db") is None  # SQLAlchemy's psycopg2: not this driver
    assert postgres_conninfo("mysql+pymysql://u@h/db") is None
    assert open_direct("mysql+pymysql://u@h/db") is None


@pytest.mark.skipif(not PG_URL, reason="SPENDSENTRY_TEST_DATABASE_URL is not set")
def test_postgres_connects_with_the_same_url() -> None:
    assert PG_URL is not None
    db = open_direct(PG_URL)
    assert db is not None
    with db:
        assert db.rows("SELECT ? + 1 AS n", [1]) == [{"n": 2}]
