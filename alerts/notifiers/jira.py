"""Jira (REST API v2): one issue per incident fingerprint, created on open, commented on escalation,
impact growth and resolve. Idempotent: before creating, it looks for an unfinished issue carrying the
fingerprint label, so a redelivered ``open`` comments instead of duplicating the ticket.

Authentication: a token of the form ``email:api-token`` is sent as Basic (Jira Cloud); any other token
as a Bearer personal access token (Jira Data Center).
"""

from __future__ import annotations

import base64

import httpx
from pydantic import SecretStr

from alerts.notification import Notification
from alerts.notifiers.http import json_of, request
from alerts.notifiers.text import render_text

SUMMARY_MAX = 250


def fingerprint_label(fingerprint: str) -> str:
    return f"spendsentry-{fingerprint}"


class JiraNotifier:
    def __init__(
        self,
        name: str,
        url: str,
        project: str,
        client: httpx.Client,
        *,
        token: SecretStr | None = None,
        issue_type: str = "Task",
    ) -> None:
        self.name = name
        self._base = url.rstrip("/")
        self._project = project
        self._client = client
        self._token = token
        self._issue_type = issue_type

    def __repr__(self) -> str:
        return f"JiraNotifier(name={self.name!r}, project={self._project!r})"

    @property
    def rate_key(self) -> str | None:
        return None

    def _auth(self) -> tuple[dict[str, str], list[str]]:
        if self._token is None:
            return {}, []
        token = self._token.get_secret_value()
        if ":" in token:
            encoded = base64.b64encode(token.encode()).decode()
            return {"Authorization": f"Basic {encoded}"}, [token, encoded, token.split(":", 1)[1]]
        return {"Authorization": f"Bearer {token}"}, [token]

    def find_issue(self, fingerprint: str) -> str | None:
        headers, secrets = self._auth()
        jql = f'labels = "{fingerprint_label(fingerprint)}" AND statusCategory != Done ORDER BY created DESC'
        response = request(
            self._client,
            "GET",
            f"{self._base}/rest/api/2/search",
            "jira search",
            params={"jql": jql, "fields": "key", "maxResults": "1"},
            headers=headers,
            secrets=secrets,
        )
        issues = json_of(response, "jira search").get("issues") or []
        return str(issues[0]["key"]) if issues else None

    def send(self, n: Notification) -> None:
        headers, secrets = self._auth()
        key = self.find_issue(n.fingerprint)
        text = render_text(n)
        if key is None and n.action == "resolve":
            return  # nothing was ever ticketed (or it is already done): nothing to resolve
        if key is None:
            fields = {
                "project": {"key": self._project},
                "summary": n.summary[:SUMMARY_MAX],
                "description": text,
                "issuetype": {"name": self._issue_type},
                "labels": ["spendsentry", fingerprint_label(n.fingerprint)],
            }
            request(
                self._client,
                "POST",
                f"{self._base}/rest/api/2/issue",
                "jira create",
                body={"fields": fields},
                headers=headers,
                secrets=secrets,
            )
            return
        request(
            self._client,
            "POST",
            f"{self._base}/rest/api/2/issue/{key}/comment",
            "jira comment",
            body={"body": text},
            headers=headers,
            secrets=secrets,
        )
