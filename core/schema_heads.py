"""The schema's head revisions, read from the packages' migration scripts without Alembic or SQLAlchemy.

``core.db.migrate`` leaves a database alone when its ``alembic_version`` rows are exactly these heads;
readers that talk to the database through the plain DB-API driver (``core.dbapi``) use the same test
before trusting that the tables look as this version of the code expects.
"""

from __future__ import annotations

import ast
import re
from functools import lru_cache
from pathlib import Path

# Packages whose Alembic branches make up the schema, in dependency order.
SCHEMA_PACKAGES: tuple[str, ...] = ("ingestion", "models", "alerts", "training", "api")

# `revision = "x"` / `down_revision = ("a", "b")` lines of a migration script (annotations allowed).
_REVISION_LINE = re.compile(r"^(revision|down_revision)\s*(?::[^=\n]*)?=\s*(.+)$", re.MULTILINE)


def package_migrations(package: str) -> Path:
    """The folder of a package's migration scripts."""
    # Resolved from this file's location so that core imports nothing from its sibling packages.
    return Path(__file__).resolve().parent.parent / package / "migrations"


@lru_cache(maxsize=8)
def script_heads(packages: tuple[str, ...] = SCHEMA_PACKAGES) -> frozenset[str] | None:
    """The head revisions of the packages' migration scripts, read from their ``revision`` and
    ``down_revision`` lines without Alembic; None when a script cannot be read that way."""
    revisions: set[str] = set()
    parents: set[str] = set()
    for package in packages:
        folder = package_migrations(package)
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
