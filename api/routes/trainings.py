"""``POST /v1/trainings``: train every series now (the scheduled job, on demand); ``GET`` lists models."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from fastapi import APIRouter
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from api.deps import ClockDep, EngineDep, SettingsDep
from api.scoping import SliceDep
from core.clock import not_in_future
from core.errors import ConflictError
from models.registry import ModelRegistry
from training.jobs import train_job

router = APIRouter(prefix="/v1", tags=["training"])


class TrainingIn(BaseModel):
    model: Literal["auto", "seasonal", "prophet"] = "auto"
    at: datetime | None = Field(None, description="train only on facts before this time")
    workers: int | None = Field(1, ge=1, le=64)


class TrainingOut(BaseModel):
    series: int
    trained: int
    failed: list[tuple[str, str]]
    by_model: dict[str, int]
    not_ready: int
    seconds: float


class ModelOut(BaseModel):
    series_id: str
    product: str
    cost_line: str
    currency: str
    granularity: str
    version: int
    model_type: str | None
    trained_at: datetime
    train_start: datetime | None
    train_end: datetime | None
    points: int | None
    alerting_ready: bool | None
    metrics: dict[str, object]


@router.post("/trainings", response_model=TrainingOut)
async def start_training(
    body: TrainingIn, settings: SettingsDep, engine: EngineDep, clock: ClockDep, scope: SliceDep
) -> TrainingOut:
    """Fit baselines for every stored series and record them in the model registry (synchronous)."""
    scope.require_unrestricted("train every series")
    not_in_future(body.at, clock, "at")
    outcome = await run_in_threadpool(
        lambda: train_job(settings, engine, clock, model=body.model, at=body.at, workers=body.workers)
    )
    if not outcome.ran:
        raise ConflictError(f"training not run: {outcome.reason}")
    return TrainingOut.model_validate(outcome.result.__dict__)


@router.get("/models", response_model=list[ModelOut])
async def list_models(settings: SettingsDep, engine: EngineDep, scope: SliceDep) -> list[ModelOut]:
    """The current model of every trained series, with its training window and backtest metrics."""
    current = await run_in_threadpool(ModelRegistry(engine, settings.models_path).current)
    return [
        ModelOut(
            series_id=sid,
            product=e.key.product,
            cost_line=e.key.cost_line,
            currency=e.key.currency,
            granularity=e.key.granularity.value,
            version=e.version,
            model_type=e.model_type,
            trained_at=e.trained_at,
            train_start=e.train_start,
            train_end=e.train_end,
            points=e.points,
            alerting_ready=e.alerting_ready,
            metrics=e.metrics,
        )
        for sid, e in sorted(current.items())
        if scope.allows_key(e.key)
    ]
