"""Expected-change windows: a migration, a load test, a launch. They mute alerts and stay out of training."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field
from sqlalchemy import Engine
from starlette.concurrency import run_in_threadpool

from alerts.expected_changes import (
    create_expected_change,
    delete_expected_change,
    end_expected_change,
    get_expected_change,
    list_expected_changes,
)
from api.deps import ClockDep, EngineDep
from api.scoping import Slice, SliceDep
from core.errors import NotFoundError

router = APIRouter(prefix="/v1/expected-changes", tags=["expected changes"])


def _visible(scope: Slice, engine: Engine, change_id: str) -> None:
    """A window outside the slice is "not found", exactly as a missing one."""
    if scope.restricted and not scope.allows_window(get_expected_change(engine, change_id).matchers):
        raise NotFoundError(f"expected change {change_id} not found")


class ExpectedChangeIn(BaseModel):
    name: str = Field(..., min_length=1, max_length=200)
    matchers: list[str] = Field(
        ..., min_length=1, max_length=50, description='e.g. ["product=checkout", "cost_line=~Amazon.*"]'
    )
    starts_at: datetime
    ends_at: datetime
    mute: bool = True
    exclude_from_training: bool = True
    created_by: str | None = Field(None, max_length=200)


@router.get("")
async def expected_changes(
    engine: EngineDep, scope: SliceDep, active_at: datetime | None = None
) -> list[dict[str, Any]]:
    found = await run_in_threadpool(list_expected_changes, engine, active_at=active_at)
    return [c.to_dict() for c in found if scope.allows_window(c.matchers)]


@router.post("", status_code=201)
async def declare(
    body: ExpectedChangeIn, engine: EngineDep, clock: ClockDep, scope: SliceDep, request: Request
) -> dict[str, Any]:
    """Declare a window. A scoped token's window gets the token's matchers added, so it can mute and
    exclude from training only its own slice."""
    matchers = scope.narrow(body.matchers) if scope.restricted else body.matchers
    change = await run_in_threadpool(
        lambda: create_expected_change(
            engine,
            clock,
            name=body.name,
            matchers=matchers,
            starts_at=body.starts_at,
            ends_at=body.ends_at,
            mute=body.mute,
            exclude_from_training=body.exclude_from_training,
            created_by=body.created_by,
        )
    )
    request.state.audit_target = change.id
    return change.to_dict()


@router.post("/{change_id}/end")
async def end(change_id: str, engine: EngineDep, clock: ClockDep, scope: SliceDep) -> dict[str, Any]:
    """End a window now (it stays on record)."""
    await run_in_threadpool(_visible, scope, engine, change_id)
    return (await run_in_threadpool(end_expected_change, engine, clock, change_id)).to_dict()


@router.delete("/{change_id}", status_code=204)
async def delete(change_id: str, engine: EngineDep, scope: SliceDep) -> None:
    await run_in_threadpool(_visible, scope, engine, change_id)
    await run_in_threadpool(delete_expected_change, engine, change_id)
