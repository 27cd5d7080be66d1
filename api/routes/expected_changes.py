"""Expected-change windows: a migration, a load test, a launch. They mute alerts and stay out of training."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from alerts.expected_changes import (
    create_expected_change,
    delete_expected_change,
    end_expected_change,
    list_expected_changes,
)
from api.deps import ClockDep, EngineDep

router = APIRouter(prefix="/v1/expected-changes", tags=["expected changes"])


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
async def expected_changes(engine: EngineDep, active_at: datetime | None = None) -> list[dict[str, Any]]:
    return [c.to_dict() for c in await run_in_threadpool(list_expected_changes, engine, active_at=active_at)]


@router.post("", status_code=201)
async def declare(body: ExpectedChangeIn, engine: EngineDep, clock: ClockDep) -> dict[str, Any]:
    change = await run_in_threadpool(
        lambda: create_expected_change(
            engine,
            clock,
            name=body.name,
            matchers=body.matchers,
            starts_at=body.starts_at,
            ends_at=body.ends_at,
            mute=body.mute,
            exclude_from_training=body.exclude_from_training,
            created_by=body.created_by,
        )
    )
    return change.to_dict()


@router.post("/{change_id}/end")
async def end(change_id: str, engine: EngineDep, clock: ClockDep) -> dict[str, Any]:
    """End a window now (it stays on record)."""
    return (await run_in_threadpool(end_expected_change, engine, clock, change_id)).to_dict()


@router.delete("/{change_id}", status_code=204)
async def delete(change_id: str, engine: EngineDep) -> None:
    await run_in_threadpool(delete_expected_change, engine, change_id)
