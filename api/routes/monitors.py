"""``GET /v1/monitors``: the levels spend is watched at (``SPENDSENTRY_MONITORS_FILE``) and their series."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from api.deps import SettingsDep, StoreDep
from api.scoping import SliceDep, monitors_in
from core.errors import NotFoundError
from core.types import Granularity
from training.monitors import configured_monitors, monitor_series

router = APIRouter(prefix="/v1/monitors", tags=["monitors"])


class MonitorOut(BaseModel):
    name: str
    dimensions: list[str]
    default: bool  # product × cost line: always watched
    series: int  # series tracked now (one per value combination seen in the facts)
    note: str | None = None  # why a monitor tracks nothing, when it cannot


class MonitorSeriesOut(BaseModel):
    product: str
    cost_line: str
    scope: str  # part of the incident fingerprint
    dimensions: dict[str, str]  # the values the series fixes, by fact column
    currency: str
    granularity: Granularity
    points: int
    total_spend: float


@router.get("", response_model=list[MonitorOut])
async def list_monitors(settings: SettingsDep, store: StoreDep, scope: SliceDep) -> list[MonitorOut]:
    """Every monitor: product × cost line, then the configured ones (product totals by default); a scoped
    token's counts are of its slice's series."""
    rows = await run_in_threadpool(monitors_in, scope, settings, store)
    return [MonitorOut.model_validate(r) for r in rows]


@router.get("/{name}/series", response_model=list[MonitorSeriesOut])
async def list_monitor_series(
    name: str, settings: SettingsDep, store: StoreDep, scope: SliceDep
) -> list[MonitorSeriesOut]:
    """The series of one monitor other than product × cost line (``GET /v1/series`` lists those)."""
    if not any(m.name == name and not m.is_default for m in configured_monitors(settings)):
        raise NotFoundError(f"no monitor {name!r} beside product × cost line")
    series = await run_in_threadpool(monitor_series, settings, store)
    return [
        MonitorSeriesOut(
            product=s.key.product,
            cost_line=s.key.cost_line,
            scope=s.key.scope,
            dimensions=dict(s.key.filters),
            currency=s.info.currency,
            granularity=s.key.granularity,
            points=s.info.points,
            total_spend=round(s.info.total_spend, 2),
        )
        for s in series
        if s.monitor.name == name and scope.allows_key(s.key)
    ]
