"""Microsoft Teams through a Workflows webhook ("When a Teams webhook request is received"): one Adaptive
Card per notification. The webhook URL carries its own signature, so, as for Slack, the URL is the secret.

The trigger takes ``{"type": "message", "attachments": [{"contentType":
"application/vnd.microsoft.card.adaptive", "content": <AdaptiveCard>}]}`` and its "Post card in a chat or
channel" step posts ``attachments[0].content``. Cards use schema 1.4, which Teams renders everywhere.
"""

from __future__ import annotations

from typing import Any

import httpx
from pydantic import SecretStr

from alerts.heartbeat import Heartbeat
from alerts.notification import Notification
from alerts.notifiers.http import request
from alerts.notifiers.text import money
from alerts.summary import cause_title

CARD_TYPE = "application/vnd.microsoft.card.adaptive"
CARD_VERSION = "1.4"
SCHEMA = "http://adaptivecards.io/schemas/adaptive-card.json"
MAX_CAUSES = 5
_HEADLINE = {"open": "Opened", "update": "Updated", "resolve": "Resolved"}
# Adaptive Card text colours: a page is an attention colour, a ticket a warning, a resolve good news.
_COLOUR = {"page": "Attention", "ticket": "Warning"}


def _text(text: str, **style: Any) -> dict[str, Any]:
    return {"type": "TextBlock", "text": text, "wrap": True, **style}


def _card(body: list[dict[str, Any]], actions: list[dict[str, Any]]) -> dict[str, Any]:
    content: dict[str, Any] = {
        "$schema": SCHEMA,
        "type": "AdaptiveCard",
        "version": CARD_VERSION,
        "body": body,
    }
    if actions:
        content["actions"] = actions
    return {
        "type": "message",
        "attachments": [{"contentType": CARD_TYPE, "contentUrl": None, "content": content}],
    }


def _link_action(link: str, title: str) -> list[dict[str, Any]]:
    # Teams refuses a card whose OpenUrl is not an absolute http(s) URL.
    return (
        [{"type": "Action.OpenUrl", "title": title, "url": link}]
        if link.startswith(("http://", "https://"))
        else []
    )


def teams_card(n: Notification) -> dict[str, Any]:
    """The Workflows message of ``n``: headline, facts (severity, $), top root causes, dashboard button.

    Card text is plain: Teams renders a subset of Markdown in TextBlocks, so values are shown as facts
    (never interpreted) wherever they come from billing data."""
    d = n.details
    colour = "Good" if n.action == "resolve" else _COLOUR.get(n.severity, "Default")
    facts = [
        {"title": "Severity", "value": n.severity},
        {"title": "Product", "value": n.product},
        {"title": "Cost line", "value": n.cost_line},
        {"title": "Actual", "value": money(d.get("actual"), n.currency)},
        {"title": "Expected", "value": money(d.get("expected"), n.currency)},
        {"title": "Impact", "value": money(d.get("impact"), n.currency)},
        {"title": "Projected month impact", "value": money(d.get("projected_month_impact"), n.currency)},
    ]
    burn = d.get("burn_rate")
    if isinstance(burn, int | float):
        facts.append({"title": "Burn rate", "value": f"{burn:.2f}x"})
    if d.get("change"):
        facts.append({"title": "What changed", "value": str(d["change"])})
    body = [
        _text(
            f"{_HEADLINE[n.action]}: {n.product} / {n.cost_line}", size="Large", weight="Bolder", color=colour
        ),
        _text(n.summary, isSubtle=True),
        {"type": "FactSet", "facts": facts},
    ]
    causes = (d.get("root_causes") or [])[:MAX_CAUSES]
    if causes:
        body.append(_text("Root causes", weight="Bolder", separator=True))
        body.append(
            {
                "type": "FactSet",
                "facts": [
                    {
                        "title": cause_title(c),
                        "value": money(c.get("contribution"), n.currency),
                    }
                    for c in causes
                ],
            }
        )
    return _card(body, _link_action(n.link, "Open in spendsentry"))


def heartbeat_card(beat: Heartbeat) -> dict[str, Any]:
    facts = [
        {"title": k.replace("_", " ").capitalize(), "value": str(v)} for k, v in sorted(beat.summary.items())
    ]
    body = [
        _text("spendsentry sweep finished", weight="Bolder"),
        _text(f"As of {beat.at.isoformat()}", isSubtle=True),
        {"type": "FactSet", "facts": facts},
    ]
    return _card(body, _link_action(beat.link, "Open spendsentry"))


class TeamsNotifier:
    def __init__(self, name: str, url: SecretStr, client: httpx.Client) -> None:
        self.name = name
        self._url = url
        self._client = client

    def __repr__(self) -> str:
        return f"TeamsNotifier(name={self.name!r})"

    @property
    def rate_key(self) -> str | None:
        return None

    def send(self, n: Notification) -> None:
        self._post(teams_card(n))

    def heartbeat(self, beat: Heartbeat) -> None:
        self._post(heartbeat_card(beat))

    def _post(self, body: dict[str, Any]) -> None:
        url = self._url.get_secret_value()
        # A Workflows trigger answers 202 Accepted; a flow turned off answers 4xx (permanent until fixed).
        request(self._client, "POST", url, "teams", body=body, secrets=[url])
