"""End to end with Debian's real Prometheus Alertmanager: sweeps through the service, the outbox and the
dispatcher to the Alertmanager receiver, then Alertmanager's own API (``/api/v2/alerts``, ``/groups``)
and its webhook notifications say what it made of them: labels, annotations, grouping, resolve."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, select

from alerts.dispatcher import Dispatcher, RetryPolicy
from alerts.incidents import list_incidents
from alerts.lifecycle import IncidentPolicy
from alerts.notification import Notification
from alerts.outbox import list_outbox
from alerts.receivers import parse_routing
from alerts.service import AlertService
from alerts.tables import outbox
from core.clock import SystemClock
from tests.alerts.factories import evaluation
from tests.alerts.receiver_server import Receiver, running
from tests.prometheus.programs import Program, alertmanager

pytestmark = pytest.mark.slow

H = timedelta(hours=1)
FAST = RetryPolicy(base_seconds=0.02, max_seconds=0.1, max_attempts=5)
# Group per product, and flush quickly so the test waits seconds, not Alertmanager's default minutes.
AM_CONFIG = """
route:
  receiver: hook
  group_by: [alertname, product]
  group_wait: 200ms
  group_interval: 1s
  repeat_interval: 4h
receivers:
  - name: hook
    webhook_configs:
      - url: {hook}
        send_resolved: true
"""


@pytest.fixture
def hook() -> Iterator[Receiver]:
    with running(Receiver()) as r:
        yield r


@pytest.fixture
def am(tmp_path: Path, hook: Receiver) -> Iterator[Program]:
    with alertmanager(AM_CONFIG.format(hook=f"{hook.url}/webhook/alertmanager"), tmp_path / "am") as p:
        yield p


class Stack:
    """The service and a dispatcher sending everything to the Alertmanager receiver, with sweeps on a
    moving hour in the recent past: Alertmanager judges ``endsAt`` against its own clock."""

    def __init__(self, engine: Engine, am_url: str, client: httpx.Client) -> None:
        routing = parse_routing(
            {"receivers": [{"name": "am", "alertmanager": {"url": am_url}}], "route": {"receiver": "am"}},
            env={},
        )
        clock = SystemClock()
        self.service = AlertService(
            engine, clock, routing, incident_policy=IncidentPolicy(resolve_after=2 * H)
        )
        self.dispatcher = Dispatcher(engine, routing.notifiers(client), clock, retry=FAST)
        self.base = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - 12 * H

    def sweep(self, hour: int, *series: dict[str, Any]) -> None:
        at = self.base + hour * H
        self.service.process([evaluation(at, start=self.base, **s) for s in series])
        report = self.dispatcher.run_until_idle(timeout=10)
        assert report.failed == 0 and report.retried == 0, report.errors


def active_alerts(am: Program) -> dict[str, dict[str, Any]]:
    alerts = httpx.get(f"{am.url}/api/v2/alerts", timeout=5).json()
    by_fp: dict[str, dict[str, Any]] = {}
    for a in alerts:
        fp = a["labels"]["fingerprint"]
        assert fp not in by_fp, f"two active Alertmanager alerts for incident {fp}: {by_fp[fp]} and {a}"
        by_fp[fp] = a
    return by_fp


def wait_for(check: Any, timeout: float = 15.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result or time.monotonic() > deadline:
            return result
        time.sleep(0.2)


def sent(engine: Engine) -> list[Notification]:
    with engine.connect() as conn:
        rows = conn.execute(select(outbox.c.payload).order_by(outbox.c.id)).scalars()
        return [Notification.from_dict(json.loads(r)) for r in rows]


def fingerprints(engine: Engine) -> dict[tuple[str, str], str]:
    return {(i["product"], i["cost_line"]): i["fingerprint"] for i in list_incidents(engine)}


def test_alertmanager_holds_one_alert_per_incident_grouped_by_product(engine, am, hook) -> None:
    with httpx.Client(timeout=5.0) as client:
        stack = Stack(engine, am.url, client)
        # shop/Compute opens as a ticket and escalates to a page: two notifications of one incident.
        stack.sweep(1, {"burn": (2.0, 2.0), "impact": 800.0})
        stack.sweep(
            2,
            {"burn": (4.0, 4.0), "impact": 900.0},
            {"burn": (4.0, 4.0), "impact": 700.0, "cost_line": "Storage"},
            {"burn": (4.0, 4.0), "impact": 600.0, "product": "search"},
        )
    fps = fingerprints(engine)
    assert len(fps) == 3
    assert {e.status for e in list_outbox(engine)} == {"delivered"}
    compute_fp = fps[("shop", "Compute")]
    assert [n.action for n in sent(engine) if n.fingerprint == compute_fp] == ["open", "update"]

    alerts = active_alerts(am)
    assert set(alerts) == set(fps.values())
    compute = alerts[fps[("shop", "Compute")]]
    assert compute["labels"]["alertname"] == "SpendAnomaly"
    assert compute["labels"]["product"] == "shop" and compute["labels"]["cost_line"] == "Compute"
    assert compute["labels"]["severity"] == "page"  # the escalated alert, not the ticket it was
    assert compute["labels"]["team"] == "web"
    assert compute["status"]["state"] == "active"
    assert "shop / Compute" in compute["annotations"]["summary"]
    assert float(compute["annotations"]["impact"]) == pytest.approx(900.0)
    assert float(compute["annotations"]["burn_rate"]) == pytest.approx(4.0)
    assert datetime.fromisoformat(compute["startsAt"]) == stack.base + H  # the incident's first sweep
    assert datetime.fromisoformat(compute["endsAt"]) > datetime.now(UTC) + 24 * H

    groups = httpx.get(f"{am.url}/api/v2/alerts/groups", timeout=5).json()
    by_product = {
        g["labels"]["product"]: sorted(a["labels"]["cost_line"] for a in g["alerts"]) for g in groups
    }
    assert by_product == {"shop": ["Compute", "Storage"], "search": ["Compute"]}
    assert all(g["labels"]["alertname"] == "SpendAnomaly" for g in groups)
    # Alertmanager's notification of the shop group carries both of its incidents.
    shop = wait_for(lambda: [b for _, b in hook.accepted if b["groupLabels"].get("product") == "shop"])
    assert shop and {a["labels"]["cost_line"] for a in shop[-1]["alerts"]} <= {"Compute", "Storage"}


def test_a_resolve_ends_the_alertmanager_alert(engine, am, hook) -> None:
    with httpx.Client(timeout=5.0) as client:
        stack = Stack(engine, am.url, client)
        stack.sweep(
            1,
            {"burn": (4.0, 4.0), "impact": 900.0},
            {"burn": (4.0, 4.0), "impact": 700.0, "cost_line": "Storage"},
        )
        fps = fingerprints(engine)
        compute = fps[("shop", "Compute")]
        assert set(active_alerts(am)) == set(fps.values())
        firing = wait_for(lambda: [b for _, b in hook.accepted if b["status"] == "firing"])
        assert firing, "Alertmanager sent no firing notification"
        for hour in (2, 3, 4, 5):  # back in band for longer than resolve_after
            stack.sweep(hour, {}, {"burn": (4.0, 4.0), "impact": 700.0, "cost_line": "Storage"})
    [resolved_incident] = [i for i in list_incidents(engine) if i["status"] == "resolved"]
    assert resolved_incident["fingerprint"] == compute
    [resolve] = [n for n in sent(engine) if n.action == "resolve"]

    # No longer active in Alertmanager; the other incident of the group still is.
    assert set(active_alerts(am)) == {fps[("shop", "Storage")]}

    def resolved_notice() -> list[dict[str, Any]]:
        return [
            a
            for _, body in hook.accepted
            for a in body["alerts"]
            if a["status"] == "resolved" and a["labels"]["fingerprint"] == compute
        ]

    notices = wait_for(resolved_notice)
    assert notices, f"Alertmanager sent no resolved notification: {hook.accepted}"
    assert datetime.fromisoformat(notices[-1]["endsAt"]) == datetime.fromisoformat(resolve.at)
    assert notices[-1]["labels"]["severity"] == "page"
