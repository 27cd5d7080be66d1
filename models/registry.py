"""The model registry: versioned JSON artifacts under the model directory, indexed in the state database.

Every training of a series adds a row to ``model_versions`` (a failure too, with its reason), and a
successful one writes ``<model dir>/<series hash>/<version>.json`` atomically. The current model of a
series is its newest successful version. A corrupt or unreadable artifact raises ``StoreError`` so the
caller can fall back for that one series and report it.
"""

from __future__ import annotations

import hashlib
import json
import os
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, and_, func, insert, select

from core.errors import InputError, StoreError
from core.types import Granularity, SeriesKey
from models.registry_entry import RegistryEntry as RegistryEntry  # re-exported: callers import it here
from models.registry_entry import entry_from
from models.tables import model_versions

if TYPE_CHECKING:
    from models.base import Baseline

# models.serialization (numpy, pandas, scikit-learn, Prophet's wrapper) is imported where an artifact is
# written or read: listing versions (``spendsentry series``) needs none of it.


@dataclass(frozen=True)
class TrainedModel:
    """What a training run hands the registry for one series."""

    key: SeriesKey
    model: Baseline | None
    train_start: datetime | None = None
    train_end: datetime | None = None
    points: int | None = None
    error: str | None = None


class ModelRegistry:
    def __init__(self, engine: Engine, model_dir: Path) -> None:
        self.engine = engine
        self.model_dir = Path(model_dir)

    @staticmethod
    def _folder(key: SeriesKey) -> str:
        # Product and cost line names are free text: hash them into a safe folder name.
        return hashlib.sha1(key.id.encode()).hexdigest()[:20]

    def _write(self, relative: str, text: str) -> None:
        path = self.model_dir / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
        try:
            tmp.write_text(text, encoding="utf-8")
            os.replace(tmp, path)
        except OSError as exc:
            tmp.unlink(missing_ok=True)
            raise StoreError(f"cannot write model artifact: {exc.strerror}") from exc

    def save_all(self, trained: Sequence[TrainedModel], *, trained_at: datetime) -> list[int]:
        """Record every result (artifacts first, then the rows in one transaction); returns versions."""
        rows: list[dict[str, Any]] = []
        for item in trained:
            row: dict[str, Any] = {
                "series_id": item.key.id,
                "product": item.key.product,
                "cost_line": item.key.cost_line,
                "currency": item.key.currency,
                "granularity": item.key.granularity.value,
                "trained_at": trained_at,
                "train_start": item.train_start,
                "train_end": item.train_end,
                "points": item.points,
                "status": "failed",
                "model_type": None,
                "alerting_ready": None,
                "metrics": None,
                "artifact": None,
                "schema_version": None,
                "error": item.error,
            }
            if item.model is not None and item.error is None:
                from models.serialization import SCHEMA_VERSION, dumps

                text = dumps(item.model)
                record = json.loads(text).get("record", {})
                relative = f"{self._folder(item.key)}/{uuid.uuid4().hex}.json"
                self._write(relative, text)
                row.update(
                    status="ok",
                    model_type=record.get("model_type", json.loads(text)["model_type"]),
                    alerting_ready=bool(record.get("alerting_ready", False)),
                    metrics=json.dumps(record),
                    artifact=relative,
                    schema_version=SCHEMA_VERSION,
                )
            rows.append(row)
        if not rows:
            return []
        with self.engine.begin() as conn:
            ids = []
            for row in rows:
                key = conn.execute(insert(model_versions).values(**row)).inserted_primary_key
                ids.append(int(key[0]) if key is not None else 0)
        return ids

    def current(self, keys: Iterable[SeriesKey] | None = None) -> dict[str, RegistryEntry]:
        """The newest successful version of every series (or of ``keys``), by series id."""
        newest = (
            select(model_versions.c.series_id, func.max(model_versions.c.id).label("id"))
            .where(model_versions.c.status == "ok")
            .group_by(model_versions.c.series_id)
        )
        if keys is not None:
            ids = [k.id for k in keys]
            newest = newest.where(model_versions.c.series_id.in_(ids))
        sub = newest.subquery()
        query = select(model_versions).join(
            sub, and_(model_versions.c.id == sub.c.id, model_versions.c.series_id == sub.c.series_id)
        )
        with self.engine.connect() as conn:
            return {row.series_id: entry_from(row._mapping) for row in conn.execute(query)}

    def latest_for(self, product: str, cost_line: str, granularity: Granularity) -> RegistryEntry | None:
        """The newest successful model of a product's cost line at a granularity (any currency)."""
        query = (
            select(model_versions)
            .where(
                model_versions.c.product == product,
                model_versions.c.cost_line == cost_line,
                model_versions.c.granularity == granularity.value,
                model_versions.c.status == "ok",
            )
            .order_by(model_versions.c.id.desc())
            .limit(1)
        )
        with self.engine.connect() as conn:
            row = conn.execute(query).first()
        return entry_from(row._mapping) if row is not None else None

    def history(self, key: SeriesKey, limit: int = 20) -> list[RegistryEntry]:
        query = (
            select(model_versions)
            .where(model_versions.c.series_id == key.id)
            .order_by(model_versions.c.id.desc())
            .limit(limit)
        )
        with self.engine.connect() as conn:
            return [entry_from(row._mapping) for row in conn.execute(query)]

    def load(self, entry: RegistryEntry) -> Baseline:
        """The fitted model of ``entry``; a missing or corrupt artifact is a ``StoreError``."""
        return load_artifact(self.model_dir, entry)


def load_artifact(model_dir: Path, entry: RegistryEntry) -> Baseline:
    """Read one registry entry's artifact (no database needed: sweep workers call this)."""
    if entry.artifact is None:
        raise StoreError(f"{entry.key.id}: version {entry.version} has no artifact")
    from models.serialization import loads

    # os.path, not pathlib: a sweep reads one artifact per series, and Path objects cost more than the read.
    path = os.path.join(model_dir, entry.artifact)
    try:
        with open(path, encoding="utf-8") as handle:
            return loads(handle.read())
    except (OSError, ValueError, KeyError, TypeError, InputError) as exc:
        raise StoreError(f"{entry.key.id}: model artifact unreadable ({type(exc).__name__})") from exc
