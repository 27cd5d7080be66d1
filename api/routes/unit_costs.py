"""``GET /v1/unit-costs``: a product's cost per driver unit next to its spend and volume, per period,
with the baseline's expected unit cost where a model is trained; and ``GET /v1/slos``: the cost SLIs."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pandas as pd
from fastapi import APIRouter, Query
from pydantic import BaseModel
from sqlalchemy import Engine
from starlette.concurrency import run_in_threadpool

from api.deps import ClockDep, EngineDep, SettingsDep, StoreDep
from api.scoping import SliceDep
from core.errors import NotFoundError
from core.settings import Settings
from core.types import Granularity
from ingestion.drivers import DriverStore
from ingestion.fact_store import FactStore
from models.registry import ModelRegistry
from training.slo import coverage_days
from training.unit_series import UnitSpec, unit_frame, unit_specs

router = APIRouter(prefix="/v1", tags=["unit economics"])
DEFAULT_SPAN = {Granularity.DAY: timedelta(days=90), Granularity.HOUR: timedelta(days=14)}


class UnitPointOut(BaseModel):
    timestamp: datetime
    spend: float
    volume: float
    unit_cost: float
    expected_unit_cost: float | None
    lower: float | None
    upper: float | None


class UnitSeriesOut(BaseModel):
    product: str
    driver: str
    unit: str
    cost_line: str
    currency: str
    granularity: Granularity
    scope: str
    slo_pct: float
    model_trained: bool
    points: list[UnitPointOut]


class CoverageOut(BaseModel):
    day: datetime
    currency: str
    spend: float
    attributed: float
    coverage_pct: float


class SlosOut(BaseModel):
    coverage_slo: float | None
    unit_cost_slo_pct: float
    coverage: list[CoverageOut]


def _series(
    settings: Settings,
    engine: Engine,
    store: FactStore,
    spec: UnitSpec,
    start: datetime | None,
    end: datetime,
) -> UnitSeriesOut:
    frame = unit_frame(
        store, DriverStore(engine), spec, start=start or end - DEFAULT_SPAN[spec.granularity], end=end
    )
    registry = ModelRegistry(engine, settings.models_path)
    entry = registry.current().get(spec.key.id)
    forecast: pd.DataFrame | None = None
    if entry is not None and len(frame):
        try:
            forecast = registry.load(entry).predict(pd.DatetimeIndex(frame.index))
        except Exception:  # an unreadable artifact only costs the expected band
            forecast = None
    rows: list[dict[str, Any]] = frame.to_dict("records")  # type: ignore[assignment]
    bands: list[dict[str, Any]] = forecast.to_dict("records") if forecast is not None else [{}] * len(rows)  # type: ignore[assignment]
    points = [
        UnitPointOut(
            timestamp=t.to_pydatetime(),
            spend=float(row["spend"]),
            volume=float(row["volume"]),
            unit_cost=float(row["unit_cost"]),
            expected_unit_cost=float(f["expected"]) if "expected" in f else None,
            lower=float(f["lower"]) if "lower" in f else None,
            upper=float(f["upper"]) if "upper" in f else None,
        )
        for t, row, f in zip(pd.DatetimeIndex(frame.index), rows, bands, strict=True)
    ]
    return UnitSeriesOut(
        product=spec.product,
        driver=spec.driver,
        unit=spec.unit,
        cost_line=spec.cost_line,
        currency=spec.currency,
        granularity=spec.granularity,
        scope=spec.scope,
        slo_pct=settings.unit_cost_slo_pct,
        model_trained=entry is not None,
        points=points,
    )


@router.get("/unit-costs", response_model=list[UnitSeriesOut])
async def unit_costs(
    settings: SettingsDep,
    engine: EngineDep,
    store: StoreDep,
    clock: ClockDep,
    scope: SliceDep,
    product: str = Query(..., max_length=256),
    driver: str | None = Query(None, max_length=64),
    start: datetime | None = None,
    end: datetime | None = None,
) -> list[UnitSeriesOut]:
    """Cost per driver unit of ``product`` (every driver, currency and configured cost line), per period."""

    def work() -> list[UnitSeriesOut]:
        drivers = DriverStore(engine).list_drivers(product)
        specs = [
            s
            for s in unit_specs(settings, [i for i in store.list_series() if i.product == product], drivers)
            if (driver is None or s.driver == driver)
            and scope.allows_series(s.product, s.cost_line, s.currency)
        ]
        if not specs:
            raise NotFoundError(f"no unit costs for {product!r}: it needs spend and at least one driver")
        stop = end or clock.now()
        return [_series(settings, engine, store, s, start, stop) for s in specs]

    return await run_in_threadpool(work)


@router.get("/slos", response_model=SlosOut)
async def slos(
    settings: SettingsDep,
    store: StoreDep,
    clock: ClockDep,
    scope: SliceDep,
    days: int = Query(30, ge=1, le=400),
) -> SlosOut:
    """The cost SLIs: attribution coverage per day and currency against ``COVERAGE_SLO``, and the unit-cost
    allowance (per-product unit costs are at ``/v1/unit-costs``). Coverage sums every team's spend, so a
    token restricted by label matchers gets 403."""
    scope.require_unrestricted("read the coverage of all spend")
    rows = await run_in_threadpool(coverage_days, store, end=clock.now() + timedelta(days=1), days=days)
    return SlosOut(
        coverage_slo=settings.coverage_slo,
        unit_cost_slo_pct=settings.unit_cost_slo_pct,
        coverage=[
            CoverageOut(
                day=r.day, currency=r.currency, spend=r.spend, attributed=r.attributed, coverage_pct=r.pct
            )
            for r in rows
        ],
    )
