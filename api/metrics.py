"""``GET /metrics``: Prometheus metrics, read from the stores when scraped (no background state)."""

from __future__ import annotations

from collections.abc import Iterator

from fastapi import APIRouter, Request, Response
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import Engine, func, select

from core.types import Granularity
from ingestion.fact_store import FactStore
from ingestion.tables import ingest_runs

router = APIRouter(tags=["metrics"])


class StoreCollector(Collector):
    """Series count, newest fact, attribution coverage and ingestion runs, computed per scrape."""

    def __init__(self, store: FactStore, engine: Engine) -> None:
        self.store = store
        self.engine = engine

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


def build_registry(store: FactStore, engine: Engine) -> CollectorRegistry:
    registry = CollectorRegistry()
    registry.register(StoreCollector(store, engine))
    return registry


@router.get("/metrics", include_in_schema=True)
def metrics(request: Request) -> Response:
    """Prometheus text exposition."""
    registry: CollectorRegistry = request.app.state.registry
    return Response(generate_latest(registry), media_type="text/plain; version=0.0.4; charset=utf-8")
