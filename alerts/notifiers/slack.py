"""Slack incoming webhook: a short message per notification. The webhook URL is itself the secret."""

from __future__ import annotations

from typing import Any

import httpx
from pydantic import SecretStr

from alerts.heartbeat import Heartbeat, heartbeat_text
from alerts.notification import Notification
from alerts.notifiers.http import request
from alerts.notifiers.text import render_text

_EMOJI = {"open": ":rotating_light:", "update": ":arrow_up:", "resolve": ":white_check_mark:"}


def slack_message(n: Notification) -> dict[str, Any]:
    text = f"{_EMOJI[n.action]} {render_text(n, markdown=False)}"
    return {"text": text[:3000]}


class SlackNotifier:
    def __init__(self, name: str, url: SecretStr, client: httpx.Client) -> None:
        self.name = name
        self._url = url
        self._client = client

    def __repr__(self) -> str:
        return f"SlackNotifier(name={self.name!r})"

    @property
    def rate_key(self) -> str | None:
        return None

    def send(self, n: Notification) -> None:
        url = self._url.get_secret_value()
        request(self._client, "POST", url, "slack", body=slack_message(n), secrets=[url])

    def heartbeat(self, beat: Heartbeat) -> None:
        url = self._url.get_secret_value()
        request(
            self._client,
            "POST",
            url,
            "slack",
            body={"text": f":heartbeat: {heartbeat_text(beat)}"},
            secrets=[url],
        )
