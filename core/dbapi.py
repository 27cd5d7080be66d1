"""A plain DB-API connection to the state database, for short reads that must not pay for SQLAlchemy.

Importing SQLAlchemy costs a sixth of a second; a listing command (``spendsentry series``) that reads a
handful of rows spends more on that than on its work. ``open_direct`` opens the database with the driver
SQLAlchemy itself would use (stdlib ``sqlite3`` for ``sqlite:///FILE``, ``psycopg`` for
``postgresql+psycopg://``) and answers None for anything it does not handle the same way (another dialect,
an in-memory or missing SQLite file, a URL with options), so the caller takes the SQLAlchemy path instead.
Readers must also check :meth:`DirectDB.at_heads`: the tables only look as this code expects when the
schema is at the heads ``core.db.migrate`` would upgrade it to.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

from core.schema_heads import script_heads

_SQLITE_SCHEMES = ("sqlite", "sqlite+pysqlite")
_POSTGRES_SCHEMES = ("postgresql+psycopg",)


class DirectDB:
    """An open DB-API connection and its dialect (``sqlite`` or ``postgresql``); a context manager."""

    # The connection is sqlite3's or psycopg's: both DB-API 2, typed apart by their drivers.
    def __init__(self, connection: Any, dialect: str) -> None:
        self.connection = connection
        self.dialect = dialect

    def rows(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        """Run ``sql`` (``?`` placeholders, rewritten for the driver) and return its rows by column."""
        if params and self.dialect == "postgresql":
            sql = sql.replace("?", "%s")
        cursor = self.connection.cursor()
        try:
            # Without parameters, no placeholder parsing at all (psycopg would read a literal % as one).
            if params:
                cursor.execute(sql, tuple(params))
            else:
                cursor.execute(sql)
            names = [str(d[0]) for d in cursor.description or []]
            return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
        finally:
            cursor.close()

    def at_heads(self) -> bool:
        """True when the database records exactly the migration scripts' heads (``core.db.migrate``'s
        test for "nothing to upgrade"); False too when it has no version table yet."""
        heads = script_heads()
        if not heads:
            return False
        try:
            stamped = {str(r["version_num"]) for r in self.rows("SELECT version_num FROM alembic_version")}
        except Exception:  # no version table (a new database): the driver's own error class
            self._rollback()
            return False
        return stamped == heads

    def _rollback(self) -> None:
        # PostgreSQL refuses every statement of a transaction after a failed one.
        rollback = getattr(self.connection, "rollback", None)
        if rollback is not None:
            rollback()

    def close(self) -> None:
        self.connection.close()

    def __enter__(self) -> DirectDB:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


def sqlite_file(url: str) -> str | None:
    """The file of a ``sqlite:///FILE`` URL as SQLAlchemy reads it; None for memory, options or escapes."""
    scheme, sep, rest = url.partition(":///")
    if not sep or scheme not in _SQLITE_SCHEMES:
        return None
    # Query options and percent escapes are SQLAlchemy's to interpret: leave such URLs to it.
    if not rest or rest == ":memory:" or any(c in rest for c in "?%"):
        return None
    return rest


def postgres_conninfo(url: str) -> str | None:
    """The libpq URL of a ``postgresql+psycopg://`` URL (psycopg's own form of the same address)."""
    scheme, sep, rest = url.partition("://")
    if not sep or scheme not in _POSTGRES_SCHEMES:
        return None
    return f"postgresql://{rest}"


def open_direct(url: str) -> DirectDB | None:
    """A DB-API connection to ``url``, or None when this URL is for the SQLAlchemy path.

    Never creates a database: a missing SQLite file is None (the caller's SQLAlchemy path creates and
    migrates it, as before). Connection errors other than that propagate, as SQLAlchemy's would.
    """
    path = sqlite_file(url)
    if path is not None:
        if not os.path.isfile(path):
            return None
        import sqlite3

        # timeout: the 30 s busy wait the engine sets (core.db); mode=rw never creates a file.
        uri = f"{Path(path).resolve().as_uri()}?mode=rw"
        return DirectDB(sqlite3.connect(uri, uri=True, timeout=30), "sqlite")
    conninfo = postgres_conninfo(url)
    if conninfo is not None:
        import psycopg

        return DirectDB(psycopg.connect(conninfo), "postgresql")
    return None
