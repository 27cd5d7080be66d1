"""One row of the model registry (``model_versions``) as the rest of the code sees it.

Kept apart from ``models.registry`` (SQLAlchemy queries) so that a reader over the plain DB-API driver
(``models.current_models``) builds the very same entries without importing SQLAlchemy.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from core.types import Granularity, SeriesKey


@dataclass(frozen=True)
class RegistryEntry:
    version: int
    key: SeriesKey
    status: str
    model_type: str | None
    trained_at: datetime
    train_start: datetime | None
    train_end: datetime | None
    points: int | None
    alerting_ready: bool | None
    metrics: dict[str, Any]
    artifact: str | None
    error: str | None


def _aware(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _key(row: Mapping[Any, Any]) -> SeriesKey:
    key = SeriesKey(row["product"], row["cost_line"], row["currency"], Granularity(row["granularity"]))
    # A monitor's series (core.monitors) has its scope after the base id; its filters live in the facts.
    series_id = str(row["series_id"])
    scope = series_id[len(key.id) + 1 :] if series_id.startswith(f"{key.id}|") else ""
    return replace(key, scope=scope) if scope else key


def entry_from(row: Mapping[Any, Any]) -> RegistryEntry:
    """The entry of one ``model_versions`` row (its values by column name, as the driver returns them)."""
    return RegistryEntry(
        version=int(row["id"]),
        key=_key(row),
        status=row["status"],
        model_type=row["model_type"],
        trained_at=_aware(row["trained_at"]) or datetime.min.replace(tzinfo=UTC),
        train_start=_aware(row["train_start"]),
        train_end=_aware(row["train_end"]),
        points=row["points"],
        alerting_ready=row["alerting_ready"],
        metrics=json.loads(row["metrics"]) if row["metrics"] else {},
        artifact=row["artifact"],
        error=row["error"],
    )
