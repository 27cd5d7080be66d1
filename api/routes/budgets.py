"""Monthly budgets per product (optionally per cost line): the burn-rate severity compares projections."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, Query, Request
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from alerts.budgets import delete_budget, list_budgets, put_budget
from api.deps import ClockDep, EngineDep
from api.scoping import Slice, SliceDep
from core.errors import NotFoundError

router = APIRouter(prefix="/v1/budgets", tags=["budgets"])


def _target(product: str, cost_line: str | None) -> str:
    return f"{product} / {cost_line}" if cost_line is not None else product  # for the audit log


def _in_slice(scope: Slice, product: str, cost_line: str | None) -> bool:
    # A budget's labels: its product, and its cost line when it has one (as a series' labels).
    labels = {"product": product} | ({"cost_line": cost_line} if cost_line is not None else {})
    return not scope.restricted or scope.allows(labels)


class BudgetIn(BaseModel):
    product: str = Field(..., min_length=1, max_length=256)
    cost_line: str | None = Field(None, max_length=256)
    monthly_amount: float = Field(..., gt=0, allow_inf_nan=False)
    currency: str = Field("USD", pattern="^[A-Za-z]{3}$")


@router.get("")
async def budgets(
    engine: EngineDep, scope: SliceDep, product: str | None = Query(None, max_length=256)
) -> list[dict[str, Any]]:
    found = await run_in_threadpool(list_budgets, engine, product=product)
    return [b.to_dict() for b in found if _in_slice(scope, b.product, b.cost_line)]


@router.put("")
async def set_budget(
    body: BudgetIn, engine: EngineDep, clock: ClockDep, scope: SliceDep, request: Request
) -> dict[str, Any]:
    """Create or replace the budget of a product (or of one of its cost lines). A scoped token may set
    budgets only inside its slice (403 otherwise: the answer depends on the request alone)."""
    request.state.audit_target = _target(body.product, body.cost_line)
    if not _in_slice(scope, body.product, body.cost_line):
        raise HTTPException(403, detail="this budget is outside the token's label matchers")
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
    scope: SliceDep,
    request: Request,
    product: str = Query(..., max_length=256),
    cost_line: str | None = Query(None, max_length=256),
) -> None:
    request.state.audit_target = _target(product, cost_line)
    if not _in_slice(scope, product, cost_line):
        raise NotFoundError(f"no budget for {product}" + (f" / {cost_line}" if cost_line else ""))
    await run_in_threadpool(delete_budget, engine, product, cost_line)
