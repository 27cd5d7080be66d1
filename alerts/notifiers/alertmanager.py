"""Prometheus Alertmanager (``POST /api/v2/alerts``), for teams that already route alerts there.

Alertmanager resolves an alert that is not re-sent before its ``endsAt``; spendsentry notifies on
change only, so a firing alert carries an ``endsAt`` far enough ahead (``ttl``) and a resolve sets
``endsAt`` to the resolve time. Labels identify the alert: the same fingerprint always maps to the
same Alertmanager alert, so redeliveries are harmless.

``severity`` is a label (Alertmanager routes on it), so an escalation changes the label set and, for
Alertmanager, starts a new alert. The escalating update therefore also ends the alert at the severity it
escalated from: the ticket-level alert of an incident now paging does not stay active for a week.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any

import httpx

from alerts.notification import Notification
from alerts.notifiers.http import request

_LABEL_NAME = re.compile(r"[^A-Za-z0-9_]")


def alertmanager_alerts(n: Notification, ttl: timedelta) -> list[dict[str, Any]]:
    # Alertmanager identifies an alert by its label set, so only stable labels go in: root-cause labels
    # change from sweep to sweep and would split one incident into several alerts.
    labels = {_LABEL_NAME.sub("_", k): str(v) for k, v in n.labels.items() if not k.startswith("cause.")}
    labels.update(
        {
            "alertname": "SpendAnomaly",
            "fingerprint": n.fingerprint,
            "product": n.product,
            "cost_line": n.cost_line,
            "severity": n.severity,
        }
    )
    d = n.details
    annotations: dict[str, str] = {
        "summary": n.summary,
        **{
            k: str(d[k])
            for k in ("actual", "expected", "impact", "burn_rate", "projected_month_impact")
            if k in d
        },
    }
    at = datetime.fromisoformat(n.at)
    alert: dict[str, Any] = {
        "labels": labels,
        "annotations": annotations,
        "startsAt": n.started_at or n.at,
        "endsAt": (at if n.action == "resolve" else at + ttl).isoformat(),
    }
    if n.link:
        alert["generatorURL"] = n.link
    if n.escalated_from and n.escalated_from != n.severity:
        ended = {**alert, "labels": {**labels, "severity": n.escalated_from}, "endsAt": at.isoformat()}
        return [alert, ended]
    return [alert]


class AlertmanagerNotifier:
    def __init__(
        self, name: str, url: str, client: httpx.Client, *, ttl: timedelta = timedelta(days=7)
    ) -> None:
        self.name = name
        self._url = url.rstrip("/") + "/api/v2/alerts"
        self._client = client
        self._ttl = ttl

    def __repr__(self) -> str:
        return f"AlertmanagerNotifier(name={self.name!r})"

    @property
    def rate_key(self) -> str | None:
        return None

    def send(self, n: Notification) -> None:
        request(self._client, "POST", self._url, "alertmanager", body=alertmanager_alerts(n, self._ttl))
