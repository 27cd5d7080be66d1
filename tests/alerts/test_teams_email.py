"""The Teams and e-mail receivers' messages and configuration, without a network (``httpx.MockTransport``
for Teams; the e-mail message objects as built). Real SMTP is in ``test_email_smtp.py``."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime

import httpx
import pytest
from pydantic import SecretStr

from alerts.heartbeat import Heartbeat, send_heartbeat
from alerts.notification import DeliveryError
from alerts.notifiers.mail import email_message, render_html, subject
from alerts.notifiers.smtp import SmtpSettings, smtp_settings
from alerts.notifiers.teams import TeamsNotifier, teams_card
from alerts.receivers import parse_routing
from core.errors import InputError
from tests.alerts.notifications import sample, teams_schema_errors
from tests.alerts.test_notifiers import client

TEAMS_URL = "https://example.invalid/workflows/abc/triggers/manual/paths/invoke?sig=TEAMSSIGSECRET123"
SMTP = SmtpSettings(
    host="mail.example.com", port=587, sender="Spend <spend@example.com>", to=("a@example.com",)
)


@pytest.mark.parametrize("action", ["open", "update", "resolve"])
def test_teams_card_has_the_workflows_shape(action: str) -> None:
    card = teams_card(sample(action))
    assert teams_schema_errors(card) == []
    content = card["attachments"][0]["content"]
    assert content["version"] == "1.4"
    texts = json.dumps(content)
    assert "shop / Compute" in texts and "1,234.00 USD" in texts and "service=EC2-0" in texts
    facts = {f["title"]: f["value"] for f in content["body"][2]["facts"]}
    assert facts["Severity"] == "page" and facts["Impact"] == "1,234.00 USD"
    assert content["actions"][0]["url"] == "http://dash.invalid/incidents/inc-1"
    assert content["body"][0]["color"] == ("Good" if action == "resolve" else "Attention")


def test_teams_card_without_a_web_link_has_no_button() -> None:
    card = teams_card(replace(sample(), link="javascript:alert(1)"))
    assert "actions" not in card["attachments"][0]["content"] and teams_schema_errors(card) == []


def test_the_schema_check_can_fail() -> None:
    assert teams_schema_errors({"type": "message", "attachments": []})
    bad = teams_card(sample())
    bad["attachments"][0]["content"]["body"][2]["facts"][0]["value"] = 3
    assert teams_schema_errors(bad) == ["body[2].facts must be title/value strings"]


@pytest.mark.parametrize(("status", "retryable"), [(400, False), (404, False), (429, True), (502, True)])
def test_teams_failures_are_classified_without_the_url(status: int, retryable: bool) -> None:
    seen: list[httpx.Request] = []
    teams = TeamsNotifier(
        "chat", SecretStr(TEAMS_URL), client(lambda r: httpx.Response(status, text=f"no {TEAMS_URL}"), seen)
    )
    with pytest.raises(DeliveryError) as info:
        teams.send(sample())
    assert info.value.retryable is retryable and f"HTTP {status}" in info.value.reason
    assert "TEAMSSIGSECRET123" not in info.value.reason and "TEAMSSIGSECRET123" not in repr(teams)


def test_teams_posts_the_card_and_a_heartbeat() -> None:
    seen: list[httpx.Request] = []
    teams = TeamsNotifier("chat", SecretStr(TEAMS_URL), client(lambda r: httpx.Response(202), seen))
    teams.send(sample())
    beat = Heartbeat(
        at=datetime(2026, 11, 10, 5, tzinfo=UTC), summary={"evaluated": 12}, link="http://d.invalid"
    )
    assert send_heartbeat({"chat": teams}, "chat", beat) == "sent"
    assert [str(r.url) for r in seen] == [TEAMS_URL, TEAMS_URL]
    card, heartbeat = (json.loads(r.content) for r in seen)
    assert teams_schema_errors(card) == [] and teams_schema_errors(heartbeat) == []
    assert "2026-11-10T05:00:00+00:00" in json.dumps(heartbeat) and "Evaluated" in json.dumps(heartbeat)


def test_email_subject_names_severity_product_cost_line_and_impact() -> None:
    assert subject(sample()) == "[spendsentry page] Opened: shop / Compute: +1,234.00 USD"
    assert subject(sample("resolve", seq=2)).startswith("[spendsentry page] Resolved: shop / Compute")
    # A line break in billing data never reaches a header.
    evil = replace(sample(), product="shop\r\nBcc: victim@example.com")
    assert "\n" not in subject(evil) and "\r" not in subject(evil)
    message = email_message(evil, SMTP, "mail")
    assert message["Bcc"] is None


def test_email_is_text_and_html_with_everything_escaped() -> None:
    n = replace(
        sample(),
        product="<script>alert(1)</script>",
        details={**sample().details, "root_causes": [{"dimensions": {"team": "a&b<i>"}, "contribution": 5}]},
    )
    message = email_message(n, SMTP, "mail")
    assert message.get_content_type() == "multipart/alternative"
    text = message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    page = message.get_body(("html",)).get_content()  # type: ignore[union-attr]
    assert "<script>alert(1)</script>" in text and "team=a&b<i>" in text
    assert "<script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "team=a&amp;b&lt;i&gt;" in page and "<i>" not in page
    assert '<a href="http://dash.invalid/incidents/inc-1">' in page
    assert render_html(replace(n, link="javascript:alert(1)")).count("<a ") == 0


def test_email_messages_of_one_incident_thread_together() -> None:
    opened = email_message(sample(), SMTP, "mail")
    resolved = email_message(sample("resolve", seq=2), SMTP, "mail")
    assert (
        opened["References"]
        == resolved["References"]
        == resolved["In-Reply-To"]
        == "<incident.inc-1@example.com>"
    )
    assert opened["Message-ID"] != resolved["Message-ID"]
    assert opened["Message-ID"] == email_message(sample(), SMTP, "mail")["Message-ID"]  # stable on redelivery
    assert opened["Auto-Submitted"] == "auto-generated" and opened["X-SpendSentry-Fingerprint"] == "f" * 32


@pytest.mark.parametrize(
    ("options", "field", "reason"),
    [
        ({"port": "x"}, ".port", "port number"),
        ({"port": 70000}, ".port", "between"),
        ({"to": []}, ".to", "non-empty"),
        ({"to": ["not-an-address"]}, ".to[0]", "not an e-mail address"),
        ({"from": "nobody"}, ".from", "not an e-mail address"),
        ({"username": "u"}, ".password", "required with a username"),
        (
            {"username": "u", "password": SecretStr("p"), "starttls": False},
            ".starttls",
            "never sent in clear",
        ),
        ({"verify": "maybe"}, ".verify", "true or false"),
        ({"timeout_seconds": 0}, ".timeout_seconds", "positive"),
        ({"tls": True}, "", "unknown keys: tls"),
    ],
)
def test_bad_email_options_name_the_field(options: dict[str, object], field: str, reason: str) -> None:
    base: dict[str, object] = {"host": "mail.example.com", "from": "s@example.com", "to": "a@example.com"}
    with pytest.raises(InputError) as info:
        smtp_settings({**base, **options}, "receivers[0].mail.email")
    assert info.value.field == f"receivers[0].mail.email{field}" and reason in str(info.value)


def test_routes_file_takes_teams_and_email_with_secrets_from_the_environment() -> None:
    routing = parse_routing(
        {
            "route": {"receiver": "chat", "routes": [{"receiver": "mail", "matchers": ['severity="page"']}]},
            "receivers": [
                {"name": "chat", "teams": {"url_env": "TEAMS"}},
                {
                    "name": "mail",
                    "email": {
                        "host": "mail.example.com",
                        "from": "spend@example.com",
                        "to": ["a@example.com", "b@example.com"],
                        "username": "spend",
                        "password_env": "SMTP_PASSWORD",
                    },
                },
            ],
        },
        {"TEAMS": TEAMS_URL, "SMTP_PASSWORD": "hunter2-secret-pw"},
    )
    assert isinstance(routing.receivers["chat"].options["url"], SecretStr)
    assert isinstance(routing.receivers["mail"].options["password"], SecretStr)
    notifiers = routing.notifiers()
    shown = repr(routing) + repr(routing.receivers) + repr(notifiers)
    assert "hunter2-secret-pw" not in shown and "TEAMSSIGSECRET123" not in shown
    assert type(notifiers["mail"]).__name__ == "EmailNotifier"


def test_an_unset_password_env_is_named() -> None:
    with pytest.raises(InputError) as info:
        parse_routing(
            {
                "route": {"receiver": "mail"},
                "receivers": [
                    {
                        "name": "mail",
                        "email": {"host": "h", "from": "s@e.com", "to": "a@e.com", "password_env": "NOPE"},
                    }
                ],
            },
            {},
        )
    assert info.value.field == "receivers[0].mail.email.password_env" and "NOPE" in str(info.value)


def test_teams_and_email_name_a_cause_by_its_description_label_beside_its_pairs() -> None:
    described = {
        "dimensions": {"service": "Amazon CloudFront", "sku": "cf-dto"},
        "label": "Amazon CloudFront: data transfer out",
        "contribution": 900.0,
    }
    # As notifications carry a cause without a description: its label is its values, nothing more.
    plain = {"dimensions": {"region": "eu-west-1"}, "label": "eu-west-1", "contribution": 80.0}
    n = replace(sample(), details={**sample().details, "root_causes": [described, plain]})
    titles = [f["title"] for f in teams_card(n)["attachments"][0]["content"]["body"][4]["facts"]]
    named = "Amazon CloudFront: data transfer out (service=Amazon CloudFront & sku=cf-dto)"
    assert titles == [named, "region=eu-west-1"]
    page = render_html(n)
    escaped = named.replace("&", "&amp;")
    assert f"<li>{escaped}: 900.00 USD</li>" in page and "<li>region=eu-west-1: 80.00 USD</li>" in page
    text = email_message(n, SMTP, "mail").get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert f"{named}: 900.00 USD" in text  # the plain part is the ticket text, named the same way
