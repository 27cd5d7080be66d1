"""Receiver configuration: the routing YAML's ``receivers`` list (or the settings' defaults) turned into
notifiers, and the ``Routing`` object that the service and the dispatcher share.

Secrets are read from the file (``routing_key``, ``token``, ``secret``, ``url`` for Slack and Teams,
``password`` for e-mail) or, better, from the environment (``routing_key_env``, ``token_env``,
``secret_env``, ``url_env``, ``password_env``), and held only
as ``SecretStr`` inside notifiers: ``Routing`` and its receivers print without them.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
from pydantic import SecretStr

from alerts.log_redaction import redact_in_logs
from alerts.matchers import parse_matcher
from alerts.notification import Notifier
from alerts.notifiers.alertmanager import AlertmanagerNotifier
from alerts.notifiers.github import GitHubNotifier
from alerts.notifiers.jira import JiraNotifier
from alerts.notifiers.mail import EmailNotifier
from alerts.notifiers.pagerduty import DEFAULT_URL, PagerDutyNotifier
from alerts.notifiers.slack import SlackNotifier
from alerts.notifiers.smtp import smtp_settings
from alerts.notifiers.teams import TeamsNotifier
from alerts.notifiers.webhook import WebhookNotifier
from alerts.routing import Route, parse_route, receiver_names
from core.errors import InputError
from core.yaml_limits import safe_load_file

KINDS = ("pagerduty", "webhook", "jira", "github", "slack", "alertmanager", "teams", "email")
PAGER = "pagerduty"
TICKETS = "tickets"


@dataclass(frozen=True)
class ReceiverSpec:
    """One named receiver: its kind and options, secrets already wrapped in ``SecretStr``."""

    name: str
    kind: str
    options: Mapping[str, Any] = field(default_factory=dict)

    def build(self, client: httpx.Client) -> Notifier:
        o = self.options
        if self.kind == "pagerduty":
            return PagerDutyNotifier(self.name, o["routing_key"], client, url=o.get("url") or DEFAULT_URL)
        if self.kind == "webhook":
            return WebhookNotifier(self.name, o["url"], client, secret=o.get("secret"))
        if self.kind == "jira":
            return JiraNotifier(
                self.name,
                o["url"],
                o["project"],
                client,
                token=o.get("token"),
                issue_type=o.get("issue_type", "Task"),
            )
        if self.kind == "github":
            return GitHubNotifier(self.name, o["repo_url"], client, token=o.get("token"))
        if self.kind == "slack":
            return SlackNotifier(self.name, o["url"], client)
        if self.kind == "alertmanager":
            ttl = timedelta(hours=float(o.get("ttl_hours", 168)))
            return AlertmanagerNotifier(self.name, o["url"], client, ttl=ttl)
        if self.kind == "teams":
            return TeamsNotifier(self.name, o["url"], client)
        if self.kind == "email":
            return EmailNotifier(self.name, smtp_settings(o, f"receivers.{self.name}.email"))
        raise InputError(f"receivers.{self.name}", f"unknown kind {self.kind!r}")


_SECRET_KEYS = {
    "pagerduty": "routing_key",
    "webhook": "secret",
    "jira": "token",
    "github": "token",
    "slack": "url",
    "teams": "url",
    "email": "password",
}
_REQUIRED = {
    "pagerduty": ("routing_key",),
    "webhook": ("url",),
    "jira": ("url", "project"),
    "github": ("repo_url",),
    "slack": ("url",),
    "alertmanager": ("url",),
    "teams": ("url",),
    "email": ("host", "from", "to"),
}


def _parse_receiver(data: Any, where: str, env: Mapping[str, str]) -> ReceiverSpec:
    if not isinstance(data, Mapping) or not data.get("name"):
        raise InputError(where, "a receiver is a mapping with a name")
    name = str(data["name"])
    kinds = [k for k in KINDS if k in data]
    if len(kinds) > 1:
        raise InputError(f"{where}.{name}", "one receiver has exactly one kind")
    if not kinds:
        return ReceiverSpec(name=name, kind="none")  # a black hole, as in Alertmanager
    kind = kinds[0]
    raw = data[kind]
    if not isinstance(raw, Mapping):
        raise InputError(f"{where}.{name}.{kind}", "must be a mapping")
    options: dict[str, Any] = {}
    for key, value in raw.items():
        key = str(key)
        if key.endswith("_env"):
            var = str(value)
            if not env.get(var):
                raise InputError(f"{where}.{name}.{kind}.{key}", f"environment variable {var} is not set")
            key, value = key[: -len("_env")], env[var]
        options[key] = value
    secret_key = _SECRET_KEYS.get(kind)
    if secret_key and options.get(secret_key) is not None:
        options[secret_key] = SecretStr(str(options[secret_key]))
    missing = [k for k in _REQUIRED[kind] if not options.get(k)]
    if missing:
        raise InputError(f"{where}.{name}.{kind}", f"missing {', '.join(missing)}")
    if kind == "email":
        smtp_settings(
            options, f"{where}.{name}.{kind}"
        )  # bad options fail when the file is read, not at 3 am
    return ReceiverSpec(name=name, kind=kind, options=options)


@dataclass(frozen=True)
class Routing:
    """The routing tree and the receivers it names."""

    route: Route
    receivers: Mapping[str, ReceiverSpec]

    def __repr__(self) -> str:
        return f"Routing(receivers={sorted(self.receivers)!r})"

    def notifiers(self, client: httpx.Client | None = None) -> dict[str, Notifier]:
        """Build the notifiers (on ``client``, or a new one with a 10 s timeout) and register their
        secrets for redaction from the HTTP libraries' logs."""
        redact_in_logs(
            value.get_secret_value()
            for spec in self.receivers.values()
            for value in spec.options.values()
            if isinstance(value, SecretStr)
        )
        client = client or httpx.Client(timeout=10.0)
        return {n: spec.build(client) for n, spec in self.receivers.items() if spec.kind != "none"}


def parse_routing(data: Any, env: Mapping[str, str] | None = None) -> Routing:
    env = os.environ if env is None else env
    if not isinstance(data, Mapping) or "route" not in data:
        raise InputError("routes_file", "must be a mapping with a 'route' and a 'receivers' list")
    route = parse_route(data["route"])
    specs: dict[str, ReceiverSpec] = {}
    for i, item in enumerate(data.get("receivers") or []):
        spec = _parse_receiver(item, f"receivers[{i}]", env)
        if spec.name in specs:
            raise InputError(f"receivers[{i}]", f"duplicate receiver {spec.name!r}")
        specs[spec.name] = spec
    unknown = receiver_names(route) - set(specs)
    if unknown:
        raise InputError("route", f"names undefined receivers: {', '.join(sorted(unknown))}")
    return Routing(route=route, receivers=specs)


def load_routing(path: Path, env: Mapping[str, str] | None = None) -> Routing:
    """Read the routing YAML at ``path``."""
    # Bounded size and depth; errors name the position only, never the text (it may hold a secret).
    data = safe_load_file(path, "routes_file")
    return parse_routing(data, env)


def default_routing(
    *,
    pagerduty_routing_key: SecretStr | None = None,
    pagerduty_url: str = DEFAULT_URL,
    ticket_kind: str | None = None,
    ticket_url: str | None = None,
    ticket_token: SecretStr | None = None,
    ticket_project: str | None = None,
) -> Routing:
    """The contract's routing without a routes file: pages to PagerDuty when a routing key is set,
    tickets to the ticket receiver when a ticket kind is set. A page also reaches the ticket receiver
    only when no PagerDuty key is set, so a page is never silently dropped."""
    specs: dict[str, ReceiverSpec] = {}
    routes: list[Route] = []
    if pagerduty_routing_key is not None:
        specs[PAGER] = ReceiverSpec(
            PAGER, "pagerduty", {"routing_key": pagerduty_routing_key, "url": pagerduty_url}
        )
        routes.append(Route(receiver=PAGER, matchers=(parse_matcher('severity="page"'),)))
    if ticket_kind is not None:
        if not ticket_url:
            raise InputError("ticket_url", f"is required when ticket_kind is {ticket_kind}")
        options: dict[str, Any]
        if ticket_kind == "webhook":
            options = {"url": ticket_url, "secret": ticket_token}
        elif ticket_kind == "github":
            options = {"repo_url": ticket_url, "token": ticket_token}
        elif ticket_kind == "jira":
            if not ticket_project:
                raise InputError("ticket_project", "is required when ticket_kind is jira")
            options = {"url": ticket_url, "project": ticket_project, "token": ticket_token}
        else:
            raise InputError("ticket_kind", f"unknown kind {ticket_kind!r}")
        specs[TICKETS] = ReceiverSpec(TICKETS, ticket_kind, options)
        severities = "ticket" if pagerduty_routing_key is not None else "ticket|page"
        routes.append(Route(receiver=TICKETS, matchers=(parse_matcher(f'severity=~"{severities}"'),)))
    return Routing(route=Route(routes=tuple(routes)), receivers=specs)
