"""Composition helpers for the lead's wiring (sweeps, API, CLI): build the routing, the service and the
dispatcher from ``Settings`` plus the alert policies, so that callers do not repeat the defaults.

Settings not yet in ``core.settings`` (Jira project, policy knobs) are keyword arguments here.
"""

from __future__ import annotations

from dataclasses import dataclass

import httpx
from sqlalchemy import Engine

from alerts.burn_rate import BurnRatePolicy
from alerts.dispatcher import Dispatcher, RetryPolicy
from alerts.lifecycle import IncidentPolicy
from alerts.receivers import Routing, default_routing, load_routing
from alerts.renotify import RenotifyPolicy
from alerts.service import AlertService
from core.clock import Clock
from core.settings import Settings


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


def build_alerting(
    settings: Settings,
    engine: Engine,
    clock: Clock,
    *,
    ticket_project: str | None = None,
    burn_policy: BurnRatePolicy | None = None,
    incident_policy: IncidentPolicy | None = None,
    renotify_policy: RenotifyPolicy | None = None,
    retry: RetryPolicy | None = None,
    pagerduty_per_minute: float = 120.0,
    client: httpx.Client | None = None,
) -> Alerting:
    routing = routing_from_settings(settings, ticket_project=ticket_project)
    service = AlertService(
        engine,
        clock,
        routing,
        burn_policy=burn_policy,
        incident_policy=incident_policy,
        renotify_policy=renotify_policy,
        public_url=settings.public_url,
    )
    dispatcher = Dispatcher(
        engine, routing.notifiers(client), clock, retry=retry, per_minute=pagerduty_per_minute
    )
    return Alerting(routing=routing, service=service, dispatcher=dispatcher)
