"""Monitors in training and the sweep: a new account's spend is new spend on the account monitor, joined
to the cost line whose excess it is; monitor series get models, and quiet ones raise nothing."""

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
from models.registry import ModelRegistry
from tests.ingestion.focus_rows import hourly_rows, write_csv
from training.sweep_job import run_sweep
from training.train_job import train_all

START = datetime(2026, 9, 1)
DAYS = 21


def test_a_new_account_is_new_spend_linked_to_its_cost_line(engine: Engine, tmp_path: Path) -> None:
    (tmp_path / "monitors.yaml").write_text("monitors:\n  - name: account\n    dimensions: [account]\n")
    settings = Settings(data_dir=tmp_path / "data", monitors_file=tmp_path / "monitors.yaml", _env_file=None)  # type: ignore[call-arg]
    end = START + timedelta(days=DAYS)
    rows = hourly_rows(24 * DAYS, start=START, cost=10.0, product="shop", account="111")
    rows += hourly_rows(24 * DAYS, start=START, cost=5.0, product="shop", service="Amazon S3", account="111")
    # Someone starts instances in an account nobody used: 30 hours of 120 an hour.
    rows += hourly_rows(30, start=end - timedelta(hours=30), cost=120.0, product="shop", account="333")
    write_csv(tmp_path / "export.csv", rows)
    clock = FixedClock(end.replace(tzinfo=UTC))
    Ingestor(settings, engine, clock).ingest_paths([tmp_path / "export.csv"])
    report = train_all(settings, engine, clock, model="seasonal", workers=1, at=end - timedelta(hours=30))
    # Two cost lines and one account before the new one appeared: the account monitor trains alongside.
    assert report.trained == 3 and not report.failed
    assert {k.split("|")[-1] for k in ModelRegistry(engine, settings.models_path).current()} == {
        "hour",
        "account:account=111",
    }
    sweep = run_sweep(settings, engine, clock, at=end.replace(tzinfo=UTC))
    by_scope = {(e.cost_line, e.scope): e for e in sweep.evaluations}
    [fresh] = by_scope[("(all)", "account:account=333")].anomalies
    assert fresh.kind == "new_spend" and fresh.expected == 0.0
    assert not by_scope[("(all)", "account:account=111")].anomalies
    assert not by_scope[("Amazon S3", "default")].anomalies
    line = by_scope[("Amazon EC2", "default")]
    assert line.anomalies and line.anomalies[-1].root_causes[0].dimensions.get("account") == "333"
    routing = default_routing(pagerduty_routing_key=SecretStr("pd-key"), ticket_kind=None, ticket_url=None)
    outcome = AlertService(engine, clock, routing).process(sweep.evaluations)
    [incident] = list_incidents(engine, status="open")
    assert (incident["cost_line"], incident["scope"]) == ("Amazon EC2", "default")
    assert [e["scope"] for e in incident["linked"]] == ["account:account=333"]
    assert {n.fingerprint for n in outcome.notifications} == {incident["fingerprint"]}
