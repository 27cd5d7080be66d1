"""Burn-rate classification, table by table."""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Any

import pytest

from alerts.burn_rate import BurnRatePolicy, BurnRule, classify_severity, pick_window
from alerts.severity import Severity
from core.anomaly import WindowSpend
from core.types import Granularity
from tests.alerts.factories import T0, evaluation

POLICY = BurnRatePolicy(materiality_floor=100.0)


@pytest.mark.parametrize(
    ("short", "long", "impact", "budget", "projection", "expected"),
    [
        # both windows above 3x: page
        (4.0, 3.5, 5000.0, None, 0.0, Severity.PAGE),
        # long window above 3x but the short one has calmed down: only a ticket (still > 1.5x)
        (2.0, 3.5, 5000.0, None, 0.0, Severity.TICKET),
        # short spike, long window normal: nothing (not sustained)
        (5.0, 1.2, 5000.0, None, 0.0, Severity.NONE),
        # exactly 3x is not above 3x
        (3.0, 3.0, 5000.0, None, 0.0, Severity.TICKET),
        # sustained 1.6x over 24 h and still burning: ticket
        (1.6, 1.6, 5000.0, None, 0.0, Severity.TICKET),
        # exactly 1.5x: nothing
        (1.5, 1.5, 5000.0, None, 0.0, Severity.NONE),
        # a short burst with no anomaly and a normal day: nothing
        (4.0, 1.0, None, None, 0.0, Severity.NONE),
        # budget: projection at 95% of budget and growing (short window 1.3x): page
        (1.3, 1.1, 500.0, 10_000.0, 9_500.0, Severity.PAGE),
        # budget: projection at 95% but not growing: none
        (1.0, 1.0, 500.0, 10_000.0, 9_500.0, Severity.NONE),
        # budget: growing but projection at 80%: none
        (1.3, 1.1, 500.0, 10_000.0, 8_000.0, Severity.NONE),
        # no budget at all: the budget rule never fires
        (1.3, 1.1, 500.0, None, 9_500.0, Severity.NONE),
    ],
)
def test_classify(short, long, impact, budget, projection, expected) -> None:
    ev = evaluation(T0, burn=(short, long), impact=impact, month_projection=projection)
    decision = classify_severity(ev, POLICY, budget)
    assert decision.severity is expected, decision.reasons


def test_below_materiality_floor_is_none_even_at_huge_burn() -> None:
    ev = evaluation(T0, burn=(10.0, 10.0), impact=50.0)
    policy = BurnRatePolicy(materiality_floor=1_000_000.0)
    decision = classify_severity(ev, policy)
    assert decision.severity is Severity.NONE
    assert "below floor" in decision.reasons[0]


def test_factors_and_windows_are_configuration() -> None:
    ev = evaluation(T0, burn=(2.5, 2.5), impact=5000.0)
    strict = BurnRatePolicy(page=BurnRule(factor=2.0, long_hours=24, short_hours=6))
    assert classify_severity(ev, strict).severity is Severity.PAGE
    assert classify_severity(ev, BurnRatePolicy()).severity is Severity.TICKET


def test_product_budget_uses_the_given_projection() -> None:
    ev = evaluation(T0, burn=(1.3, 1.1), impact=500.0, month_projection=1_000.0)
    assert classify_severity(ev, POLICY, 10_000.0).severity is Severity.NONE
    assert classify_severity(ev, POLICY, 10_000.0, projection=9_500.0).severity is Severity.PAGE


@pytest.mark.parametrize(
    ("hours", "want"),
    [(6, 6), (24, 24), (12, 24), (1, 6), (48, None)],
)
def test_pick_window(hours, want) -> None:
    windows = [WindowSpend(24, 1, 1), WindowSpend(6, 1, 1)]
    got = pick_window(windows, hours)
    assert (got.hours if got else None) == want


def test_zero_expected_spend_is_infinite_burn() -> None:
    assert math.isinf(WindowSpend(6, 10, 0).burn_rate)
    ev = evaluation(T0, impact=5000.0)
    ev = type(ev)(**{**ev.__dict__, "windows": [WindowSpend(6, 600, 0), WindowSpend(24, 2400, 0)]})
    assert classify_severity(ev, POLICY).severity is Severity.PAGE


@pytest.mark.parametrize(
    ("short", "long", "impact", "product_month", "policy", "expected"),
    [
        # +37% sustained on both windows, $27k a month, 27% of the product's month: a ticket under 1.5x
        (1.37, 1.37, 500.0, 100_000.0, POLICY, Severity.TICKET),
        # the same excess is 0.3% of a very large product: none
        (1.37, 1.37, 500.0, 10_000_000.0, POLICY, Severity.NONE),
        # the short window calmed down: not sustained
        (1.0, 1.37, 500.0, 100_000.0, POLICY, Severity.NONE),
        # +10% is under the sustained factor (1.2)
        (1.1, 1.1, 500.0, 100_000.0, POLICY, Severity.NONE),
        # no anomaly event to explain it: money alone is no finding
        (1.37, 1.37, None, 100_000.0, POLICY, Severity.NONE),
        # the product's spend unknown: the % cannot be checked, so the rule does not fire ...
        (1.37, 1.37, 500.0, None, POLICY, Severity.NONE),
        # ... unless the % check is off; and with both checks off the rule is off
        (1.37, 1.37, 500.0, None, BurnRatePolicy(ticket_month_impact_pct=None), Severity.TICKET),
        (
            1.37,
            1.37,
            500.0,
            100_000.0,
            BurnRatePolicy(ticket_month_impact=None, ticket_month_impact_pct=None),
            Severity.NONE,
        ),
        # a $ threshold above the month impact: none
        (1.37, 1.37, 500.0, 100_000.0, BurnRatePolicy(ticket_month_impact=100_000.0), Severity.NONE),
    ],
)
def test_ticket_by_money(short, long, impact, product_month, policy, expected) -> None:
    ev = evaluation(T0, burn=(short, long), impact=impact)
    decision = classify_severity(ev, policy, product_month=product_month)
    assert decision.severity is expected, decision.reasons
    if expected is Severity.TICKET:
        assert "a month" in decision.reasons[0] and "1.37x over 24h" in decision.reasons[0]


def new_spend(month: float, product_month_projection: float = 0.0) -> Any:
    ev = evaluation(T0, burn=(1.0, 1.0), impact=month / 30, month_projection=product_month_projection)
    fresh = replace(ev.anomalies[0], kind="new_spend", expected=0.0, projected_month_impact=month)
    return replace(ev, anomalies=[fresh])


@pytest.mark.parametrize(
    ("month", "product_month", "budget", "projection", "expected", "said"),
    [
        # a new service at 90k a month in a product of 200k: 45% of it, page at once
        (90_000.0, 200_000.0, None, None, Severity.PAGE, "45.0% of the product's month"),
        # 10k a month, 5% of the product: ticket by the money thresholds
        (10_000.0, 200_000.0, None, None, Severity.TICKET, "5.0% of the product's month"),
        # 3k a month, 1.5% of the product: looks like the rest of it, watched
        (3_000.0, 200_000.0, None, None, Severity.NONE, "watched"),
        # small, but the product's budget projection is past its page share: page
        (3_000.0, 200_000.0, 100_000.0, 95_000.0, Severity.PAGE, "of budget"),
        # the product's spend unknown: the % cannot be checked, so no ticket
        (10_000.0, None, None, None, Severity.NONE, "watched"),
    ],
)
def test_new_spend_is_judged_against_its_product(
    month, product_month, budget, projection, expected, said
) -> None:
    decision = classify_severity(new_spend(month), POLICY, budget, projection, product_month)
    assert decision.severity is expected, decision.reasons
    assert "new spend" in decision.reasons[0] and said in decision.reasons[0]


def daily(short: float, long72: float, impacts: tuple[float, ...], expected_per_day: float) -> Any:
    """A daily verdict: 24 h and 72 h windows at the given burns, events with the given $ impacts."""
    ev = evaluation(T0, impact=1.0)
    day = ev.anomalies[0]
    # As the detector projects it: the event's excess rate carried on over a month.
    per = expected_per_day
    events = [
        replace(day, impact=i, actual=per + i, expected=per, projected_month_impact=i * 30) for i in impacts
    ]
    return replace(
        ev,
        granularity=Granularity.DAY,
        anomalies=events,
        windows=[
            WindowSpend(24, expected_per_day * short, expected_per_day),
            WindowSpend(72, 3 * expected_per_day * long72, 3 * expected_per_day),
        ],
    )


@pytest.mark.parametrize(
    ("short", "long72", "impacts", "per_day", "expected"),
    [
        # the blip: one day at +30% ($64 over $210) and two normal days; 1,633 a month if it went on
        (1.3, 1.1, (64.0,), 210.0, Severity.NONE),
        # one day of a large excess is not sustained either, whatever it would add a month (the rate rules
        # are the ones for a one-day burst)
        (1.3, 1.1, (600.0,), 2000.0, Severity.NONE),
        # three days at +30% of $2,000 a day: sustained on both windows and $1,800 spent, ticket by money
        (1.3, 1.3, (1800.0,), 2000.0, Severity.TICKET),
        # three days at +30% of $200 a day: sustained, but only $60 actually spent so far
        (1.3, 1.3, (60.0,), 200.0, Severity.NONE),
        # the floor is on the events' total: two events of $60 each make $120
        (1.3, 1.3, (60.0, 60.0), 200.0, Severity.TICKET),
    ],
)
def test_money_rule_needs_more_than_one_period_and_real_dollars(
    short, long72, impacts, per_day, expected
) -> None:
    ev = daily(short, long72, impacts, per_day)
    # The product's month is small enough that every case above crosses the % threshold.
    decision = classify_severity(ev, POLICY, product_month=20_000.0)
    assert decision.severity is expected, decision.reasons
    if expected is Severity.TICKET:
        assert "over 72h" in decision.reasons[0]
