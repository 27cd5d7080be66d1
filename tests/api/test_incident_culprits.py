"""The incident page lists the culprit resources of the top cause (id, name, type, excess) in order, and the
notification's custom_details carry the same top five: real app, real state database, real outbox."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import select

from alerts.incidents import list_incidents
from alerts.notification import Notification
from alerts.notifiers.pagerduty import pagerduty_event
from alerts.tables import outbox
from api.app import create_app
from core.clock import FixedClock
from tests.alerts.factories import T0, evaluation
from tests.api.test_incident_page import service_in

H = timedelta(hours=1)
# Seven culprits, by excess $ as top_resources ranks them; the last has neither name nor type.
CULPRITS = [
    {
        "resource_id": f"i-{n:02d}",
        "resource_name": f"web-{n}" if n < 6 else None,
        "resource_type": "Instance" if n < 6 else None,
        "actual": 100.0 * (7 - n) + 20.0,
        "expected": 20.0,
        "excess": 100.0 * (7 - n),
    }
    for n in range(7)
]


def test_the_page_and_the_page_notification_name_the_top_five_culprits_in_order(tmp_path: Path) -> None:
    settings, engine, svc = service_in(tmp_path)
    ev = evaluation(T0 + H, burn=(4.0, 4.0), impact=900.0)  # pages at 4x
    [anomaly] = ev.anomalies
    top = replace(anomaly.root_causes[0], resources=CULPRITS)
    svc.process([replace(ev, anomalies=[replace(anomaly, root_causes=[top])])])
    [incident] = list_incidents(engine)

    with TestClient(create_app(settings, clock=FixedClock(T0 + 2 * H))) as client:
        html = client.get(f"/ui/incidents/{incident['id']}").text
    table = re.search(r'<table class="culprits" data-role="culprits">(.*?)</table>', html, re.S)
    assert table, "no culprit table on the incident page"
    rows = [
        [re.sub(r"<[^>]+>", "", cell).strip() for cell in re.findall(r"<td[^>]*>(.*?)</td>", tr, re.S)]
        for tr in re.findall(r'<tr data-role="culprit">(.*?)</tr>', table.group(1), re.S)
    ]
    assert [(r[0], r[1], r[2], r[4]) for r in rows] == [
        ("i-00", "web-0", "Instance", "+700 USD"),
        ("i-01", "web-1", "Instance", "+600 USD"),
        ("i-02", "web-2", "Instance", "+500 USD"),
        ("i-03", "web-3", "Instance", "+400 USD"),
        ("i-04", "web-4", "Instance", "+300 USD"),
    ]

    # The page notification queued with the incident: PagerDuty's custom_details carry the same five.
    with engine.connect() as db:
        payloads = [json.loads(p) for p in db.execute(select(outbox.c.payload)).scalars()]
    [page] = [p for p in payloads if p["action"] == "open"]
    event = pagerduty_event(Notification.from_dict(page), "pd-key")
    resources = event["payload"]["custom_details"]["root_causes"][0]["resources"]
    assert [(r["resource_id"], r["resource_name"], r["resource_type"], r["excess"]) for r in resources] == [
        (c["resource_id"], c["resource_name"], c["resource_type"], c["excess"]) for c in CULPRITS[:5]
    ]
