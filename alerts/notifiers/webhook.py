"""Generic JSON webhook: ``{"action", "fingerprint", "product", "cost_line", "severity", "summary",
"details"}``, signed with HMAC-SHA256 over the exact body bytes when a secret is configured.

Headers: ``X-SpendSentry-Signature: sha256=<hex>`` and ``X-SpendSentry-Event`` (unique per
notification: receivers use it, or the fingerprint with the action, to ignore redeliveries).

As a heartbeat receiver (``alerts.heartbeat``) it POSTs ``{"action": "heartbeat", "at", "summary", "link"}``
after every successful sweep: a dead man's switch such as Healthchecks takes any POST to its ping URL.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

import httpx
from pydantic import SecretStr

from alerts.heartbeat import Heartbeat
from alerts.notification import Notification
from alerts.notifiers.http import request

SIGNATURE_HEADER = "X-SpendSentry-Signature"
EVENT_HEADER = "X-SpendSentry-Event"


def webhook_body(n: Notification) -> dict[str, Any]:
    return {
        "action": n.action,
        "fingerprint": n.fingerprint,
        "product": n.product,
        "cost_line": n.cost_line,
        "severity": n.severity,
        "summary": n.summary,
        "details": dict(n.details),
    }


def sign(body: bytes, secret: str) -> str:
    return "sha256=" + hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


class WebhookNotifier:
    def __init__(self, name: str, url: str, client: httpx.Client, *, secret: SecretStr | None = None) -> None:
        self.name = name
        self._url = url
        self._client = client
        self._secret = secret

    def __repr__(self) -> str:
        return f"WebhookNotifier(name={self.name!r})"

    @property
    def rate_key(self) -> str | None:
        return None

    def send(self, n: Notification) -> None:
        self._post(webhook_body(n), f"{n.event_key}:{n.action}")

    def heartbeat(self, beat: Heartbeat) -> None:
        body = {
            "action": "heartbeat",
            "at": beat.at.isoformat(),
            "summary": dict(beat.summary),
            "link": beat.link,
        }
        self._post(body, f"heartbeat:{beat.at.isoformat()}")

    def _post(self, body: dict[str, Any], event: str) -> None:
        content = json.dumps(body, separators=(",", ":"), default=str).encode("utf-8")
        headers = {"Content-Type": "application/json", EVENT_HEADER: event}
        secrets: list[str] = []
        if self._secret is not None:
            secret = self._secret.get_secret_value()
            headers[SIGNATURE_HEADER] = sign(content, secret)
            secrets.append(secret)
        request(self._client, "POST", self._url, "webhook", content=content, headers=headers, secrets=secrets)
