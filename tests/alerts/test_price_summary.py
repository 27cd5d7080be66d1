"""Notifications of a price change: the summary line names it, details carry each cause's split."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from alerts.lifecycle import IncidentState
from alerts.notifiers.text import render_text
from alerts.severity import Severity
from alerts.summary import build_notification

T0 = datetime(2026, 9, 1, tzinfo=UTC)


def cause(driver: str, usage_pct: float | None, price_pct: float | None, **extra: Any) -> dict[str, Any]:
    return {
        "dimensions": {"service": "Amazon CloudFront", "sku": "cf-dto"},
        "actual": 250.0,
        "expected": 100.0,
        "contribution": 150.0,
        "share": 1.0,
        "usage_effect": 2.0,
        "price_effect": 148.0,
        "driver": driver,
        "usage_change_pct": usage_pct,
        "price_change_pct": price_pct,
        **extra,
    }


def state(causes: list[dict[str, Any]]) -> IncidentState:
    return IncidentState(
        id="i",
        fingerprint="fp",
        product="media",
        cost_line="Amazon CloudFront",
        currency="USD",
        scope="default",
        status="open",
        severity=Severity.TICKET,
        peak_severity=Severity.TICKET,
        opened_at=T0,
        updated_at=T0,
        impact=150.0,
        actual=250.0,
        expected=100.0,
        root_causes=causes,
    )


@pytest.mark.parametrize(
    ("top", "says"),
    [
        (
            cause("price", 1.2, 147.6),
            "top cause Amazon CloudFront cf-dto: +148% price, usage flat",
        ),
        (cause("price", 12.0, 120.0), None),  # usage moved too: not "flat"
        (cause("usage", 140.0, 0.0), None),
        (cause("unknown", None, None), None),
    ],
)
def test_summary_names_a_price_change_on_flat_usage(top: dict[str, Any], says: str | None) -> None:
    summary = build_notification(state([top]), "open", seq=1, link="", labels={}).summary
    assert summary.startswith("media / Amazon CloudFront: +150.00 USD over expected (ticket)")
    if says:
        assert says in summary
    else:
        assert "usage flat" not in summary


def test_details_carry_the_split_of_every_cause_and_old_incidents_read_as_unknown() -> None:
    old = {"dimensions": {"region": "eu"}, "actual": 1.0, "expected": 0.0, "contribution": 1.0, "share": 0.1}
    n = build_notification(state([cause("price", 1.2, 147.6), old]), "open", seq=1, link="", labels={})
    new_c, old_c = n.details["root_causes"]
    assert (new_c["driver"], new_c["usage_effect"], new_c["price_effect"]) == ("price", 2.0, 148.0)
    assert (old_c["driver"], old_c["usage_effect"], old_c["price_effect"]) == ("unknown", None, None)
    text = render_text(n)
    assert "usage 2.00 USD, price 148.00 USD: price" in text


@pytest.mark.parametrize(
    ("dimensions", "label", "named"),
    [
        # No description kept: the values, service first, never key=value.
        (
            {"sku": "DataTransfer-Out-Bytes", "service": "Amazon CloudFront"},
            None,
            "Amazon CloudFront DataTransfer-Out-Bytes",
        ),
        ({"tag_team": "web", "region": "eu-west-1"}, None, "eu-west-1 web"),
        # A readable label (service and description) wins over the values.
        ({"sku": "cf-dto"}, "Amazon CloudFront data transfer out", "Amazon CloudFront data transfer out"),
        ({"sku": "cf-dto"}, "  ", "cf-dto"),  # a blank label is no label
    ],
)
def test_a_price_change_is_named_by_a_readable_label(
    dimensions: dict[str, str], label: str | None, named: str
) -> None:
    top = {**cause("price", 1.2, 147.6), "dimensions": dimensions}
    if label is not None:
        top["label"] = label
    n = build_notification(state([top]), "open", seq=1, link="", labels={})
    assert f"top cause {named}: +148% price, usage flat" in n.summary
    assert n.details["root_causes"][0]["label"] == named
    assert n.details["root_causes"][0]["dimensions"] == dimensions  # the pairs stay, as before
