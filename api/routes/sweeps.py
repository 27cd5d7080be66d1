"""``POST /v1/sweeps`` (a sweep now, or as of a past time) and ``GET /v1/anomalies`` (what is unusual now)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from api.deps import ClockDep, EngineDep, SettingsDep
from api.scoping import SliceDep, series_labels
from core.clock import not_in_future
from core.errors import ConflictError
from training.jobs import sweep_job
from training.sweep_job import run_sweep

router = APIRouter(prefix="/v1", tags=["sweeps"])


class SweepIn(BaseModel):
    at: datetime | None = Field(None, description="evaluate as of this time, with only the facts known then")
    notify: bool = Field(True, description="update incidents and send notifications")


def _evaluation_view(ev: Any) -> dict[str, Any]:
    return {
        "product": ev.product,
        "cost_line": ev.cost_line,
        "currency": ev.currency,
        "granularity": ev.granularity.value,
        "scope": ev.scope,  # "default" for product × cost line; a monitor's series otherwise
        "in_band": ev.in_band,
        "month_to_date_actual": ev.month_to_date_actual,
        "month_projection": ev.month_projection,
        "windows": [{"hours": w.hours, "actual": w.actual, "expected": w.expected} for w in ev.windows],
        "anomalies": [a.to_dict() for a in ev.anomalies],
    }


@router.post("/sweeps")
async def sweep(
    body: SweepIn, settings: SettingsDep, engine: EngineDep, clock: ClockDep, scope: SliceDep
) -> dict[str, Any]:
    """Evaluate every series, rank root causes, update incidents and deliver notifications.

    Leased like the scheduled sweep: while another replica sweeps, the answer is 409. A token restricted
    by label matchers cannot sweep (403): a sweep evaluates every team's series."""
    scope.require_unrestricted("sweep every series")
    not_in_future(body.at, clock, "at")
    if body.notify:
        outcome = await run_in_threadpool(lambda: sweep_job(settings, engine, clock, at=body.at))
        if not outcome.ran:
            raise ConflictError(f"sweep not run: {outcome.reason}")
        report = outcome.result
    else:
        report = await run_in_threadpool(run_sweep, settings, engine, clock, at=body.at, alerting=None)
    return {
        "as_of": report.as_of,
        "series": report.series,
        "evaluated": report.evaluated,
        "anomalies": report.anomalies,
        "incidents": report.incidents,
        "notifications": report.delivered,
        "fallbacks": [{"series": s, "reason": r} for s, r in report.fallbacks],
        "skipped": [{"series": s, "reason": r} for s, r in report.skipped],
        "seconds": report.seconds,
    }


@router.get("/anomalies")
async def anomalies(
    settings: SettingsDep, engine: EngineDep, clock: ClockDep, scope: SliceDep, at: datetime | None = None
) -> list[dict[str, Any]]:
    """Series with anomalies open as of now (or ``at``), with $ impact and root causes; changes nothing."""
    not_in_future(at, clock, "at")
    report = await run_in_threadpool(run_sweep, settings, engine, clock, at=at, alerting=None)
    return [
        _evaluation_view(ev)
        for ev in report.evaluations
        if ev.anomalies
        and (
            not scope.restricted
            or scope.allows(series_labels(ev.product, ev.cost_line, ev.currency, ev.scope, ev.labels))
        )
    ]
