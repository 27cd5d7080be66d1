"""``POST /v1/spend``: FOCUS rows as JSON, through the same ingestion as files."""

from __future__ import annotations

import json

import pandas as pd
from fastapi import APIRouter
from starlette.concurrency import run_in_threadpool

from api.deps import ClockDep, EngineDep, SettingsDep, StoreDep
from api.schemas import IngestOut, SpendIn
from api.scoping import SliceDep
from core.errors import InputError, TooLargeError
from ingestion.ingest import Ingestor

router = APIRouter(prefix="/v1", tags=["spend"])


def _cell(value: object, where: str) -> str | None:
    if value is None:
        return None
    if isinstance(value, dict):
        return json.dumps(value)  # Tags as an object: stored as FOCUS's JSON string
    if isinstance(value, str | int | float | bool):
        return str(value)
    raise InputError(where, "must be a string, a number, null, or (for Tags) an object")


@router.post("/spend", response_model=IngestOut)
async def post_spend(
    body: SpendIn, settings: SettingsDep, engine: EngineDep, clock: ClockDep, store: StoreDep, scope: SliceDep
) -> IngestOut:
    """Ingest FOCUS rows. Idempotent per billing account and period, like file ingestion: a newer batch of
    a period replaces it. Rows that cannot be parsed are counted by reason, never half-written.
    A token restricted by label matchers cannot ingest (403): a batch replaces whole billing periods."""
    scope.require_unrestricted("ingest spend: a batch replaces whole billing periods of every product")
    if len(body.rows) > settings.max_spend_rows:
        raise TooLargeError("rows", f"{len(body.rows)} rows; at most {settings.max_spend_rows} per request")
    records = [
        {key: _cell(value, f"rows.{i}.{key}") for key, value in row.items()}
        for i, row in enumerate(body.rows)
    ]
    frame = pd.DataFrame.from_records(records)
    ingestor = Ingestor(settings, engine, clock, store)
    report = await run_in_threadpool(ingestor.ingest_frame, frame, name=body.source)
    return IngestOut.model_validate({**report.to_dict(), "rejected": [r.__dict__ for r in report.rejected]})
