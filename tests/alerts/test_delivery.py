"""No silent failure: a notification given up for good opens a delivery incident for its receiver, told to
the fallback receiver; the next success to that receiver resolves it; ``/metrics`` counts both. Real
HTTP (the local receiver), the real service, outbox and dispatcher, SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from prometheus_client import generate_latest
from pydantic import SecretStr
from sqlalchemy import Engine

from alerts.delivery import DeliveryAlarm, failed_by_receiver, open_delivery_incidents
from alerts.dispatcher import Dispatcher, RetryPolicy
from alerts.incidents import get_incident, list_incidents
from alerts.lifecycle import IncidentPolicy
from alerts.outbox import list_outbox
from alerts.receivers import Routing, parse_routing
from alerts.service import AlertService
from alerts.wiring import build_alerting
from core.clock import SystemClock
from core.errors import InputError
from core.settings import Settings
from tests.alerts.factories import T0, evaluation
from tests.alerts.receiver_server import Receiver, running

H = timedelta(hours=1)
FAST = RetryPolicy(base_seconds=0.01, max_seconds=0.05, max_attempts=3)
PD_KEY = "pd-routing-key-0123456789abcdef"


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with running(Receiver()) as r:
        yield r


def routing(
    receiver: Receiver, pager_path: str = "/pagerduty", fallback_path: str = "/webhook/ops"
) -> Routing:
    return parse_routing(
        {
            "route": {
                "routes": [
                    {"matchers": ['severity="page"'], "receiver": "pager"},
                    {"matchers": ['severity="ticket"'], "receiver": "tickets"},
                ]
            },
            "receivers": [
                {"name": "pager", "pagerduty": {"routing_key": PD_KEY, "url": f"{receiver.url}{pager_path}"}},
                {"name": "tickets", "webhook": {"url": f"{receiver.url}/gone/tickets"}},
                {"name": "ops", "webhook": {"url": f"{receiver.url}{fallback_path}"}},
            ],
        },
        {},
    )


class Stack:
    def __init__(
        self, engine: Engine, routes: Routing, client: httpx.Client, fallback: str | None = "ops"
    ) -> None:
        clock = SystemClock()
        self.service = AlertService(
            engine, clock, routes, incident_policy=IncidentPolicy(resolve_after=2 * H)
        )
        self.dispatcher = Dispatcher(
            engine,
            routes.notifiers(client),
            clock,
            retry=FAST,
            alarm=DeliveryAlarm(fallback, "http://dash.invalid"),
        )

    def sweep(self, hour: int, **kwargs: object) -> None:
        self.service.process([evaluation(T0 + hour * H, **kwargs)])  # type: ignore[arg-type]
        self.dispatcher.run_until_idle(timeout=10)


@pytest.fixture
def client() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=5.0) as c:
        yield c


def ops_bodies(receiver: Receiver) -> list[dict[str, object]]:
    return [b for p, b in receiver.accepted if p == "/webhook/ops"]


def test_a_permanent_failure_opens_a_delivery_incident_told_to_the_fallback(engine, receiver, client) -> None:
    stack = Stack(engine, routing(receiver), client)
    stack.sweep(1, burn=(2.0, 2.0), impact=800.0)  # a ticket, to a receiver that answers 404
    [ticket] = [e for e in list_outbox(engine) if e.receiver == "tickets"]
    assert ticket.status == "failed" and "HTTP 404" in (ticket.last_error or "")
    [opened] = ops_bodies(receiver)
    assert opened["action"] == "open" and opened["severity"] == "ticket"
    assert "tickets" in str(opened["summary"]) and "HTTP 404" in str(opened["summary"])
    details = opened["details"]
    assert isinstance(details, dict)
    assert details["receiver"] == "tickets" and details["failed"] == 1 and details["impact"] == 0.0
    assert [f["action"] for f in details["failed_notifications"]] == ["open"]
    delivery = [i for i in list_incidents(engine) if i["kind"] == "delivery"]
    spend = [i for i in list_incidents(engine) if i["kind"] == "spend"]
    assert len(delivery) == 1 and len(spend) == 1
    assert delivery[0]["status"] == "open" and delivery[0]["scope"] == "delivery"
    assert delivery[0]["product"] == "(spendsentry)" and delivery[0]["impact"] == 0.0
    assert failed_by_receiver(engine) == {"tickets": 1}
    assert open_delivery_incidents(engine) == {"tickets": 1}


def test_more_failures_extend_it_quietly_and_a_lost_page_escalates_it(engine, receiver, client) -> None:
    stack = Stack(engine, routing(receiver, pager_path="/gone/pd"), client)
    stack.sweep(1, burn=(2.0, 2.0), impact=800.0, product="a")  # ticket to /gone: opens tickets' incident
    stack.sweep(1, burn=(2.0, 2.0), impact=800.0, product="b")  # a second lost ticket: extends, no message
    assert [b["action"] for b in ops_bodies(receiver)] == ["open"]
    stack.sweep(2, burn=(4.0, 4.0), impact=900.0, product="c")  # a lost page opens pager's own incident
    bodies = ops_bodies(receiver)
    assert [(b["action"], b["severity"]) for b in bodies] == [("open", "ticket"), ("open", "page")]
    by_receiver = {i["cost_line"]: i for i in list_incidents(engine) if i["kind"] == "delivery"}
    assert set(by_receiver) == {"delivery to tickets", "delivery to pager"}
    history = get_incident(engine, by_receiver["delivery to tickets"]["id"])["history"]
    assert [h["kind"] for h in history] == ["opened", "extended"]
    assert open_delivery_incidents(engine) == {"tickets": 1, "pager": 1}


def test_retries_exhausted_then_recovery_resolves_it(engine, receiver, client) -> None:
    stack = Stack(engine, routing(receiver), client)
    receiver.fail_next = [503, 503, 503]  # three attempts: given up
    stack.sweep(1, burn=(4.0, 4.0), impact=900.0)
    [opened] = ops_bodies(receiver)
    assert "gave up after 3 attempts" in str(opened["summary"]) and opened["severity"] == "page"
    [delivery] = [i for i in list_incidents(engine) if i["kind"] == "delivery"]
    assert delivery["status"] == "open"
    # The pager works again: the resolve of the spend incident is delivered, and that resolves the alarm.
    for hour in (2, 3, 4):
        stack.sweep(hour)
    assert [b["action"] for b in ops_bodies(receiver)] == ["open", "resolve"]
    assert "delivered again" in str(ops_bodies(receiver)[1]["summary"])
    [delivery] = [i for i in list_incidents(engine) if i["kind"] == "delivery"]
    assert delivery["status"] == "resolved" and open_delivery_incidents(engine) == {}
    assert receiver.pagerduty_events()[-1][0] == "resolve"


def test_a_failing_fallback_raises_no_alarm_about_itself(engine, receiver, client) -> None:
    stack = Stack(engine, routing(receiver, fallback_path="/gone/ops"), client)
    stack.sweep(1, burn=(2.0, 2.0), impact=800.0)
    stack.dispatcher.run_until_idle(timeout=2)
    assert [i["cost_line"] for i in list_incidents(engine) if i["kind"] == "delivery"] == [
        "delivery to tickets"
    ]
    assert failed_by_receiver(engine) == {"tickets": 1, "ops": 1}


def test_without_a_fallback_the_incident_is_still_opened(engine, receiver, client) -> None:
    stack = Stack(engine, routing(receiver), client, fallback=None)
    stack.sweep(1, burn=(2.0, 2.0), impact=800.0)
    assert [i["kind"] for i in list_incidents(engine, status="open")].count("delivery") == 1
    assert {e.receiver for e in list_outbox(engine)} == {"tickets"}


def test_metrics_count_failures_and_keep_delivery_out_of_spend_incidents(
    engine, receiver, client, tmp_path: Path
) -> None:
    from api.metrics import build_registry
    from ingestion.fact_store import FactStore

    Stack(engine, routing(receiver), client).sweep(1, burn=(2.0, 2.0), impact=800.0)
    text = generate_latest(build_registry(FactStore(tmp_path / "facts"), engine)).decode()
    assert 'spendsentry_notifications_failed{receiver="tickets"} 1.0' in text
    assert 'spendsentry_delivery_incidents_open{receiver="tickets"} 1.0' in text
    # The spend incident (a ticket) counts; the delivery incident (also a ticket) does not.
    assert 'spendsentry_incidents_open{severity="ticket"} 1.0' in text


def test_fallback_and_heartbeat_receivers_must_exist_and_a_heartbeat_must_not_page(tmp_path: Path) -> None:
    routes = tmp_path / "routes.yaml"
    routes.write_text(
        "route: {receiver: pager}\n"
        "receivers:\n"
        f"  - name: pager\n    pagerduty: {{routing_key: {PD_KEY}}}\n"
        "  - name: hook\n    webhook: {url: 'http://127.0.0.1:9/x'}\n"
    )
    engine_url = f"sqlite:///{tmp_path / 'state.db'}"
    from core.db import make_engine, migrate

    engine = make_engine(engine_url)
    migrate(engine)
    base = {"database_url": engine_url, "data_dir": tmp_path, "routes_file": routes, "_env_file": None}
    for extra, field, needle in (
        ({"delivery_fallback_receiver": "nobody"}, "delivery_fallback_receiver", "'nobody'"),
        ({"heartbeat_receiver": "nobody"}, "heartbeat_receiver", "configured: hook, pager"),
        ({"heartbeat_receiver": "pager"}, "heartbeat_receiver", "pagerduty receiver"),
    ):
        with pytest.raises(InputError) as info:
            build_alerting(Settings(**base, **extra), engine, SystemClock())  # type: ignore[arg-type]
        assert info.value.field == field and needle in str(info.value)
    ok = build_alerting(
        Settings(**base, delivery_fallback_receiver="hook", heartbeat_receiver="hook"),  # type: ignore[arg-type]
        engine,
        SystemClock(),
    )
    assert ok.heartbeat == "hook" and ok.dispatcher.alarm.fallback == "hook"
    assert PD_KEY not in repr(ok.routing)
    engine.dispose()


def test_secret_of_the_fallback_never_in_the_alarm(engine, receiver, client) -> None:
    secret = "hook-secret-value-abcdef"
    routes = parse_routing(
        {
            "route": {"receiver": "tickets"},
            "receivers": [
                {"name": "tickets", "webhook": {"url": f"{receiver.url}/gone", "secret": secret}},
                {"name": "ops", "webhook": {"url": f"{receiver.url}/webhook/ops"}},
            ],
        },
        {},
    )
    Stack(engine, routes, client).sweep(1, burn=(2.0, 2.0), impact=800.0)
    [body] = ops_bodies(receiver)
    assert secret not in str(body) and str(SecretStr(secret)) not in str(body)
    assert all(secret not in str(get_incident(engine, i["id"])) for i in list_incidents(engine))
