"""The two recurring jobs, leased so that across replicas each runs once: a sweep and a training.

Used by ``spendsentry sweep`` / ``train`` and by the scheduler inside ``serve``. Each run is recorded in
``job_runs`` (status, as-of time, duration, summary), which ``/metrics`` and the dashboard read.
"""

from __future__ import annotations

import logging
import time
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine

from alerts.heartbeat import Heartbeat, send_heartbeat
from alerts.wiring import Alerting, alerting_from_settings, exclusions_from
from core.clock import Clock
from core.logs import job_context
from core.settings import Settings
from training.fanout import Progress
from training.leases import JobOutcome, run_exclusive
from training.sweep_job import SweepReport, run_sweep
from training.train_job import ModelChoice, TrainReport, train_all

log = logging.getLogger(__name__)


def _sweep_summary(report: SweepReport) -> dict[str, Any]:
    return {
        "as_of": report.as_of.isoformat(),
        "series": report.series,
        "evaluated": report.evaluated,
        "anomalies": report.anomalies,
        "fallbacks": len(report.fallbacks),
        "skipped": len(report.skipped),
        "incidents": report.incidents,
        "notifications": report.delivered,
        "seconds": round(report.seconds, 3),
        **({"heartbeat": report.heartbeat} if report.heartbeat is not None else {}),
    }


def _heartbeat(settings: Settings, alerting: Alerting, report: SweepReport) -> None:
    """After a successful sweep, tell the heartbeat receiver (its silence is the alarm)."""
    if alerting.heartbeat is None:
        return
    summary = {
        "series": report.series,
        "evaluated": report.evaluated,
        "anomalies": report.anomalies,
        **{f"incidents_{k}": v for k, v in report.incidents.items()},
        **{f"notifications_{k}": v for k, v in report.delivered.items()},
    }
    beat = Heartbeat(at=report.as_of, summary=summary, link=settings.public_url)
    report.heartbeat = send_heartbeat(alerting.dispatcher.notifiers, alerting.heartbeat, beat)


def _train_summary(report: TrainReport) -> dict[str, Any]:
    return {
        "series": report.series,
        "trained": report.trained,
        "failed": len(report.failed),
        "by_model": report.by_model,
        "not_ready": report.not_ready,
        "seconds": round(report.seconds, 3),
    }


def sweep_job(
    settings: Settings,
    engine: Engine,
    clock: Clock,
    *,
    at: datetime | None = None,
    progress: Progress | None = None,
) -> JobOutcome:
    """One leased sweep as of ``at`` (now by default), with incidents and notifications."""
    alerting = alerting_from_settings(settings, engine, clock)

    def work(as_of: datetime | None) -> SweepReport:
        with job_context("sweep"):
            started = time.perf_counter()
            report = run_sweep(settings, engine, clock, at=as_of, alerting=alerting, progress=progress)
            _heartbeat(settings, alerting, report)
            log.info(
                "sweep done",
                extra={"summary": _sweep_summary(report), "seconds": time.perf_counter() - started},
            )
            return report

    return run_exclusive(
        engine,
        "sweep",
        work,
        as_of=at or clock.now(),
        ttl=timedelta(seconds=settings.lease_seconds),
        summarize=_sweep_summary,
    )


def train_job(
    settings: Settings,
    engine: Engine,
    clock: Clock,
    *,
    model: ModelChoice = "auto",
    workers: int | None = None,
    dask_address: str | None = None,
    at: datetime | None = None,
    progress: Progress | None = None,
) -> JobOutcome:
    """One leased training of every series (facts before ``at`` when given)."""

    def work(as_of: datetime | None) -> TrainReport:
        with job_context("train"):
            report = train_all(
                settings,
                engine,
                clock,
                model=model,
                workers=workers,
                dask_address=dask_address or settings.dask_scheduler,
                at=as_of,
                progress=progress,
                exclusions=exclusions_from(engine),
            )
            log.info("training done", extra={"summary": _train_summary(report)})
            return report

    return run_exclusive(
        engine,
        "train",
        work,
        as_of=at,
        ttl=timedelta(seconds=settings.lease_seconds),
        summarize=_train_summary,
    )
