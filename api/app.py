"""The FastAPI application factory: ``create_app(settings)`` wires settings, state and routers.

The database schema is migrated on start. Building the app has no side effects until it starts.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from api import metrics
from api.errors import install_error_handlers
from api.limits import BodySizeLimit
from api.routes import health, root_causes, series, spend
from core.clock import Clock, SystemClock
from core.db import make_engine, migrate
from core.settings import Settings, get_settings
from ingestion.fact_store import FactStore

DESCRIPTION = (
    "Product FinOps anomaly detection: FOCUS spend per product and cost line, seasonal baselines, "
    "root causes in $, burn-rate severity and deduplicated notifications."
)


def create_app(settings: Settings | None = None, *, clock: Clock | None = None) -> FastAPI:
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
        try:
            yield
        finally:
            engine.dispose()

    app = FastAPI(title="spendsentry", version="0.1.0", description=DESCRIPTION, lifespan=lifespan)
    install_error_handlers(app)
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_body_bytes)
    app.include_router(health.router)
    app.include_router(metrics.router)
    app.include_router(spend.router)
    app.include_router(series.router)
    app.include_router(root_causes.router)
    return app


def create_default_app() -> FastAPI:
    """Entry point for ``uvicorn --factory``: settings from the environment."""
    return create_app()
