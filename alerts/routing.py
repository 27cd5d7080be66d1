"""The routing tree, after Alertmanager's: nested routes of label matchers ending at named receivers.

A notification's labels are matched from the root down. At each node the children are tried in order;
the first matching child takes the notification unless it says ``continue: true``, in which case the
next matching children take it too. A node none of whose children match keeps the notification for
its own receiver (inherited from its parent when it names none). The YAML file::

    route:
      receiver: finops-tickets
      routes:
        - matchers: ['severity="page"']
          receiver: finops-pager
          routes:
            - matchers: ['cause.team=~"data|ml"']
              receiver: data-pager
    receivers:
      - name: finops-pager
        pagerduty: {routing_key_env: PD_FINOPS_KEY}
      ...

Labels: product, cost_line, currency, scope, severity, every label of the series (team, env, ...) and
the top root cause's dimensions as ``cause.<dimension>``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from alerts.matchers import Matcher, from_mapping, match_all, parse_matchers
from core.errors import InputError


@dataclass(frozen=True)
class Route:
    receiver: str | None = None
    matchers: tuple[Matcher, ...] = ()
    continue_: bool = False
    routes: tuple[Route, ...] = ()


def _match(route: Route, labels: Mapping[str, str], inherited: str | None) -> list[str | None]:
    if not match_all(route.matchers, labels):
        return []
    receiver = route.receiver if route.receiver is not None else inherited
    found: list[str | None] = []
    for child in route.routes:
        matched = _match(child, labels, receiver)
        found += matched
        if matched and not child.continue_:
            break
    return found or [receiver]


def route_receivers(root: Route, labels: Mapping[str, str]) -> list[str]:
    """The receivers a notification with ``labels`` goes to, in tree order, without repeats."""
    out: list[str] = []
    for receiver in _match(root, labels, None):
        if receiver is not None and receiver not in out:
            out.append(receiver)
    return out


def parse_route(data: Any, where: str = "route") -> Route:
    """Build a ``Route`` from the YAML mapping; raise ``InputError`` naming the bad node."""
    if not isinstance(data, Mapping):
        raise InputError(where, "must be a mapping")
    unknown = set(data) - {"receiver", "matchers", "match", "match_re", "continue", "routes", "group_by"}
    if unknown:
        raise InputError(where, f"unknown keys: {', '.join(sorted(unknown))}")
    raw_matchers = data.get("matchers") or []
    if isinstance(raw_matchers, str) or not isinstance(raw_matchers, Sequence):
        raise InputError(f"{where}.matchers", "must be a list of matcher strings")
    matchers = parse_matchers([str(m) for m in raw_matchers], f"{where}.matchers")
    matchers += from_mapping(data.get("match") or {}, data.get("match_re") or {}, f"{where}.match")
    children = data.get("routes") or []
    if not isinstance(children, list):
        raise InputError(f"{where}.routes", "must be a list")
    receiver = data.get("receiver")
    return Route(
        receiver=str(receiver) if receiver is not None else None,
        matchers=matchers,
        continue_=bool(data.get("continue", False)),
        routes=tuple(parse_route(c, f"{where}.routes[{i}]") for i, c in enumerate(children)),
    )


def receiver_names(route: Route) -> set[str]:
    names = {route.receiver} if route.receiver else set()
    for child in route.routes:
        names |= receiver_names(child)
    return names


def routing_labels(
    *,
    product: str,
    cost_line: str,
    currency: str,
    scope: str,
    severity: str,
    labels: Mapping[str, str] | None = None,
    top_cause: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """The label set routes and expected-change windows match against."""
    out = {str(k): str(v) for k, v in (labels or {}).items()}
    out.update({f"cause.{k}": str(v) for k, v in (top_cause or {}).items()})
    out.update(product=product, cost_line=cost_line, currency=currency, scope=scope, severity=severity)
    return out
