"""Price or usage end to end: real facts with quantities, training on schedule, daily sweeps and a local
ticket receiver. One usage type's unit price rises 2.5x on flat usage (CDN data transfer); another's usage
jumps 2.5x at a flat price (compute hours, on one new resource). Each is one ticket whose top cause is that
usage type, with the driver that moved it and its culprit resources; the price rise is named as such in the
summary line."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import Engine

from tests.ingestion.focus_rows import row, write_csv
from tests.training.daily_replay import replay_into_tickets

START, DAYS, CHANGE = datetime(2026, 6, 1), 88, 80

# (product, service, usage type, unit, unit price, units a weekday, what happens from CHANGE on)
LINES = [
    ("media", "Amazon CloudFront", "cf-dto", "GB", 0.08, 9000.0, "price"),
    ("media", "Amazon CloudFront", "cf-req", "Requests", 0.01, 30000.0, None),
    ("shop", "Amazon EC2", "m6i-hours", "Hours", 0.2, 3000.0, "usage"),
    ("shop", "Amazon EC2", "ebs-gb", "GB-Mo", 0.1, 3000.0, None),
]


def export(path: Path) -> Path:
    rng = np.random.default_rng(11)
    rows = []
    for d in range(DAYS):
        day = START + timedelta(days=d)
        week = 1.0 if day.weekday() < 5 else 0.85
        for product, service, sku, unit, price, units, change in LINES:
            qty = units * week * (1 + rng.normal(0, 0.02))
            if change == "price" and d >= CHANGE:
                price *= 2.5  # the contract's rate, not the traffic
            if change == "usage" and d >= CHANGE:
                qty *= 2.5  # a fleet left scaled out
            # Three resources share the usage type; a usage spike is one new resource, left running.
            parts = [(f"{sku}-{n}", qty / 3) for n in range(3)]
            if change == "usage" and d >= CHANGE:
                parts = [(f"{sku}-{n}", qty / 2.5 / 3) for n in range(3)] + [("i-runaway", qty * 1.5 / 2.5)]
            for resource, units_of in parts:
                rows.append(
                    row(
                        start=day,
                        hours=24,
                        cost=round(units_of * price, 4),
                        product=product,
                        service=service,
                        SkuId=sku,
                        ConsumedQuantity=round(units_of, 4),
                        ConsumedUnit=unit,
                        ResourceId=resource,
                        ResourceName=f"name of {resource}",
                    )
                )
    return write_csv(path, rows)


def day(n: int, hour: int = 6) -> datetime:
    return (START + timedelta(days=n, hours=hour)).replace(tzinfo=UTC)


@pytest.mark.slow
def test_a_price_rise_and_a_usage_spike_are_told_apart(engine: Engine, tmp_path: Path) -> None:
    tickets = replay_into_tickets(
        engine, tmp_path, export(tmp_path / "export.csv"), start=day(CHANGE - 2), end=day(DAYS - 1)
    )
    opened = {b["cost_line"]: b for b in reversed(tickets) if b["action"] == "open"}
    assert set(opened) == {"Amazon CloudFront", "Amazon EC2"}, [b["summary"] for b in tickets]
    assert all(b["severity"] == "ticket" for b in opened.values())

    cdn = opened["Amazon CloudFront"]
    top = cdn["details"]["root_causes"][0]
    assert top["dimensions"] == {"sku": "cf-dto"} and top["driver"] == "price"
    assert top["usage_effect"] + top["price_effect"] == pytest.approx(top["contribution"], abs=0.02)
    assert abs(top["usage_change_pct"]) < 5 and top["price_change_pct"] == pytest.approx(150, abs=10)
    assert "top cause cf-dto: +1" in cdn["summary"] and "% price, usage flat" in cdn["summary"]

    compute = opened["Amazon EC2"]
    top = compute["details"]["root_causes"][0]
    assert top["dimensions"] == {"sku": "m6i-hours"} and top["driver"] == "usage"
    assert abs(top["price_change_pct"]) < 5 and top["usage_change_pct"] == pytest.approx(150, abs=15)
    assert "usage flat" not in compute["summary"]

    # Culprit resources of the top cause, by excess $: the runaway instance first, then nothing else rose.
    culprits = top["resources"]
    assert culprits[0]["resource_id"] == "i-runaway" and culprits[0]["resource_name"] == "name of i-runaway"
    assert culprits[0]["resource_type"] == "Instance" and culprits[0]["expected"] == 0
    assert culprits[0]["excess"] == pytest.approx(top["contribution"], rel=0.15)
    # Every CDN resource got dearer: all three are named, each with about a third of the excess.
    cdn_culprits = cdn["details"]["root_causes"][0]["resources"]
    assert sorted(r["resource_id"] for r in cdn_culprits) == ["cf-dto-0", "cf-dto-1", "cf-dto-2"]
