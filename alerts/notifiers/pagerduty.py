"""PagerDuty Events API v2: ``trigger`` on open and update, ``resolve`` on resolve, ``dedup_key`` = the
incident fingerprint, so PagerDuty itself folds repeats and redeliveries into one alert.

A resolve carries no text in Events v2, so a resolve because the level is the *new normal* is followed by
a change event (``/v2/change/enqueue``, shown beside the service's incidents, notifying nobody) that says
so, with the $ a month the new level adds: the responder sees why the alert went away.

Events above 512 KB are rejected by PagerDuty; ``pagerduty_event`` trims the custom details (root
causes first, then the largest fields) until the event fits.
"""

from __future__ import annotations

import copy
import hashlib
import json
from typing import Any

import httpx
from pydantic import SecretStr

from alerts.lifecycle import NEW_NORMAL
from alerts.notification import Notification
from alerts.notifiers.http import request

DEFAULT_URL = "https://events.pagerduty.com/v2/enqueue"
MAX_EVENT_BYTES = 512 * 1024
SUMMARY_MAX = 1024
_PD_SEVERITY = {"page": "critical", "ticket": "warning", "none": "info"}


def _size(event: dict[str, Any]) -> int:
    return len(json.dumps(event, separators=(",", ":"), default=str).encode("utf-8"))


def _fit(event: dict[str, Any], limit: int) -> dict[str, Any]:
    if _size(event) <= limit:
        return event
    event = copy.deepcopy(event)
    details: dict[str, Any] = event["payload"]["custom_details"]
    causes = details.get("root_causes")
    # Halve the root-cause list first: the top causes are what a responder needs.
    while isinstance(causes, list) and len(causes) > 1 and _size(event) > limit:
        causes = causes[: len(causes) // 2]
        details["root_causes"] = causes
        details["root_causes_trimmed"] = True
    # Then drop the largest remaining fields, keeping the contract's keys as long as possible.
    keep = {"product", "cost_line", "severity", "actual", "expected", "impact", "burn_rate", "link"}
    while _size(event) > limit:
        droppable = [k for k in details if k not in keep]
        if not droppable:
            droppable = [k for k in details if k != "product"]
        if not droppable:
            break
        largest = max(droppable, key=lambda k: len(json.dumps(details[k], default=str)))
        details.pop(largest)
        details["trimmed"] = True
    return event


def change_url(url: str) -> str:
    """The Change Events endpoint beside an Events v2 endpoint (``.../v2/enqueue`` → ``.../v2/change/enqueue``)."""
    base = url.rstrip("/")
    base = base[: -len("/enqueue")] if base.endswith("/enqueue") else base
    return base + "/change/enqueue"


def pagerduty_change_event(n: Notification, routing_key: str) -> dict[str, Any] | None:
    """The change event that tells a resolve was a new normal (None for any other notification)."""
    if n.action != "resolve" or n.details.get("resolution") != NEW_NORMAL:
        return None
    payload: dict[str, Any] = {
        "summary": n.summary[:SUMMARY_MAX],
        "source": "spendsentry",
        "custom_details": {
            k: n.details[k]
            for k in ("product", "cost_line", "currency", "incident_id", "new_normal")
            if k in n.details
        },
    }
    if n.at:
        payload["timestamp"] = n.at
    event: dict[str, Any] = {"routing_key": routing_key, "payload": payload}
    if n.link:
        event["links"] = [{"href": n.link, "text": "Incident in spendsentry"}]
    return event


def pagerduty_event(n: Notification, routing_key: str, *, limit: int = MAX_EVENT_BYTES) -> dict[str, Any]:
    """The Events v2 body for ``n`` (pure; the routing key is passed in and only placed in the body)."""
    if n.action == "resolve":
        return {"routing_key": routing_key, "event_action": "resolve", "dedup_key": n.fingerprint}
    event: dict[str, Any] = {
        "routing_key": routing_key,
        "event_action": "trigger",
        "dedup_key": n.fingerprint,
        "payload": {
            "summary": n.summary[:SUMMARY_MAX],
            "source": "spendsentry",
            "severity": _PD_SEVERITY.get(n.severity, "warning"),
            "component": n.cost_line,
            "group": n.product,
            "class": "cost-anomaly",
            "custom_details": dict(n.details),
        },
        "client": "spendsentry",
    }
    if n.at:
        event["payload"]["timestamp"] = n.at
    if n.link:
        event["client_url"] = n.link
        event["links"] = [{"href": n.link, "text": "Incident in spendsentry"}]
    return _fit(event, limit)


class PagerDutyNotifier:
    """Sends to one routing key. Its ``repr`` and every error it raises leave the key out."""

    def __init__(
        self, name: str, routing_key: SecretStr, client: httpx.Client, *, url: str = DEFAULT_URL
    ) -> None:
        self.name = name
        self._key = routing_key
        self._client = client
        self._url = url

    def __repr__(self) -> str:
        return f"PagerDutyNotifier(name={self.name!r})"

    @property
    def rate_key(self) -> str:
        # PagerDuty limits each routing key; a hash names the bucket without revealing the key.
        return "pagerduty:" + hashlib.sha256(self._key.get_secret_value().encode()).hexdigest()[:16]

    def send(self, n: Notification) -> None:
        key = self._key.get_secret_value()
        request(self._client, "POST", self._url, "pagerduty", body=pagerduty_event(n, key), secrets=[key])
        change = pagerduty_change_event(n, key)
        if change is not None:
            # After the resolve: should this fail, the outbox retries both, and a second resolve is a no-op.
            request(self._client, "POST", change_url(self._url), "pagerduty", body=change, secrets=[key])
