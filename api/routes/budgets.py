"""Monthly budgets per product (optionally per cost line): the burn-rate severity compares projections."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from alerts.budgets import delete_budget, list_budgets, put_budget
from api.deps import ClockDep, EngineDep

router = APIRouter(prefix="/v1/budgets", tags=["budgets"])


class BudgetIn(BaseModel):
    product: str = Field(..., min_length=1, max_length=256)
    cost_line: str | None = Field(None, max_length=256)
    monthly_amount: float = Field(..., gt=0, allow_inf_nan=False)
    currency: str = Field("USD", pattern="^[A-Za-z]{3}$")


@router.get("")
async def budgets(
    engine: EngineDep, product: str | None = Query(None, max_length=256)
) -> list[dict[str, Any]]:
    return [b.to_dict() for b in await run_in_threadpool(list_budgets, engine, product=product)]


@router.put("")
async def set_budget(body: BudgetIn, engine: EngineDep, clock: ClockDep) -> dict[str, Any]:
    """Create or replace the budget of a product (or of one of its cost lines)."""
    budget = await run_in_threadpool(
        put_budget,
        engine,
        clock,
        body.product,
        body.monthly_amount,
        cost_line=body.cost_line,
        currency=body.currency.upper(),
    )
    return budget.to_dict()


@router.delete("", status_code=204)
async def remove_budget(
    engine: EngineDep,
    product: str = Query(..., max_length=256),
    cost_line: str | None = Query(None, max_length=256),
) -> None:
    await run_in_threadpool(delete_budget, engine, product, cost_line)
