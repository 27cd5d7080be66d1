"""The whole loop for real: demo export with known incidents → ingest → train → replay over the incident
period, with a local PagerDuty receiver and a local ticket (webhook) receiver, through the real CLI."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from tests.alerts.receiver_server import Receiver, running
from tests.e2e.helpers import run_cli


@pytest.mark.slow
def test_every_injected_incident_pages_or_tickets_exactly_once(tmp_path: Path) -> None:
    assert run_cli(tmp_path, "demo-data", "export").returncode == 0
    truth = json.loads((tmp_path / "export" / "truth.json").read_text())
    assert run_cli(tmp_path, "ingest", "export").returncode == 0
    starts = [datetime.fromisoformat(i["start"]) for i in truth["incidents"]]
    ends = [datetime.fromisoformat(i["end"]) for i in truth["incidents"]]
    first, last = min(starts) - timedelta(days=5), max(ends) + timedelta(days=4)
    secret = "webhook-secret-for-tests"
    with running(Receiver(webhook_secret=secret)) as receiver:
        env = {
            "SPENDSENTRY_PAGERDUTY_ROUTING_KEY": "R0UT1NGKEY0000000000000000000000",
            "SPENDSENTRY_PAGERDUTY_URL": f"{receiver.url}/pagerduty/v2/enqueue",
            "SPENDSENTRY_TICKET_KIND": "webhook",
            "SPENDSENTRY_TICKET_URL": f"{receiver.url}/webhook",
            "SPENDSENTRY_TICKET_TOKEN": secret,
        }
        res = run_cli(
            tmp_path,
            "replay",
            "--start",
            first.isoformat(),
            "--end",
            last.isoformat(),
            "--every",
            "1d",
            timeout=900,
            **env,
        )
        assert res.returncode == 0, res.stderr
        assert "R0UT1NGKEY" not in res.stdout + res.stderr
    pages = [b for p, b in receiver.accepted if p.startswith("/pagerduty")]
    tickets = [b for p, b in receiver.accepted if p.startswith("/webhook")]
    assert all(status < 300 for _, status in receiver.requests), receiver.requests

    def key(product: str, cost_line: str) -> tuple[str, str]:
        return product, cost_line

    expected_pages = {
        key(i["product"], i["cost_line"]) for i in truth["incidents"] if i["expected_severity"] == "page"
    }
    expected_tickets = {
        key(i["product"], i["cost_line"]) for i in truth["incidents"] if i["expected_severity"] == "ticket"
    }
    triggers = [b for b in pages if b["event_action"] == "trigger"]
    # One page = one PagerDuty incident (dedup key); a re-trigger as the impact grows updates that incident.
    first_trigger = {b["dedup_key"]: b for b in reversed(triggers)}
    paged = [
        key(b["payload"]["custom_details"]["product"], b["payload"]["custom_details"]["cost_line"])
        for b in first_trigger.values()
    ]
    assert sorted(paged) == sorted(expected_pages), "one page per paging incident, and no other page"
    # Re-notification only as the impact grows: each re-trigger carries a larger impact.
    for dedup in first_trigger:
        impacts = [b["payload"]["custom_details"]["impact"] for b in triggers if b["dedup_key"] == dedup]
        assert impacts == sorted(impacts) and len(impacts) <= 3
    opened = [key(b["product"], b["cost_line"]) for b in tickets if b["action"] == "open"]
    assert len(opened) == len(set(opened)), "one ticket per incident"
    assert set(opened) - expected_pages == expected_tickets
    # Month-start batches (expected every month) never raise anything.
    batches = {key(b["product"], b["cost_line"]) for b in truth.get("month_start_batches", [])}
    assert not (set(paged) | set(opened)) & batches
    # Every paging incident was resolved in PagerDuty after it ended, with the same dedup key.
    resolves = {b["dedup_key"] for b in pages if b["event_action"] == "resolve"}
    assert {b["dedup_key"] for b in triggers} <= resolves
    # The top root cause names the injected one.
    for inc in truth["incidents"]:
        k = key(inc["product"], inc["cost_line"])
        if inc["expected_severity"] == "page":
            details = next(
                b["payload"]["custom_details"]
                for b in triggers
                if key(b["payload"]["custom_details"]["product"], b["payload"]["custom_details"]["cost_line"])
                == k
            )
        else:
            details = next(
                b["details"]
                for b in tickets
                if b["action"] == "open" and key(b["product"], b["cost_line"]) == k
            )
        assert details["root_causes"], json.dumps(
            [b for b in tickets if key(b["product"], b["cost_line"]) == k]
        )
        top = details["root_causes"][0]["dimensions"]
        # Inside one cost line the service is fixed: a cause "region & service" is the region there.
        within_series = {
            d: v for d, v in inc["root_cause"].items() if not (d == "service" and v == inc["cost_line"])
        }
        assert top == within_series, (k, details["root_causes"])
    resolved_tickets = {key(b["product"], b["cost_line"]) for b in tickets if b["action"] == "resolve"}
    assert expected_tickets <= resolved_tickets
