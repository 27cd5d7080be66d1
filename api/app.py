"""The FastAPI application factory: ``create_app(settings)`` wires settings, state and routers.

The database schema is migrated on start. Building the app has no side effects until it starts.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from fastapi import FastAPI
from sqlalchemy import Engine

from api import metrics
from api.errors import install_error_handlers
from api.limits import BodySizeLimit
from api.model_cache import StoredModels
from api.routes import (
    budgets,
    expected_changes,
    health,
    incidents,
    root_causes,
    score,
    series,
    spend,
    sweeps,
    trainings,
)
from core.clock import Clock, SystemClock
from core.db import make_engine, migrate
from core.settings import Settings, get_settings
from ingestion.fact_store import FactStore
from models.registry import ModelRegistry
from training.scheduler import build_scheduler

log = logging.getLogger(__name__)

DESCRIPTION = (
    "Product FinOps anomaly detection: FOCUS spend per product and cost line, seasonal baselines, "
    "root causes in $, burn-rate severity and deduplicated notifications."
)


def _scheduled_jobs(
    settings: Settings, engine: Engine, clock: Clock
) -> dict[str, tuple[str, Callable[[], object]]]:
    from training.train_job import train_all

    def train() -> object:
        report = train_all(settings, engine, clock, dask_address=settings.dask_scheduler)
        log.info("scheduled training: %s", "; ".join(report.lines()))
        return report

    return {"train": (settings.train_cron, train)}


def create_app(
    settings: Settings | None = None, *, clock: Clock | None = None, scheduler: bool = False
) -> FastAPI:
    """The API. With ``scheduler`` (as ``serve`` does) training and sweeps also run on their cron."""
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = make_engine(settings.database_url)
        migrate(engine)
        store = FactStore(
            settings.facts_dir, memory_limit=settings.duckdb_memory_limit, threads=settings.duckdb_threads
        )
        app.state.settings = settings
        app.state.engine = engine
        app.state.clock = clock or SystemClock()
        app.state.store = store
        app.state.registry = metrics.build_registry(store, engine)
        app.state.stored_models = StoredModels(ModelRegistry(engine, settings.models_path))
        jobs = build_scheduler(_scheduled_jobs(settings, engine, app.state.clock)) if scheduler else None
        if jobs is not None:
            jobs.start()
        app.state.scheduler = jobs
        try:
            yield
        finally:
            if jobs is not None:
                jobs.shutdown(wait=False)
            engine.dispose()

    app = FastAPI(title="spendsentry", version="0.1.0", description=DESCRIPTION, lifespan=lifespan)
    install_error_handlers(app)
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_body_bytes)
    app.include_router(health.router)
    app.include_router(metrics.router)
    app.include_router(spend.router)
    app.include_router(series.router)
    app.include_router(score.router)
    app.include_router(root_causes.router)
    app.include_router(trainings.router)
    app.include_router(sweeps.router)
    app.include_router(incidents.router)
    app.include_router(budgets.router)
    app.include_router(expected_changes.router)
    return app


def create_default_app() -> FastAPI:
    """Entry point for ``uvicorn --factory``: settings from the environment."""
    return create_app()
