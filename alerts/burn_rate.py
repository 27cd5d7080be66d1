"""Burn-rate severity: how fast a series spends compared with its expected (or budgeted) rate.

Multi-window, as in Google's SRE workbook: a rule fires only when both a long window (the spend is
material, not a blip) and a short window (it is still happening) burn faster than the rule's factor.
Seed policy: page above 3x on both windows, or when the month-end projection crosses 90% of the monthly
budget while spend is growing; ticket above 1.5x sustained over 24 h; nothing below a $ floor.
Pure functions over a ``SeriesEvaluation``: no clock, no database.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

from alerts.severity import Severity
from core.anomaly import SeriesEvaluation, WindowSpend


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


def classify_severity(
    evaluation: SeriesEvaluation,
    policy: BurnRatePolicy,
    monthly_budget: float | None = None,
    projection: float | None = None,
) -> SeverityDecision:
    """Return page, ticket or none for one series at ``evaluation.as_of``, with the reasons.

    ``projection`` is the month-end projection the budget governs: the series' own by default, the
    product's total when the budget is the whole product's.
    """
    long_page = pick_window(evaluation.windows, policy.page.long_hours)
    burn = long_page.burn_rate if long_page is not None else None
    excess = _excess(evaluation)
    if excess < policy.materiality_floor:
        return SeverityDecision(
            Severity.NONE, burn, excess, (f"excess {excess:.2f} below floor {policy.materiality_floor:g}",)
        )
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
    return SeverityDecision(Severity.NONE, burn, excess, ("burn rate within policy",))
