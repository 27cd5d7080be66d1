"""End to end: sweeps through the service, the outbox and the dispatcher to a real local HTTP
receiver that validates PagerDuty Events v2 and records what it accepted."""

from __future__ import annotations

import json
import logging
from collections import Counter
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy import Engine, select

from alerts.dispatcher import Dispatcher, RetryPolicy
from alerts.incidents import get_incident, list_incidents
from alerts.lifecycle import IncidentPolicy
from alerts.outbox import list_outbox
from alerts.receivers import Routing, default_routing, parse_routing
from alerts.service import AlertService
from alerts.tables import outbox
from core.clock import SystemClock
from core.db import make_engine, migrate
from tests.alerts.factories import T0, evaluation
from tests.alerts.receiver_server import Receiver, running

H = timedelta(hours=1)
PD_KEY = "pd-routing-key-0123456789abcdef"
HOOK_SECRET = "webhook-hmac-secret-42"
FAST = RetryPolicy(base_seconds=0.02, max_seconds=0.1, max_attempts=5)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with running(Receiver(webhook_secret=HOOK_SECRET)) as r:
        yield r


def routing_for(receiver: Receiver, *, tickets: bool = True) -> Routing:
    return default_routing(
        pagerduty_routing_key=SecretStr(PD_KEY),
        pagerduty_url=f"{receiver.url}/pagerduty/v2/enqueue",
        ticket_kind="webhook" if tickets else None,
        ticket_url=f"{receiver.url}/webhook" if tickets else None,
        ticket_token=SecretStr(HOOK_SECRET) if tickets else None,
    )


class Stack:
    """The service and a dispatcher over one database, with sweeps on a moving hour."""

    def __init__(self, engine: Engine, routing: Routing, client: httpx.Client) -> None:
        self.clock = SystemClock()  # the dispatcher's backoff runs in real (short) time
        self.service = AlertService(
            engine, self.clock, routing, incident_policy=IncidentPolicy(resolve_after=2 * H)
        )
        self.dispatcher = Dispatcher(engine, routing.notifiers(client), self.clock, retry=FAST)

    def sweep(self, hour: int, **kwargs: object) -> None:
        self.service.process([evaluation(T0 + hour * H, **kwargs)])  # type: ignore[arg-type]
        self.dispatcher.run_until_idle(timeout=10)


@pytest.fixture
def client() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=5.0) as c:
        yield c


def test_an_incident_pages_once_across_many_sweeps_and_resolves(engine, receiver, client) -> None:
    stack = Stack(engine, routing_for(receiver, tickets=False), client)
    for hour in range(1, 11):
        stack.sweep(hour, burn=(4.0, 4.0), impact=900.0 + hour)
    for hour in range(11, 14):
        stack.sweep(hour)
    [incident] = list_incidents(engine)
    fp = incident["fingerprint"]
    assert receiver.pagerduty_events() == [("trigger", fp), ("resolve", fp)]
    trigger = receiver.accepted[0][1]
    details = trigger["payload"]["custom_details"]
    assert (
        details["product"] == "shop" and details["cost_line"] == "Compute" and details["severity"] == "page"
    )
    assert details["root_causes"][0]["dimensions"] == {"service": "Compute", "region": "eu-west-1"}
    assert details["link"].endswith(f"/incidents/{incident['id']}")
    assert "service=Compute" in trigger["payload"]["summary"]


def test_escalation_from_ticket_to_page(engine, receiver, client) -> None:
    stack = Stack(engine, routing_for(receiver), client)
    stack.sweep(1, burn=(2.0, 2.0), impact=800.0)
    stack.sweep(2, burn=(2.0, 2.0), impact=810.0)
    assert receiver.webhook_actions() == ["open"] and receiver.pagerduty_events() == []
    stack.sweep(3, burn=(4.0, 4.0), impact=850.0)
    stack.sweep(4, burn=(4.0, 4.0), impact=860.0)
    assert receiver.webhook_actions() == ["open", "update"]
    assert [a for a, _ in receiver.pagerduty_events()] == ["trigger"]
    webhook_bodies = [b for p, b in receiver.accepted if p == "/webhook"]
    assert webhook_bodies[1]["severity"] == "page" and webhook_bodies[0]["severity"] == "ticket"
    for hour in (5, 6, 7):
        stack.sweep(hour)
    assert receiver.webhook_actions() == ["open", "update", "resolve"]
    assert [a for a, _ in receiver.pagerduty_events()] == ["trigger", "resolve"]


def test_a_receiver_that_fails_then_recovers_gets_each_event_once(engine, receiver, client) -> None:
    stack = Stack(engine, routing_for(receiver), client)
    receiver.fail_next = [500, 503, 500]
    stack.sweep(1, burn=(4.0, 4.0), impact=900.0)  # a page: PagerDuty trigger (tickets only take tickets)
    receiver.fail_next = [500, 429]
    for hour in (2, 3, 4):
        stack.sweep(hour)
    statuses = [s for _, s in receiver.requests]
    assert statuses.count(500) + statuses.count(503) + statuses.count(429) == 5
    counts = Counter(receiver.pagerduty_events())
    assert sorted(a for a, _ in counts) == ["resolve", "trigger"] and set(counts.values()) == {1}
    assert {e.status for e in list_outbox(engine)} == {"delivered"}


def test_a_400_is_not_retried(engine, receiver, client) -> None:
    stack = Stack(engine, routing_for(receiver, tickets=False), client)
    receiver.always = 400
    stack.sweep(1, burn=(4.0, 4.0), impact=900.0)
    stack.dispatcher.run_until_idle(timeout=1)
    assert receiver.requests == [("/pagerduty/v2/enqueue", 400)]
    [entry] = list_outbox(engine)
    assert entry.status == "failed" and entry.attempts == 1 and "HTTP 400" in (entry.last_error or "")


def test_killed_between_outbox_write_and_delivery_delivers_after_restart(
    tmp_path: Path, receiver, client
) -> None:
    url = f"sqlite:///{tmp_path / 'state.db'}"
    first = make_engine(url)
    migrate(first)
    routing = routing_for(receiver, tickets=False)
    clock = SystemClock()
    service = AlertService(first, clock, routing)
    service.process([evaluation(T0 + H, burn=(4.0, 4.0), impact=900.0)])
    # This process dies here: a dispatcher had claimed the row and never sent it.
    Dispatcher(first, routing.notifiers(client), clock, lease=timedelta(milliseconds=200)).claim()
    first.dispose()
    assert receiver.accepted == []

    restarted = make_engine(url)
    migrate(restarted)
    dispatcher = Dispatcher(restarted, routing.notifiers(client), clock, retry=FAST)
    dispatcher.run_until_idle(timeout=5)
    dispatcher.run_until_idle(timeout=0.5)
    assert [a for a, _ in receiver.pagerduty_events()] == ["trigger"]
    with restarted.connect() as conn:
        assert conn.execute(select(outbox.c.status)).scalars().all() == ["delivered"]
    restarted.dispose()


def test_no_secret_in_logs_errors_or_outputs(engine, receiver, client, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    slack_url = f"{receiver.url}/webhook/slack/T000/B000/SLACKTOKENXYZ"
    routing = parse_routing(
        {
            "route": {
                "routes": [
                    {"matchers": ['severity="page"'], "receiver": "pager", "continue": True},
                    {"matchers": ['severity="page"'], "receiver": "chat"},
                    {"matchers": ['severity="ticket"'], "receiver": "hook"},
                ]
            },
            "receivers": [
                {"name": "pager", "pagerduty": {"routing_key_env": "PD", "url": f"{receiver.url}/pagerduty"}},
                {"name": "chat", "slack": {"url_env": "SLACK"}},
                {"name": "hook", "webhook": {"url": f"{receiver.url}/webhook", "secret_env": "HOOK"}},
            ],
        },
        {"PD": PD_KEY, "SLACK": slack_url, "HOOK": HOOK_SECRET},
    )
    stack = Stack(engine, routing, client)
    receiver.fail_next = [500, 500, 400]  # some retries, then a permanent failure with a reason
    stack.sweep(1, burn=(4.0, 4.0), impact=900.0)
    stack.sweep(2, burn=(2.0, 2.0), impact=800.0, product="search")
    stack.sweep(3, burn=(2.0, 2.0), impact=800.0, product="search")

    with engine.connect() as conn:
        rows = [dict(r._mapping) for r in conn.execute(select(outbox))]
    assert {r["receiver"] for r in rows} == {"pager", "chat", "hook"}
    assert any(r["status"] == "failed" for r in rows) and "HTTP Request" in caplog.text
    outputs = [
        caplog.text,
        json.dumps(rows, default=str),
        json.dumps([get_incident(engine, i["id"]) for i in list_incidents(engine)], default=str),
        repr(routing),
        repr(routing.receivers),
        repr(stack.dispatcher),
        repr(stack.dispatcher.notifiers),
    ]
    for text in outputs:
        for secret in (PD_KEY, HOOK_SECRET, "SLACKTOKENXYZ"):
            assert secret not in text
