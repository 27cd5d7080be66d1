"""A token's slice: what a scoped token may read and write, by the labels routes match.

Labels are the routing tree's (``alerts.routing.routing_labels``):

- a series (product × cost line): ``product``, ``cost_line``, ``currency`` and ``scope="default"``;
  a monitor's series adds the values it fixes (``team``, ``env``, ... as its routing labels do);
- an incident: ``incident_labels`` (those of its series, its ``severity`` and top cause ``cause.*``);
- a budget: ``product`` and, when it has one, ``cost_line``; a driver: ``product``.

A label a thing does not have is the empty string, as in routing: a series without a ``team`` label is
outside a ``team=payments`` slice. An unrestricted principal (no matchers, or ``admin``) sees everything.
Things outside the slice do not exist for the caller: reads and writes answer 404 (not 403), so a scoped
token cannot probe for another team's products or incidents. Operations over all spend at once (ingesting
FOCUS rows, training, sweeps, the coverage SLI) are refused with 403 for a scoped token.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request
from sqlalchemy import Engine

from alerts.incidents import get_incident, list_incidents
from alerts.matchers import Matcher, match_all, parse_matchers
from alerts.routing import routing_labels
from api.token_auth import Principal
from core.errors import NotFoundError
from core.settings import Settings
from core.types import DEFAULT_SCOPE, SeriesKey
from ingestion.fact_store import FactStore
from training.monitors import describe_monitors, evaluation_fields, monitor_series


def series_labels(
    product: str,
    cost_line: str,
    currency: str,
    scope: str = DEFAULT_SCOPE,
    extra: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """The labels of a series before it is an incident (no severity, no cause yet)."""
    out = {str(k): str(v) for k, v in (extra or {}).items()}
    out.update(product=product, cost_line=cost_line, currency=currency, scope=scope)
    return out


def incident_view_labels(view: Mapping[str, Any]) -> dict[str, str]:
    """``alerts.summary.incident_labels`` from an incident's view (``alerts.incidents.incident_view``)."""
    causes = view.get("root_causes") or []
    top = causes[0].get("dimensions") if causes and isinstance(causes[0], dict) else None
    return routing_labels(
        product=str(view["product"]),
        cost_line=str(view["cost_line"]),
        currency=str(view["currency"]),
        scope=str(view["scope"]),
        severity=str(view["peak_severity"]),
        labels=view.get("labels") or {},
        top_cause=top,
    )


@dataclass(frozen=True)
class Slice:
    """The matchers a caller is held to; ``ALL`` holds nobody."""

    matchers: tuple[Matcher, ...] = ()
    token: str = "anonymous"

    @property
    def restricted(self) -> bool:
        return bool(self.matchers)

    def allows(self, labels: Mapping[str, str]) -> bool:
        return match_all(self.matchers, labels)

    def allows_series(self, product: str, cost_line: str, currency: str, **extra: str) -> bool:
        return not self.matchers or self.allows(series_labels(product, cost_line, currency, extra=extra))

    def allows_key(self, key: SeriesKey) -> bool:
        """A series by its key: a monitor's series has the labels its evaluations are routed by."""
        if not self.matchers:
            return True
        extra = evaluation_fields(key).get("labels") or {}
        return self.allows(series_labels(key.product, key.cost_line, key.currency, key.scope, extra))

    def allows_product(self, product: str, cost_lines: Iterable[tuple[str, str]] = ()) -> bool:
        """A product is in the slice when its own labels are, or one of its (cost line, currency) series."""
        if not self.matchers or self.allows({"product": product}):
            return True
        return any(self.allows_series(product, line, cur) for line, cur in cost_lines)

    def allows_incident(self, view: Mapping[str, Any]) -> bool:
        return not self.matchers or self.allows(incident_view_labels(view))

    def allows_window(self, matchers: Iterable[str]) -> bool:
        """An expected-change window is in the slice when it is held to every matcher of the slice (a
        scoped token's windows get them added on creation), so it can only mute the slice's incidents."""
        if not self.matchers:
            return True
        own = {str(m) for m in parse_matchers(matchers)}
        return all(str(m) in own for m in self.matchers)

    def narrow(self, matchers: Iterable[str]) -> list[str]:
        """A new window's matchers, held to the slice: the slice's matchers are added when missing."""
        out = list(matchers)
        own = {str(m) for m in parse_matchers(out)}
        return out + [str(m) for m in self.matchers if str(m) not in own]

    def require_unrestricted(self, what: str) -> None:
        """403 for a scoped token on an operation over every team's spend at once."""
        if self.matchers:
            raise HTTPException(403, detail=f"a token restricted by label matchers cannot {what}")


ALL = Slice()

PAGE = 1000  # incidents are read this many at a time when a slice filters them


def incidents_in(
    scope: Slice, engine: Engine, *, limit: int = 100, offset: int = 0, **filters: Any
) -> list[dict[str, Any]]:
    """``alerts.incidents.list_incidents`` held to the slice; ``limit`` and ``offset`` count the
    slice's incidents only, so paging works as it does for an unrestricted token."""
    if not scope.restricted:
        return list_incidents(engine, limit=limit, offset=offset, **filters)
    kept: list[dict[str, Any]] = []
    read = 0
    while len(kept) < offset + limit:
        page = list_incidents(engine, limit=PAGE, offset=read, **filters)
        kept += [i for i in page if scope.allows_incident(i)]
        read += len(page)
        if len(page) < PAGE:
            break
    return kept[offset : offset + limit]


def monitors_in(scope: Slice, settings: Settings, store: FactStore) -> list[dict[str, Any]]:
    """``describe_monitors`` with each monitor's series counted in the slice only."""
    described = describe_monitors(settings, store)
    if not scope.restricted:
        return described
    in_slice = [s for s in monitor_series(settings, store) if scope.allows_key(s.key)]
    defaults = sum(1 for i in store.list_series() if scope.allows_series(i.product, i.cost_line, i.currency))
    for row in described:
        row["series"] = (
            defaults if row["default"] else sum(1 for s in in_slice if s.monitor.name == row["name"])
        )
    return described


def incident_in(scope: Slice, engine: Engine, incident_id: str) -> dict[str, Any]:
    """One incident, when it is in the slice; one outside is "not found", exactly as a missing one."""
    found = get_incident(engine, incident_id)
    if not scope.allows_incident(found):
        raise NotFoundError(f"incident {incident_id} not found")
    return found


def slice_of(principal: Principal | None) -> Slice:
    if principal is None or not principal.restricted:
        return ALL
    return Slice(principal.matchers, principal.name)


async def slice_dep(request: Request) -> Slice:
    """The slice of the request's principal (set by the guard); none when the route is public."""
    return slice_of(getattr(request.state, "principal", None))


SliceDep = Annotated[Slice, Depends(slice_dep)]


def unrestricted(what: str) -> Any:
    """A router dependency: 403 for a scoped token on a router whose answers cover every team."""

    async def check(request: Request) -> None:
        slice_of(getattr(request.state, "principal", None)).require_unrestricted(what)

    return Depends(check)
