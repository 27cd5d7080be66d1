"""``POST /v1/root-causes``: rank root causes in a leaf table sent as JSON rows."""

from __future__ import annotations

from typing import Any

import pandas as pd
from fastapi import APIRouter
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from api.deps import SettingsDep
from api.score_schemas import RootCauseOut
from core.errors import TooLargeError
from detector.root_cause import rank_root_causes

router = APIRouter(prefix="/v1", tags=["root causes"])


class LeafTableIn(BaseModel):
    """One object per leaf: its dimension values plus the actual and expected columns."""

    leaves: list[dict[str, str | int | float | None]] = Field(..., min_length=1)
    actual: str = "actual"
    expected: str = "expected"
    dimensions: list[str] | None = Field(
        None, description="default: every key except actual, expected and the quantity columns"
    )
    top_k: int = Field(10, ge=1, le=1000)
    actual_quantity: str | None = Field(
        None,
        description="key of each leaf's actual quantity (one unit per leaf; null when unknown): with "
        "expected_quantity, every cause splits its $ into usage_effect and price_effect",
    )
    expected_quantity: str | None = Field(None, description="key of each leaf's expected quantity")


class CauseOut(RootCauseOut):
    """A root cause, with the price/usage split (unknown without quantity columns)."""


class SelectedOut(BaseModel):
    dimensions: dict[str, str]


class RootCausesOut(BaseModel):
    root_causes: list[CauseOut]
    selected: list[SelectedOut]


@router.post("/root-causes", response_model=RootCausesOut)
async def root_causes(body: LeafTableIn, settings: SettingsDep) -> dict[str, Any]:
    """Rank the elements (dimension values and combinations) that explain actual − expected, with $ each;
    `selected` is the set judged to be the cause. Same algorithm as `spendsentry rca`."""
    if len(body.leaves) > settings.max_rca_leaves:
        raise TooLargeError("leaves", f"{len(body.leaves)} leaves; at most {settings.max_rca_leaves}")
    frame = pd.DataFrame.from_records(body.leaves)
    for col in frame.columns:
        if col not in (body.actual, body.expected, body.actual_quantity, body.expected_quantity):
            frame[col] = frame[col].astype("string").fillna("")
    result = await run_in_threadpool(
        rank_root_causes,
        frame,
        dimensions=body.dimensions,
        actual=body.actual,
        expected=body.expected,
        top_k=body.top_k,
        actual_quantity=body.actual_quantity,
        expected_quantity=body.expected_quantity,
    )
    return result.to_dict()
