"""Builds the receiver-neutral ``Notification`` of an incident: the one-line summary (product, cost
line, $ impact, top root cause) and the details every receiver shows (PagerDuty's custom_details)."""

from __future__ import annotations

import math
from typing import Any

from alerts.lifecycle import NEW_NORMAL, IncidentState
from alerts.notification import Action, Notification
from alerts.routing import routing_labels

# A usage change under this % is "flat" (the detector's price_usage.FLAT_PCT; alerts may not import it).
FLAT_PCT = 5.0


def _finite(value: float | None) -> float | None:
    return value if value is not None and math.isfinite(value) else None


def top_cause(state: IncidentState) -> dict[str, Any] | None:
    return state.root_causes[0] if state.root_causes else None


def incident_labels(state: IncidentState) -> dict[str, str]:
    """The labels routes and expected-change windows match ``state`` by, at its peak severity."""
    cause = top_cause(state)
    return routing_labels(
        product=state.product,
        cost_line=state.cost_line,
        currency=state.currency,
        scope=state.scope,
        severity=state.peak_severity.value,
        labels=state.labels,
        top_cause=cause["dimensions"] if cause else None,
    )


def _round(value: object, digits: int) -> float | None:
    return round(float(value), digits) if isinstance(value, int | float) and math.isfinite(value) else None


# Dimensions in the order a person reads a cost line: the service before what of it was used.
_LABEL_ORDER = ("service", "sku", "resource_type", "region", "account")


def cause_label(cause: dict[str, Any]) -> str:
    """A readable name of a cause: its ``label`` when one was built from the export's descriptions, else
    its dimension values (not ``key=value``), service first: ``Amazon CloudFront cf-dto``."""
    label = described(cause)
    if label:
        return label
    dims: dict[str, Any] = cause.get("dimensions") or {}
    ordered = sorted(
        dims, key=lambda d: (_LABEL_ORDER.index(d) if d in _LABEL_ORDER else len(_LABEL_ORDER), d)
    )
    return " ".join(str(dims[d]) for d in ordered)


def described(cause: dict[str, Any]) -> str | None:
    """The label built from the export's descriptions, when the cause has one (see ``cause_label``)."""
    label = cause.get("label")
    return label.strip() if isinstance(label, str) and label.strip() else None


def cause_title(cause: dict[str, Any]) -> str:
    """How a listing names a cause: a label from the export's descriptions leads, with the ``key=value``
    pairs beside it (what to filter on); without one, the pairs alone (``(all)`` for the whole series).

    A notification's causes carry a ``label`` even without a description (:func:`cause_details`: the
    dimension values); that one says nothing the pairs do not, so the pairs stand alone.
    """
    dims: dict[str, Any] = cause.get("dimensions") or {}
    pairs = " & ".join(f"{k}={v}" for k, v in dims.items())
    label = described(cause)
    if label and label != cause_label({"dimensions": dims}):
        return f"{label} ({pairs})" if pairs else label
    return pairs or "(all)"


def cause_details(cause: dict[str, Any]) -> dict[str, Any]:
    """One root cause as notifications carry it: its $, and how much of it is usage or unit price."""
    return {
        "dimensions": cause["dimensions"],
        "label": cause_label(cause),
        "contribution": round(float(cause["contribution"]), 2),
        "share": cause.get("share"),
        "usage_effect": _round(cause.get("usage_effect"), 2),
        "price_effect": _round(cause.get("price_effect"), 2),
        # Incidents stored before the split was made have none: unknown.
        "driver": cause.get("driver") or "unknown",
        "usage_change_pct": _round(cause.get("usage_change_pct"), 1),
        "price_change_pct": _round(cause.get("price_change_pct"), 1),
        # The top cause's culprit resources by excess $ (top 5): what to look at first.
        "resources": list(cause.get("resources") or [])[:5],
    }


def price_change_text(cause: dict[str, Any]) -> str | None:
    """``+150% price, usage flat`` when the cause is a unit-price change on flat usage (see price_usage)."""
    usage, price = cause.get("usage_change_pct"), cause.get("price_change_pct")
    if (
        cause.get("driver") != "price"
        or not isinstance(usage, int | float)
        or not isinstance(price, int | float)
    ):
        return None
    if abs(usage) >= FLAT_PCT:
        return None
    return f"{price:+.0f}% price, usage flat"


def new_normal_text(state: IncidentState) -> str | None:
    """What a new-normal resolve tells: the new level, since when, and the $ a month it adds."""
    shift = state.level_shift
    if state.resolution != NEW_NORMAL or shift is None:
        return None
    ratio = float(shift["ratio"])
    return (
        f"runs at {ratio:.2f}x its old baseline ({(ratio - 1) * 100:+.0f}%) since {str(shift['since'])[:10]}, "
        f"adding {float(shift['month_impact']):,.2f} {state.currency} a month; the new level is learned "
        "and no longer alerts"
    )


def summary_line(state: IncidentState, action: Action, change: str | None = None) -> str:
    sign = "+" if state.impact >= 0 else "-"
    text = (
        f"{state.product} / {state.cost_line}: {sign}{abs(state.impact):,.2f} {state.currency} "
        f"over expected ({state.peak_severity.value})"
    )
    cause = top_cause(state)
    # A cause the export described (a usage type: "Amazon CloudFront: data transfer out") is named so;
    # any other by its dimension pairs, which say which dimension each value is of.
    dims = (
        (described(cause) or " & ".join(f"{k}={v}" for k, v in cause["dimensions"].items())) if cause else ""
    )
    priced = price_change_text(cause) if cause else None
    if cause and priced:
        # The unit price moved, not usage: a contract or SKU matter, for a different owner than a runaway job.
        # Named as a person would name the line item, not as dimension pairs.
        text += f"; top cause {cause_label(cause)}: {priced} ({float(cause['contribution']):,.2f} {state.currency})"
    elif cause:
        text += f"; top cause {dims} ({float(cause['contribution']):,.2f} {state.currency})"
    if state.linked:
        text += f"; +{len(state.linked)} linked series"
    settled = new_normal_text(state) if action == "resolve" else None
    if settled:
        where = f"; top cause {dims}" if dims else ""
        return f"Resolved ({NEW_NORMAL}): {state.product} / {state.cost_line} {settled}{where}"
    if action == "resolve":
        return f"Resolved: {text}"
    return f"{text} — {change}" if change else text


def incident_details(
    state: IncidentState, *, link: str, month_to_date: float, month_projection: float, budget: float | None
) -> dict[str, Any]:
    return {
        "product": state.product,
        "cost_line": state.cost_line,
        "currency": state.currency,
        "scope": state.scope,
        "severity": state.peak_severity.value,
        "actual": round(state.actual, 2),
        "expected": round(state.expected, 2),
        "impact": round(state.impact, 2),
        "impact_pct": round(state.impact / state.expected * 100, 1) if state.expected > 0 else None,
        "burn_rate": None if _finite(state.burn_rate) is None else round(state.burn_rate or 0.0, 3),
        "projected_month_impact": round(state.projected_month_impact, 2),
        "month_to_date": round(month_to_date, 2),
        "month_projection": round(month_projection, 2),
        "budget": budget,
        "root_causes": [cause_details(c) for c in state.root_causes],
        "reasons": list(state.reasons),
        "resolution": state.resolution,
        "new_normal": dict(state.level_shift)
        if state.resolution == NEW_NORMAL and state.level_shift
        else None,
        "labels": dict(state.labels),  # e.g. the unit-economics verdict, team, env
        "incident_id": state.id,
        "opened_at": state.opened_at.isoformat(),
        "period_start": state.period_start.isoformat() if state.period_start else None,
        "period_end": state.period_end.isoformat() if state.period_end else None,
        "link": link,
    }


def build_notification(
    state: IncidentState,
    action: Action,
    *,
    seq: int,
    link: str,
    labels: dict[str, str],
    month_to_date: float = 0.0,
    month_projection: float = 0.0,
    budget: float | None = None,
    change: str | None = None,
) -> Notification:
    """The notification of ``state`` for ``action``; ``change`` (updates) says what is new since the last."""
    details = incident_details(
        state, link=link, month_to_date=month_to_date, month_projection=month_projection, budget=budget
    )
    if change:
        details["change"] = change
    if state.linked:
        # One problem, one notification: the series grouped with this one (alerts.grouping) are named here
        # and notify nothing of their own.
        details["linked"] = [dict(e) for e in state.linked]
    return Notification(
        action=action,
        incident_id=state.id,
        fingerprint=state.fingerprint,
        seq=seq,
        product=state.product,
        cost_line=state.cost_line,
        currency=state.currency,
        severity=state.peak_severity.value,
        summary=summary_line(state, action, change),
        details=details,
        labels=labels,
        link=link,
        at=state.updated_at.isoformat(),
        started_at=state.opened_at.isoformat(),
        escalated_from=(
            state.notified_severity.value
            if action == "update"
            and state.notified_severity is not None
            and state.peak_severity > state.notified_severity
            else ""
        ),
    )
