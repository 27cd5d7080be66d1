"""The export files named by past ingestion runs, newest run first (for ``spendsentry init``)."""

from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy import Engine, select

from ingestion.tables import ingest_runs


def ingested_files(engine: Engine, folders: list[Path], *, runs: int = 20) -> list[Path]:
    """Files of the newest ``runs`` successful ingestions found in ``folders`` (runs record file names,
    not paths; requests have none)."""
    with engine.connect() as conn:
        reports = conn.execute(
            select(ingest_runs.c.report)
            .where(ingest_runs.c.status == "done")
            .order_by(ingest_runs.c.started_at.desc())
            .limit(runs)
        ).scalars()
        out: list[Path] = []
        for text in reports:
            try:
                files = json.loads(text or "{}").get("files", [])
            except ValueError:
                continue
            for name in files:
                found = [d / Path(str(name)).name for d in folders if (d / Path(str(name)).name).is_file()]
                out += [f for f in found[:1] if f not in out]
    return out
