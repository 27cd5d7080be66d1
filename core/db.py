"""Database engine factory and schema migrations (SQLAlchemy 2 + Alembic).

Every package that owns tables keeps its own Alembic branch in ``<package>/migrations/``; the composition
root (``api``) names the packages, and ``migrate`` upgrades every branch to its head. SQLite is the
embedded default; PostgreSQL is used in production and CI.
"""

from __future__ import annotations

import ast
import re
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.exc import SQLAlchemyError

if TYPE_CHECKING:
    from alembic.config import Config

# Packages whose Alembic branches make up the schema, in dependency order.
SCHEMA_PACKAGES: tuple[str, ...] = ("ingestion", "models", "alerts", "training", "api")

_MIGRATE_LOCK = threading.Lock()
# `revision = "x"` / `down_revision = ("a", "b")` lines of a migration script (annotations allowed).
_REVISION_LINE = re.compile(r"^(revision|down_revision)\s*(?::[^=\n]*)?=\s*(.+)$", re.MULTILINE)


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
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(Path(__file__).resolve().parent / "migrations"))
    locations = [str(_package_dir(p)) for p in packages if _package_dir(p).is_dir()]
    cfg.set_main_option("version_locations", " ".join(locations))
    cfg.set_main_option("path_separator", "space")
    cfg.attributes["connection"] = connection
    return cfg


@lru_cache(maxsize=8)
def script_heads(packages: tuple[str, ...] = SCHEMA_PACKAGES) -> frozenset[str] | None:
    """The head revisions of the packages' migration scripts, read from their ``revision`` and
    ``down_revision`` lines without Alembic; None when a script cannot be read that way."""
    revisions: set[str] = set()
    parents: set[str] = set()
    for package in packages:
        folder = _package_dir(package)
        if not folder.is_dir():
            continue
        for script in sorted(folder.glob("*.py")):
            if script.name in ("__init__.py", "env.py"):
                continue
            try:
                found = {
                    k: ast.literal_eval(v.strip()) for k, v in _REVISION_LINE.findall(script.read_text())
                }
            except (OSError, ValueError, SyntaxError):
                return None
            revision, down = found.get("revision"), found.get("down_revision")
            if not isinstance(revision, str):
                return None
            revisions.add(revision)
            parents.update([down] if isinstance(down, str) else list(down or ()))
    return frozenset(revisions - parents)


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
