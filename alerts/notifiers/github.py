"""GitHub Issues: one issue per incident fingerprint, found again by a hidden marker in its body (so a
redelivered ``open`` never duplicates it), commented on escalation and closed on resolve.

``repo_url`` is the repository's API address, e.g. ``https://api.github.com/repos/OWNER/REPO``.
"""

from __future__ import annotations

import httpx
from pydantic import SecretStr

from alerts.notification import Notification
from alerts.notifiers.http import json_of, request
from alerts.notifiers.text import render_text

LABEL = "spendsentry"
PAGES = 5  # open issues labelled spendsentry scanned for the marker: 500 is plenty for one team


def marker(fingerprint: str) -> str:
    return f"<!-- spendsentry:fingerprint={fingerprint} -->"


class GitHubNotifier:
    def __init__(
        self, name: str, repo_url: str, client: httpx.Client, *, token: SecretStr | None = None
    ) -> None:
        self.name = name
        self._base = repo_url.rstrip("/")
        self._client = client
        self._token = token

    def __repr__(self) -> str:
        return f"GitHubNotifier(name={self.name!r})"

    @property
    def rate_key(self) -> str | None:
        return None

    def _headers(self) -> tuple[dict[str, str], list[str]]:
        headers = {"Accept": "application/vnd.github+json", "X-GitHub-Api-Version": "2022-11-28"}
        if self._token is None:
            return headers, []
        token = self._token.get_secret_value()
        return {**headers, "Authorization": f"Bearer {token}"}, [token]

    def find_issue(self, fingerprint: str) -> int | None:
        headers, secrets = self._headers()
        wanted = marker(fingerprint)
        for page in range(1, PAGES + 1):
            response = request(
                self._client,
                "GET",
                f"{self._base}/issues",
                "github list",
                params={"state": "open", "labels": LABEL, "per_page": "100", "page": str(page)},
                headers=headers,
                secrets=secrets,
            )
            issues = json_of(response, "github list")
            for issue in issues:
                if wanted in (issue.get("body") or ""):
                    return int(issue["number"])
            if len(issues) < 100:
                return None
        return None

    def send(self, n: Notification) -> None:
        headers, secrets = self._headers()
        number = self.find_issue(n.fingerprint)
        text = render_text(n)
        if number is None:
            if n.action == "resolve":
                return
            body = {"title": n.summary[:240], "body": f"{text}\n\n{marker(n.fingerprint)}", "labels": [LABEL]}
            request(
                self._client,
                "POST",
                f"{self._base}/issues",
                "github create",
                body=body,
                headers=headers,
                secrets=secrets,
            )
            return
        request(
            self._client,
            "POST",
            f"{self._base}/issues/{number}/comments",
            "github comment",
            body={"body": text},
            headers=headers,
            secrets=secrets,
        )
        if n.action == "resolve":
            request(
                self._client,
                "PATCH",
                f"{self._base}/issues/{number}",
                "github close",
                body={"state": "closed", "state_reason": "completed"},
                headers=headers,
                secrets=secrets,
            )
