"""Score a replay against the generated data's manifest: the "done when" criteria of the incident loop.

An *alert* is an incident that notified someone (a page or a ticket); an incident that never did is
*watched*. An alert belongs to an injected change when it is on one of the change's products and cost
lines and was open during one of its windows (or within a grace after it: the resolve time and two
periods). Per real change: noticed or not, how many periods after the first affected period closed
(0 = the first sweep that could see it), the severity reached, how many distinct alerts it raised, whether
the root causes named the injected dimension values, whether it was resolved (with a resolve sent) once
it ended, and, for the permanent shift, whether it was resolved as a new normal. Alerts that belong to no
real change are false: on a trap or unexplained.
"""

from __future__ import annotations

import json
import statistics
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from bench.billing_year import Injected, Manifest
from bench.replay_run import Observed
from ingestion.demo_catalog import COST_LINES

_RANK = {"nothing": 0, "watch": 1, "ticket": 2, "page": 3}
# Words that would mark an incident closed because its level became the baseline ("new normal").
_NEW_NORMAL_MARKERS = ("new_normal", "new normal", "new-normal", "rebaselin")


def _t(value: str | None) -> datetime | None:
    if value is None:
        return None
    at = datetime.fromisoformat(value)
    return at if at.tzinfo else at.replace(tzinfo=UTC)


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


@dataclass(frozen=True)
class Alert:
    id: str
    fingerprint: str
    product: str
    cost_line: str
    opened_at: datetime
    resolved_at: datetime | None
    notified_at: datetime | None  # the sweep that first opened a page or ticket
    severity: str  # peak: page | ticket | watch
    root_causes: list[dict[str, Any]]  # as the first notification carried them
    resolve_sent: bool
    new_normal: bool

    @property
    def notified(self) -> bool:
        return self.notified_at is not None


def alerts_of(observed: Observed) -> list[Alert]:
    out = []
    for inc in observed.incidents:
        fp = inc["fingerprint"]
        opens = [
            h
            for h in inc.get("history", [])
            if h["kind"] == "notified" and h["detail"].get("action") != "resolve"
        ]
        first_page = next((b for b in observed.pages if b.get("dedup_key") == fp), None)
        first_ticket = next(
            (b for b in observed.tickets if b.get("fingerprint") == fp and b.get("action") == "open"), None
        )
        if first_page is not None:
            causes = first_page["payload"]["custom_details"].get("root_causes") or []
        elif first_ticket is not None:
            causes = first_ticket["details"].get("root_causes") or []
        else:
            causes = inc.get("root_causes") or []
        resolve_sent = any(
            b.get("dedup_key") == fp and b.get("event_action") == "resolve" for b in observed.pages
        ) or any(b.get("fingerprint") == fp and b.get("action") == "resolve" for b in observed.tickets)
        peak = inc["peak_severity"]
        opened = _t(inc["opened_at"])
        assert opened is not None
        out.append(
            Alert(
                id=inc["id"],
                fingerprint=fp,
                product=inc["product"],
                cost_line=inc["cost_line"],
                opened_at=opened,
                resolved_at=_t(inc.get("resolved_at")),
                notified_at=_t(opens[0]["at"]) if opens else None,
                severity=peak if peak in ("page", "ticket") else "watch",
                root_causes=causes,
                resolve_sent=resolve_sent,
                new_normal=any(m in json.dumps(inc).lower() for m in _NEW_NORMAL_MARKERS),
            )
        )
    return out


def belongs(alert: Alert, inj: Injected, manifest: Manifest, known_lines: set[str]) -> bool:
    if alert.product not in inj.products:
        return False
    # An incident over a whole product (a monitor above the cost line) may carry any cost line name.
    if inj.cost_lines and alert.cost_line in known_lines and alert.cost_line not in inj.cost_lines:
        return False
    grace = max(2 * manifest.period, timedelta(hours=12) + manifest.period)
    until = alert.resolved_at or _aware(manifest.replay_end) + manifest.period
    for start, end in inj.windows:
        w_end = _aware(end) + grace if end else _aware(manifest.replay_end) + manifest.period
        if alert.opened_at <= w_end and until > _aware(start):
            return True
    return False


@dataclass
class Outcome:
    """How one injected change was handled."""

    injected: Injected
    alerts: list[Alert]
    got: str = "nothing"  # the highest severity reached: page | ticket | watch | nothing
    notice_periods: float | None = None
    root_cause: str = "n/a"  # top | top-3 | missed | n/a (no slice to name, or never alerted)
    resolved: bool | None = None  # None: nothing to resolve (ongoing)
    resolve_periods: float | None = None
    new_normal: bool | None = None

    @property
    def noticed(self) -> bool:
        return self.got in ("page", "ticket") or (self.injected.expected == "watch" and self.got == "watch")

    @property
    def notified(self) -> list[Alert]:
        return [a for a in self.alerts if a.notified]


def _named(causes: list[dict[str, Any]], want: dict[str, str]) -> bool:
    return any(all(c.get("dimensions", {}).get(k) == v for k, v in want.items()) for c in causes)


def outcome_of(inj: Injected, alerts: list[Alert], manifest: Manifest) -> Outcome:
    out = Outcome(inj, alerts)
    if alerts:
        out.got = max((a.severity for a in alerts), key=_RANK.__getitem__)
    notified = out.notified
    start = _aware(inj.windows[0][0])
    if notified:
        first = min(a.notified_at for a in notified if a.notified_at is not None)
        out.notice_periods = (first - (start + manifest.period)) / manifest.period
        earliest = min(notified, key=lambda a: a.notified_at or first)
        if inj.dimensions:
            if _named(earliest.root_causes[:1], inj.dimensions):
                out.root_cause = "top"
            elif _named(earliest.root_causes[:3], inj.dimensions):
                out.root_cause = "top-3"
            else:
                out.root_cause = "missed"
    end = inj.windows[0][1]
    if inj.resolution == "resolved" and end is not None and notified:
        out.resolved = all(a.resolved_at is not None and a.resolve_sent for a in notified)
        if out.resolved:
            last = max(a.resolved_at for a in notified if a.resolved_at is not None)
            out.resolve_periods = (last - _aware(end)) / manifest.period
    if inj.resolution == "new_normal" and notified:
        out.new_normal = all(a.resolved_at is not None and a.new_normal for a in notified)
        out.resolved = all(a.resolved_at is not None for a in notified)
    return out


@dataclass
class Scorecard:
    manifest: Manifest
    outcomes: list[Outcome]  # real changes, in the manifest's order
    traps: list[Outcome]  # the alerts each trap raised
    unexplained: list[Alert]  # alerts on no change at all
    watched: int  # incidents that notified nobody
    extra: dict[str, Any] = field(default_factory=dict)

    def false_alerts(self, severity: str) -> int:
        on_traps = {a.id for t in self.traps for a in t.notified if a.severity == severity}
        return len(on_traps) + sum(1 for a in self.unexplained if a.severity == severity)

    @property
    def median_notice(self) -> float | None:
        times = [o.notice_periods for o in self.outcomes if o.notice_periods is not None]
        return statistics.median(times) if times else None

    def criteria(self) -> dict[str, bool]:
        """The issue's "done when" list, one verdict each."""
        alerting = [o for o in self.outcomes if o.injected.expected in ("page", "ticket")]
        ended = [o for o in self.outcomes if o.injected.resolution == "resolved"]
        shifts = [o for o in self.outcomes if o.injected.resolution == "new_normal"]
        named = [o for o in self.outcomes if o.injected.dimensions]
        median = self.median_notice
        return {
            "every incident noticed": all(o.noticed for o in self.outcomes),
            "one page or ticket per problem": all(len(o.notified) == 1 for o in alerting),
            "no false page": self.false_alerts("page") == 0,
            "root cause named": all(o.root_cause in ("top", "top-3") for o in named),
            "every ended incident resolved": all(o.resolved for o in ended),
            "permanent shift resolved as new normal": bool(shifts) and all(o.new_normal for o in shifts),
            "median time to notice <= 1 period": median is not None and median <= 1.0,
        }


def score(manifest: Manifest, observed: Observed) -> Scorecard:
    alerts = [a for a in alerts_of(observed) if a.opened_at >= _aware(manifest.replay_start)]
    known = {line.service for line in COST_LINES}  # an alert on another name is above the cost line
    real = [i for i in manifest.injected if not i.trap]
    traps = [i for i in manifest.injected if i.trap]
    outcomes = [outcome_of(i, [a for a in alerts if belongs(a, i, manifest, known)], manifest) for i in real]
    explained = {a.id for o in outcomes for a in o.alerts}
    trap_outcomes = [
        Outcome(t, [a for a in alerts if a.id not in explained and belongs(a, t, manifest, known)])
        for t in traps
    ]
    for t in trap_outcomes:
        if t.alerts:
            t.got = max((a.severity for a in t.alerts), key=_RANK.__getitem__)
    on_traps = {a.id for t in trap_outcomes for a in t.alerts}
    unexplained = [a for a in alerts if a.notified and a.id not in explained | on_traps]
    watched = sum(1 for a in alerts if not a.notified)
    return Scorecard(manifest, outcomes, trap_outcomes, unexplained, watched)
