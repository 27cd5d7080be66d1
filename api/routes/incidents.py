"""Incidents: list, detail (with history and notification state) and feedback."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from alerts.feedback import record_feedback
from api.deps import ClockDep, EngineDep, SettingsDep
from api.scoping import SliceDep, incident_in, incidents_in

router = APIRouter(prefix="/v1/incidents", tags=["incidents"])


class FeedbackIn(BaseModel):
    kind: Literal["expected", "not_anomaly", "confirmed"]
    note: str | None = Field(None, max_length=4000)
    author: str | None = Field(None, max_length=200)


@router.get("")
async def incidents(
    engine: EngineDep,
    scope: SliceDep,
    status: Literal["open", "resolved"] | None = None,
    product: str | None = Query(None, max_length=256),
    cost_line: str | None = Query(None, max_length=256),
    severity: Literal["page", "ticket", "none"] | None = None,
    since: datetime | None = None,
    limit: int = Query(100, ge=1, le=1000),
    offset: int = Query(0, ge=0),
) -> list[dict[str, Any]]:
    """Incidents, newest first: product, cost line, severity, $ impact, burn rate, top root causes."""
    return await run_in_threadpool(
        lambda: incidents_in(
            scope,
            engine,
            status=status,
            product=product,
            cost_line=cost_line,
            severity=severity,
            since=since,
            limit=limit,
            offset=offset,
        )
    )


@router.get("/{incident_id}")
async def incident(incident_id: str, engine: EngineDep, scope: SliceDep) -> dict[str, Any]:
    """One incident with its history, feedback and the delivery state of each notification."""
    return await run_in_threadpool(incident_in, scope, engine, incident_id)


@router.post("/{incident_id}/feedback")
async def feedback(
    incident_id: str,
    body: FeedbackIn,
    engine: EngineDep,
    clock: ClockDep,
    settings: SettingsDep,
    scope: SliceDep,
) -> dict[str, Any]:
    """`expected` and `not_anomaly` stop re-notification and keep the incident's periods out of training;
    `confirmed` stops re-notification. `expected` on an open incident whose step still goes on learns it
    as the series' new normal at once: the incident resolves (`resolution` "new normal", the `rebaseline`
    learned is in the answer) and its receivers are told."""
    if scope.restricted:
        await run_in_threadpool(incident_in, scope, engine, incident_id)  # another team's is "not found"
    return await run_in_threadpool(
        record_feedback,
        engine,
        clock,
        incident_id,
        body.kind,
        note=body.note,
        author=body.author,
        public_url=settings.public_url,
    )
