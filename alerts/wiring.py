"""Composition helpers for the lead's wiring (sweeps, API, CLI): build the routing, the service and the
dispatcher from ``Settings`` plus the alert policies, so that callers do not repeat the defaults.

Settings not yet in ``core.settings`` (Jira project, policy knobs) are keyword arguments here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

import httpx
from sqlalchemy import Engine

from alerts.burn_rate import BurnRatePolicy, BurnRule
from alerts.delivery import DeliveryAlarm
from alerts.dispatcher import Dispatcher, RetryPolicy
from alerts.exclusions import training_exclusions
from alerts.heartbeat import HEARTBEAT_KINDS
from alerts.lifecycle import IncidentPolicy
from alerts.open_periods import open_incident_periods
from alerts.rebaseline import RebaselinePolicy
from alerts.receivers import Routing, default_routing, load_routing
from alerts.renotify import RenotifyPolicy
from alerts.service import AlertService
from core.clock import Clock
from core.errors import InputError
from core.settings import Settings
from core.types import DEFAULT_SCOPE, Granularity, SeriesKey


def routing_from_settings(settings: Settings, *, ticket_project: str | None = None) -> Routing:
    """The routes file when one is configured, else the contract's default routing."""
    if settings.routes_file is not None:
        return load_routing(settings.routes_file)
    return default_routing(
        pagerduty_routing_key=settings.pagerduty_routing_key,
        pagerduty_url=settings.pagerduty_url,
        ticket_kind=settings.ticket_kind,
        ticket_url=settings.ticket_url,
        ticket_token=settings.ticket_token,
        ticket_project=ticket_project,
    )


@dataclass(frozen=True)
class Alerting:
    routing: Routing
    service: AlertService
    dispatcher: Dispatcher
    heartbeat: str | None = None  # the receiver that hears from every successful sweep


def check_receivers(settings: Settings, routing: Routing) -> None:
    """The fallback and heartbeat receivers must be configured, and a heartbeat must not page."""
    for field, name in (
        ("delivery_fallback_receiver", settings.delivery_fallback_receiver),
        ("heartbeat_receiver", settings.heartbeat_receiver),
    ):
        if name is not None and name not in routing.receivers:
            known = ", ".join(sorted(routing.receivers)) or "none"
            raise InputError(field, f"names no configured receiver {name!r} (configured: {known})")
    beat = settings.heartbeat_receiver
    if beat is not None and routing.receivers[beat].kind not in HEARTBEAT_KINDS:
        raise InputError(
            "heartbeat_receiver",
            f"receiver {beat!r} is a {routing.receivers[beat].kind} receiver; a heartbeat goes to "
            + " | ".join(HEARTBEAT_KINDS),
        )


def build_alerting(
    settings: Settings,
    engine: Engine,
    clock: Clock,
    *,
    ticket_project: str | None = None,
    burn_policy: BurnRatePolicy | None = None,
    incident_policy: IncidentPolicy | None = None,
    renotify_policy: RenotifyPolicy | None = None,
    rebaseline_policy: RebaselinePolicy | None = None,
    retry: RetryPolicy | None = None,
    pagerduty_per_minute: float = 120.0,
    client: httpx.Client | None = None,
) -> Alerting:
    routing = routing_from_settings(settings, ticket_project=ticket_project)
    check_receivers(settings, routing)
    service = AlertService(
        engine,
        clock,
        routing,
        burn_policy=burn_policy,
        incident_policy=incident_policy,
        renotify_policy=renotify_policy,
        rebaseline_policy=rebaseline_policy,
        public_url=settings.public_url,
    )
    dispatcher = Dispatcher(
        engine,
        routing.notifiers(client),
        clock,
        retry=retry,
        per_minute=pagerduty_per_minute,
        alarm=DeliveryAlarm(settings.delivery_fallback_receiver, settings.public_url),
    )
    return Alerting(
        routing=routing, service=service, dispatcher=dispatcher, heartbeat=settings.heartbeat_receiver
    )


def alerting_from_settings(
    settings: Settings, engine: Engine, clock: Clock, *, client: httpx.Client | None = None
) -> Alerting:
    burn = BurnRatePolicy(
        page=BurnRule(settings.page_burn_factor, settings.burn_long_hours, settings.burn_short_hours),
        ticket=BurnRule(settings.ticket_burn_factor, settings.burn_long_hours, settings.burn_short_hours),
        budget_share=settings.budget_page_share,
        budget_growth=settings.budget_growth_factor,
        materiality_floor=settings.materiality_floor,
        sustained_factor=settings.sustained_burn_factor,
        ticket_month_impact=settings.ticket_month_impact or None,
        ticket_month_impact_pct=settings.ticket_month_impact_pct or None,
        new_spend_page_pct=settings.new_spend_page_pct,
        event_min_periods=2 if settings.ticket_event_min_hours else 0,
        event_min_hours=settings.ticket_event_min_hours,
    )
    return build_alerting(
        settings,
        engine,
        clock,
        ticket_project=settings.ticket_project,
        burn_policy=burn,
        incident_policy=IncidentPolicy(
            resolve_after=timedelta(hours=settings.resolve_after_hours),
            hold_factor=settings.sustained_burn_factor,
            hold_hours=settings.burn_long_hours,
        ),
        renotify_policy=RenotifyPolicy(
            settings.renotify_impact_step,
            settings.renotify_impact_pct,
            min_interval=timedelta(hours=settings.renotify_min_interval_hours),
            urgent_pct=settings.renotify_urgent_pct,
        ),
        rebaseline_policy=RebaselinePolicy(
            after=timedelta(hours=settings.rebaseline_after_hours)
            if settings.rebaseline_after_hours
            else None
        ),
        pagerduty_per_minute=settings.pagerduty_events_per_minute,
        client=client,
    )


def exclusions_from(engine: Engine) -> Callable[[SeriesKey], list[tuple[datetime, datetime]]]:
    """What training leaves out: expected-change windows, incidents judged expected / not an anomaly, and
    the periods of incidents still open, so a baseline does not learn an anomaly while it is going on (new
    spend excepted: see ``alerts.open_periods``)."""
    open_periods = open_incident_periods(engine)

    def exclusions(key: SeriesKey) -> list[tuple[datetime, datetime]]:
        period = timedelta(hours=1) if key.granularity is Granularity.HOUR else timedelta(days=1)
        # Monitor series share "(all)" as product or cost line: their scope tells them apart.
        scope = None if key.scope == DEFAULT_SCOPE else key.scope
        spans = training_exclusions(
            engine, key.product, key.cost_line, period=period, currency=key.currency, scope=scope
        )
        spans += [
            (s, e + period)
            for sc, s, e in open_periods.get((key.product, key.cost_line, key.currency), [])
            if scope is None or sc == scope
        ]
        return spans

    return exclusions
