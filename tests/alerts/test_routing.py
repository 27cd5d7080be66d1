"""Routing decisions, table by table, and loading the routing YAML."""

from __future__ import annotations

import pytest
import yaml
from pydantic import SecretStr

from alerts.matchers import parse_matcher
from alerts.receivers import default_routing, load_routing, parse_routing
from alerts.routing import route_receivers, routing_labels
from core.errors import InputError

TREE = yaml.safe_load(
    """
route:
  receiver: finops-tickets
  routes:
    - matchers: ['severity="page"']
      receiver: finops-pager
      routes:
        - matchers: ['cause.team=~"data|ml"']
          receiver: data-pager
        - match: {product: shop}
          receiver: shop-pager
    - matchers: ['team="web"', 'severity="ticket"']
      receiver: web-tickets
      continue: true
    - matchers: ['severity="ticket"']
      receiver: chat
    - matchers: ['severity="none"']
      receiver: blackhole
receivers:
  - {name: finops-tickets, webhook: {url: "http://tickets.invalid/hook"}}
  - {name: finops-pager, pagerduty: {routing_key_env: PD_FINOPS}}
  - {name: data-pager, pagerduty: {routing_key: "data-key-1234"}}
  - {name: shop-pager, pagerduty: {routing_key: "shop-key-5678"}}
  - {name: web-tickets, github: {repo_url: "https://api.github.invalid/repos/o/r", token_env: GH_TOKEN}}
  - {name: chat, slack: {url: "https://hooks.slack.invalid/T/B/secret"}}
  - {name: blackhole}
"""
)
ENV = {"PD_FINOPS": "finops-key-0000", "GH_TOKEN": "ghp_secret"}


def labels(severity: str, product: str = "api", team: str = "", cause_team: str = "") -> dict[str, str]:
    return routing_labels(
        product=product,
        cost_line="Compute",
        currency="USD",
        scope="default",
        severity=severity,
        labels={"team": team} if team else {},
        top_cause={"team": cause_team} if cause_team else None,
    )


@pytest.mark.parametrize(
    ("lbls", "want"),
    [
        (labels("page"), ["finops-pager"]),  # no child of the page route matches: the node keeps it
        (labels("page", cause_team="data"), ["data-pager"]),  # the owner of the top cause is paged
        (labels("page", cause_team="bigdata"), ["finops-pager"]),  # regexes are anchored
        (labels("page", product="shop"), ["shop-pager"]),
        (labels("page", product="shop", cause_team="ml"), ["data-pager"]),  # first match wins
        (labels("ticket", team="web"), ["web-tickets", "chat"]),  # continue: true
        (labels("ticket", team="ops"), ["chat"]),
        (labels("none"), []),  # a receiver without an integration
        (labels("other"), ["finops-tickets"]),  # nothing matches: the root's receiver
    ],
)
def test_route(lbls, want) -> None:
    routing = parse_routing(TREE, ENV)
    got = route_receivers(routing.route, lbls)
    assert [r for r in got if routing.receivers[r].kind != "none"] == want


@pytest.mark.parametrize(
    ("text", "labels", "matches"),
    [
        ('product="shop"', {"product": "shop"}, True),
        ("product=shop", {"product": "shop"}, True),
        ('product!="shop"', {"product": "shop"}, False),
        ('team!="web"', {}, True),  # a missing label is ""
        ('cost_line=~"Comp.*"', {"cost_line": "Compute"}, True),
        ('cost_line!~"Comp.*"', {"cost_line": "Storage"}, True),
        ('env=~""', {}, True),
    ],
)
def test_matchers(text, labels, matches) -> None:
    assert parse_matcher(text).matches(labels) is matches


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"receivers": []}, "routes_file"),
        ({"route": {"receiver": "nope"}, "receivers": []}, "route"),
        ({"route": {"matchers": ["bad matcher"]}, "receivers": []}, "route.matchers[0]"),
        ({"route": {"matchers": ['a=~"("']}, "receivers": []}, "route.matchers[0]"),
        ({"route": {"colour": 1}, "receivers": []}, "route"),
        (
            {"route": {}, "receivers": [{"name": "p", "pagerduty": {"routing_key_env": "UNSET"}}]},
            "receivers[0]",
        ),
        ({"route": {}, "receivers": [{"name": "j", "jira": {"url": "http://x"}}]}, "receivers[0].j.jira"),
    ],
)
def test_bad_routing_names_the_field(data, field) -> None:
    with pytest.raises(InputError) as info:
        parse_routing(data, {})
    assert info.value.field.startswith(field)


def test_secrets_never_print(tmp_path) -> None:
    path = tmp_path / "routes.yaml"
    path.write_text(yaml.safe_dump(TREE))
    routing = load_routing(path, ENV)
    shown = repr(routing) + repr(routing.receivers) + str(routing.receivers)
    for secret in ("finops-key-0000", "data-key-1234", "ghp_secret", "hooks.slack.invalid/T/B/secret"):
        assert secret not in shown


@pytest.mark.parametrize(
    ("pd", "kind", "severity", "want"),
    [
        (True, "webhook", "page", ["pagerduty"]),
        (True, "webhook", "ticket", ["tickets"]),
        (True, None, "ticket", []),
        (False, "webhook", "page", ["tickets"]),  # no pager: a page still reaches someone
        (False, None, "page", []),
        (True, "webhook", "none", []),
    ],
)
def test_default_routing(pd, kind, severity, want) -> None:
    routing = default_routing(
        pagerduty_routing_key=SecretStr("k") if pd else None,
        ticket_kind=kind,
        ticket_url="http://tickets.invalid/hook" if kind else None,
    )
    assert route_receivers(routing.route, labels(severity)) == want


def test_default_routing_needs_ticket_settings() -> None:
    with pytest.raises(InputError, match="ticket_url"):
        default_routing(ticket_kind="webhook")
    with pytest.raises(InputError, match="ticket_project"):
        default_routing(ticket_kind="jira", ticket_url="http://jira.invalid")
