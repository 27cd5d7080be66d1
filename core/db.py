"""Database engine factory and schema migrations (SQLAlchemy 2 + Alembic).

Every package that owns tables keeps its own Alembic branch in ``<package>/migrations/``; the composition
root (``api``) names the packages, and ``migrate`` upgrades every branch to its head. SQLite is the
embedded default; PostgreSQL is used in production and CI.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import Connection, make_url

# Packages whose Alembic branches make up the schema, in dependency order.
SCHEMA_PACKAGES: tuple[str, ...] = ("ingestion", "models", "alerts", "training", "api")

_MIGRATE_LOCK = threading.Lock()


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # WAL lets the API read while a sweep writes; busy_timeout waits instead of failing on a lock.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def make_engine(url: str, **kwargs: Any) -> Engine:
    """Create an engine for ``url``; for SQLite files, create the parent folder and set pragmas."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"check_same_thread": False}, **kwargs)
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(url, pool_pre_ping=True, **kwargs)


def _package_dir(package: str) -> Path:
    # Resolved from this file's location so that core imports nothing from its sibling packages.
    return Path(__file__).resolve().parent.parent / package / "migrations"


def alembic_config(connection: Connection, packages: Iterable[str] = SCHEMA_PACKAGES) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(Path(__file__).resolve().parent / "migrations"))
    locations = [str(_package_dir(p)) for p in packages if _package_dir(p).is_dir()]
    cfg.set_main_option("version_locations", " ".join(locations))
    cfg.set_main_option("path_separator", "space")
    cfg.attributes["connection"] = connection
    return cfg


def migrate(engine: Engine, packages: Iterable[str] = SCHEMA_PACKAGES) -> None:
    """Upgrade every package's branch to its head. Safe to call on every start."""
    with _MIGRATE_LOCK, engine.begin() as connection:
        command.upgrade(alembic_config(connection, packages), "heads")


@contextmanager
def transaction(engine: Engine) -> Iterator[Connection]:
    """One transaction: committed on success, rolled back on any exception."""
    with engine.begin() as connection:
        yield connection
