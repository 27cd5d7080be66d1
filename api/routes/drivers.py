"""``POST /v1/drivers`` and ``GET /v1/drivers``: business drivers per product (requests, orders, ...)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, HTTPException, Query
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from api.deps import ClockDep, EngineDep, SettingsDep, StoreDep
from api.scoping import Slice, SliceDep
from core.errors import TooLargeError
from core.types import Granularity
from ingestion.drivers import DriverStore, parse_driver_rows
from ingestion.fact_store import FactStore

router = APIRouter(prefix="/v1/drivers", tags=["drivers"])


def _products_in(scope: Slice, store: FactStore, products: set[str]) -> set[str]:
    """The products a scoped token may see drivers of: by the product label, or one of its series."""
    if not scope.restricted:
        return products
    series: dict[str, list[tuple[str, str]]] = {}
    for info in store.list_series():
        series.setdefault(info.product, []).append((info.cost_line, info.currency))
    return {p for p in products if scope.allows_product(p, series.get(p, []))}


class DriverRowIn(BaseModel):
    product: str = Field(..., max_length=256)
    driver: str = Field(..., max_length=64, description="e.g. requests, orders, mau, gb_served")
    unit: str = Field(..., max_length=64, description="e.g. request, order, user, GB")
    timestamp: datetime = Field(..., description="start of the hour or day (UTC when no offset)")
    value: float = Field(..., ge=0, description="volume in the period, in `unit`")


class DriversIn(BaseModel):
    rows: list[DriverRowIn] = Field(..., min_length=1)


class DriverReportOut(BaseModel):
    rows_read: int
    inserted: int
    updated: int
    unchanged: int
    drivers: list[str]


class DriverOut(BaseModel):
    product: str
    driver: str
    unit: str
    granularity: Granularity
    first_period: datetime
    last_period: datetime
    points: int


@router.post("", response_model=DriverReportOut)
async def post_drivers(
    body: DriversIn,
    settings: SettingsDep,
    engine: EngineDep,
    clock: ClockDep,
    store: StoreDep,
    scope: SliceDep,
) -> DriverReportOut:
    """Store driver points. Idempotent: the same rows again change nothing; a new value for a period
    replaces the old one. A driver keeps one unit (422 naming the row otherwise)."""
    if len(body.rows) > settings.max_spend_rows:
        raise TooLargeError("rows", f"{len(body.rows)} rows; at most {settings.max_spend_rows} per request")
    rows: list[dict[str, Any]] = [r.model_dump() for r in body.rows]
    if scope.restricted:
        wanted = {r.product for r in body.rows}
        outside = sorted(wanted - await run_in_threadpool(_products_in, scope, store, wanted))
        if outside:
            raise HTTPException(
                403, detail=f"product(s) outside the token's label matchers: {', '.join(outside)}"
            )
    points = parse_driver_rows(rows, where="rows")
    report = await run_in_threadpool(DriverStore(engine).upsert, points, clock)
    return DriverReportOut.model_validate(report.to_dict())


@router.get("", response_model=list[DriverOut])
async def list_drivers(
    engine: EngineDep, store: StoreDep, scope: SliceDep, product: str | None = Query(None, max_length=256)
) -> list[DriverOut]:
    """The stored drivers: product, driver, unit, granularity, first and last period, points."""
    infos = await run_in_threadpool(DriverStore(engine).list_drivers, product)
    allowed = await run_in_threadpool(_products_in, scope, store, {i.product for i in infos})
    return [DriverOut.model_validate(i.__dict__) for i in infos if i.product in allowed]
