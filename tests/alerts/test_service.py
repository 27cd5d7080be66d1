"""The service over a real database: incidents, outbox rows written with them, mutes, feedback,
budgets and the queries the API serves."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from pydantic import SecretStr
from sqlalchemy import Engine, func, select

from alerts.budgets import delete_budget, get_budget, list_budgets, load_budgets_yaml, put_budget
from alerts.exclusions import training_exclusions
from alerts.expected_changes import (
    create_expected_change,
    delete_expected_change,
    end_expected_change,
    list_expected_changes,
)
from alerts.feedback import record_feedback
from alerts.incidents import count_incidents, get_incident, list_incidents
from alerts.lifecycle import IncidentPolicy
from alerts.outbox import list_outbox, outbox_counts
from alerts.receivers import default_routing
from alerts.service import AlertService
from alerts.tables import outbox
from core.clock import FixedClock
from core.errors import InputError, NotFoundError
from tests.alerts.factories import T0, evaluation

H = timedelta(hours=1)


def service(engine: Engine, clock: FixedClock) -> AlertService:
    routing = default_routing(
        pagerduty_routing_key=SecretStr("pd-key"), ticket_kind="webhook", ticket_url="http://t.invalid"
    )
    return AlertService(engine, clock, routing, incident_policy=IncidentPolicy(resolve_after=2 * H))


def queued(engine: Engine) -> list[tuple[str, str, int]]:
    with engine.connect() as conn:
        rows = conn.execute(select(outbox.c.receiver, outbox.c.action, outbox.c.seq).order_by(outbox.c.id))
        return [tuple(r) for r in rows]


def test_pages_once_then_escalation_growth_and_resolve(engine: Engine) -> None:
    clock = FixedClock(T0)
    svc = service(engine, clock)
    # Ticket-level burn: one ticket.
    out = svc.process([evaluation(T0 + H, burn=(2.0, 2.0), impact=800.0)])
    assert len(out.opened) == 1 and queued(engine) == [("tickets", "open", 1)]
    # Same again for several sweeps: nothing new.
    for i in range(2, 6):
        svc.process([evaluation(T0 + i * H, burn=(2.0, 2.0), impact=820.0)])
    assert len(queued(engine)) == 1
    # Escalates to a page: PagerDuty opens, the ticket hears the update.
    out = svc.process([evaluation(T0 + 6 * H, burn=(4.0, 4.0), impact=900.0)])
    assert out.escalated and sorted(queued(engine)[1:]) == [
        ("pagerduty", "open", 2),
        ("tickets", "update", 2),
    ]
    # Many more page sweeps with small growth: still nothing.
    for i in range(7, 12):
        svc.process([evaluation(T0 + i * H, burn=(4.0, 4.0), impact=900.0 + i)])
    assert len(queued(engine)) == 3
    # Impact grows past the $ step: both re-notified.
    svc.process([evaluation(T0 + 12 * H, burn=(4.0, 4.0), impact=2500.0)])
    assert sorted(queued(engine)[3:]) == [("pagerduty", "update", 3), ("tickets", "update", 3)]
    # Back in band for the configured time: resolve to both.
    for i in (13, 14):
        svc.process([evaluation(T0 + i * H)])
    assert len(queued(engine)) == 5
    out = svc.process([evaluation(T0 + 15 * H)])
    assert len(out.resolved) == 1
    assert sorted(queued(engine)[5:]) == [("pagerduty", "resolve", 4), ("tickets", "resolve", 4)]

    [incident] = list_incidents(engine, status="resolved")
    assert incident["peak_severity"] == "page" and incident["receivers"] == ["tickets", "pagerduty"]
    detail = get_incident(engine, incident["id"])
    kinds = [h["kind"] for h in detail["history"]]
    assert kinds[0] == "opened" and "escalated" in kinds and kinds[-2:] == ["resolved", "notified"]
    assert len(detail["notifications"]) == 7
    # A new anomaly later opens a new incident on the same fingerprint.
    svc.process([evaluation(T0 + 20 * H, burn=(2.0, 2.0), impact=800.0, start=T0 + 19 * H)])
    assert count_incidents(engine) == 2 and count_incidents(engine, status="open") == 1


def test_incident_change_and_outbox_rows_commit_together(engine: Engine, monkeypatch) -> None:
    clock = FixedClock(T0)
    svc = service(engine, clock)

    def boom(*args, **kwargs):
        raise RuntimeError("crash after the outbox write")

    monkeypatch.setattr("alerts.incident_store.add_event", boom)
    with pytest.raises(RuntimeError):
        svc.process([evaluation(T0 + H, burn=(4.0, 4.0), impact=900.0)])
    assert count_incidents(engine) == 0 and queued(engine) == []


def test_expected_change_mutes_and_feeds_training_exclusions(engine: Engine) -> None:
    clock = FixedClock(T0)
    svc = service(engine, clock)
    change = create_expected_change(
        engine,
        clock,
        name="load test",
        matchers=['product="shop"', 'cost_line=~"Comp.*"'],
        starts_at=T0,
        ends_at=T0 + 5 * H,
    )
    out = svc.process([evaluation(T0 + H, burn=(4.0, 4.0), impact=900.0)])
    assert out.muted and queued(engine) == []
    assert list_incidents(engine)[0]["muted_by"] == change.id
    # Other products are not muted.
    svc.process([evaluation(T0 + H, burn=(4.0, 4.0), impact=900.0, product="search")])
    assert queued(engine) == [("pagerduty", "open", 1)]
    # When the window ends, what it muted is closed unheard; excess still going on is told, on its own.
    svc.process([evaluation(T0 + 6 * H, burn=(4.0, 4.0), impact=900.0)])
    assert queued(engine)[-1] == ("pagerduty", "open", 1)
    assert sorted((i["status"], i["resolution"]) for i in list_incidents(engine, product="shop")) == [
        ("open", None),
        ("resolved", "expected_change"),
    ]
    assert [c.id for c in list_expected_changes(engine, active_at=T0 + H)] == [change.id]
    assert training_exclusions(engine, "shop", "Compute") == [(T0, T0 + 5 * H)]
    assert training_exclusions(engine, "search", "Compute") == []
    clock.set(T0 + 2 * H)
    assert end_expected_change(engine, clock, change.id).ends_at == T0 + 2 * H
    delete_expected_change(engine, change.id)
    with pytest.raises(NotFoundError):
        delete_expected_change(engine, change.id)


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"name": " ", "matchers": ['product="a"']}, "name"),
        ({"name": "x", "matchers": []}, "matchers"),
        ({"name": "x", "matchers": ["nope nope"]}, "matchers[0]"),
        ({"name": "x", "matchers": ['product="a"'], "ends_at": T0 - H}, "ends_at"),
    ],
)
def test_expected_change_validation(engine: Engine, kwargs, field) -> None:
    args = {"starts_at": T0, "ends_at": T0 + H, **kwargs}
    with pytest.raises(InputError) as info:
        create_expected_change(engine, FixedClock(T0), **args)
    assert info.value.field == field


def test_feedback_stops_renotification_but_not_resolve(engine: Engine) -> None:
    clock = FixedClock(T0)
    svc = service(engine, clock)
    svc.process([evaluation(T0 + H, burn=(4.0, 4.0), impact=900.0)])
    [incident] = list_incidents(engine)
    record_feedback(engine, clock, incident["id"], "not_anomaly", note="a planned backfill", author="ana")
    svc.process([evaluation(T0 + 2 * H, burn=(4.0, 4.0), impact=50_000.0)])
    assert len(queued(engine)) == 1
    for i in (3, 4, 5):
        svc.process([evaluation(T0 + i * H)])
    assert queued(engine)[-1] == ("pagerduty", "resolve", 2)
    detail = get_incident(engine, incident["id"])
    assert detail["feedback"] == "not_anomaly" and detail["feedback_history"][0]["author"] == "ana"
    # Its periods are kept out of training (one hour period past the last anomalous one).
    [(start, end)] = training_exclusions(engine, "shop", "Compute", period=H)
    assert start == T0 and end == T0 + 2 * H
    with pytest.raises(InputError):
        record_feedback(engine, clock, incident["id"], "meh")
    with pytest.raises(NotFoundError):
        record_feedback(engine, clock, "nope", "confirmed")


def test_budgets_crud_yaml_and_budget_page(engine: Engine, tmp_path) -> None:
    clock = FixedClock(T0)
    put_budget(engine, clock, "shop", 10_000.0)
    put_budget(engine, clock, "shop", 12_000.0)  # replaces
    put_budget(engine, clock, "shop", 5_000.0, cost_line="Storage")
    assert get_budget(engine, "shop").monthly_amount == 12_000.0
    assert [(b.product, b.cost_line) for b in list_budgets(engine)] == [("shop", None), ("shop", "Storage")]
    path = tmp_path / "budgets.yaml"
    path.write_text("budgets:\n  - {product: search, monthly: 3000}\n  - {product: shop, monthly: 10000}\n")
    assert len(load_budgets_yaml(engine, clock, path)) == 2
    assert get_budget(engine, "shop").monthly_amount == 10_000.0
    path.write_text("budgets:\n  - {product: shop, monthly: -1}\n")
    with pytest.raises(InputError) as info:
        load_budgets_yaml(engine, clock, path)
    assert info.value.field == "budgets[0].monthly_amount"
    delete_budget(engine, "search")
    with pytest.raises(NotFoundError):
        get_budget(engine, "search")

    # The product budget is compared with the sum of the product's series' projections.
    svc = service(engine, clock)
    a = evaluation(T0 + H, burn=(1.3, 1.1), impact=500.0, month_projection=5_000.0)
    b = evaluation(T0 + H, cost_line="Network", month_projection=4_500.0)
    out = svc.process([a, b])
    assert queued(engine) == [("pagerduty", "open", 1)] and len(out.opened) == 1
    assert "budget" in list_incidents(engine)[0]["reasons"][0]


def test_queries_validate_and_outbox_is_visible(engine: Engine) -> None:
    svc = service(engine, FixedClock(T0))
    svc.process([evaluation(T0 + H, burn=(4.0, 4.0), impact=900.0)])
    assert outbox_counts(engine) == {"pending": 1}
    assert list_outbox(engine, status="pending")[0].receiver == "pagerduty"
    assert list_incidents(engine, severity="page", product="shop")[0]["cost_line"] == "Compute"
    assert list_incidents(engine, product="other") == []
    with pytest.raises(InputError):
        list_incidents(engine, status="closed")
    with pytest.raises(NotFoundError):
        get_incident(engine, "missing")
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(outbox)).scalar() == 1


def test_a_growing_ticket_is_updated_at_most_daily_unless_its_impact_doubles(engine: Engine) -> None:
    clock = FixedClock(T0)
    svc = service(engine, clock)
    svc.process([evaluation(T0 + H, burn=(2.0, 2.0), impact=100_000.0)])
    assert queued(engine) == [("tickets", "open", 1)]
    # +$1,500 every hour (past the $ step, never doubling): one update a day, not one a sweep.
    for i in range(2, 50):
        svc.process([evaluation(T0 + i * H, burn=(2.0, 2.0), impact=100_000.0 + 1_500.0 * (i - 1))])
    updates = [q for q in queued(engine) if q[1] == "update"]
    assert len(updates) == 2  # after 24 h and after 48 h of quiet
    # Doubling within the day updates at once, and the update says what changed.
    svc.process([evaluation(T0 + 50 * H, burn=(2.0, 2.0), impact=400_000.0)])
    assert queued(engine)[-1] == ("tickets", "update", 4)
    with engine.connect() as conn:
        text = conn.execute(select(outbox.c.payload).order_by(outbox.c.id.desc()).limit(1)).scalar_one()
    payload = json.loads(text)
    change = "impact +172,000.00 → +400,000.00 USD (+133%)"
    assert payload["summary"].endswith(f"— {change}") and payload["details"]["change"] == change


def test_a_sustained_excess_under_the_rate_rule_is_ticketed_by_money(engine: Engine) -> None:
    svc = service(engine, FixedClock(T0))
    # 1.37x on both windows (under 1.5x), its product spends 100k a month: $27k a month is material.
    svc.process([evaluation(T0 + H, burn=(1.37, 1.37), impact=500.0, month_projection=100_000.0)])
    assert queued(engine) == [("tickets", "open", 1)]
    [incident] = list_incidents(engine, status="open")
    assert incident["severity"] == "ticket" and "a month" in incident["reasons"][0]
