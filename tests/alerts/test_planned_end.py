"""An incident muted by an expected-change window closes when its window ends, silently unless someone
heard of it before the window; only excess after the window is told, as an incident of its own."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest
from pydantic import SecretStr
from sqlalchemy import Engine, select

from alerts.expected_changes import create_expected_change
from alerts.incidents import list_incidents
from alerts.lifecycle import IncidentPolicy
from alerts.receivers import default_routing
from alerts.service import AlertService
from alerts.tables import outbox
from core.anomaly import CauseRef, SeriesEvaluation
from core.clock import FixedClock
from tests.alerts.factories import T0, evaluation

H = timedelta(hours=1)
WINDOW = (2, 6)  # the planned change's window, in hours after T0
PLAN = {"burn": (2.0, 2.0), "impact": 800.0}  # a ticket's worth of excess, as the sweep reads it


def sweeps(
    plan_hours: range, after: dict[str, object] | None, last: int
) -> list[tuple[int, dict[str, object]]]:
    """Hour by hour up to ``last``: the plan's excess (from its first hour) during ``plan_hours``; after
    the window ``after`` (the sweep no longer counts the window's periods: events start at its end)."""
    out: list[tuple[int, dict[str, object]]] = []
    for hour in range(1, last + 1):
        # A sweep as of the window's end already judges its last period: excused, so quiet.
        if hour in plan_hours and hour < WINDOW[1]:
            out.append((hour, {**PLAN, "start": T0 + plan_hours.start * H}))
        elif hour > WINDOW[1] and after is not None:
            out.append((hour, {**after, "start": T0 + WINDOW[1] * H}))
        else:
            out.append((hour, {}))
    return out


def with_window(engine: Engine, matchers: list[str]) -> tuple[FixedClock, AlertService]:
    """A service paging and ticketing, and the planned change's window over ``matchers``."""
    clock = FixedClock(T0)
    routing = default_routing(
        pagerduty_routing_key=SecretStr("pd-key"), ticket_kind="webhook", ticket_url="http://t.invalid"
    )
    svc = AlertService(engine, clock, routing, incident_policy=IncidentPolicy(resolve_after=3 * H))
    create_expected_change(
        engine,
        clock,
        name="planned re-training",
        matchers=matchers,
        starts_at=T0 + WINDOW[0] * H,
        ends_at=T0 + WINDOW[1] * H,
    )
    return clock, svc


@pytest.mark.parametrize(
    ("name", "schedule", "incidents", "told"),
    [
        # The planned spend inside the window, back in band after it: nothing is ever told.
        ("plan, then back in band", sweeps(range(3, 7), None, 10), [("resolved", "expected_change")], []),
        # The window is still going on: the incident stays open and muted.
        ("window not over", sweeps(range(3, 6), None, 5), [("open", None)], []),
        # The spend goes on after the window: that excess is a ticket of its own, with only its own $.
        (
            "excess goes on after the window",
            sweeps(range(3, 7), {"burn": (2.0, 2.0), "impact": 300.0}, 9),
            [("resolved", "expected_change"), ("open", None)],
            [("tickets", "open")],
        ),
        # Ticketed before the window began: the ticket is closed once the window is over.
        (
            "told before the window",
            sweeps(range(1, 7), None, 8),
            [("resolved", "expected_change")],
            [("tickets", "open"), ("tickets", "resolve")],
        ),
    ],
)
def test_an_incident_muted_by_a_window_closes_when_the_window_ends(
    engine: Engine, name: str, schedule, incidents, told
) -> None:
    clock, svc = with_window(engine, ['product="shop"'])
    for hour, kwargs in schedule:
        clock.set(T0 + hour * H)
        svc.process([evaluation(T0 + hour * H, **kwargs)])  # type: ignore[arg-type]
    got = sorted((i["status"], i["resolution"]) for i in list_incidents(engine))
    assert got == sorted(incidents, key=lambda x: (x[0], x[1] or "")), name
    with engine.connect() as conn:
        rows = conn.execute(select(outbox.c.receiver, outbox.c.action).order_by(outbox.c.id))
        assert [tuple(r) for r in rows] == told, name
    if len(incidents) == 2:
        [fresh] = list_incidents(engine, status="open")
        assert fresh["impact"] == pytest.approx(300.0), "only the excess after the window counts"


def test_a_product_total_linked_to_a_planned_line_ends_with_it(engine: Engine) -> None:
    """The window names the cost line; the product's total sees the same planned spend and is linked to
    the line's muted incident. When the window ends both close as planned: the total must not outlive its
    link and ticket a problem that was planned (nothing is told at any point)."""
    clock, svc = with_window(engine, ['product="shop"', 'cost_line="Compute"'])

    def total(at: int, **kwargs: object) -> SeriesEvaluation:
        ev = evaluation(T0 + at * H, cost_line="(all)", **kwargs)  # type: ignore[arg-type]
        if ev.anomalies:
            cause = CauseRef({"cost_line": "Compute"}, 1800.0, 1000.0, 780.0, 0.97)
            ev = replace(ev, anomalies=[replace(ev.anomalies[0], root_causes=[cause])])
        return replace(ev, scope="product", monitor="product", dimensions={"product": "shop"})

    for hour in range(1, 10):
        clock.set(T0 + hour * H)
        planned = 3 <= hour < WINDOW[1]
        kwargs: dict[str, object] = {**PLAN, "start": T0 + 3 * H} if planned else {}
        # The total's excess shows an hour before the line's (below every rule: watched, told nothing).
        early = {"impact": 150.0, "start": T0 + 2 * H} if hour == 2 else kwargs
        svc.process([evaluation(T0 + hour * H, **kwargs), total(hour, **early)])  # type: ignore[arg-type]
    by_scope = {i["scope"]: i for i in list_incidents(engine)}
    assert by_scope["product"]["linked_to"] == by_scope["default"]["id"]
    assert [(i["status"], i["resolution"]) for i in by_scope.values()] == [
        ("resolved", "expected_change")
    ] * 2
    with engine.connect() as conn:
        assert conn.execute(select(outbox.c.id)).first() is None
