"""The early ticket: a detector event that has lasted two periods and whose excess rate is material."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest

from alerts.burn_rate import BurnRatePolicy, classify_severity
from alerts.severity import Severity
from core.anomaly import HOURS_PER_MONTH, WindowSpend
from core.types import Granularity
from tests.alerts.factories import T0, evaluation

HOUR, DAY = timedelta(hours=1), timedelta(days=1)
POLICY = BurnRatePolicy()
PRODUCT_MONTH = 100_000.0  # 2% of it is $2,000 a month


def event_verdict(
    *,
    periods: int,
    per_period: float,
    ratio: float,
    step: timedelta = HOUR,
    ended: int = 0,
    kind: str = "anomaly",
    direction: str = "up",
) -> Any:
    """A verdict whose one event spans ``periods`` periods of ``per_period`` expected $ each at ``ratio`` x,
    its last period ``ended`` periods before the newest closed one; the burn windows are quiet (1.0x), so
    only the early rule can ticket it."""
    gran = Granularity.HOUR if step == HOUR else Granularity.DAY
    as_of = T0 + 10 * DAY
    end = as_of - step * (1 + ended)
    start = end - step * (periods - 1)
    ev = evaluation(as_of, impact=1.0)
    expected = per_period * periods
    event = replace(
        ev.anomalies[0],
        start=start,
        end=end,
        expected=expected,
        actual=expected * ratio,
        impact=expected * (ratio - 1.0),
        impact_pct=(ratio - 1.0) * 100,
        # As the detector projects it (its rate over the ~10 days left in the month); the rule reads the
        # event's rate over a whole month instead, so a change near a month's end is judged alike.
        projected_month_impact=expected * (ratio - 1.0) / (periods * step / HOUR) * 240,
        kind=kind,
        direction=direction,
    )
    hours = step / HOUR
    quiet = [WindowSpend(w, w * per_period / hours, w * per_period / hours) for w in (6.0, 24.0, 72.0)]
    return replace(ev, granularity=gran, anomalies=[event], windows=quiet)


@pytest.mark.parametrize(
    ("case", "verdict", "expected"),
    [
        # +37% on a $35/h line ($13/h, $9.5k a month, 9.5% of the product) seen for two hours: ticket
        ("step, second hour", dict(periods=2, per_period=35.0, ratio=1.37), Severity.TICKET),
        # the same excess in its first hour only: one period is a blip until the next one confirms it
        ("step, first hour", dict(periods=1, per_period=35.0, ratio=1.37), Severity.NONE),
        # +10% is not clearly anomalous, however long (under the sustained factor 1.2)
        ("small ratio", dict(periods=8, per_period=350.0, ratio=1.1), Severity.NONE),
        # $2.50 an hour over a day: $1,825 a month, under 2% of the product's month
        ("blip-sized", dict(periods=24, per_period=2.5, ratio=2.0), Severity.NONE),
        # $3 an hour more ($2,190 a month, 2.2% of the product) would spend $72 in a day: under the $100
        # materiality floor, as a one-off $60 spread over a day is
        ("under the floor in a day", dict(periods=6, per_period=3.0, ratio=2.0), Severity.NONE),
        ("at the floor in a day", dict(periods=6, per_period=4.2, ratio=2.0), Severity.TICKET),
        # $1 an hour at 3x: $1,460 a month is 1.5% of the product
        ("small line", dict(periods=4, per_period=1.0, ratio=3.0), Severity.NONE),
        # the event stopped two periods ago: not going on, whatever it cost
        ("ended", dict(periods=3, per_period=35.0, ratio=1.5, ended=2), Severity.NONE),
        # one period of slack: the newest period may be held back as incomplete
        ("newest held back", dict(periods=3, per_period=35.0, ratio=1.5, ended=1), Severity.TICKET),
        # a "sustained" reading is the long windows' (the money rule's), not the detector's flags
        ("sustained kind", dict(periods=3, per_period=35.0, ratio=1.5, kind="sustained"), Severity.NONE),
        # spend going down is never a ticket
        ("down", dict(periods=3, per_period=35.0, ratio=0.5, direction="down"), Severity.NONE),
        # daily data: two days make it lasting, one day does not
        ("two days", dict(periods=2, per_period=800.0, ratio=1.37, step=DAY), Severity.TICKET),
        ("one day", dict(periods=1, per_period=800.0, ratio=1.37, step=DAY), Severity.NONE),
    ],
)
def test_early_ticket(case: str, verdict: dict[str, Any], expected: Severity) -> None:
    decision = classify_severity(event_verdict(**verdict), POLICY, product_month=PRODUCT_MONTH)
    assert decision.severity is expected, (case, decision.reasons)
    if expected is Severity.TICKET:
        assert "a month if it goes on" in decision.reasons[0]


def test_the_month_is_the_events_excess_rate() -> None:
    ev = event_verdict(periods=2, per_period=35.0, ratio=1.4)
    month = 14.0 * HOURS_PER_MONTH  # $14 an hour over the event
    decision = classify_severity(ev, POLICY, product_month=PRODUCT_MONTH)
    assert f"adds {month:,.2f} a month" in decision.reasons[0]
    # A $ threshold just above that month keeps it quiet; just below, it is ticketed.
    above = BurnRatePolicy(ticket_month_impact=month + 1.0)
    below = BurnRatePolicy(ticket_month_impact=month - 1.0)
    assert classify_severity(ev, above, product_month=PRODUCT_MONTH).severity is Severity.NONE
    assert classify_severity(ev, below, product_month=PRODUCT_MONTH).severity is Severity.TICKET


@pytest.mark.parametrize(
    ("policy", "expected"),
    [
        (BurnRatePolicy(event_min_periods=0), Severity.NONE),  # switched off
        (BurnRatePolicy(event_min_periods=4), Severity.NONE),  # 3 periods are not enough
        (BurnRatePolicy(event_min_hours=4.0), Severity.NONE),  # 3 hours are not enough
        (BurnRatePolicy(event_min_hours=3.0), Severity.TICKET),
        (BurnRatePolicy(ticket_month_impact=None, ticket_month_impact_pct=None), Severity.NONE),
    ],
)
def test_the_early_rule_is_configuration(policy: BurnRatePolicy, expected: Severity) -> None:
    ev = event_verdict(periods=3, per_period=35.0, ratio=1.5)
    assert classify_severity(ev, policy, product_month=PRODUCT_MONTH).severity is expected


def test_without_the_products_month_the_pct_check_cannot_pass() -> None:
    ev = event_verdict(periods=3, per_period=35.0, ratio=1.5)
    assert classify_severity(ev, POLICY, product_month=None).severity is Severity.NONE
    no_pct = BurnRatePolicy(ticket_month_impact_pct=None)
    assert classify_severity(ev, no_pct, product_month=None).severity is Severity.TICKET


@pytest.mark.parametrize(("hours", "periods"), [(2.0, 2), (3.0, 2), (0.0, 0)])
def test_the_setting_reaches_the_policy(tmp_path: Any, hours: float, periods: int) -> None:
    from alerts.wiring import alerting_from_settings
    from core.clock import FixedClock
    from core.db import make_engine, migrate
    from core.settings import Settings

    settings = Settings(data_dir=tmp_path, ticket_event_min_hours=hours, _env_file=None)  # type: ignore[call-arg]
    engine = make_engine(f"sqlite:///{tmp_path / 'state.db'}")
    migrate(engine)
    policy = alerting_from_settings(settings, engine, FixedClock(T0)).service.burn_policy
    assert (policy.event_min_periods, policy.event_min_hours) == (periods, hours)
    engine.dispose()
