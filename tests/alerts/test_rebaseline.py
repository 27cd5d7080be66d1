"""The new normal: a lasting step stays one incident, is learned after REBASELINE_AFTER_HOURS (or at once on
feedback ``expected``), resolves saying so with the $ a month it adds, and scales what is expected."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import datetime, timedelta

import numpy as np
import pandas as pd
import pytest
from pydantic import SecretStr
from sqlalchemy import Engine, select

from alerts.burn_rate import BurnRatePolicy, classify_severity
from alerts.feedback import record_feedback
from alerts.incidents import get_incident, list_incidents
from alerts.lifecycle import NEW_NORMAL, IncidentPolicy, IncidentState, advance
from alerts.rebaseline import (
    Rebaseline,
    RebaselinePolicy,
    forecast_factors,
    history_factors,
    is_due,
    list_rebaselines,
    mark_applied,
    record_rebaseline,
    scoped_rebaselines,
    spend_rebaselines,
)
from alerts.receivers import default_routing
from alerts.service import AlertService
from alerts.severity import Severity
from alerts.tables import outbox
from core.anomaly import LevelShift, SeriesEvaluation
from core.clock import FixedClock
from tests.alerts.factories import T0, evaluation

H, D = timedelta(hours=1), timedelta(days=1)
WEEK = RebaselinePolicy(after=7 * D)
WEEK_HOURS = 7 * 24.0
SINCE = T0 - 3 * D


def shifted(at: datetime, hours: float, *, ratio: float = 1.37, **kwargs: object) -> SeriesEvaluation:
    """A sweep's verdict with a step of ``ratio`` that has lasted ``hours`` (quiet otherwise by default)."""
    shift = LevelShift(since=at - timedelta(hours=hours), hours=hours, ratio=ratio, month_impact=9600.0)
    return replace(evaluation(at, **kwargs), level_shift=shift)  # type: ignore[arg-type]


def open_state(hours: float | None, status: str = "open") -> IncidentState:
    shift = (
        None
        if hours is None
        else {"since": SINCE.isoformat(), "hours": hours, "ratio": 1.4, "month_impact": 1.0}
    )
    return IncidentState(
        id="i",
        fingerprint="fp",
        product="shop",
        cost_line="Compute",
        currency="USD",
        scope="default",
        status=status,
        severity=Severity.TICKET,
        peak_severity=Severity.TICKET,
        opened_at=T0,
        updated_at=T0,
        level_shift=shift,
    )


@pytest.mark.parametrize(
    ("name", "hours", "status", "policy", "due"),
    [
        ("daily step, a week old", 168.0, "open", WEEK, True),
        ("daily step, six days old", 144.0, "open", WEEK, False),
        ("hourly step, 170 hours old", 170.0, "open", WEEK, True),
        ("hourly step, 40 hours old", 40.0, "open", WEEK, False),
        ("hourly step with a one-day policy", 40.0, "open", RebaselinePolicy(after=D), True),
        ("no step under the incident", None, "open", WEEK, False),
        ("incident already resolved", 500.0, "resolved", WEEK, False),
        ("switched off", 500.0, "open", RebaselinePolicy(after=None), False),
    ],
)
def test_when_a_step_is_learned(
    name: str, hours: float | None, status: str, policy: RebaselinePolicy, due: bool
) -> None:
    assert is_due(open_state(hours, status), policy) is due, name


@pytest.mark.parametrize(
    ("name", "open_for", "due"),
    [
        ("a week-old step under an incident open a week", WEEK_HOURS, True),
        ("a week-old step under an incident opened a day ago", 24.0, False),
        ("a week-old step under an incident opened just now", 0.0, False),
    ],
)
def test_the_incident_itself_must_have_lasted(name: str, open_for: float, due: bool) -> None:
    state = open_state(500.0, "open")
    assert is_due(state, WEEK, T0 + timedelta(hours=open_for)) is due, name


def record(since: datetime, ratio: float, applied_at: datetime | None = None) -> Rebaseline:
    return Rebaseline(
        1, "shop", "Compute", "USD", "default", since, ratio, 0.0, "i", "persisted", T0, applied_at
    )


INDEX = pd.date_range(T0.replace(tzinfo=None) - 4 * D, periods=8, freq="D")  # T0 is INDEX[4]


@pytest.mark.parametrize(
    ("name", "records", "trained_at", "forecast", "history"),
    [
        (
            "not learned yet: the forecast rises from since",
            [record(T0, 1.5)],
            T0 - D,
            [1] * 4 + [1.5] * 4,
            [1.5] * 4 + [1] * 4,
        ),
        (
            "learned: the forecast before since falls back",
            [record(T0, 1.5, T0)],
            T0 + H,
            [1 / 1.5] * 4 + [1] * 4,
            [1.5] * 4 + [1] * 4,
        ),
        (
            "a training before it was applied",
            [record(T0, 1.5, T0 + D)],
            T0 + H,
            [1] * 4 + [1.5] * 4,
            [1.5] * 4 + [1] * 4,
        ),
        (
            "fitted on the spot on scaled history",
            [record(T0, 2.0)],
            None,
            [0.5] * 4 + [1] * 4,
            [2.0] * 4 + [1] * 4,
        ),
        (
            "two steps compound",
            [record(T0 - 2 * D, 1.5), record(T0 + 2 * D, 2.0)],
            T0,
            [1] * 2 + [1.5] * 4 + [3.0] * 2,
            [3.0] * 2 + [2.0] * 4 + [1] * 2,
        ),
    ],
)
def test_how_a_new_normal_scales_forecasts_and_history(
    name: str,
    records: list[Rebaseline],
    trained_at: datetime | None,
    forecast: list[float],
    history: list[float],
) -> None:
    assert forecast_factors(INDEX, records, trained_at) == pytest.approx(np.array(forecast)), name
    assert history_factors(INDEX, records) == pytest.approx(np.array(history)), name


def test_a_lasting_step_keeps_its_incident_open_while_in_band() -> None:
    """No flapping: every period back in its band, but the days together above it, is not resolved."""
    policy = IncidentPolicy(resolve_after=2 * H)

    def step(current: IncidentState | None, ev: SeriesEvaluation) -> IncidentState | None:
        decision = classify_severity(ev, BurnRatePolicy())
        return advance(current, ev, decision, fingerprint="fp", new_id="i", policy=policy).state

    s = step(None, evaluation(T0, burn=(1.4, 1.4), impact=800.0))
    for i in range(1, 10):
        s = step(s, shifted(T0 + i * H, 24.0 + i))
        assert s is not None and s.status == "open" and s.level_shift is not None
    assert step(s, evaluation(T0 + 10 * H)).status == "open"  # the step ended: the resolve clock starts
    assert step(s, evaluation(T0 + 12 * H)).status == "open"
    assert step(step(s, evaluation(T0 + 10 * H)), evaluation(T0 + 12 * H)).status == "resolved"


def service(engine: Engine, clock: FixedClock) -> AlertService:
    routing = default_routing(
        pagerduty_routing_key=SecretStr("pd-key"), ticket_kind="webhook", ticket_url="http://t.invalid"
    )
    return AlertService(
        engine,
        clock,
        routing,
        incident_policy=IncidentPolicy(resolve_after=2 * H),
        rebaseline_policy=WEEK,
        public_url="http://ui.example",
    )


def payloads(engine: Engine) -> list[dict[str, object]]:
    with engine.connect() as conn:
        return [json.loads(p) for (p,) in conn.execute(select(outbox.c.payload).order_by(outbox.c.id))]


def test_a_step_that_lasts_a_week_resolves_as_the_new_normal(engine: Engine) -> None:
    svc = service(engine, FixedClock(T0))
    ticket = {"burn": (1.6, 1.6), "impact": 800.0}
    svc.process([shifted(T0, 24.0, **ticket)])
    for day in range(1, 6):
        svc.process([shifted(T0 + day * D, 24.0 * (day + 1), **ticket)])
    [incident] = list_incidents(engine)
    assert incident["status"] == "open" and incident["level_shift"]["hours"] == 144.0
    assert list_rebaselines(engine) == []
    # The step is a week old, but the incident has been open six days: it must last the week too.
    assert svc.process([shifted(T0 + 6 * D, 168.0, **ticket)]).resolved == []
    out = svc.process([shifted(T0 + 7 * D, 192.0, **ticket)])
    assert out.resolved == [incident["id"]]
    detail = get_incident(engine, incident["id"])
    assert detail["status"] == "resolved" and detail["resolution"] == NEW_NORMAL
    assert (
        detail["history"][-2]["kind"] == "resolved"
        and detail["history"][-2]["detail"]["resolution"] == NEW_NORMAL
    )
    [learned] = list_rebaselines(engine)
    assert (learned.incident_id, learned.reason, learned.ratio) == (incident["id"], "persisted", 1.37)
    assert learned.since == T0 + 7 * D - 192 * H and learned.applied_at is None
    resolves = [p for p in payloads(engine) if p["action"] == "resolve"]
    assert {p["seq"] for p in resolves} == {2} and len(resolves) == 1  # the ticket receiver only was told
    summary = str(resolves[0]["summary"])
    assert summary.startswith(f"Resolved ({NEW_NORMAL}): shop / Compute runs at 1.37x")
    assert "9,600.00 USD a month" in summary
    details = resolves[0]["details"]
    assert isinstance(details, dict) and details["resolution"] == NEW_NORMAL
    assert details["new_normal"]["month_impact"] == 9600.0
    # The next sweep (the step now expected) opens nothing.
    assert svc.process([evaluation(T0 + 8 * D)]).opened == []


def test_feedback_expected_learns_a_step_at_once(engine: Engine) -> None:
    clock = FixedClock(T0 + 2 * D)
    svc = service(engine, clock)
    svc.process([shifted(T0 + 2 * D, 48.0, burn=(1.6, 1.6), impact=800.0)])
    [incident] = list_incidents(engine)
    answer = record_feedback(
        engine, clock, incident["id"], "expected", author="ana", public_url="http://ui.example"
    )
    assert answer["resolution"] == NEW_NORMAL and answer["rebaseline"]["reason"] == "feedback"
    detail = get_incident(engine, incident["id"])
    assert detail["status"] == "resolved" and detail["feedback"] == "expected"
    [learned] = list_rebaselines(engine)
    assert learned.since == T0 and learned.ratio == 1.37
    [_, resolved] = payloads(engine)
    assert resolved["action"] == "resolve" and resolved["seq"] == 2
    assert f"Resolved ({NEW_NORMAL})" in str(resolved["summary"])
    assert resolved["link"] == f"http://ui.example/incidents/{incident['id']}"


def test_feedback_expected_on_a_spike_changes_no_baseline(engine: Engine) -> None:
    clock = FixedClock(T0)
    svc = service(engine, clock)
    svc.process([evaluation(T0 + H, burn=(4.0, 4.0), impact=900.0)])
    [incident] = list_incidents(engine)
    answer = record_feedback(engine, clock, incident["id"], "expected")
    assert answer["resolution"] is None and answer["rebaseline"] is None
    assert list_incidents(engine)[0]["status"] == "open" and list_rebaselines(engine) == []


def test_records_are_kept_by_series_and_applied_once(engine: Engine) -> None:
    state = replace(
        open_state(170.0),
        level_shift={"since": SINCE.isoformat(), "hours": 170.0, "ratio": 1.37, "month_impact": 9600.0},
    )
    with engine.begin() as conn:
        first = record_rebaseline(conn, state, reason="persisted", now=T0)
        second = record_rebaseline(conn, replace(state, currency="eur"), reason="feedback", now=T0 + H)
        other = record_rebaseline(conn, replace(state, scope="unit:requests"), reason="persisted", now=T0)
    assert first.id != second.id != other.id
    stored = list_rebaselines(engine, product="shop")
    assert [r.id for r in stored] == [first.id, second.id, other.id] and stored[0] == first
    by_series = spend_rebaselines(engine)  # unit-cost monitors have no spend forecast to scale
    assert by_series == {("shop", "Compute", "USD"): [first], ("shop", "Compute", "EUR"): [second]}
    # Sweeps and trainings look records up by scope too: a product total's new normal scales the total.
    assert scoped_rebaselines(engine) == {
        ("shop", "Compute", "USD", "default"): [first],
        ("shop", "Compute", "EUR", "default"): [second],
        ("shop", "Compute", "USD", "unit:requests"): [other],
    }
    mark_applied(engine, [first.id], T0 + D)
    mark_applied(engine, [first.id, second.id], T0 + 2 * D)
    applied = {r.id: r.applied_at for r in list_rebaselines(engine)}
    assert applied == {first.id: T0 + D, second.id: T0 + 2 * D, other.id: None}
    assert list_rebaselines(engine, cost_line="Storage") == []
