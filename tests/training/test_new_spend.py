"""New spend end to end: real facts, a trained model, a sweep and the alert service on a real database.

A service that never spent before starts spending thousands a day (leaked credentials, a forgotten
experiment): its series is in cold start, which must not keep it quiet for a week.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from pydantic import SecretStr
from sqlalchemy import Engine

from alerts.incidents import list_incidents
from alerts.receivers import default_routing
from alerts.service import AlertService
from core.clock import FixedClock
from core.settings import Settings
from ingestion.ingest import Ingestor
from tests.ingestion.focus_rows import hourly_rows, write_csv
from training.sweep_job import run_sweep
from training.train_job import train_all

START = datetime(2026, 9, 1)
DAYS = 21


def sweep_with(
    engine: Engine, tmp_path: Path, new_per_hour: float, hours: int = 30, then_nothing: int = 0
) -> list[dict[str, object]]:
    settings = Settings(data_dir=tmp_path / "data", _env_file=None)  # type: ignore[call-arg]
    end = START + timedelta(days=DAYS)
    rows = hourly_rows(24 * DAYS, start=START, cost=10.0, product="shop", service="Amazon EC2")
    # The new service: nothing for three weeks, then ``hours`` hours of spend.
    first = end - timedelta(hours=hours + then_nothing)
    rows += hourly_rows(hours, start=first, cost=new_per_hour, product="shop", service="Amazon SageMaker")
    # Then hours billed at zero (the line exists, it spends nothing).
    rows += hourly_rows(
        then_nothing,
        start=first + timedelta(hours=hours),
        cost=0.0,
        product="shop",
        service="Amazon SageMaker",
    )
    write_csv(tmp_path / "export.csv", rows)
    clock = FixedClock(end.replace(tzinfo=UTC))
    Ingestor(settings, engine, clock).ingest_paths([tmp_path / "export.csv"])
    train_all(settings, engine, clock, model="seasonal", workers=1)
    report = run_sweep(settings, engine, clock, at=end.replace(tzinfo=UTC))
    [fresh] = [e for e in report.evaluations if e.cost_line == "Amazon SageMaker"]
    [steady] = [e for e in report.evaluations if e.cost_line == "Amazon EC2"]
    assert steady.anomalies == []
    routing = default_routing(pagerduty_routing_key=SecretStr("pd-key"), ticket_kind=None, ticket_url=None)
    AlertService(engine, clock, routing).process(report.evaluations)
    if new_per_hour * 24 >= settings.materiality_floor and hours >= 2:
        [event] = fresh.anomalies
        assert event.kind == "new_spend" and event.expected == 0.0
        assert abs(event.projected_month_impact - new_per_hour * 730) < 1e-6 * new_per_hour * 730
    return list_incidents(engine, status="open")


def test_a_new_service_spending_thousands_a_day_pages_at_once(engine: Engine, tmp_path: Path) -> None:
    [incident] = sweep_with(engine, tmp_path, new_per_hour=150.0)  # 3,600 a day, 15x the product's EC2
    assert incident["cost_line"] == "Amazon SageMaker" and incident["severity"] == "page"
    assert "new spend" in incident["reasons"][0]


def test_new_spend_below_the_materiality_floor_raises_nothing(engine: Engine, tmp_path: Path) -> None:
    incidents = sweep_with(engine, tmp_path, new_per_hour=0.1)  # 2.40 a day: below the materiality floor
    assert incidents == []


def test_an_hourly_leak_counts_from_its_second_hour_at_its_daily_rate(engine: Engine, tmp_path: Path) -> None:
    """$20 an hour is $480 a day: two hours of it are news, although together they are under the $100 floor
    that a day of spend must reach."""
    [incident] = sweep_with(engine, tmp_path, new_per_hour=20.0, hours=2)
    assert incident["cost_line"] == "Amazon SageMaker" and incident["severity"] in {"page", "ticket"}
    assert "new spend" in incident["reasons"][0]


def test_one_hour_of_new_spend_under_the_floor_is_no_news(engine: Engine, tmp_path: Path) -> None:
    # $60 in one hour, then an hour at zero: a one-off charge, not a rate ($60 alone is under the floor).
    assert sweep_with(engine, tmp_path, new_per_hour=60.0, hours=1, then_nothing=1) == []
