"""The composition root: alerting policies and exclusions built from settings, shared by CLI and server."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

import httpx
from sqlalchemy import Engine

from alerts.burn_rate import BurnRatePolicy, BurnRule
from alerts.exclusions import training_exclusions
from alerts.incidents import list_incidents
from alerts.lifecycle import IncidentPolicy
from alerts.renotify import RenotifyPolicy
from alerts.wiring import Alerting, build_alerting
from core.clock import Clock
from core.settings import Settings
from core.types import Granularity, SeriesKey


def alerting_from_settings(
    settings: Settings, engine: Engine, clock: Clock, *, client: httpx.Client | None = None
) -> Alerting:
    burn = BurnRatePolicy(
        page=BurnRule(settings.page_burn_factor, settings.burn_long_hours, settings.burn_short_hours),
        ticket=BurnRule(settings.ticket_burn_factor, settings.burn_long_hours, settings.burn_short_hours),
        budget_share=settings.budget_page_share,
        budget_growth=settings.budget_growth_factor,
        materiality_floor=settings.materiality_floor,
    )
    return build_alerting(
        settings,
        engine,
        clock,
        ticket_project=settings.ticket_project,
        burn_policy=burn,
        incident_policy=IncidentPolicy(resolve_after=timedelta(hours=settings.resolve_after_hours)),
        renotify_policy=RenotifyPolicy(settings.renotify_impact_step, settings.renotify_impact_pct),
        pagerduty_per_minute=settings.pagerduty_events_per_minute,
        client=client,
    )


def exclusions_from(engine: Engine) -> Callable[[SeriesKey], list[tuple[datetime, datetime]]]:
    """What training leaves out: expected-change windows, incidents judged expected / not an anomaly, and
    the periods of incidents still open, so a baseline does not learn an anomaly while it is going on."""
    open_periods: dict[tuple[str, str, str], list[tuple[datetime, datetime]]] = {}
    offset = 0
    while True:
        page = list_incidents(engine, status="open", limit=1000, offset=offset)
        for inc in page:
            if inc["period_start"] and inc["period_end"]:
                span = (
                    datetime.fromisoformat(inc["period_start"]),
                    datetime.fromisoformat(inc["period_end"]),
                )
                open_periods.setdefault((inc["product"], inc["cost_line"], inc["currency"]), []).append(span)
        if len(page) < 1000:
            break
        offset += 1000

    def exclusions(key: SeriesKey) -> list[tuple[datetime, datetime]]:
        period = timedelta(hours=1) if key.granularity is Granularity.HOUR else timedelta(days=1)
        spans = training_exclusions(engine, key.product, key.cost_line, period=period, currency=key.currency)
        spans += [
            (s, e + period) for s, e in open_periods.get((key.product, key.cost_line, key.currency), [])
        ]
        return spans

    return exclusions
