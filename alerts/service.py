"""The facade a sweep calls: ``AlertService.process(evaluations)`` turns the detector's verdicts into
incident changes and queued notifications.

Per series, in one transaction: lock the open incident of its fingerprint, classify severity by burn
rate (and budget), apply the lifecycle, apply expected-change mutes and feedback, decide whether to
notify, route, and write the incident, its history and the outbox rows together. Delivery is the
dispatcher's job, after the commit, so a crash anywhere loses nothing.
"""

from __future__ import annotations

import logging
import math
import uuid
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace

from sqlalchemy import Connection, Engine
from sqlalchemy.exc import IntegrityError

from alerts import incident_store
from alerts.budgets import Budget, budget_for, budget_table, governing_budget
from alerts.burn_rate import BurnRatePolicy, SeverityDecision, classify_severity
from alerts.expected_changes import ended_change, muting_change
from alerts.fingerprint import fingerprint
from alerts.group_roles import is_spend_series, link_entry, merge_links, plan_roles
from alerts.lifecycle import IncidentPolicy, IncidentState, advance, is_active
from alerts.notification import Action
from alerts.outbox import enqueue
from alerts.planned_end import PLANNED, close_planned
from alerts.rebaseline import RebaselinePolicy, is_due, record_rebaseline, resolve_as_new_normal
from alerts.receivers import Routing
from alerts.renotify import NotifyInput, RenotifyPolicy, decide_notification, what_changed
from alerts.routing import route_receivers
from alerts.summary import build_notification, incident_labels
from core.anomaly import SeriesEvaluation
from core.clock import Clock

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class QueuedNotification:
    incident_id: str
    fingerprint: str
    receiver: str
    action: Action
    severity: str
    summary: str


@dataclass
class SweepOutcome:
    evaluated: int = 0
    opened: list[str] = field(default_factory=list)  # incident ids
    extended: list[str] = field(default_factory=list)
    escalated: list[str] = field(default_factory=list)
    resolved: list[str] = field(default_factory=list)
    muted: list[str] = field(default_factory=list)
    linked: list[str] = field(default_factory=list)  # fingerprints joined to another series' incident
    notifications: list[QueuedNotification] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        return {
            "evaluated": self.evaluated,
            "opened": len(self.opened),
            "extended": len(self.extended),
            "escalated": len(self.escalated),
            "resolved": len(self.resolved),
            "muted": len(self.muted),
            "linked": len(self.linked),
            "notifications": len(self.notifications),
        }


class AlertService:
    def __init__(
        self,
        engine: Engine,
        clock: Clock,
        routing: Routing,
        *,
        burn_policy: BurnRatePolicy | None = None,
        incident_policy: IncidentPolicy | None = None,
        renotify_policy: RenotifyPolicy | None = None,
        rebaseline_policy: RebaselinePolicy | None = None,
        public_url: str = "http://127.0.0.1:8000",
        new_id: Callable[[], str] = lambda: str(uuid.uuid4()),
    ) -> None:
        self.engine = engine
        self.clock = clock
        self.routing = routing
        self.burn_policy = burn_policy or BurnRatePolicy()
        self.incident_policy = incident_policy or IncidentPolicy()
        self.renotify_policy = renotify_policy or RenotifyPolicy()
        self.rebaseline_policy = rebaseline_policy or RebaselinePolicy()
        self.public_url = public_url.rstrip("/")
        self.new_id = new_id

    def incident_link(self, incident_id: str) -> str:
        return f"{self.public_url}/incidents/{incident_id}"

    def process(self, evaluations: Sequence[SeriesEvaluation]) -> SweepOutcome:
        """Apply one sweep. Pass every series of the sweep: a product budget is compared with the sum
        of its series' month-end projections."""
        outcome = SweepOutcome()
        product_projection: dict[tuple[str, str], float] = defaultdict(float)
        for ev in evaluations:
            if ev.monitor is None:  # a product total or an account would count the same money again
                product_projection[(ev.product, ev.currency.upper())] += ev.month_projection
        # Most series are quiet and have no open incident: judged against one read of the open fingerprints
        # and the budgets, they need no transaction (10,000 series cost two queries, not 20,000). Any series
        # that may change an incident takes the locked path below, which reads everything again.
        with self.engine.connect() as conn:
            links = incident_store.open_links(conn)
            table = budget_table(conn)
            # Spend series quiet this sweep whose incident is still open: a problem told hours ago that
            # shows now in an overlapping scope is still that problem (alerts.group_roles.dormant_item).
            quiet = {
                _fingerprint(ev)
                for ev in evaluations
                if not ev.anomalies and is_spend_series(ev) and _fingerprint(ev) in links
            }
            dormant = incident_store.open_states(conn, quiet) if quiet else []
        open_now = set(links)

        # One incident per problem (alerts.grouping): owners first, then the series linked to them.
        # Whether a series without an open incident needs one: asked of quiet series by the grouping (would
        # it open on its burn windows alone?) and of every such series below, so answered once each.
        needs: dict[str, bool] = {}

        def needs_incident(ev: SeriesEvaluation) -> bool:
            key = _fingerprint(ev)
            if key not in needs:
                budget = governing_budget(table, ev.product, ev.cost_line)
                needs[key] = is_active(ev, self._severity(ev, budget, product_projection))
            return needs[key]

        burning = needs_incident

        roles = plan_roles(evaluations, _fingerprint, links, dormant, burning)
        owner_ids = {fp: entry[0] for fp, entry in links.items()}
        for ev in roles.order(evaluations, _fingerprint):
            outcome.evaluated += 1
            fp = _fingerprint(ev)
            owner = roles.owner_of.get(fp)
            if owner is not None and fp not in open_now:
                outcome.linked.append(fp)  # its anomaly is listed on the owner's incident; nothing else
                continue
            if fp not in open_now and not needs_incident(ev):
                continue
            entries = [
                link_entry(
                    m,
                    _fingerprint(m),
                    self._severity(
                        m, governing_budget(table, m.product, m.cost_line), product_projection
                    ).severity.value,
                )
                for m in roles.owners.get(fp, [])
            ]
            linked_to = owner_ids.get(owner) if owner is not None else roles.sticky.get(fp)
            for attempt in range(2):
                try:
                    with self.engine.begin() as conn:
                        state = self._process_one(
                            conn, ev, product_projection, outcome, links=entries, linked_to=linked_to
                        )
                    if state is not None and state.is_open:
                        owner_ids[fp] = state.id
                    if linked_to is not None:
                        outcome.linked.append(fp)
                    break
                except IntegrityError:
                    # Another sweep opened this fingerprint's incident first; the retry extends it.
                    if attempt == 1:
                        raise
        return outcome

    def _process_one(
        self,
        conn: Connection,
        ev: SeriesEvaluation,
        product_projection: dict[tuple[str, str], float],
        outcome: SweepOutcome,
        *,
        links: Sequence[dict[str, object]] = (),
        linked_to: str | None = None,
    ) -> IncidentState | None:
        fp = _fingerprint(ev)
        current = incident_store.load_open(conn, fp)
        budget = budget_for(conn, ev.product, ev.cost_line)
        if current is not None:
            current = self._close_if_planned(conn, current, ev, decision_budget(ev, budget), outcome)
        decision = self._severity(ev, budget, product_projection)
        amount = decision_budget(ev, budget)
        step = advance(
            current, ev, decision, fingerprint=fp, new_id=self.new_id(), policy=self.incident_policy
        )
        state = step.state
        if state is None:
            return None
        now = ev.as_of
        kinds = step.events
        new_normal: dict[str, object] = {}
        if is_due(state, self.rebaseline_policy, now):
            # The step has lasted: its level is learned and the incident ends, saying so (not "back in band").
            state = resolve_as_new_normal(state, now)
            learned = record_rebaseline(conn, state, reason="persisted", now=now)
            kinds = (*kinds, "resolved")
            new_normal = {
                "resolution": state.resolution,
                "rebaseline": learned.id,
                **(state.level_shift or {}),
            }
        joined = [e for e in links if e["fingerprint"] not in {x["fingerprint"] for x in state.linked}]
        state = replace(state, linked=merge_links(state.linked, links), linked_to=linked_to)
        labels = incident_labels(state)
        # Each event keeps the severity this sweep decided and why, so the incident page can show the
        # reasons of the severity it shows (the peak), not those of the latest sweep.
        decided: dict[str, object] = {
            "reasons": list(state.reasons),
            "severity": state.severity.value,
            "burn_rate": state.burn_rate
            if state.burn_rate is None or math.isfinite(state.burn_rate)
            else None,
        }
        events: list[tuple[str, dict[str, object]]] = [
            (kind, {**decided, **new_normal} if kind == "resolved" else dict(decided)) for kind in kinds
        ]
        if joined:
            events.append(("grouped", {"linked": joined}))
        if linked_to is not None and (current is None or current.linked_to != linked_to):
            events.append(("linked", {"owner": linked_to}))
        if state.is_open:
            change = muting_change(conn, labels, now)
            muted_by = change.id if change is not None else None
            if muted_by and muted_by != state.muted_by:
                events.append(
                    ("muted", {"expected_change": muted_by, "name": change.name if change else None})
                )
            state = replace(state, muted_by=muted_by)
        action = decide_notification(
            NotifyInput(
                resolved=not state.is_open,
                severity=state.peak_severity,
                impact=state.impact,
                notified_severity=state.notified_severity,
                notified_impact=state.notified_impact,
                silenced=state.muted_by is not None or state.feedback is not None,
                since_notified=None if state.notified_at is None else now - state.notified_at,
            ),
            self.renotify_policy,
        )
        if action is not None and action != "resolve" and state.linked_to is not None:
            action = None  # linked: the owner's incident speaks for the problem; a page told before is closed
        if action is not None:
            state = self._notify(conn, state, action, labels, ev, amount, outcome)
            events.append(("notified", {"action": action, "receivers": list(state.receivers)}))
        incident_store.save(conn, state, new=current is None or current.id != state.id)
        for kind, detail in events:
            incident_store.add_event(conn, state, kind, now, detail)
        self._count(outcome, state, kinds)
        if new_normal:
            self._end_members(conn, state, ev, amount, outcome)
        return state

    def _close_if_planned(
        self,
        conn: Connection,
        current: IncidentState,
        ev: SeriesEvaluation,
        amount: float | None,
        outcome: SweepOutcome,
    ) -> IncidentState | None:
        """Resolve ``current`` when the window that muted it has ended (``alerts.planned_end``); ``None``
        then, so that this sweep's evaluation opens a new incident if the excess goes on after it."""
        change = ended_change(conn, current.muted_by, ev.as_of) if current.muted_by else None
        if change is None:
            return current
        now = ev.as_of
        state = close_planned(replace(current, updated_at=now), now)
        events: list[tuple[str, dict[str, object]]] = [
            ("resolved", {"resolution": state.resolution, "expected_change": change.id, "name": change.name})
        ]
        if state.notified_severity is not None:  # told before the window: its receivers hear it is over
            labels = incident_labels(state)
            state = self._notify(conn, state, "resolve", labels, ev, amount, outcome)
            events.append(("notified", {"action": "resolve", "receivers": list(state.receivers)}))
        incident_store.save(conn, state, new=False)
        for kind, detail in events:
            incident_store.add_event(conn, state, kind, now, detail)
        outcome.resolved.append(state.id)
        self._end_members(conn, state, ev, amount, outcome)
        return None

    def _end_members(
        self,
        conn: Connection,
        owner: IncidentState,
        ev: SeriesEvaluation,
        amount: float | None,
        outcome: SweepOutcome,
    ) -> None:
        """The incidents linked to ``owner`` end with it when it ended as planned or as a new normal: they
        were the same problem, seen from an overlapping scope (a product total beside its cost line), and
        left open they would outlive their owner's link and speak for a problem already closed. A member
        of a new normal learns its own new level when it has read one (else it just resolves)."""
        now = ev.as_of
        for member in incident_store.open_members(conn, owner.id):
            state = replace(member, updated_at=now)
            if owner.resolution == PLANNED:
                state = close_planned(state, now)
                detail: dict[str, object] = {"resolution": state.resolution, "with": owner.id}
            elif member.level_shift is not None:
                state = resolve_as_new_normal(state, now)
                learned = record_rebaseline(conn, state, reason="persisted", now=now)
                detail = {"resolution": state.resolution, "with": owner.id, "rebaseline": learned.id}
            else:
                state = replace(state, status="resolved", resolved_at=now, in_band_since=None)
                state = replace(state, resolution=owner.resolution)
                detail = {"resolution": state.resolution, "with": owner.id}
            events: list[tuple[str, dict[str, object]]] = [("resolved", detail)]
            if state.notified_severity is not None:  # told before it was linked: its receivers hear the end
                state = self._notify(conn, state, "resolve", incident_labels(state), ev, amount, outcome)
                events.append(("notified", {"action": "resolve", "receivers": list(state.receivers)}))
            incident_store.save(conn, state, new=False)
            for kind, d in events:
                incident_store.add_event(conn, state, kind, now, d)
            outcome.resolved.append(state.id)

    def _severity(
        self, ev: SeriesEvaluation, budget: Budget | None, product_projection: dict[tuple[str, str], float]
    ) -> SeverityDecision:
        projection = None
        amount = decision_budget(ev, budget)
        product_month = product_projection.get((ev.product, ev.currency.upper()))
        if amount is not None and budget is not None and budget.cost_line is None:
            projection = product_month
        return classify_severity(ev, self.burn_policy, amount, projection, product_month)

    def _notify(
        self,
        conn: Connection,
        state: IncidentState,
        action: Action,
        labels: dict[str, str],
        ev: SeriesEvaluation,
        budget: float | None,
        outcome: SweepOutcome,
    ) -> IncidentState:
        seq = state.notify_seq + 1
        change = (
            what_changed(
                state.peak_severity,
                state.impact,
                state.notified_severity,
                state.notified_impact,
                state.currency,
            )
            if action == "update"
            else None
        )
        if action == "resolve":
            targets: list[tuple[str, Action]] = [(r, "resolve") for r in state.receivers]
        else:
            routed = route_receivers(self.routing.route, labels)
            # Receivers told before hear the update (a ticket gets a comment when the incident escalates
            # to a page, even though pages route elsewhere); receivers new to it hear an open.
            targets = [(r, "update" if r in state.receivers else "open") for r in routed]
            targets += [(r, "update") for r in state.receivers if r not in routed]
        for receiver, receiver_action in targets:
            n = build_notification(
                state,
                receiver_action,
                seq=seq,
                link=self.incident_link(state.id),
                labels=labels,
                month_to_date=ev.month_to_date_actual,
                month_projection=ev.month_projection,
                budget=budget,
                change=change if receiver_action == "update" else None,
            )
            enqueue(conn, n, receiver, self.clock.now())
            outcome.notifications.append(
                QueuedNotification(
                    state.id, state.fingerprint, receiver, receiver_action, n.severity, n.summary
                )
            )
        told = tuple(dict.fromkeys([*state.receivers, *(r for r, _ in targets)]))
        return replace(
            state,
            notify_seq=seq,
            notified_severity=state.peak_severity if action != "resolve" else state.notified_severity,
            notified_impact=state.impact if action != "resolve" else state.notified_impact,
            notified_at=ev.as_of,
            receivers=told,
        )

    @staticmethod
    def _count(outcome: SweepOutcome, state: IncidentState, kinds: tuple[str, ...]) -> None:
        for kind, bucket in (
            ("opened", outcome.opened),
            ("extended", outcome.extended),
            ("escalated", outcome.escalated),
            ("resolved", outcome.resolved),
        ):
            if kind in kinds:
                bucket.append(state.id)
        if state.muted_by is not None:
            outcome.muted.append(state.id)


def _fingerprint(ev: SeriesEvaluation) -> str:
    return fingerprint(ev.product, ev.cost_line, ev.currency, ev.scope)


def decision_budget(ev: SeriesEvaluation, budget: Budget | None) -> float | None:
    """The monthly amount that governs ``ev``, when its budget is in the series' currency."""
    if budget is not None and budget.currency == ev.currency.upper():
        return budget.monthly_amount
    return None
