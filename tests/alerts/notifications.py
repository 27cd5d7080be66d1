"""A sample notification, and a PagerDuty Events v2 schema check shared by unit and end-to-end tests.

The check is PagerDuty's published OpenAPI schema when the shared specifications are there (so the real
local receiver of the end-to-end tests answers 400 to anything PagerDuty would refuse), plus the
contract's own rules (``custom_details`` keys) that no vendor schema knows about.
"""

from __future__ import annotations

from typing import Any

from alerts.notification import Notification
from tests.alerts.vendor_schemas import (
    PAGERDUTY_SPEC,
    errors,
    pagerduty_change_validator,
    pagerduty_validator,
)
from tests.conftest import SHARED_SPECS

CONTRACT_DETAILS = {
    "product",
    "cost_line",
    "severity",
    "actual",
    "expected",
    "impact",
    "burn_rate",
    "projected_month_impact",
    "root_causes",
    "link",
}


def sample(action: str = "open", *, seq: int = 1, causes: int = 1) -> Notification:
    return Notification(
        action=action,  # type: ignore[arg-type]
        incident_id="inc-1",
        fingerprint="f" * 32,
        seq=seq,
        product="shop",
        cost_line="Compute",
        currency="USD",
        severity="page",
        summary="shop / Compute: +1,234.00 USD over expected (page); top cause service=EC2 (987.20 USD)",
        details={
            "product": "shop",
            "cost_line": "Compute",
            "severity": "page",
            "actual": 2234.0,
            "expected": 1000.0,
            "impact": 1234.0,
            "burn_rate": 3.4,
            "projected_month_impact": 12340.0,
            "root_causes": [
                {"dimensions": {"service": f"EC2-{i}", "region": "eu-west-1"}, "contribution": 987.2}
                for i in range(causes)
            ],
            "link": "http://dash.invalid/incidents/inc-1",
        },
        labels={"product": "shop", "severity": "page", "cause.service": "EC2"},
        link="http://dash.invalid/incidents/inc-1",
        at="2026-11-10T05:00:00+00:00",
        started_at="2026-11-10T01:00:00+00:00",
    )


def pagerduty_schema_errors(event: Any) -> list[str]:
    """What is wrong with an Events API v2 body (empty when it is valid)."""
    if not isinstance(event, dict):
        return ["not an object"]
    problems: list[str] = []
    if (SHARED_SPECS / PAGERDUTY_SPEC).is_file():
        problems = errors(pagerduty_validator(SHARED_SPECS), event)
    if not isinstance(event.get("routing_key"), str) or len(event["routing_key"]) == 0:
        problems.append("routing_key")
    if event.get("event_action") not in ("trigger", "acknowledge", "resolve"):
        problems.append("event_action")
    dedup = event.get("dedup_key")
    if event.get("event_action") != "trigger" and not dedup:
        problems.append("dedup_key required")
    if dedup is not None and (not isinstance(dedup, str) or len(dedup) > 255):
        problems.append("dedup_key")
    if event.get("event_action") == "trigger":
        payload = event.get("payload")
        if not isinstance(payload, dict):
            return [*problems, "payload"]
        if not isinstance(payload.get("summary"), str) or not 0 < len(payload["summary"]) <= 1024:
            problems.append("payload.summary")
        if not isinstance(payload.get("source"), str) or not payload["source"]:
            problems.append("payload.source")
        if payload.get("severity") not in ("critical", "error", "warning", "info"):
            problems.append("payload.severity")
        details = payload.get("custom_details", {})
        missing = CONTRACT_DETAILS - set(details)
        if missing:
            problems.append(f"custom_details missing {sorted(missing)}")
        for cause in details.get("root_causes", []):
            if set(cause) < {"dimensions", "contribution"}:
                problems.append("root_causes item")
    return problems


def change_event_schema_errors(event: Any) -> list[str]:
    """What is wrong with a Change Events body (``/v2/change/enqueue``; empty when it is valid)."""
    if not isinstance(event, dict):
        return ["not an object"]
    problems: list[str] = []
    if (SHARED_SPECS / PAGERDUTY_SPEC).is_file():
        problems = errors(pagerduty_change_validator(SHARED_SPECS), event)
    if not isinstance(event.get("routing_key"), str) or not event["routing_key"]:
        problems.append("routing_key")
    payload = event.get("payload")
    if not isinstance(payload, dict):
        return [*problems, "payload"]
    if not isinstance(payload.get("summary"), str) or not 0 < len(payload["summary"]) <= 1024:
        problems.append("payload.summary")
    if "event_action" in event:
        problems.append("event_action (a change event has none)")
    return problems


CARD_ELEMENTS = {"TextBlock", "FactSet", "ColumnSet", "Container", "Image", "RichTextBlock"}


def teams_schema_errors(message: Any) -> list[str]:
    """What a Teams Workflows webhook ("When a Teams webhook request is received", then "Post card in a
    chat or channel" with ``attachments[0].content``) would reject in ``message`` (empty when valid)."""
    if not isinstance(message, dict) or message.get("type") != "message":
        return ["type must be 'message'"]
    attachments = message.get("attachments")
    if not isinstance(attachments, list) or not attachments:
        return ["attachments must be a non-empty list"]
    first = attachments[0]
    if not isinstance(first, dict) or first.get("contentType") != "application/vnd.microsoft.card.adaptive":
        return ["attachments[0].contentType must be application/vnd.microsoft.card.adaptive"]
    card = first.get("content")
    if not isinstance(card, dict) or card.get("type") != "AdaptiveCard":
        return ["attachments[0].content.type must be AdaptiveCard"]
    errors: list[str] = []
    if card.get("version") not in ("1.0", "1.1", "1.2", "1.3", "1.4", "1.5"):
        errors.append("content.version")
    body = card.get("body")
    if not isinstance(body, list) or not body:
        return [*errors, "content.body must be a non-empty list"]
    for i, element in enumerate(body):
        kind = element.get("type") if isinstance(element, dict) else None
        if kind not in CARD_ELEMENTS:
            errors.append(f"body[{i}].type")
        elif kind == "TextBlock" and not isinstance(element.get("text"), str):
            errors.append(f"body[{i}].text")
        elif kind == "FactSet":
            facts = element.get("facts")
            if not isinstance(facts, list) or not all(
                isinstance(f, dict) and isinstance(f.get("title"), str) and isinstance(f.get("value"), str)
                for f in facts
            ):
                errors.append(f"body[{i}].facts must be title/value strings")
    for i, action in enumerate(card.get("actions") or []):
        if action.get("type") != "Action.OpenUrl" or not str(action.get("url", "")).startswith(
            ("http://", "https://")
        ):
            errors.append(f"actions[{i}]")
    return errors
