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
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.exc import SQLAlchemyError

# Re-exported: the schema's packages and heads are read without SQLAlchemy (core.schema_heads).
from core.schema_heads import SCHEMA_PACKAGES, package_migrations, script_heads

if TYPE_CHECKING:
    from alembic.config import Config

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


def alembic_config(connection: Connection, packages: Iterable[str] = SCHEMA_PACKAGES) -> Config:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(Path(__file__).resolve().parent / "migrations"))
    locations = [str(package_migrations(p)) for p in packages if package_migrations(p).is_dir()]
    cfg.set_main_option("version_locations", " ".join(locations))
    cfg.set_main_option("path_separator", "space")
    cfg.attributes["connection"] = connection
    return cfg


def _at_heads(engine: Engine, packages: tuple[str, ...]) -> bool:
    """True when the database records exactly the scripts' heads, so an upgrade would do nothing."""
    heads = script_heads(packages)
    if not heads:
        return False
    try:
        with engine.connect() as conn:
            stamped = {str(v) for (v,) in conn.execute(text("SELECT version_num FROM alembic_version"))}
    except SQLAlchemyError:  # no version table yet: a new database
        return False
    return stamped == heads


def migrate(engine: Engine, packages: Iterable[str] = SCHEMA_PACKAGES) -> None:
    """Upgrade every package's branch to its head. Safe to call on every start.

    A database already at the heads is left alone without importing Alembic (a fifth of a second, paid by
    every CLI command); anything else goes through Alembic's upgrade.
    """
    packages = tuple(packages)
    with _MIGRATE_LOCK:
        if _at_heads(engine, packages):
            return
        from alembic import command

        with engine.begin() as connection:
            command.upgrade(alembic_config(connection, packages), "heads")


@contextmanager
def transaction(engine: Engine) -> Iterator[Connection]:
    """One transaction: committed on success, rolled back on any exception."""
    with engine.begin() as connection:
        yield connection
