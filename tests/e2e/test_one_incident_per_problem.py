"""The held-out case of issue 16, end to end: one egress spike in one account, tagged in part to `media`
and in part untagged, is one problem. Real facts, monitors (product totals and accounts), training, a
sweep, the alert service, the dispatcher and a local PagerDuty + ticket receiver: one incident notifies,
under one dedup key, and the untagged share, the product total and the account are linked to it.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy import Engine

from alerts.dispatcher import Dispatcher, RetryPolicy
from alerts.fingerprint import fingerprint
from alerts.incidents import list_incidents
from alerts.receivers import default_routing
from alerts.service import AlertService
from core.clock import FixedClock
from core.settings import Settings
from ingestion.ingest import Ingestor
from tests.alerts.receiver_server import Receiver, running
from tests.ingestion.focus_rows import row, write_csv
from training.sweep_job import run_sweep
from training.train_job import train_all

START = datetime(2026, 9, 1)
DAYS = 21
SPIKE_HOURS = 12
HOOK_SECRET = "webhook-hmac-secret-16"
MONITORS = """
monitors:
  - name: product
    dimensions: [product]
  - name: account
    dimensions: [account]
"""


def export(path: Path, spike: float) -> None:
    """Hourly spend of two products; in the last hours account 111's egress grows ``spike``-fold."""
    rows: list[dict[str, Any]] = []
    for h in range(24 * DAYS):
        at = START + timedelta(hours=h)
        wave = 1.0 + 0.3 * math.sin(2 * math.pi * (h % 24) / 24) + 0.05 * math.sin(h * 0.7)
        hot = spike if h >= 24 * DAYS - SPIKE_HOURS else 1.0
        for product, service, account, level in (
            ("media", "Compute", "111", 20.0),
            ("media", "Egress", "111", 4.0 * hot),
            ("media", "Egress", "222", 4.0),
            (None, "Egress", "111", 2.0 * hot),  # the untagged share of the same traffic
            (None, "Egress", "222", 2.0),
            ("search", "Compute", "222", 15.0),
        ):
            rows.append(
                row(start=at, cost=round(level * wave, 4), product=product, service=service, account=account)
            )
    write_csv(path, rows)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with running(Receiver(webhook_secret=HOOK_SECRET)) as r:
        yield r


class Alerting:
    def __init__(self, service: AlertService, dispatcher: Dispatcher) -> None:
        self.service, self.dispatcher = service, dispatcher


@pytest.mark.slow
def test_one_egress_spike_in_one_account_is_one_incident(
    engine: Engine, tmp_path: Path, receiver: Receiver
) -> None:
    (tmp_path / "monitors.yaml").write_text(MONITORS)
    settings = Settings(data_dir=tmp_path / "data", monitors_file=tmp_path / "monitors.yaml", _env_file=None)  # type: ignore[call-arg]
    export(tmp_path / "export.csv", spike=6.0)
    end = (START + timedelta(days=DAYS)).replace(tzinfo=UTC)
    clock = FixedClock(end)
    Ingestor(settings, engine, clock).ingest_paths([tmp_path / "export.csv"])
    train_all(settings, engine, clock, model="seasonal", workers=1, at=end - timedelta(hours=SPIKE_HOURS))
    routing = default_routing(
        pagerduty_routing_key=SecretStr("pd-routing-key-16"),
        pagerduty_url=f"{receiver.url}/pagerduty/v2/enqueue",
        ticket_kind="webhook",
        ticket_url=f"{receiver.url}/webhook",
        ticket_token=SecretStr(HOOK_SECRET),
    )
    with httpx.Client(timeout=5.0) as client:
        alerting = Alerting(
            AlertService(engine, clock, routing),
            Dispatcher(engine, routing.notifiers(client), clock, retry=RetryPolicy(base_seconds=0.01)),
        )
        report = run_sweep(settings, engine, clock, at=end, alerting=alerting)

    by_series = {(e.product, e.cost_line, e.scope): e for e in report.evaluations}
    media = by_series[("media", "Egress", "default")]
    untagged = by_series[("unattributed", "Egress", "default")]
    # Every level saw it: both Egress lines, the media total and account 111 (not account 222).
    assert media.anomalies and untagged.anomalies
    assert by_series[("media", "(all)", "product")].anomalies
    assert by_series[("(all)", "(all)", "account:account=111")].anomalies
    assert not by_series[("(all)", "(all)", "account:account=222")].anomalies
    assert media.anomalies[-1].root_causes[0].dimensions.get("account") == "111"

    owner = fingerprint("media", "Egress", "USD")
    pages = receiver.pagerduty_events()
    tickets = [b for p, b in receiver.accepted if p.startswith("/webhook")]
    assert pages or tickets, "the problem is told"
    assert {key for _, key in pages} <= {owner}, "one PagerDuty dedup_key: the owner's"
    assert [b["fingerprint"] for b in tickets if b["action"] == "open"] in ([], [owner]), "one ticket at most"
    told = [b["payload"]["custom_details"] for _, b in receiver.accepted if "payload" in b]
    told += [b["details"] for b in tickets]
    linked = {(e["product"], e["cost_line"], e["scope"]) for e in told[0]["linked"]}
    assert ("unattributed", "Egress", "default") in linked
    assert ("media", "(all)", "product") in linked and ("(all)", "(all)", "account:account=111") in linked
    # On its own the untagged share would have raised its own incident (the bug): it is listed, not told.
    [untagged_link] = [e for e in told[0]["linked"] if e["product"] == "unattributed"]
    assert untagged_link["severity"] in ("ticket", "page")

    [incident] = list_incidents(engine, status="open")
    assert (incident["product"], incident["cost_line"], incident["fingerprint"]) == ("media", "Egress", owner)
    assert len(incident["linked"]) == 3
