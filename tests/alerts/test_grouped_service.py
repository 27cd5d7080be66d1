"""Grouping applied by the alert service on a real database: linked series open no incident and notify
nothing; an incident that already notified keeps its problem; an open one that joins stays quiet."""

from __future__ import annotations

import dataclasses
from datetime import timedelta
from pathlib import Path

from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy import Engine

from alerts.fingerprint import fingerprint
from alerts.incidents import list_incidents
from alerts.lifecycle import IncidentPolicy
from alerts.receivers import default_routing
from alerts.service import AlertService
from api.app import create_app
from core.anomaly import CauseRef, SeriesEvaluation
from core.clock import FixedClock
from core.db import make_engine, migrate
from core.settings import Settings
from core.types import Granularity
from tests.alerts.factories import T0, evaluation

H = timedelta(hours=1)
ACCOUNT = {"account": "111", "service": "Data Transfer"}


def egress(at: object, product: str, impact: float, **kwargs: object) -> SeriesEvaluation:
    """An Egress verdict whose top root cause is account 111's data transfer."""
    ev = evaluation(at, product=product, cost_line="Egress", impact=impact, **kwargs)  # type: ignore[arg-type]
    cause = CauseRef(ACCOUNT, 1000.0 + impact, 1000.0, impact * 0.9, 0.9)
    return dataclasses.replace(ev, anomalies=[dataclasses.replace(ev.anomalies[0], root_causes=[cause])])


def service(engine: Engine) -> AlertService:
    routing = default_routing(pagerduty_routing_key=SecretStr("pd-key"), ticket_kind=None, ticket_url=None)
    return AlertService(engine, FixedClock(T0), routing, incident_policy=IncidentPolicy(resolve_after=2 * H))


def test_a_sibling_sharing_the_root_cause_is_linked_not_told(engine: Engine) -> None:
    svc = service(engine)
    outcome = svc.process(
        [
            egress(T0 + H, "media", 900.0, burn=(4.0, 4.0)),  # pages
            egress(T0 + H, "unattributed", 400.0, burn=(5.0, 5.0)),  # would page too, on its own
        ]
    )
    [incident] = list_incidents(engine)
    assert (incident["product"], incident["cost_line"]) == ("media", "Egress")
    assert [(e["product"], e["severity"]) for e in incident["linked"]] == [("unattributed", "page")]
    owner = fingerprint("media", "Egress", "USD")
    assert {n.fingerprint for n in outcome.notifications} == {owner} and len(outcome.notifications) == 1
    assert "+1 linked series" in outcome.notifications[0].summary
    assert outcome.counts()["linked"] == 1


def test_an_incident_that_notified_keeps_its_problem_and_the_other_stops_notifying(engine: Engine) -> None:
    svc = service(engine)
    # The untagged share is seen first, alone: it pages.
    first = svc.process([egress(T0 + H, "unattributed", 400.0, burn=(5.0, 5.0))])
    assert len(first.notifications) == 1
    # Next sweep the larger share shows up too: the incumbent keeps the problem, the newcomer is linked.
    second = svc.process(
        [
            egress(T0 + 2 * H, "unattributed", 450.0, burn=(5.0, 5.0)),
            egress(T0 + 2 * H, "media", 900.0, burn=(4.0, 4.0)),
        ]
    )
    [incident] = list_incidents(engine)
    assert incident["product"] == "unattributed" and [e["product"] for e in incident["linked"]] == ["media"]
    assert all(n.fingerprint == incident["fingerprint"] for n in second.notifications)


def test_an_open_incident_that_joins_a_problem_is_linked_and_stays_quiet(engine: Engine) -> None:
    svc = service(engine)
    # A product total opens alone below every rule (nothing told), then its cost line explains it.
    total = dataclasses.replace(
        evaluation(T0 + H, product="media", cost_line="(all)", impact=300.0),
        scope="product",
        monitor="product",
        dimensions={"product": "media"},
    )
    svc.process([total])
    cause = CauseRef({"cost_line": "Egress"}, 1300.0, 1000.0, 280.0, 0.93)
    total = dataclasses.replace(
        total,
        as_of=T0 + 2 * H,
        windows=evaluation(T0, burn=(4.0, 4.0)).windows,  # it would page on its own now
        anomalies=[dataclasses.replace(total.anomalies[0], root_causes=[cause], impact=320.0)],
    )
    outcome = svc.process([total, egress(T0 + 2 * H, "media", 310.0, burn=(4.0, 4.0))])
    by_scope = {i["scope"]: i for i in list_incidents(engine)}
    assert by_scope["product"]["linked_to"] == by_scope["default"]["id"]
    assert by_scope["product"]["notified_severity"] is None
    assert {n.fingerprint for n in outcome.notifications} == {by_scope["default"]["fingerprint"]}


def test_a_product_total_whose_day_closes_after_its_line_spiked_joins_the_told_incident(
    engine: Engine,
) -> None:
    """An hourly line pages on a two-hour spike and is back in band by the time its product's daily total
    closes the day: the total's anomaly, explained by that line, is the same problem (linked to the
    still-open incident, told nothing of its own); an unrelated cause in the product is not."""
    svc = service(engine)
    spike = evaluation(T0 + 3 * H, product="media", cost_line="Egress", impact=900.0, burn=(4.0, 4.0))
    spike = dataclasses.replace(spike, anomalies=[dataclasses.replace(spike.anomalies[0], start=T0 + H)])
    assert len(svc.process([spike]).notifications) == 1
    quiet = evaluation(T0 + 4 * H, product="media", cost_line="Egress")
    day = T0.replace(hour=0)

    def total(cause: dict[str, str]) -> SeriesEvaluation:
        ev = evaluation(T0 + 4 * H, product="media", cost_line="(all)", impact=950.0, burn=(3.5, 3.5))
        daily = dataclasses.replace(
            ev.anomalies[0], start=day, end=day, root_causes=[CauseRef(cause, 1950.0, 1000.0, 900.0, 0.95)]
        )
        return dataclasses.replace(
            ev,
            granularity=Granularity.DAY,
            scope="product",
            monitor="product",
            dimensions={"product": "media"},
            anomalies=[daily],
        )

    outcome = svc.process([quiet, total({"cost_line": "Egress"})])
    assert outcome.notifications == []
    by_scope = {i["scope"]: i for i in list_incidents(engine)}
    assert "product" not in by_scope  # listed on the line's incident, no incident of its own
    assert [e["scope"] for e in by_scope["default"]["linked"]] == ["product"]
    # The same day's total explained by another line is another problem: told on its own.
    other = svc.process([quiet, total({"cost_line": "Compute"})])
    assert [n.fingerprint for n in other.notifications] == [fingerprint("media", "(all)", "USD", "product")]


def test_a_product_total_that_only_burns_joins_its_lines_incident(engine: Engine) -> None:
    """A product total with no anomaly event of its own, whose windows burn over the page rule because
    its line spiked: the same problem as the line's told incident, linked, told nothing; alone (its line
    quiet for good and its incident resolved) the same burn is told on its own."""
    svc = service(engine)
    spike = evaluation(T0 + 3 * H, product="media", cost_line="Egress", impact=900.0, burn=(4.0, 4.0))
    assert len(svc.process([spike]).notifications) == 1

    def total(at: timedelta) -> SeriesEvaluation:
        ev = evaluation(T0 + at, product="media", cost_line="(all)", burn=(3.5, 3.5))
        assert ev.anomalies == []  # burn alone
        return dataclasses.replace(ev, scope="product", monitor="product", dimensions={"product": "media"})

    quiet = evaluation(T0 + 4 * H, product="media", cost_line="Egress")
    outcome = svc.process([quiet, total(4 * H)])
    assert outcome.notifications == [] and outcome.counts()["linked"] == 1
    assert {i["scope"] for i in list_incidents(engine)} == {"default"}
    # A day and more later the line's incident has resolved: the total's burn is a problem of its own.
    later = [evaluation(T0 + h * H, product="media", cost_line="Egress") for h in range(5, 40)]
    for ev in later:
        svc.process([ev])
    told = svc.process([evaluation(T0 + 40 * H, product="media", cost_line="Egress"), total(40 * H)])
    assert [n.fingerprint for n in told.notifications] == [fingerprint("media", "(all)", "USD", "product")]


def test_the_dashboard_shows_monitors_and_linked_series(tmp_path: Path) -> None:
    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 'state.db'}",
        data_dir=tmp_path / "data",
        _env_file=None,  # type: ignore[call-arg]
    )
    engine = make_engine(settings.database_url)
    migrate(engine)
    service(engine).process(
        [egress(T0 + H, "media", 900.0, burn=(4.0, 4.0)), egress(T0 + H, "unattributed", 400.0)]
    )
    [incident] = list_incidents(engine)
    with TestClient(create_app(settings, clock=FixedClock(T0 + 2 * H))) as client:
        page = client.get(f"/ui/incidents/{incident['id']}").text
        overview = client.get("/ui").text
    linked = page[page.index('data-role="linked"') :]
    assert "unattributed / Egress" in linked and "account=111" in linked
    monitors = overview[overview.index('data-role="monitors"') :]
    assert "product × cost_line" in monitors and "<td>product</td>" in monitors
