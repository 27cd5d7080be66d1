"""The FastAPI application factory: ``create_app(settings)`` wires settings, state and routers.

The database schema is migrated on start. Building the app has no side effects until it starts.
"""

from __future__ import annotations

import gc
import logging
import os
import threading
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from functools import partial

from fastapi import Depends, FastAPI
from sqlalchemy import Engine

from alerts.rebaseline import spend_rebaselines_of
from api import metrics, ui
from api.audit import AuditLog
from api.auth import Authenticator, guarded, install_docs, parse_token_setting
from api.errors import install_error_handlers
from api.fair_use import FairUse
from api.json_body import document_bodies
from api.limits import BodySizeLimit
from api.model_cache import StoredModels
from api.request_id import RequestId
from api.routes import (
    audit,
    budgets,
    drivers,
    expected_changes,
    health,
    incidents,
    monitors,
    root_causes,
    score,
    series,
    spend,
    sweeps,
    tokens,
    trainings,
    unit_costs,
)
from api.scoping import unrestricted
from api.sessions import SessionStore
from api.telemetry import telemetry_options
from api.ui import sign_in
from core.clock import Clock, SystemClock
from core.db import make_engine, migrate
from core.logs import configure_logging
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
    # Leased: with several replicas every scheduler fires, and one of them runs the job.
    from training.jobs import sweep_job, train_job

    def train() -> object:
        return train_job(settings, engine, clock)

    def sweep() -> object:
        return sweep_job(settings, engine, clock)

    return {"train": (settings.train_cron, train), "sweep": (settings.sweep_cron, sweep)}


def _start_dispatcher(settings: Settings, engine: Engine, clock: Clock) -> Callable[[], None]:
    """Deliver the outbox continuously (retries included) in a background thread; returns its stopper."""
    from alerts.wiring import alerting_from_settings

    dispatcher = alerting_from_settings(settings, engine, clock).dispatcher
    stop = threading.Event()
    thread = threading.Thread(target=dispatcher.run_forever, args=(stop,), name="dispatcher", daemon=True)
    thread.start()

    def stopper() -> None:
        stop.set()
        thread.join(timeout=10)

    return stopper


def create_app(
    settings: Settings | None = None, *, clock: Clock | None = None, scheduler: bool = False
) -> FastAPI:
    """The API. With ``scheduler`` (as ``serve`` does) training and sweeps also run on their cron."""
    settings = settings or get_settings()
    # Parsed at build time so that a malformed SPENDSENTRY_API_TOKENS stops the start, naming the entry.
    configured_tokens = parse_token_setting(settings.api_tokens)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = make_engine(settings.database_url)
        migrate(engine)
        store = FactStore(
            settings.facts_dir, memory_limit=settings.duckdb_memory_limit, threads=settings.duckdb_threads
        )
        app.state.settings = settings
        app.state.engine = engine
        app.state.auth = Authenticator(configured_tokens, engine)
        app.state.sessions = SessionStore(engine, settings.session_hours)
        app.state.fair_use = FairUse(settings.rate_limit_per_minute, settings.rate_limit_burst)
        app.state.clock = clock or SystemClock()
        app.state.store = store
        app.state.registry = metrics.build_registry(store, engine, coverage_slo_pct=settings.coverage_slo)
        app.state.stored_models = StoredModels(
            ModelRegistry(engine, settings.models_path), rebaselines=partial(spend_rebaselines_of, engine)
        )
        jobs = build_scheduler(_scheduled_jobs(settings, engine, app.state.clock)) if scheduler else None
        stop_dispatcher = _start_dispatcher(settings, engine, app.state.clock) if scheduler else None
        if jobs is not None:
            jobs.start()
        app.state.scheduler = jobs
        # The detector's compiled kernels loaded from numba's disk cache (compiled, the first time on a
        # machine) now, so that no scoring request pays for it.
        from api.score_points import warm as warm_points
        from detector.compiled import warm

        warm()
        warm_points()
        # Everything imported and built so far lives as long as the server: out of the collector's way,
        # a full collection no longer walks pandas' and numpy's module graphs in the middle of a request.
        gc.collect()
        gc.freeze()
        try:
            yield
        finally:
            if jobs is not None:
                jobs.shutdown(wait=False)
            if stop_dispatcher is not None:
                stop_dispatcher()
            engine.dispose()

    app = FastAPI(
        title="spendsentry",
        version="0.1.0",
        description=DESCRIPTION,
        lifespan=lifespan,
        # Not public: FastAPI's open docs routes are off and install_docs serves them behind `read`.
        docs_url="/docs" if settings.docs_public else None,
        redoc_url="/redoc" if settings.docs_public else None,
        openapi_url="/openapi.json" if settings.docs_public else None,
        **telemetry_options(),
    )
    install_docs(app, public=settings.docs_public)
    document_bodies(app, *score.BODY_MODELS)  # the scoring routes parse their bodies from bytes
    install_error_handlers(app)
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_body_bytes)
    app.add_middleware(AuditLog)  # outside the size limit, so that a 413 is recorded too
    app.add_middleware(RequestId)
    # Access: GET/HEAD need `read`, other methods the scope named here (api/auth.py); health stays open.
    # Scoring first: a request is matched against the routes in order, and /v1/score is the hot path (its
    # paths overlap no other router's, so the order changes nothing else).
    # Its handlers call the `score` guard themselves (api.routes.score.GUARD), and its direct routes
    # (api.direct_route) would not run a dependency given here: none is.
    app.include_router(score.router)
    # Sign-in next: its routes (and the dashboard's static assets) are how one gets past the guard.
    app.include_router(sign_in.router)
    app.include_router(
        ui.router,
        dependencies=[
            *guarded("read", public=settings.ui_public, pages=True),
            Depends(sign_in.page_session),
        ],
    )
    app.include_router(health.router)
    app.include_router(
        metrics.router,
        dependencies=[
            *guarded("read", public=settings.metrics_public),
            unrestricted("read the service's metrics (they count every team's incidents)"),
        ],
    )
    app.include_router(spend.router, dependencies=guarded("write"))
    app.include_router(series.router, dependencies=guarded("read"))
    app.include_router(monitors.router, dependencies=guarded("read"))
    app.include_router(root_causes.router, dependencies=guarded("score"))
    app.include_router(trainings.router, dependencies=guarded("write"))
    app.include_router(sweeps.router, dependencies=guarded("write"))
    app.include_router(incidents.router, dependencies=guarded("write"))
    app.include_router(budgets.router, dependencies=guarded("write"))
    app.include_router(expected_changes.router, dependencies=guarded("write"))
    app.include_router(tokens.router, dependencies=guarded("admin", read_scope="admin"))
    app.include_router(drivers.router, dependencies=guarded("write"))
    app.include_router(unit_costs.router, dependencies=guarded("read"))
    app.include_router(audit.router, dependencies=guarded("admin", read_scope="admin"))
    return app


SCHEDULER_ENV = "SPENDSENTRY_SERVE_SCHEDULER"  # set by the process supervisor, not a user setting


def create_serve_app() -> FastAPI:
    """Entry point of each ``serve --workers N`` process: settings and logging from the environment.

    Only the process the supervisor marks runs the scheduler and the outbox dispatcher (leases would keep
    the others from running a second sweep, but every process would still wake up to try).
    """
    settings = get_settings()
    configure_logging(settings.log_format, logging.INFO)
    return create_app(settings, scheduler=os.environ.get(SCHEDULER_ENV, "1") == "1")


def create_default_app() -> FastAPI:
    """Entry point for ``uvicorn --factory``: settings from the environment."""
    return create_app()
