"""Unit economics end to end, through the real CLI and real local receivers (as tests/e2e/test_loop.py):
traffic that doubles with spend raises nothing, spend up 40% on flat traffic tickets a unit-cost
regression naming the cost line, and a tagging regression that drops coverage below the SLO tickets."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text

from tests.alerts.receiver_server import Receiver, running
from tests.e2e.helpers import run_cli
from tests.unit_economics.scenario import Change, change_at, write_scenario

SECRET = "webhook-secret-for-unit-tests"


def _run(tmp_path: Path, change: Change, *, drivers: bool = True, **env: str) -> Receiver:
    export, driver_csv = write_scenario(tmp_path, change)
    res = run_cli(tmp_path, "ingest", str(export))
    assert res.returncode == 0, res.stderr
    if drivers:
        res = run_cli(tmp_path, "ingest-drivers", str(driver_csv))
        assert res.returncode == 0, res.stderr
        assert "points inserted: 70" in res.stdout
    res = run_cli(tmp_path, "train", "--model", "seasonal", "--at", change_at().isoformat())
    assert res.returncode == 0, res.stderr
    with running(Receiver(webhook_secret=SECRET)) as receiver:
        receivers = {
            "SPENDSENTRY_PAGERDUTY_ROUTING_KEY": "R0UT1NGKEY0000000000000000000000",
            "SPENDSENTRY_PAGERDUTY_URL": f"{receiver.url}/pagerduty/v2/enqueue",
            "SPENDSENTRY_TICKET_KIND": "webhook",
            "SPENDSENTRY_TICKET_URL": f"{receiver.url}/webhook",
            "SPENDSENTRY_TICKET_TOKEN": SECRET,
        }
        res = run_cli(
            tmp_path, "sweep", "--at", (change_at() + timedelta(days=3)).isoformat(), **receivers, **env
        )
        assert res.returncode == 0, res.stderr
    assert all(status < 300 for _, status in receiver.requests), receiver.requests
    return receiver


def _incidents(tmp_path: Path) -> list[dict[str, Any]]:
    engine = create_engine(f"sqlite:///{tmp_path / 'var' / 'state.db'}")
    with engine.connect() as conn:
        rows = conn.execute(
            text("SELECT product, cost_line, scope, peak_severity, labels FROM alert_incidents")
        ).all()
    engine.dispose()
    return [
        {"product": r[0], "cost_line": r[1], "scope": r[2], "severity": r[3], "labels": json.loads(r[4])}
        for r in rows
    ]


def _sent(receiver: Receiver) -> list[dict[str, Any]]:
    """Every notification's details (webhook ``details`` and PagerDuty ``custom_details``)."""
    out = [b["details"] for p, b in receiver.accepted if p.startswith("/webhook")]
    out += [b["payload"]["custom_details"] for p, b in receiver.accepted if p.startswith("/pagerduty")]
    return out


@pytest.mark.slow
def test_traffic_doubling_with_spend_raises_no_incident(tmp_path: Path) -> None:
    receiver = _run(tmp_path, "traffic_doubles")
    assert [d for d in _sent(receiver) if d["product"] == "shop"] == []
    assert [i for i in _incidents(tmp_path) if i["product"] == "shop"] == []


@pytest.mark.slow
def test_traffic_doubling_without_drivers_is_a_spend_incident(tmp_path: Path) -> None:
    # The control for the test above: the same spend without drivers alerts, so volume is what explains it.
    receiver = _run(tmp_path, "traffic_doubles", drivers=False)
    assert {d["cost_line"] for d in _sent(receiver) if d["product"] == "shop"} >= {"Amazon EC2"}


@pytest.mark.slow
def test_spend_up_40_percent_on_flat_traffic_tickets_a_unit_cost_regression(tmp_path: Path) -> None:
    receiver = _run(tmp_path, "rds_regression")
    unit = [d for d in _sent(receiver) if d["scope"] == "unit:requests"]
    assert unit, _sent(receiver)
    assert {d["severity"] for d in unit} == {"ticket"}
    assert unit[0]["product"] == "shop" and unit[0]["cost_line"] == "(all)"
    assert unit[0]["root_causes"][0]["dimensions"] == {"cost_line": "Amazon RDS"}
    # Its $ impact is the regression's: about 700 a day over the days since the change.
    assert 1000 < unit[0]["impact"] < 3000
    tickets = [
        b
        for p, b in receiver.accepted
        if p.startswith("/webhook") and b["details"]["scope"] == "unit:requests"
    ]
    assert [t["action"] for t in tickets] == ["open"]
    (incident,) = [i for i in _incidents(tmp_path) if i["scope"] == "unit:requests"]
    assert incident["labels"]["verdict"] == "unit cost regression"
    assert incident["labels"]["driver"] == "requests" and incident["labels"]["unit"] == "request"


@pytest.mark.slow
def test_coverage_drop_after_a_tagging_regression_opens_a_ticket(tmp_path: Path) -> None:
    receiver = _run(tmp_path, "untagged_s3", drivers=False, SPENDSENTRY_COVERAGE_SLO="95")
    coverage = [d for d in _sent(receiver) if d["scope"] == "slo:coverage"]
    assert coverage, _sent(receiver)
    assert {d["severity"] for d in coverage} == {"ticket"}
    assert coverage[0]["root_causes"][0]["dimensions"] == {"cost_line": "Amazon S3"}
    (incident,) = [i for i in _incidents(tmp_path) if i["scope"] == "slo:coverage"]
    assert incident["labels"]["verdict"] == "coverage below SLO"
    assert float(incident["labels"]["coverage_pct"]) < 95
