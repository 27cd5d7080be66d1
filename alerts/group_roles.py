"""Applies ``alerts.grouping`` to one sweep: which series own a problem, which are linked to an owner.

Only spend series take part (product × cost line and the other monitors' series; unit costs and SLOs
are judged apart). Links are sticky: an open incident linked to an owner that is still open stays
linked, even in a sweep where the two are not grouped again (a top cause that changes from one sweep
to the next must not page for a problem already told).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from alerts.grouping import GroupItem, group_anomalies
from alerts.lifecycle import IncidentState
from core.anomaly import SeriesEvaluation
from core.monitors import ALL, BASE_KEYS, column_of
from core.types import DEFAULT_SCOPE

DORMANT_REACH = timedelta(days=1)  # how long after its last anomalous period a quiet incident still owns

# Per open incident (by fingerprint): its id, whether it has notified, the incident owning it if linked.
OpenLinks = Mapping[str, tuple[str, bool, str | None]]


@dataclass
class Roles:
    """One sweep's grouping: owner fingerprint -> linked evaluations; member fingerprint -> owner."""

    owners: dict[str, list[SeriesEvaluation]] = field(default_factory=dict)
    owner_of: dict[str, str] = field(default_factory=dict)  # member fingerprint -> owner fingerprint
    sticky: dict[str, str] = field(default_factory=dict)  # member fingerprint -> owner incident id

    def order(
        self, evaluations: Sequence[SeriesEvaluation], fp: Callable[[SeriesEvaluation], str]
    ) -> list[SeriesEvaluation]:
        """Owners first, so their incident exists when a linked member's incident points at it."""
        return sorted(evaluations, key=lambda ev: 0 if fp(ev) in self.owners else 1)


def fixed_values(ev: SeriesEvaluation) -> dict[str, str]:
    """The dimension values a spend series fixes."""
    return (
        dict(ev.dimensions) if ev.monitor is not None else {"product": ev.product, "cost_line": ev.cost_line}
    )


def is_spend_series(ev: SeriesEvaluation) -> bool:
    return ev.scope == DEFAULT_SCOPE or ev.monitor is not None


def item_of(ev: SeriesEvaluation, fingerprint: str, links: OpenLinks) -> GroupItem:
    newest = ev.anomalies[-1]
    explained = next((a for a in reversed(ev.anomalies) if a.root_causes), None)
    top = explained.root_causes[0] if explained is not None else None
    known = links.get(fingerprint)
    return GroupItem(
        id=fingerprint,
        fixed=fixed_values(ev),
        start=min(a.start for a in ev.anomalies),
        # To the end of the last period: a daily product total's day holds its hourly lines' hours.
        end=max(a.end for a in ev.anomalies) + ev.granularity.step,
        impact=sum(a.impact for a in ev.anomalies),
        direction=newest.direction,
        cause=dict(top.dimensions) if top is not None else {},
        cause_share=float(top.share) if top is not None else 0.0,
        incumbent=known is not None and known[1] and known[2] is None,
    )


def fixed_of_incident(state: IncidentState) -> dict[str, str] | None:
    """The dimension values an incident's series fixes, read back from its product, cost line and scope
    (``account:account=123&team=core``); None for a scope shortened to a digest."""
    if state.scope == DEFAULT_SCOPE:
        return {"product": state.product, "cost_line": state.cost_line}
    _name, _, rest = state.scope.partition(":")
    if "~" in rest:
        return None
    out = {k: v for k, v in (("product", state.product), ("cost_line", state.cost_line)) if v != ALL}
    for pair in rest.split("&") if rest else []:
        key, _, value = pair.partition("=")
        out[key if key in BASE_KEYS else column_of(f"tag:{key}")] = value
    return out


def dormant_item(state: IncidentState, links: OpenLinks) -> GroupItem | None:
    """An open incident whose series is quiet this sweep (in band, waiting to resolve), as a group member:
    a problem told a few hours ago that now shows in an overlapping scope (a product total whose day
    closes after its line's spike) is still that problem. Its periods count to a day after its last."""
    fixed = fixed_of_incident(state)
    known = links.get(state.fingerprint)
    if fixed is None or state.period_start is None or state.period_end is None:
        return None
    if known is not None and known[2] is not None:
        return None  # linked itself: its owner speaks for the problem
    top = state.root_causes[0] if state.root_causes else None
    return GroupItem(
        id=state.fingerprint,
        fixed=fixed,
        start=state.period_start,
        end=state.period_end + DORMANT_REACH,
        impact=state.impact,
        direction="up" if state.impact >= 0 else "down",
        cause={str(k): str(v) for k, v in top["dimensions"].items()} if top else {},
        cause_share=float(top.get("share", 0.0)) if top else 0.0,
        incumbent=known is not None and known[1] and known[2] is None,
    )


def burning_item(ev: SeriesEvaluation, fingerprint: str) -> GroupItem:
    """A series with no anomaly event whose windows burn above a severity rule (a product total whose
    day carries its line's spike, read as a rate, not as a point): its problem spans its longest window."""
    window = max(ev.windows, key=lambda w: w.hours)
    return GroupItem(
        id=fingerprint,
        fixed=fixed_values(ev),
        start=ev.as_of - timedelta(hours=window.hours),
        end=ev.as_of,
        impact=window.actual - window.expected,
        direction="up" if window.actual >= window.expected else "down",
    )


def plan_roles(
    evaluations: Sequence[SeriesEvaluation],
    fp: Callable[[SeriesEvaluation], str],
    links: OpenLinks,
    dormant: Sequence[IncidentState] = (),
    burning: Callable[[SeriesEvaluation], bool] | None = None,
) -> Roles:
    """Group this sweep's anomalous spend series, the new ones that only ``burning`` says need an
    incident, and the open incidents of quiet ones (``dormant``); keep the links of open incidents whose
    owner is open."""
    anomalous = {fp(ev): ev for ev in evaluations if ev.anomalies and is_spend_series(ev)}
    items = [item_of(ev, key, links) for key, ev in anomalous.items()]
    if burning is not None:
        hot = {
            key: ev
            for ev in evaluations
            if not ev.anomalies
            and ev.windows
            and is_spend_series(ev)
            and (key := fp(ev)) not in links
            and burning(ev)
        }
        items += [burning_item(ev, key) for key, ev in hot.items()]
        anomalous.update(hot)
    items += [d for d in (dormant_item(s, links) for s in dormant if s.fingerprint not in anomalous) if d]
    roles = Roles()
    for group in group_anomalies(items):
        members = [m for m in group.linked if m in anomalous]
        if group.owner not in anomalous and group.owner not in links:
            continue
        if not members:
            continue
        # A quiet series is never linked afresh: only this sweep's anomalies join an owner.
        roles.owners[group.owner] = [anomalous[m] for m in members]
        roles.owner_of.update({m: group.owner for m in members})
    open_ids = {entry[0] for entry in links.values()}
    for key, (_id, _notified, owner_id) in links.items():
        if owner_id is not None and owner_id in open_ids and key not in roles.owners:
            roles.owner_of.pop(key, None)
            roles.sticky[key] = owner_id
    return roles


def link_entry(ev: SeriesEvaluation, fingerprint: str, severity: str) -> dict[str, Any]:
    """How an owner's incident and notification list a linked series."""
    top = next((a.root_causes[0] for a in reversed(ev.anomalies) if a.root_causes), None)
    return {
        "fingerprint": fingerprint,
        "product": ev.product,
        "cost_line": ev.cost_line,
        "currency": ev.currency,
        "scope": ev.scope,
        # A series that only burns has no event: its excess is its longest window's.
        "impact": round(
            sum(a.impact for a in ev.anomalies)
            if ev.anomalies or not ev.windows
            else burning_item(ev, fingerprint).impact,
            2,
        ),
        "severity": severity,  # what it would have been on its own
        "top_cause": dict(top.dimensions) if top is not None else None,
    }


def merge_links(
    before: Sequence[Mapping[str, Any]], now: Sequence[Mapping[str, Any]]
) -> tuple[dict[str, Any], ...]:
    """Every series ever linked to an incident, with its newest reading."""
    out = {str(e["fingerprint"]): dict(e) for e in before}
    out.update({str(e["fingerprint"]): dict(e) for e in now})
    return tuple(out.values())
