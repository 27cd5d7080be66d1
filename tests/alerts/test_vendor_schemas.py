"""Every request body the PagerDuty, Jira and GitHub receivers send, checked against the vendor's
published schema (PagerDuty's OpenAPI document) or the required fields of its REST reference
(``tests/alerts/schemas/``). Each schema is also shown to refuse a broken body, so none passes vacuously."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from alerts.notifiers.github import GitHubNotifier
from alerts.notifiers.jira import JiraNotifier
from alerts.notifiers.pagerduty import PagerDutyNotifier
from tests.alerts.notifications import sample
from tests.alerts.vendor_schemas import PAGERDUTY_SPEC, errors, pagerduty_validator, vendor_validator

# The longest summary a notification can carry: receivers must cut it to what each vendor accepts.
LONG = replace(sample("open"), summary="shop / Compute: " + "x" * 2000)


def recording(handler: Callable[[httpx.Request], httpx.Response]) -> tuple[httpx.Client, list[httpx.Request]]:
    seen: list[httpx.Request] = []

    def record(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return handler(request)

    return httpx.Client(transport=httpx.MockTransport(record)), seen


def test_pagerduty_trigger_and_resolve_match_the_published_openapi(shared_specs: Path) -> None:
    validator = pagerduty_validator(shared_specs)
    client, seen = recording(lambda r: httpx.Response(202, json={"status": "success"}))
    pd = PagerDutyNotifier("pd", SecretStr("R0UT1NGKEY-0123456789"), client)
    for n in (sample("open"), sample("update", seq=2, causes=40), LONG, sample("resolve", seq=3)):
        pd.send(n)
    bodies = [json.loads(r.content) for r in seen]
    assert [b["event_action"] for b in bodies] == ["trigger", "trigger", "trigger", "resolve"]
    for body in bodies:
        assert errors(validator, body) == [], body


def test_the_pagerduty_schema_refuses_what_pagerduty_refuses(shared_specs: Path) -> None:
    validator = pagerduty_validator(shared_specs)
    spec = json.loads((shared_specs / PAGERDUTY_SPEC).read_text())
    example = spec["paths"]["/enqueue"]["post"]["requestBody"]["content"]["application/json"]["examples"]
    assert errors(validator, example["event"]["value"]) == []  # the vendor's own example passes
    good: dict[str, Any] = {
        "routing_key": "k",
        "event_action": "trigger",
        "payload": {"summary": "s", "source": "spendsentry", "severity": "critical"},
    }
    assert errors(validator, good) == []
    broken = [
        ({**good, "event_action": "fire"}, "event_action"),
        ({k: v for k, v in good.items() if k != "routing_key"}, "routing_key"),
        ({k: v for k, v in good.items() if k != "payload"}, "payload"),
        ({"routing_key": "k", "event_action": "resolve"}, "dedup_key"),
    ]
    for field in ("summary", "source", "severity"):
        body = copy.deepcopy(good)
        del body["payload"][field]
        broken.append((body, field))
    bad_severity = copy.deepcopy(good)
    bad_severity["payload"]["severity"] = "page"
    broken.append((bad_severity, "severity"))
    for body, field in broken:
        found = errors(validator, body)
        assert any(field in e for e in found), (field, found)


def jira_server(issues: list[str]) -> Callable[[httpx.Request], httpx.Response]:
    def handle(request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if path == "/rest/api/2/search":
            return httpx.Response(200, json={"issues": [{"key": k} for k in issues]})
        if path == "/rest/api/2/issue":
            issues.append("OPS-1")
            return httpx.Response(201, json={"key": "OPS-1"})
        if path == "/rest/api/2/issue/OPS-1/comment":
            return httpx.Response(201, json={})
        return httpx.Response(404)

    return handle


def test_jira_create_and_comment_bodies_carry_the_required_fields() -> None:
    issues: list[str] = []
    client, seen = recording(jira_server(issues))
    jira = JiraNotifier("jira", "http://jira.invalid", "OPS", client, token=SecretStr("me@x.io:tok"))
    jira.send(LONG)
    jira.send(sample("update", seq=2))
    jira.send(sample("resolve", seq=3))
    posts = [r for r in seen if r.method == "POST"]
    kinds = ["create" if r.url.path == "/rest/api/2/issue" else "comment" for r in posts]
    assert kinds == ["create", "comment", "comment"]
    for kind, request in zip(kinds, posts, strict=True):
        body = json.loads(request.content)
        assert errors(vendor_validator("jira", kind), body) == [], body


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda f: f.pop("issuetype"), "issuetype"),
        (lambda f: f.pop("project"), "project"),
        (lambda f: f.update(project={}), "project"),
        (lambda f: f.update(summary="x" * 256), "summary"),
        (lambda f: f.update(summary="two\nlines"), "summary"),
        (lambda f: f.update(labels=["has space"]), "labels"),
    ],
)
def test_the_jira_schema_refuses_a_body_jira_would_refuse(
    change: Callable[[dict[str, Any]], Any], field: str
) -> None:
    fields: dict[str, Any] = {
        "project": {"key": "OPS"},
        "summary": "s",
        "issuetype": {"name": "Task"},
        "labels": ["spendsentry"],
    }
    validator = vendor_validator("jira", "create")
    assert errors(validator, {"fields": fields}) == []
    change(fields)
    assert any(field in e for e in errors(validator, {"fields": fields}))
    assert errors(vendor_validator("jira", "comment"), {"body": ""}) != []


def github_server(issues: list[dict[str, Any]]) -> Callable[[httpx.Request], httpx.Response]:
    def handle(request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if request.method == "GET" and path == "/repos/o/r/issues":
            return httpx.Response(200, json=issues)
        if request.method == "POST" and path == "/repos/o/r/issues":
            issues.append({"number": 7, **json.loads(request.content)})
            return httpx.Response(201, json={"number": 7})
        if path in ("/repos/o/r/issues/7/comments", "/repos/o/r/issues/7"):
            return httpx.Response(200, json={})
        return httpx.Response(404)

    return handle


def test_github_create_comment_and_close_bodies_match_the_reference() -> None:
    client, seen = recording(github_server([]))
    gh = GitHubNotifier("gh", "https://api.github.invalid/repos/o/r", client, token=SecretStr("ghp_x"))
    gh.send(LONG)
    gh.send(sample("update", seq=2))
    gh.send(sample("resolve", seq=3))
    writes = [r for r in seen if r.method != "GET"]
    kinds = [
        "create" if r.url.path.endswith("/issues") else "comment" if r.method == "POST" else "update"
        for r in writes
    ]
    assert kinds == ["create", "comment", "comment", "update"]
    for kind, request in zip(kinds, writes, strict=True):
        body = json.loads(request.content)
        assert errors(vendor_validator("github", kind), body) == [], body


@pytest.mark.parametrize(
    ("kind", "body", "field"),
    [
        ("create", {"body": "no title"}, "title"),
        ("create", {"title": "t", "label": ["spendsentry"]}, "label"),  # misspelt: GitHub would ignore it
        ("update", {"state": "resolved"}, "state"),
        ("update", {"state": "closed", "state_reason": "fixed"}, "state_reason"),
        ("comment", {"text": "wrong key"}, "body"),
    ],
)
def test_the_github_schema_refuses_a_body_github_would_refuse_or_ignore(
    kind: str, body: dict[str, Any], field: str
) -> None:
    found = errors(vendor_validator("github", kind), body)
    assert any(field in e for e in found), found
