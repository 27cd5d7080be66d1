"""The incident page explains the severity it shows (the reasons of the sweep that decided it) and how it
ended (a step learned as the new normal)."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy import Engine

from alerts.expected_changes import create_expected_change
from alerts.incidents import list_incidents
from alerts.lifecycle import IncidentPolicy
from alerts.rebaseline import RebaselinePolicy
from alerts.receivers import default_routing
from alerts.service import AlertService
from api.app import create_app
from core.anomaly import LevelShift, SeriesEvaluation
from core.clock import FixedClock
from core.db import make_engine, migrate
from core.settings import Settings
from ingestion.ingest import Ingestor
from tests.alerts.factories import T0, evaluation
from tests.ingestion.focus_rows import hourly_rows, write_csv

H = timedelta(hours=1)


def text_of(html: str, role: str) -> str:
    """The text of the element carrying ``data-role`` (a ``<p>`` or ``<dd>``), tags stripped."""
    match = re.search(rf'<(p|dd)[^>]*data-role="{role}"[^>]*>(.*?)</\1>', html, re.S)
    assert match, role
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", match.group(2))).strip()


def service_in(tmp_path: Path) -> tuple[Settings, Engine, AlertService]:
    """Settings on a fresh SQLite state database, and the alert service over it (PagerDuty routing)."""
    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 'state.db'}",
        data_dir=tmp_path / "data",
        _env_file=None,  # type: ignore[call-arg]
    )
    engine = make_engine(settings.database_url)
    migrate(engine)
    routing = default_routing(pagerduty_routing_key=SecretStr("pd-key"), ticket_kind=None, ticket_url=None)
    svc = AlertService(engine, FixedClock(T0), routing, incident_policy=IncidentPolicy(resolve_after=2 * H))
    return settings, engine, svc


def test_a_resolved_page_shows_why_it_paged_beside_the_latest_sweep(tmp_path: Path) -> None:
    settings, engine, svc = service_in(tmp_path)
    svc.process([evaluation(T0 + H, burn=(4.0, 4.0), impact=900.0)])  # pages at 4x
    for i in (2, 3, 4, 5):  # then back in band until it resolves
        svc.process([evaluation(T0 + i * H)])
    [incident] = list_incidents(engine, status="resolved")
    assert incident["peak_severity"] == "page" and incident["severity"] == "none"
    with TestClient(create_app(settings, clock=FixedClock(T0 + 6 * H))) as client:
        html = client.get(f"/ui/incidents/{incident['id']}").text
    why = text_of(html, "why")
    assert why.startswith("Why page") and "burn" in why.lower()
    assert text_of(html, "decided-burn") == "4.00×"
    assert "watching" in text_of(html, "latest").lower()  # severity none reads "watching"


def test_the_overview_watches_incidents_that_never_reached_a_ticket_apart(tmp_path: Path) -> None:
    settings, _, svc = service_in(tmp_path)
    svc.process(
        [
            evaluation(T0 + H, burn=(4.0, 4.0), impact=900.0, product="shop"),  # pages
            evaluation(T0 + H, impact=40.0, product="search"),  # an anomaly below every rule
        ]
    )
    with TestClient(create_app(settings, clock=FixedClock(T0 + 2 * H))) as client:
        html = client.get("/ui").text
    page_card = re.search(r'data-severity="page".*?data-role="open-count">(\d+)<', html, re.S)
    ticket_card = re.search(r'data-severity="ticket".*?data-role="open-count">(\d+)<', html, re.S)
    assert page_card and page_card.group(1) == "1" and ticket_card and ticket_card.group(1) == "0"
    assert 'data-severity="none"' not in html
    assert re.search(r'data-role="watching-count">1<', html)
    watching = html[html.index('data-role="watching"') :]
    assert "search / Compute" in watching and "shop / Compute" not in watching


def test_a_step_learned_as_the_new_normal_says_so_on_the_incident_and_series_pages(tmp_path: Path) -> None:
    settings, engine, _ = service_in(tmp_path)
    settings = settings.model_copy(update={"rebaseline_after_hours": 48.0})
    routing = default_routing(pagerduty_routing_key=SecretStr("pd-key"), ticket_kind=None, ticket_url=None)
    svc = AlertService(
        engine, FixedClock(T0), routing, rebaseline_policy=RebaselinePolicy(timedelta(hours=48))
    )

    def shifted(hours: float) -> SeriesEvaluation:
        shift = LevelShift(since=T0 - 40 * H, hours=hours, ratio=1.37, month_impact=9600.0)
        at = T0 - 40 * H + hours * H  # the step's age at the sweep
        return replace(
            evaluation(at, burn=(4.0, 4.0), impact=900.0, cost_line="Amazon EC2"), level_shift=shift
        )

    svc.process([shifted(41.0)])
    [incident] = list_incidents(engine)
    with TestClient(create_app(settings, clock=FixedClock(T0 + 2 * H))) as client:
        html = client.get(f"/ui/incidents/{incident['id']}").text
        assert "41 h so far" in text_of(html, "level-shift") and "48 h" in text_of(html, "level-shift")
        svc.process([shifted(89.0)])  # the incident, opened at 41 h, has lasted the 48 h too
        html = client.get(f"/ui/incidents/{incident['id']}").text
        note = text_of(html, "new-normal")
        assert note.startswith("✓ Resolved as the new normal: 1.37×") and "9,600" in note
        assert client.get(f"/v1/incidents/{incident['id']}").json()["resolution"] == "new normal"
        # The series page notes the new normal of its series.
        write_csv(
            tmp_path / "spend.csv",
            hourly_rows(72, start=T0.replace(tzinfo=None) - 72 * H, cost=10.0, product="shop"),
        )
        Ingestor(settings, engine, FixedClock(T0 + 2 * H)).ingest_paths([tmp_path / "spend.csv"])
        page = client.get(
            "/ui/series", params={"product": "shop", "cost_line": "Amazon EC2", "currency": "USD"}
        )
        assert page.status_code == 200
        assert "New normal since" in page.text and "1.37× the old baseline" in page.text


def test_an_incident_closed_by_the_end_of_its_window_says_it_was_planned(tmp_path: Path) -> None:
    settings, engine, svc = service_in(tmp_path)
    create_expected_change(
        engine,
        FixedClock(T0),
        name="load test",
        matchers=['product="shop"'],
        starts_at=T0,
        ends_at=T0 + 3 * H,
    )
    svc.process([evaluation(T0 + H, burn=(4.0, 4.0), impact=900.0)])  # muted
    svc.process([evaluation(T0 + 3 * H)])  # the window is over
    [incident] = list_incidents(engine, status="resolved")
    with TestClient(create_app(settings, clock=FixedClock(T0 + 4 * H))) as client:
        html = client.get(f"/ui/incidents/{incident['id']}").text
    match = re.search(r'data-role="resolution">([^<]*)<', html)
    assert match and "planned" in match.group(1), html[:2000]
