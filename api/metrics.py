"""``GET /metrics``: Prometheus metrics, read from the stores when scraped (no background state)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC

from fastapi import APIRouter, Request, Response
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import Engine, func, select

from alerts.delivery import DELIVERY_SCOPE, failed_by_receiver, open_delivery_incidents
from alerts.outbox import outbox_counts
from alerts.tables import incidents
from core.types import Granularity
from ingestion.fact_store import FactStore
from ingestion.tables import ingest_runs
from models.tables import model_versions
from training.leases import last_runs

router = APIRouter(tags=["metrics"])


class StoreCollector(Collector):
    """Series count, newest fact, attribution coverage and ingestion runs, computed per scrape."""

    def __init__(self, store: FactStore, engine: Engine, coverage_objective: float | None = None) -> None:
        self.store = store
        self.engine = engine
        self.coverage_objective = coverage_objective

    def collect(self) -> Iterator[Metric]:
        series = GaugeMetricFamily("spendsentry_series", "Stored usage series", labels=["granularity"])
        infos = self.store.list_series()
        for gran in Granularity:
            series.add_metric([gran.value], sum(1 for i in infos if i.granularity is gran))
        yield series
        coverage = GaugeMetricFamily(
            "spendsentry_attribution_coverage_ratio",
            "Share of usage spend attributed to a product over the newest day of facts",
            labels=["currency"],
        )
        frame = self.store.coverage(Granularity.DAY)
        if not frame.empty:
            newest = frame[frame["t"] == frame["t"].max()]
            for row in newest.itertuples(index=False):
                spend = float(row.spend)
                attributed = 0.0 if row.attributed != row.attributed else float(row.attributed)
                coverage.add_metric([str(row.currency)], attributed / spend if spend else 1.0)
        yield coverage
        if self.coverage_objective is not None:
            # The SLO's target beside the ratio, so alerting rules compute its burn rate without a copy of it.
            yield GaugeMetricFamily(
                "spendsentry_attribution_coverage_objective_ratio",
                "Attribution coverage SLO target (COVERAGE_SLO as a ratio)",
                value=self.coverage_objective,
            )
        last = self.store.last_period()
        newest_fact = GaugeMetricFamily(
            "spendsentry_newest_fact_timestamp_seconds", "Start of the newest usage period"
        )
        if last is not None:
            newest_fact.add_metric([], last.timestamp())
        yield newest_fact
        runs = GaugeMetricFamily("spendsentry_ingest_runs", "Ingestion runs recorded", labels=["status"])
        with self.engine.connect() as conn:
            for status, count in conn.execute(
                select(ingest_runs.c.status, func.count()).group_by(ingest_runs.c.status)
            ):
                runs.add_metric([str(status)], float(count))
        yield runs
        yield from self._jobs()
        yield from self._alerts()
        yield from self._models()

    def _jobs(self) -> Iterator[Metric]:
        duration = GaugeMetricFamily(
            "spendsentry_job_last_duration_seconds",
            "Duration of the newest sweep / training run",
            labels=["job"],
        )
        finished = GaugeMetricFamily(
            "spendsentry_job_last_finished_timestamp_seconds",
            "When the newest run ended",
            labels=["job", "status"],
        )
        evaluated = GaugeMetricFamily(
            "spendsentry_sweep_series_evaluated", "Series evaluated by the newest sweep"
        )
        anomalies = GaugeMetricFamily(
            "spendsentry_sweep_open_anomalies", "Open anomalies in the newest sweep"
        )
        heartbeat = GaugeMetricFamily(
            "spendsentry_sweep_heartbeat_sent",
            "1 when the newest sweep's heartbeat was accepted, 0 when it failed (absent: no HEARTBEAT_RECEIVER)",
        )
        for job, run in last_runs(self.engine).items():
            if job == "sweep" and "heartbeat" in run["summary"]:
                heartbeat.add_metric([], 1.0 if run["summary"]["heartbeat"] == "sent" else 0.0)
            if run["finished_at"] is not None and run["started_at"] is not None:
                duration.add_metric([job], (run["finished_at"] - run["started_at"]).total_seconds())
                finished.add_metric([job, run["status"]], run["finished_at"].timestamp())
            if job == "sweep":
                evaluated.add_metric([], float(run["summary"].get("evaluated", 0)))
                anomalies.add_metric([], float(run["summary"].get("anomalies", 0)))
        yield from (duration, finished, evaluated, anomalies, heartbeat)

    def _alerts(self) -> Iterator[Metric]:
        open_incidents = GaugeMetricFamily(
            "spendsentry_incidents_open", "Open incidents by current severity", labels=["severity"]
        )
        with self.engine.connect() as conn:
            counts: dict[str, int] = {
                str(severity): int(n)
                for severity, n in conn.execute(
                    select(incidents.c.severity, func.count())
                    .where(incidents.c.status == "open", incidents.c.scope != DELIVERY_SCOPE)
                    .group_by(incidents.c.severity)
                )
            }
        for severity in ("page", "ticket", "none"):
            open_incidents.add_metric([severity], float(counts.get(severity, 0)))
        yield open_incidents
        notifications = GaugeMetricFamily(
            "spendsentry_notifications", "Outbox notifications by delivery state", labels=["status"]
        )
        outbox = outbox_counts(self.engine)
        for status in ("pending", "sending", "delivered", "failed", "skipped"):
            notifications.add_metric([status], float(outbox.get(status, 0)))
        yield notifications
        yield from self._delivery()

    def _delivery(self) -> Iterator[Metric]:
        # No silent failure (alerts.delivery): what was given up for good, and which receivers are down.
        failed = GaugeMetricFamily(
            "spendsentry_notifications_failed",
            "Notifications given up for good, by receiver",
            labels=["receiver"],
        )
        for receiver, n in sorted(failed_by_receiver(self.engine).items()):
            failed.add_metric([receiver], float(n))
        yield failed
        down = GaugeMetricFamily(
            "spendsentry_delivery_incidents_open",
            "Open delivery incidents (a receiver whose notifications fail for good), by receiver",
            labels=["receiver"],
        )
        for receiver, n in sorted(open_delivery_incidents(self.engine).items()):
            down.add_metric([receiver], float(n))
        yield down

    def _models(self) -> Iterator[Metric]:
        age = GaugeMetricFamily(
            "spendsentry_model_age_seconds", "Age of the current models (oldest and newest)", labels=["which"]
        )
        # Current models only (each series' newest successful version): superseded versions stay in the
        # registry as history and would pin "oldest" to the first training ever.
        current = (
            select(func.max(model_versions.c.id).label("id"))
            .where(model_versions.c.status == "ok")
            .group_by(model_versions.c.series_id)
            .subquery()
        )
        with self.engine.connect() as conn:
            oldest, newest = conn.execute(
                select(func.min(model_versions.c.trained_at), func.max(model_versions.c.trained_at)).where(
                    model_versions.c.id.in_(select(current.c.id))
                )
            ).one()
        now = time.time()
        for which, when in (("oldest", oldest), ("newest", newest)):
            if when is not None:
                stamp = when if when.tzinfo else when.replace(tzinfo=UTC)
                age.add_metric([which], max(now - stamp.timestamp(), 0.0))
        yield age


def build_registry(
    store: FactStore, engine: Engine, *, coverage_slo_pct: float | None = None
) -> CollectorRegistry:
    registry = CollectorRegistry()
    objective = coverage_slo_pct / 100.0 if coverage_slo_pct is not None else None
    registry.register(StoreCollector(store, engine, objective))
    return registry


@router.get("/metrics", include_in_schema=True)
def metrics(request: Request) -> Response:
    """Prometheus text exposition."""
    registry: CollectorRegistry = request.app.state.registry
    return Response(generate_latest(registry), media_type="text/plain; version=0.0.4; charset=utf-8")
