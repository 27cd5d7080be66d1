"""The current model of every series read over the plain DB-API driver: ``ModelRegistry.current()``'s
rows without SQLAlchemy, for listings that start in a fraction of a second (``spendsentry series``).

The query is the registry's own (the newest successful version per series). SQLite hands back what
SQLAlchemy's column types would have converted (date-times as text, booleans as 0/1): they are converted
the same way here, so the entries are equal to the registry's. PostgreSQL's driver converts them itself.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from core.dbapi import DirectDB
from models.registry_entry import RegistryEntry, entry_from

# ModelRegistry.current(): the newest "ok" version of each series, joined back to its row.
_CURRENT = """
SELECT v.* FROM model_versions v
JOIN (SELECT series_id, max(id) AS id FROM model_versions WHERE status = 'ok' GROUP BY series_id) n
  ON v.id = n.id AND v.series_id = n.series_id
"""
_DATETIMES = ("trained_at", "train_start", "train_end")


def _sqlite_row(row: dict[str, Any]) -> dict[str, Any]:
    # SQLAlchemy stores SQLite date-times as "YYYY-MM-DD HH:MM:SS.ffffff" text (naive) and booleans as
    # integers; ``datetime.fromisoformat`` reads that text back to the same naive value.
    out = dict(row)
    for name in _DATETIMES:
        value = out.get(name)
        if isinstance(value, str):
            out[name] = datetime.fromisoformat(value)
    if out.get("alerting_ready") is not None:
        out["alerting_ready"] = bool(out["alerting_ready"])
    return out


def read_current_models(db: DirectDB) -> dict[str, RegistryEntry] | None:
    """Every series' current model by series id, or None when the schema is not the one this code knows
    (not at the migration heads): the caller then goes through ``core.db.migrate`` and the registry."""
    if not db.at_heads():
        return None
    rows = db.rows(_CURRENT)
    if db.dialect == "sqlite":
        rows = [_sqlite_row(r) for r in rows]
    return {str(r["series_id"]): entry_from(r) for r in rows}
