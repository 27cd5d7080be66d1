"""``/metrics`` gauges the alerting rules rely on: model age over the current models only, and the
coverage SLO's objective beside its ratio."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import Engine, insert

from api.metrics import build_registry
from ingestion.fact_store import FactStore
from models.tables import model_versions


def scrape(
    tmp_path: Path, engine: Engine, **kwargs: float
) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    registry = build_registry(FactStore(tmp_path / "facts"), engine, **kwargs)
    text = generate_latest(registry).decode()
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def version(series: str, days_ago: float, status: str = "ok") -> dict[str, object]:
    return {
        "series_id": series,
        "product": series,
        "cost_line": "Compute",
        "currency": "USD",
        "granularity": "day",
        "status": status,
        "trained_at": datetime.now(UTC) - timedelta(days=days_ago),
    }


def test_model_age_spans_the_current_model_of_each_series(tmp_path: Path, engine: Engine) -> None:
    with engine.begin() as conn:
        conn.execute(
            insert(model_versions),
            [
                version("a", 30),  # superseded by a's newer version: history, not a current model
                version("a", 1),
                version("b", 2),
                version("c", 0.5, status="failed"),  # failed trainings never count
            ],
        )
    samples = scrape(tmp_path, engine)
    day = 86400.0
    oldest = samples[("spendsentry_model_age_seconds", (("which", "oldest"),))]
    newest = samples[("spendsentry_model_age_seconds", (("which", "newest"),))]
    assert oldest == pytest.approx(2 * day, abs=120) and newest == pytest.approx(1 * day, abs=120)


def test_coverage_objective_is_exposed_only_when_the_slo_is_set(tmp_path: Path, engine: Engine) -> None:
    name = ("spendsentry_attribution_coverage_objective_ratio", ())
    assert name not in scrape(tmp_path, engine)
    assert scrape(tmp_path, engine, coverage_slo_pct=95.0)[name] == pytest.approx(0.95)
