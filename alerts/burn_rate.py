"""Burn-rate severity: how fast a series spends compared with its expected (or budgeted) rate.

Multi-window, as in Google's SRE workbook: a rule fires only when both a long window (the spend is
material, not a blip) and a short window (it is still happening) burn faster than the rule's factor.
Seed policy: page above 3x on both windows, or when the month-end projection crosses 90% of the monthly
budget while spend is growing; ticket above 1.5x sustained over 24 h, or by money: an excess sustained on
both windows (above ``sustained_factor``), with an anomaly event open, whose projected month impact crosses
both a $ amount and a share of the product's monthly spend, so a permanent +37% on a large cost line is
ticketed although 1.37x is under the rate rule. "Sustained" means over two periods at least (one day of
daily data is a blip, not a trend), and the money rule needs the events' actual excess so far to reach the
$ floor, as cost-anomaly thresholds are on total impact; nothing below a $ floor. New spend (a series in
cold start spending materially) has no history to burn against: it pages when its monthly run rate is a
large share of its product's month (or the budget's projection crosses its page share), is ticketed by the
money thresholds, else watched.
The money rule's windows (a day at least) make an intraday series wait most of a day for a change a user
wants to hear about within the hour, so a detector event is ticketed early by the same money thresholds:
an event the detector flagged period after period (``event_min_periods`` in a row, at least
``event_min_hours``), still going on, above ``sustained_factor`` over its own expected spend, whose excess
rate would spend the materiality floor within a day and crosses the $ and % thresholds over a month. A
one-period blip, a one-off amount spread thin, or a small excess stays watched.
Pure functions over a ``SeriesEvaluation``: no clock, no database.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timedelta

from alerts.severity import Severity
from core.anomaly import HOURS_PER_MONTH, Anomaly, SeriesEvaluation, WindowSpend


@dataclass(frozen=True)
class BurnRule:
    """Fire when both windows burn at more than ``factor`` times the expected rate."""

    factor: float
    long_hours: float
    short_hours: float


@dataclass(frozen=True)
class BurnRatePolicy:
    page: BurnRule = field(default_factory=lambda: BurnRule(factor=3.0, long_hours=24, short_hours=6))
    ticket: BurnRule = field(default_factory=lambda: BurnRule(factor=1.5, long_hours=24, short_hours=6))
    budget_share: float = 0.9  # page when the month-end projection reaches this share of the budget ...
    budget_growth: float = 1.2  # ... while the short window burns at least this much over expected
    materiality_floor: float = 100.0  # $ of excess below which nothing is raised
    # Ticket by money: both windows above ``sustained_factor`` and a projected month impact of at least
    # ``ticket_month_impact`` $ and ``ticket_month_impact_pct`` % of the product's monthly spend (None: off).
    sustained_factor: float = 1.2
    ticket_month_impact: float | None = 1000.0
    ticket_month_impact_pct: float | None = 2.0
    # New spend (a series in cold start spending materially): page when its monthly run rate reaches this
    # share of its product's monthly spend; ticket by the money thresholds above; else watched.
    new_spend_page_pct: float = 25.0
    # Ticket early by a detector event (see the module docstring): it has lasted this many consecutive
    # periods, and at least ``event_min_hours`` (0 periods: off).
    event_min_periods: int = 2
    event_min_hours: float = 2.0


@dataclass(frozen=True)
class SeverityDecision:
    severity: Severity
    burn_rate: float | None  # the page rule's long-window burn rate, for display
    excess: float  # the $ that made it material (largest of anomaly, window and projected excess)
    reasons: tuple[str, ...]


def pick_window(windows: Sequence[WindowSpend], hours: float) -> WindowSpend | None:
    """The window of exactly ``hours``, else the shortest longer one (a daily series has no 6 h window,
    so its 24 h window stands in), else ``None``: a rule without data does not fire."""
    exact = [w for w in windows if math.isclose(w.hours, hours)]
    if exact:
        return exact[0]
    longer = sorted((w for w in windows if w.hours > hours), key=lambda w: w.hours)
    return longer[0] if longer else None


def _rule_fires(windows: Sequence[WindowSpend], rule: BurnRule) -> tuple[bool, str]:
    long_w, short_w = pick_window(windows, rule.long_hours), pick_window(windows, rule.short_hours)
    if long_w is None or short_w is None:
        return False, ""
    fires = long_w.burn_rate > rule.factor and short_w.burn_rate > rule.factor
    why = (
        f"burn {_fmt(long_w.burn_rate)}x over {long_w.hours:g}h and {_fmt(short_w.burn_rate)}x over "
        f"{short_w.hours:g}h (> {rule.factor:g}x)"
    )
    return fires, why


def _fmt(rate: float) -> str:
    return "inf" if math.isinf(rate) else f"{rate:.2f}"


def _excess(evaluation: SeriesEvaluation) -> float:
    anomaly = sum(max(a.impact, 0.0) for a in evaluation.anomalies)
    projected = max((a.projected_month_impact for a in evaluation.anomalies), default=0.0)
    window = max((w.actual - w.expected for w in evaluation.windows), default=0.0)
    return max(anomaly, projected, window, 0.0)


def month_impact(evaluation: SeriesEvaluation, long_hours: float) -> float:
    """The $ a month the excess adds if it goes on: the long window's excess rate over a month, or the
    open anomalies' own projection, whichever is larger."""
    window = pick_window(evaluation.windows, long_hours)
    rate = 0.0 if window is None else (window.actual - window.expected) / window.hours * HOURS_PER_MONTH
    projected = max((a.projected_month_impact for a in evaluation.anomalies), default=0.0)
    return max(rate, projected, 0.0)


def product_share(month: float, product_month: float | None) -> float | None:
    """``month`` as a % of the product's monthly spend (None when that spend is unknown)."""
    return month / product_month * 100.0 if product_month is not None and product_month > 0 else None


def material(month: float, share: float | None, policy: BurnRatePolicy) -> bool:
    """A month impact crosses the ticket's $ and % thresholds (an unknown share never crosses a % one)."""
    enough = policy.ticket_month_impact is None or month >= policy.ticket_month_impact
    large = policy.ticket_month_impact_pct is None or (
        share is not None and share >= policy.ticket_month_impact_pct
    )
    return enough and large


def sustained_hours(evaluation: SeriesEvaluation, long_hours: float) -> float:
    """The long window a "sustained" excess is judged on: ``long_hours``, but never less than two of the
    series' periods (on daily data the 24 h window is one day, and one day is a blip, not a trend)."""
    period = evaluation.granularity.step / timedelta(hours=1)
    return max(long_hours, 2.0 * period)


def realized_excess(evaluation: SeriesEvaluation) -> float:
    """The $ the open events have actually spent over their expected spend so far (no projection)."""
    return sum(max(a.impact, 0.0) for a in evaluation.anomalies)


def _money_ticket(
    evaluation: SeriesEvaluation, policy: BurnRatePolicy, product_month: float | None
) -> tuple[bool, str]:
    """The ticket-by-money rule (see the module docstring); never fires with a threshold it cannot check."""
    if policy.ticket_month_impact is None and policy.ticket_month_impact_pct is None:
        return False, ""
    if not evaluation.anomalies:
        return False, ""  # money alone is no finding: the detector must see an event to explain it
    # Like a cost-anomaly threshold on total impact: what a one-off excess projects to over a month is no
    # reason to ticket it while what it has actually cost is under the floor.
    if realized_excess(evaluation) < policy.materiality_floor:
        return False, ""
    long_hours = sustained_hours(evaluation, policy.ticket.long_hours)
    sustained, _ = _rule_fires(
        evaluation.windows, BurnRule(policy.sustained_factor, long_hours, policy.ticket.short_hours)
    )
    if not sustained:
        return False, ""
    impact = month_impact(evaluation, long_hours)
    share = product_share(impact, product_month)
    if not material(impact, share, policy):
        return False, ""
    long_w = pick_window(evaluation.windows, long_hours)
    burn = f" at {_fmt(long_w.burn_rate)}x over {long_w.hours:g}h" if long_w is not None else ""
    of_product = f" ({share:.1f}% of the product's month)" if share is not None else ""
    return True, f"sustained excess{burn} adds {impact:,.2f} a month{of_product}"


def event_periods(anomaly: Anomaly, step: timedelta) -> int:
    """How many periods the event spans, its first and last included."""
    return int((anomaly.end - anomaly.start) / step) + 1


def _event_ticket(
    evaluation: SeriesEvaluation, policy: BurnRatePolicy, product_month: float | None
) -> tuple[bool, str]:
    """The early ticket by a lasting detector event (see the module docstring)."""
    if policy.event_min_periods <= 0:
        return False, ""
    if policy.ticket_month_impact is None and policy.ticket_month_impact_pct is None:
        return False, ""
    step = evaluation.granularity.step
    hour = timedelta(hours=1)
    needed = max(policy.event_min_periods, math.ceil(policy.event_min_hours * hour / step))
    # The newest closed period starts one step before the sweep: an event that stopped earlier is over,
    # whatever its rate was (one period of slack: the newest may be held back as incomplete).
    newest = evaluation.as_of - step
    for a in evaluation.anomalies:
        # Only what the detector itself flagged: a "sustained" reading is the 72 h window's, judged by the
        # money rule, and new spend has its own rule.
        if a.kind != "anomaly" or a.direction != "up" or a.impact <= 0 or a.expected <= 0:
            continue
        periods = event_periods(a, step)
        if periods < needed or a.end < newest - step:
            continue
        ratio = a.actual / a.expected
        if ratio <= policy.sustained_factor:
            continue
        per_hour = a.impact / (periods * step / hour)
        # The materiality floor, as the money rule's is on the $ actually spent: two hours have not spent
        # it yet, so their rate must, within a day (a one-off $60 spread over a day never does).
        if per_hour * 24.0 < policy.materiality_floor:
            continue
        impact = per_hour * HOURS_PER_MONTH
        share = product_share(impact, product_month)
        if not material(impact, share, policy):
            continue
        of_product = f" ({share:.1f}% of the product's month)" if share is not None else ""
        return True, (
            f"anomaly for {periods} periods at {ratio:.2f}x adds {impact:,.2f} a month if it goes on{of_product}"
        )
    return False, ""


def _new_spend(
    evaluation: SeriesEvaluation,
    policy: BurnRatePolicy,
    monthly_budget: float | None,
    projection: float | None,
    product_month: float | None,
    burn: float | None,
    excess: float,
) -> SeverityDecision | None:
    """Severity of spend where there was none: against the product's month and the budget, since the new
    series has no history of its own to burn against (``None`` when the evaluation has no new spend)."""
    fresh = [a for a in evaluation.anomalies if a.kind == "new_spend"]
    if not fresh:
        return None
    month = max(a.projected_month_impact for a in fresh)
    share = product_share(month, product_month)
    said = f"new spend: {month:,.2f} a month" + (
        f" ({share:.1f}% of the product's month)" if share is not None else ""
    )
    if share is not None and share >= policy.new_spend_page_pct:
        return SeverityDecision(Severity.PAGE, burn, excess, (f"{said} ≥ {policy.new_spend_page_pct:g}%",))
    if monthly_budget is not None and monthly_budget > 0:
        projected = evaluation.month_projection if projection is None else projection
        if projected / monthly_budget >= policy.budget_share:
            return SeverityDecision(
                Severity.PAGE,
                burn,
                excess,
                (f"{said}; month-end projection {projected / monthly_budget:.0%} of budget",),
            )
    if material(month, share, policy):
        return SeverityDecision(Severity.TICKET, burn, excess, (said,))
    return SeverityDecision(Severity.NONE, burn, excess, (f"{said}: like the rest of its product, watched",))


def classify_severity(
    evaluation: SeriesEvaluation,
    policy: BurnRatePolicy,
    monthly_budget: float | None = None,
    projection: float | None = None,
    product_month: float | None = None,
) -> SeverityDecision:
    """Return page, ticket or none for one series at ``evaluation.as_of``, with the reasons.

    ``projection`` is the month-end projection the budget governs: the series' own by default, the
    product's total when the budget is the whole product's. ``product_month`` is the product's projected
    monthly spend, which the ticket-by-money rule's % is of (without it, that rule does not fire).
    """
    long_page = pick_window(evaluation.windows, policy.page.long_hours)
    burn = long_page.burn_rate if long_page is not None else None
    excess = _excess(evaluation)
    if excess < policy.materiality_floor:
        return SeverityDecision(
            Severity.NONE, burn, excess, (f"excess {excess:.2f} below floor {policy.materiality_floor:g}",)
        )
    fresh = _new_spend(evaluation, policy, monthly_budget, projection, product_month, burn, excess)
    if fresh is not None:
        return fresh
    reasons: list[str] = []
    page, why = _rule_fires(evaluation.windows, policy.page)
    if page:
        reasons.append(why)
    if monthly_budget is not None and monthly_budget > 0:
        short = pick_window(evaluation.windows, policy.page.short_hours)
        growing = short is not None and short.burn_rate >= policy.budget_growth
        projected = evaluation.month_projection if projection is None else projection
        share = projected / monthly_budget
        if share >= policy.budget_share and growing:
            page = True
            reasons.append(
                f"month-end projection {projected:.2f} is {share:.0%} of budget "
                f"{monthly_budget:.2f} and growing"
            )
    if page:
        return SeverityDecision(Severity.PAGE, burn, excess, tuple(reasons))
    ticket, why = _rule_fires(evaluation.windows, policy.ticket)
    if ticket:
        return SeverityDecision(Severity.TICKET, burn, excess, (why,))
    money, why = _money_ticket(evaluation, policy, product_month)
    if money:
        return SeverityDecision(Severity.TICKET, burn, excess, (why,))
    early, why = _event_ticket(evaluation, policy, product_month)
    if early:
        return SeverityDecision(Severity.TICKET, burn, excess, (why,))
    return SeverityDecision(Severity.NONE, burn, excess, ("burn rate within policy",))
