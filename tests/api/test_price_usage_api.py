"""Price vs usage through the API: ``/v1/score`` breakdowns with quantities and ``/v1/root-causes``."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from core.clock import FixedClock
from core.settings import Settings

CLOCK = FixedClock(datetime(2030, 1, 1, tzinfo=UTC))


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 'state.db'}", data_dir=tmp_path / "data", _env_file=None
    )
    with TestClient(create_app(settings, clock=CLOCK)) as c:
        yield c


def scored(client: TestClient, *, price_rise: bool) -> dict[str, Any]:
    """90 days of two regions; on days 80-82 'us' costs +60: by a dearer unit, or by more units."""
    rng = np.random.default_rng(1)
    idx = pd.date_range("2024-01-01", periods=90, freq="D")
    series, breakdown = [], []
    for i, t in enumerate(idx):
        units = 500 + 50 * np.sin(i * 2 * np.pi / 7) + rng.normal(0, 5)
        spike = i in (80, 81, 82)
        us_units = units if price_rise or not spike else units * 2.2
        us_price = 0.1 * 2.2 if price_rise and spike else 0.1
        eu, us = units * 0.1, us_units * us_price
        series.append({"timestamp": t.isoformat(), "value": eu + us})
        breakdown += [
            {"timestamp": t.isoformat(), "dimensions": {"region": "eu"}, "value": eu, "quantity": units},
            {"timestamp": t.isoformat(), "dimensions": {"region": "us"}, "value": us, "quantity": us_units},
        ]
    res = client.post("/v1/score", json={"series": series, "breakdown": breakdown})
    assert res.status_code == 200, res.text
    return next(a for a in res.json()["anomalies"] if a["start"].startswith("2024-03-21"))


@pytest.mark.parametrize(("price_rise", "driver"), [(True, "price"), (False, "usage")])
def test_score_breakdown_with_quantities_names_the_driver(
    client: TestClient, price_rise: bool, driver: str
) -> None:
    top = scored(client, price_rise=price_rise)["root_causes"][0]
    assert top["dimensions"] == {"region": "us"} and top["driver"] == driver
    assert top["usage_effect"] + top["price_effect"] == pytest.approx(top["contribution"])


def test_root_causes_with_quantity_columns(client: TestClient) -> None:
    leaves = [
        {"sku": "cdn", "region": r, "actual": 250, "expected": 100, "qa": 1000, "qe": 1000}
        for r in ("eu", "us")
    ] + [
        {"sku": "vm", "region": r, "actual": 100, "expected": 100, "qa": None, "qe": None}
        for r in ("eu", "us")
    ]
    body = {"leaves": leaves, "actual_quantity": "qa", "expected_quantity": "qe"}
    res = client.post("/v1/root-causes", json=body)
    assert res.status_code == 200, res.text
    top = res.json()["root_causes"][0]
    assert top["dimensions"] == {"sku": "cdn"}  # the quantity columns are not dimensions
    assert (top["driver"], top["usage_effect"], top["price_effect"]) == ("price", 0.0, 300.0)
    assert top["price_change_pct"] == pytest.approx(150.0)
    # Without quantity columns the split is unknown, the rest unchanged.
    plain = [{k: v for k, v in leaf.items() if k not in ("qa", "qe")} for leaf in leaves]
    top = client.post("/v1/root-causes", json={"leaves": plain}).json()["root_causes"][0]
    assert top["driver"] == "unknown" and top["usage_effect"] is None


def test_root_causes_bad_quantity_is_422_naming_the_column(client: TestClient) -> None:
    leaves = [{"sku": "a", "actual": 2, "expected": 1, "qa": "lots", "qe": 1}]
    res = client.post(
        "/v1/root-causes", json={"leaves": leaves, "actual_quantity": "qa", "expected_quantity": "qe"}
    )
    assert res.status_code == 422 and "qa" in res.text


def test_incident_page_bar_stacks_usage_and_price() -> None:
    from api.ui.series_queries import cause_bar
    from api.ui.svg import bar_chart

    split = {"dimensions": {"sku": "cf-dto"}, "contribution": 150.0, "share": 1.0}
    bar = cause_bar({**split, "usage_effect": 30.0, "price_effect": 120.0, "driver": "price"})
    html = str(bar_chart([bar], currency="USD", title="t"))
    usage_w = float(html.split('data-role="bar-usage" x="0.0" y="0" width="')[1].split('"')[0])
    price_x = float(html.split('data-role="bar-price" x="')[1].split('"')[0])
    assert usage_w == pytest.approx(20.0) and price_x == pytest.approx(20.0)  # price starts where usage ends
    assert "price" in bar.note and "usage +30" in bar.note
    # Without a split, one plain bar as before.
    assert "bar-usage" not in str(bar_chart([cause_bar(split)], currency="USD", title="t"))
