"""What ``spendsentry series`` lists: every stored series with its current model, as rows and as a table.

The fast path reads the series catalog (``ingestion.series_catalog``: a JSON file beside the facts, used
only while it matches them) and the registry over the plain DB-API driver (``models.current_models``), so
on a fresh catalog the command loads neither DuckDB nor SQLAlchemy and starts in a fraction of a second.
Each half falls back on its own to the full path: the facts scanned with DuckDB (and the catalog
rewritten), the database migrated and read through SQLAlchemy's registry. Both paths give the same rows.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from core.quick_settings import QuickSettings
    from core.settings import Settings
    from ingestion.series_catalog import ListedSeries
    from models.registry_entry import RegistryEntry

log = logging.getLogger(__name__)
EMPTY = "no series: ingest a FOCUS export first (spendsentry ingest PATH)"


def registry_current(database_url: str, models_path: Path) -> dict[str, RegistryEntry]:
    """Every series' current model through SQLAlchemy, the database migrated first (as every command)."""
    from core.db import make_engine, migrate
    from models.registry import ModelRegistry

    engine = make_engine(database_url)
    try:
        migrate(engine)
        return ModelRegistry(engine, models_path).current()
    finally:
        engine.dispose()


def direct_current(database_url: str) -> dict[str, RegistryEntry] | None:
    """The same entries over the DB-API driver; None when that cannot answer for this database (another
    dialect, no database yet, a schema not at the heads, or any driver error): then SQLAlchemy does."""
    from core.dbapi import open_direct
    from models.current_models import read_current_models

    try:
        db = open_direct(database_url)
        if db is None:
            return None
        with db:
            return read_current_models(db)
    except Exception:  # the fast path is only an optimisation: the full path reports real problems
        log.debug("registry read without SQLAlchemy failed; using SQLAlchemy", exc_info=True)
        return None


def model_label(entry: RegistryEntry | None) -> str | None:
    if entry is None:
        return None
    metrics: dict[str, object] = entry.metrics
    label = str(entry.model_type)
    if label == "auto":
        label = f"auto:{metrics.get('selected_model_type')}"
    return label if metrics.get("alerting_ready", True) else f"{label} (cold start)"


def trained_at(entry: RegistryEntry | None) -> str | None:
    when = entry.trained_at if entry is not None else None
    return when.isoformat(timespec="seconds") if isinstance(when, datetime) else None


def listing_rows(listed: Sequence[ListedSeries], current: dict[str, RegistryEntry]) -> list[dict[str, Any]]:
    """The rows ``series --json`` prints, in the order of the columns of the table."""
    rows: list[dict[str, Any]] = []
    for s in listed:
        entry = current.get(s.series_id)
        rows.append(
            {
                "product": s.product,
                "cost_line": s.cost_line,
                "granularity": s.granularity,
                "first_period": s.first_period,
                "last_period": s.last_period,
                "points": s.points,
                "total_spend": round(s.total_spend, 2),
                "currency": s.currency,
                "model_type": model_label(entry),
                "trained_at": trained_at(entry),
                "monitor": s.monitor,
                "scope": s.scope,
            }
        )
    return rows


def quick_rows(settings: QuickSettings) -> list[dict[str, Any]] | None:
    """The listing from a fresh catalog and the registry over the DB-API driver, without the full
    ``Settings``; None when either cannot answer (the command then runs :func:`series_rows`)."""
    from ingestion.series_catalog import read_catalog

    listed = read_catalog(settings.facts_dir, settings.monitors_file)
    if listed is None:
        return None
    current = direct_current(settings.database_url)
    return None if current is None else listing_rows(listed, current)


def series_rows(settings: Settings, *, fast: bool = True) -> list[dict[str, Any]]:
    """The listing; ``fast=False`` takes the full path (facts scanned, SQLAlchemy), as tests compare."""
    from ingestion.series_catalog import compute_series, series_catalog

    listed = series_catalog(settings) if fast else compute_series(settings)
    current = direct_current(settings.database_url) if fast else None
    if current is None:
        current = registry_current(settings.database_url, settings.models_path)
    return listing_rows(listed, current)


def table_lines(rows: Sequence[dict[str, Any]]) -> list[str]:
    """The rows as a plain-text table (``-`` for no value), or one line saying there is nothing yet."""
    if not rows:
        return [EMPTY]
    headers = list(rows[0])
    table = [[str(r[h]) if r[h] is not None else "-" for h in headers] for r in rows]
    widths = [max(len(h), *(len(t[i]) for t in table)) for i, h in enumerate(headers)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True))]
    lines += ["  ".join(c.ljust(w) for c, w in zip(t, widths, strict=True)) for t in table]
    return lines
