"""``GET /v1/audit``: who wrote what and when (``admin`` scope); newest first, filtered and paged."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Query
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from api.audit import list_audit
from api.deps import EngineDep

router = APIRouter(prefix="/v1/audit", tags=["audit"])


class AuditOut(BaseModel):
    id: int
    at: datetime
    token_name: str
    method: str
    path: str
    target: str | None
    status: int
    request_id: str | None


@router.get("", response_model=list[AuditOut])
async def audit(
    engine: EngineDep,
    token_name: str | None = Query(None, max_length=100),
    method: str | None = Query(None, pattern="^[A-Za-z]{3,7}$"),
    path: str | None = Query(
        None, max_length=300, description="a route template: /v1/incidents/{incident_id}/feedback"
    ),
    target: str | None = Query(None, max_length=300),
    status: int | None = Query(None, ge=100, le=599),
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int = Query(100, ge=1, le=1000),
    offset: int = Query(0, ge=0),
) -> list[AuditOut]:
    """Every write to the API and the dashboard (refused ones too, with their status): the token's name,
    the method, the route, the id or name written, the request id. Never a body or a secret."""
    rows = await run_in_threadpool(
        lambda: list_audit(
            engine,
            token_name=token_name,
            method=method,
            path=path,
            target=target,
            status=status,
            since=since,
            until=until,
            limit=limit,
            offset=offset,
        )
    )
    return [AuditOut.model_validate(r) for r in rows]
