"""The price/usage split (midpoint rule) on hand-computed tables, and through root-cause ranking."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from core.errors import InputError
from detector.explain import explain_anomaly
from detector.price_usage import split_change
from detector.root_cause import rank_root_causes

nan = float("nan")


def arr(*values: float) -> np.ndarray:
    return np.array(values, dtype=np.float64)


# (case, C1 actual $, C0 expected $, Q1, Q0, usage effect, price effect, driver)
CASES = [
    # 100 units at $1 -> 300 units at $1: all usage.
    ("pure usage", arr(300), arr(100), arr(300), arr(100), 200.0, 0.0, "usage"),
    # 100 units at $1 -> 100 units at $2.5: all price.
    ("pure price", arr(250), arr(100), arr(100), arr(100), 0.0, 150.0, "price"),
    # 100 at $1 -> 200 at $1.5: usage = 100 * 1.25 = 125, price = 0.5 * 150 = 75.
    ("both", arr(300), arr(100), arr(200), arr(100), 125.0, 75.0, "mix"),
    # a leaf that vanishes: its price counts as unchanged, the whole drop is usage.
    ("vanishes", arr(0), arr(80), arr(0), arr(40), -80.0, 0.0, "usage"),
    # a new leaf: all usage.
    ("new leaf", arr(50), arr(0), arr(25), arr(0), 50.0, 0.0, "usage"),
    # a fee with no quantity on either side: all price.
    ("zero quantities", arr(30), arr(10), arr(0), arr(0), 0.0, 20.0, "price"),
    # a credit (negative cost): -1 per unit on 10 units -> -1 per unit on 20 units: usage only.
    ("credit", arr(-20), arr(-10), arr(20), arr(10), -10.0, 0.0, "usage"),
    # two leaves in different units add their $ effects: +100 usage on A, +50 price on B.
    ("two leaves", arr(200, 100), arr(100, 50), arr(200, 10), arr(100, 10), 100.0, 50.0, "mix"),
    # an unknown quantity on a leaf whose cost did not move does not spoil the split.
    ("unknown but flat", arr(250, 40), arr(100, 40), arr(100, nan), arr(100, nan), 0.0, 150.0, "price"),
]


@pytest.mark.parametrize(("case", "c1", "c0", "q1", "q0", "usage", "price", "driver"), CASES)
def test_split_on_hand_computed_tables(
    case: str,
    c1: np.ndarray,
    c0: np.ndarray,
    q1: np.ndarray,
    q0: np.ndarray,
    usage: float,
    price: float,
    driver: str,
) -> None:
    split = split_change(c1, c0, q1, q0)
    assert split.usage_effect == pytest.approx(usage), case
    assert split.price_effect == pytest.approx(price), case
    assert split.driver == driver, case
    # The two effects always add up to the change.
    assert (split.usage_effect or 0) + (split.price_effect or 0) == pytest.approx(float(c1.sum() - c0.sum()))


def test_unknown_quantity_on_a_changed_leaf_makes_the_split_unknown() -> None:
    split = split_change(arr(250, 80), arr(100, 40), arr(100, nan), arr(100, 20))
    assert split.usage_effect is None and split.price_effect is None and split.driver == "unknown"


def test_percentages_and_the_price_summary() -> None:
    price_rise = split_change(arr(250), arr(100), arr(101), arr(100))
    assert price_rise.usage_change_pct == pytest.approx(1.0)
    assert price_rise.price_change_pct == pytest.approx(250 / 101 / 1.0 * 100 - 100)
    assert price_rise.summary == "+148% price, usage flat"
    # Usage that moved is not "flat": no price summary even when price dominates.
    assert split_change(arr(400), arr(100), arr(120), arr(100)).summary is None
    assert split_change(arr(300), arr(100), arr(300), arr(100)).summary is None


def leaf_table() -> pd.DataFrame:
    # cdn's unit price rises 2.5x on flat usage; compute's usage triples at the same price.
    return pd.DataFrame(
        {
            "service": ["cdn", "cdn", "compute", "compute", "db"],
            "region": ["eu", "us", "eu", "us", "eu"],
            "actual": [250.0, 250.0, 300.0, 300.0, 100.0],
            "expected": [100.0, 100.0, 100.0, 100.0, 100.0],
            "actual_quantity": [1000.0, 1000.0, 150.0, 150.0, None],
            "expected_quantity": [1000.0, 1000.0, 50.0, 50.0, None],
        }
    )


def test_rank_root_causes_carries_the_split_of_each_cause() -> None:
    result = rank_root_causes(
        leaf_table(), actual_quantity="actual_quantity", expected_quantity="expected_quantity"
    )
    by_dims = {tuple(sorted(c.dimensions.items())): c for c in result.root_causes}
    cdn = by_dims[(("service", "cdn"),)]
    assert cdn.split.driver == "price" and cdn.split.price_effect == pytest.approx(300.0)
    compute = by_dims[(("service", "compute"),)]
    assert compute.split.driver == "usage" and compute.split.usage_effect == pytest.approx(400.0)
    out = cdn.to_dict()
    assert out["usage_effect"] + out["price_effect"] == pytest.approx(out["contribution"])


def test_without_quantity_columns_the_split_is_unknown() -> None:
    result = rank_root_causes(leaf_table().drop(columns=["actual_quantity", "expected_quantity"]))
    assert result.root_causes
    assert all(c.to_dict()["driver"] == "unknown" for c in result.root_causes)
    assert all(c.to_dict()["usage_effect"] is None for c in result.root_causes)


def test_quantity_columns_are_validated() -> None:
    with pytest.raises(InputError) as err:
        rank_root_causes(leaf_table(), actual_quantity="actual_quantity")
    assert err.value.field == "expected_quantity"
    bad = leaf_table().astype({"actual_quantity": object})
    bad.loc[0, "actual_quantity"] = "lots"
    with pytest.raises(InputError) as err:
        rank_root_causes(bad, actual_quantity="actual_quantity", expected_quantity="expected_quantity")
    assert err.value.field == "actual_quantity"


def test_explain_anomaly_splits_causes_from_facts_with_quantities() -> None:
    # Four quiet days, then cdn's price rises 2.5x on flat usage and compute's usage doubles.
    rows = []
    for day in range(5):
        t = pd.Timestamp("2026-09-01") + pd.Timedelta(days=day)
        cdn_price = 0.25 if day == 4 else 0.1
        compute_units = 40.0 if day == 4 else 20.0
        rows += [
            {"timestamp": t, "service": "cdn", "value": 1000 * cdn_price, "quantity": 1000.0},
            {"timestamp": t, "service": "compute", "value": compute_units * 5, "quantity": compute_units},
            {"timestamp": t, "service": "db", "value": 100.0, "quantity": 10.0},
        ]
    facts = pd.DataFrame(rows)
    at = pd.Timestamp("2026-09-05")
    causes = explain_anomaly(facts, [(at, 300.0)], dimensions=["service"], shares_before=at)
    by_service = {c.dimensions.get("service"): c for c in causes}
    assert by_service["cdn"].split.driver == "price"
    assert by_service["cdn"].split.summary == "+150% price, usage flat"
    assert by_service["compute"].split.driver == "usage"
    for cause in causes:
        total = (cause.split.usage_effect or 0.0) + (cause.split.price_effect or 0.0)
        assert total == pytest.approx(cause.contribution)
    assert not math.isnan(by_service["cdn"].split.price_effect or nan)
