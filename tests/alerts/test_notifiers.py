"""Each notifier's requests and error classification, against ``httpx.MockTransport``."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Callable
from dataclasses import replace

import httpx
import pytest
from pydantic import SecretStr

from alerts.notification import DeliveryError, Notification
from alerts.notifiers.alertmanager import AlertmanagerNotifier
from alerts.notifiers.github import GitHubNotifier, marker
from alerts.notifiers.jira import JiraNotifier
from alerts.notifiers.pagerduty import MAX_EVENT_BYTES, PagerDutyNotifier, change_url, pagerduty_event
from alerts.notifiers.slack import SlackNotifier
from alerts.notifiers.webhook import SIGNATURE_HEADER, WebhookNotifier
from tests.alerts.notifications import pagerduty_schema_errors, sample
from tests.alerts.receiver_server import Receiver, running

KEY = "R0UT1NGKEY-secret-value-xyz"


def client(handler: Callable[[httpx.Request], httpx.Response], seen: list[httpx.Request]) -> httpx.Client:
    def record(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return handler(request)

    return httpx.Client(transport=httpx.MockTransport(record))


def test_pagerduty_trigger_and_resolve() -> None:
    seen: list[httpx.Request] = []
    pd = PagerDutyNotifier("pd", SecretStr(KEY), client(lambda r: httpx.Response(202, json={}), seen))
    pd.send(sample("open"))
    pd.send(sample("resolve", seq=2))
    trigger, resolve = (json.loads(r.content) for r in seen)
    assert pagerduty_schema_errors(trigger) == [] and pagerduty_schema_errors(resolve) == []
    assert trigger["event_action"] == "trigger" and resolve["event_action"] == "resolve"
    assert trigger["dedup_key"] == resolve["dedup_key"] == "f" * 32
    assert trigger["payload"]["severity"] == "critical"
    summary = trigger["payload"]["summary"]
    assert "shop" in summary and "Compute" in summary and "1,234" in summary and "EC2" in summary
    assert trigger["links"][0]["href"].endswith("/incidents/inc-1")
    assert KEY not in repr(pd) and KEY not in pd.rate_key


def new_normal_resolve() -> Notification:
    n = sample("resolve", seq=3)
    shift = {"since": "2026-11-01T00:00:00+00:00", "ratio": 2.5, "hours": 200.0, "month_impact": 9600.0}
    return replace(
        n,
        summary="Resolved (new normal): shop / Compute runs at 2.50x its old baseline (+150%) since "
        "2026-11-01, adding 9,600.00 USD a month; the new level is learned and no longer alerts",
        details={**n.details, "resolution": "new normal", "new_normal": shift, "incident_id": "inc-1"},
    )


def test_pagerduty_new_normal_resolve_is_followed_by_a_change_event() -> None:
    """Events v2 resolves carry no text: the new normal is told by a change event beside the service."""
    with running(Receiver()) as receiver:
        http = httpx.Client(timeout=5.0)
        pd = PagerDutyNotifier("pd", SecretStr(KEY), http, url=f"{receiver.url}/pagerduty/v2/enqueue")
        pd.send(sample("resolve", seq=2))  # an ordinary resolve: no change event
        pd.send(new_normal_resolve())
    assert [(path, status) for path, status in receiver.requests] == [
        ("/pagerduty/v2/enqueue", 202),
        ("/pagerduty/v2/enqueue", 202),
        ("/pagerduty/v2/change/enqueue", 202),
    ]
    change = receiver.accepted[-1][1]
    assert change["routing_key"] == KEY and "new normal" in change["payload"]["summary"]
    assert "9,600.00 USD a month" in change["payload"]["summary"]
    assert change["payload"]["custom_details"]["new_normal"]["ratio"] == 2.5
    assert change["links"][0]["href"].endswith("/incidents/inc-1")
    assert (
        change_url("https://events.pagerduty.com/v2/enqueue")
        == "https://events.pagerduty.com/v2/change/enqueue"
    )


def test_pagerduty_event_fits_512kb() -> None:
    n = sample(causes=20_000)
    event = pagerduty_event(n, KEY)
    size = len(json.dumps(event, separators=(",", ":")).encode())
    assert size <= MAX_EVENT_BYTES
    details = event["payload"]["custom_details"]
    assert details["root_causes_trimmed"] is True and 1 <= len(details["root_causes"]) < 20_000
    assert details["root_causes"][0]["dimensions"]["service"] == "EC2-0"  # the top causes are kept
    assert pagerduty_schema_errors(event) == []


@pytest.mark.parametrize(
    ("status", "retryable"),
    [
        (400, False),
        (401, False),
        (403, False),
        (404, False),
        (408, True),
        (429, True),
        (500, True),
        (503, True),
    ],
)
def test_status_classification(status, retryable) -> None:
    seen: list[httpx.Request] = []
    # A receiver that echoes the key back must not get it into our error.
    pd = PagerDutyNotifier(
        "pd", SecretStr(KEY), client(lambda r: httpx.Response(status, text=f"bad {KEY}"), seen)
    )
    with pytest.raises(DeliveryError) as info:
        pd.send(sample())
    assert info.value.retryable is retryable
    assert KEY not in str(info.value) and str(status) in info.value.reason


def test_network_errors_are_retryable_and_do_not_leak_urls() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError(f"cannot connect to {request.url}")

    url = "https://hooks.slack.invalid/services/T0/B0/SLACKSECRET"
    slack = SlackNotifier("chat", SecretStr(url), client(refuse, []))
    with pytest.raises(DeliveryError) as info:
        slack.send(sample())
    assert info.value.retryable and "SLACKSECRET" not in str(info.value)
    assert info.value.__cause__ is None and info.value.__suppress_context__


def test_retry_after_is_read() -> None:
    pd = PagerDutyNotifier(
        "pd", SecretStr(KEY), client(lambda r: httpx.Response(429, headers={"Retry-After": "7"}), [])
    )
    with pytest.raises(DeliveryError) as info:
        pd.send(sample())
    assert info.value.retry_after == 7.0


def test_webhook_body_and_signature() -> None:
    seen: list[httpx.Request] = []
    hook = WebhookNotifier(
        "t", "http://hook.invalid/x", client(lambda r: httpx.Response(200), seen), secret=SecretStr("s3cr3t")
    )
    hook.send(sample("update", seq=2))
    request = seen[0]
    body = json.loads(request.content)
    assert set(body) == {"action", "fingerprint", "product", "cost_line", "severity", "summary", "details"}
    assert body["action"] == "update" and body["details"]["impact"] == 1234.0
    want = "sha256=" + hmac.new(b"s3cr3t", request.content, hashlib.sha256).hexdigest()
    assert request.headers[SIGNATURE_HEADER] == want
    assert "s3cr3t" not in repr(hook)


def test_jira_creates_once_then_comments() -> None:
    issues: list[str] = []
    seen: list[httpx.Request] = []

    def jira(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/rest/api/2/search":
            assert "spendsentry-" + "f" * 32 in request.url.params["jql"]
            return httpx.Response(200, json={"issues": [{"key": k} for k in issues]})
        if request.url.path == "/rest/api/2/issue":
            issues.append("OPS-1")
            return httpx.Response(201, json={"key": "OPS-1"})
        if request.url.path == "/rest/api/2/issue/OPS-1/comment":
            return httpx.Response(201, json={})
        return httpx.Response(404)

    j = JiraNotifier("jira", "http://jira.invalid", "OPS", client(jira, seen), token=SecretStr("me@x.io:tok"))
    j.send(sample("open"))
    j.send(sample("open"))  # redelivered: comments, never a second issue
    j.send(sample("update", seq=2))
    posts = [r.url.path for r in seen if r.method == "POST"]
    assert posts == [
        "/rest/api/2/issue",
        "/rest/api/2/issue/OPS-1/comment",
        "/rest/api/2/issue/OPS-1/comment",
    ]
    assert seen[0].headers["Authorization"].startswith("Basic ")
    created = json.loads(seen[1].content)["fields"]
    assert created["project"] == {"key": "OPS"} and "spendsentry-" + "f" * 32 in created["labels"]


def test_github_is_idempotent_by_marker_and_closes_on_resolve() -> None:
    issues: list[dict[str, object]] = []
    seen: list[httpx.Request] = []

    def gh(request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if request.method == "GET" and path == "/repos/o/r/issues":
            return httpx.Response(200, json=issues)
        if request.method == "POST" and path == "/repos/o/r/issues":
            issues.append({"number": 7, **json.loads(request.content)})
            return httpx.Response(201, json={"number": 7})
        if path in ("/repos/o/r/issues/7/comments", "/repos/o/r/issues/7"):
            return httpx.Response(200, json={})
        return httpx.Response(404)

    g = GitHubNotifier(
        "gh", "https://api.github.invalid/repos/o/r", client(gh, seen), token=SecretStr("ghp_x")
    )
    g.send(sample("open"))
    g.send(sample("open"))
    g.send(sample("resolve", seq=2))
    writes = [(r.method, r.url.path) for r in seen if r.method != "GET"]
    assert writes == [
        ("POST", "/repos/o/r/issues"),
        ("POST", "/repos/o/r/issues/7/comments"),
        ("POST", "/repos/o/r/issues/7/comments"),
        ("PATCH", "/repos/o/r/issues/7"),
    ]
    assert marker("f" * 32) in str(issues[0]["body"])


def test_alertmanager_firing_and_resolved() -> None:
    seen: list[httpx.Request] = []
    am = AlertmanagerNotifier("am", "http://am.invalid:9093", client(lambda r: httpx.Response(200), seen))
    am.send(sample("open"))
    am.send(sample("resolve", seq=2))
    firing, resolved = (json.loads(r.content)[0] for r in seen)
    assert seen[0].url.path == "/api/v2/alerts"
    assert firing["labels"]["fingerprint"] == "f" * 32 and firing["labels"]["alertname"] == "SpendAnomaly"
    assert "cause.service" not in firing["labels"] and "cause_service" not in firing["labels"]
    assert firing["endsAt"] > firing["startsAt"] and resolved["endsAt"] == "2026-11-10T05:00:00+00:00"


def test_alertmanager_escalation_ends_the_lower_severity_alert() -> None:
    seen: list[httpx.Request] = []
    am = AlertmanagerNotifier("am", "http://am.invalid:9093", client(lambda r: httpx.Response(200), seen))
    am.send(replace(sample("update", seq=2), escalated_from="ticket"))
    am.send(sample("update", seq=3))  # growth only: one alert
    escalation, growth = (json.loads(r.content) for r in seen)
    assert [a["labels"]["severity"] for a in escalation] == ["page", "ticket"]
    page, ticket = escalation
    assert {k: v for k, v in ticket["labels"].items() if k != "severity"} == {
        k: v for k, v in page["labels"].items() if k != "severity"
    }
    assert ticket["endsAt"] == "2026-11-10T05:00:00+00:00" and page["endsAt"] > ticket["endsAt"]
    assert len(growth) == 1
