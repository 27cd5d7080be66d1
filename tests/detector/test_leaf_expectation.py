"""Splitting a forecast total over leaves by their recent (same weekday/hour) share of the spend."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from core.errors import InputError
from detector.leaf_expectation import disaggregate_expected, reference_periods
from detector.root_cause import rank_root_causes


def daily_facts(days: int, values: dict[str, float], start: str = "2024-09-01") -> pd.DataFrame:
    rows = [
        {"timestamp": ts, "service": service, "value": value}
        for ts in pd.date_range(start, periods=days, freq="D")
        for service, value in values.items()
    ]
    return pd.DataFrame(rows)


def by_service(leaves: pd.DataFrame, column: str) -> dict[str, float]:
    return {str(k): float(v) for k, v in leaves.set_index("service")[column].items()}


def test_total_is_split_by_recent_share() -> None:
    history = daily_facts(5, {"Compute": 50.0, "Storage": 30.0, "Network": 20.0})
    today = pd.DataFrame(
        [{"timestamp": pd.Timestamp("2024-09-06"), "service": s, "value": v} for s, v in [("Compute", 90.0)]]
    )
    leaves = disaggregate_expected(pd.concat([history, today]), 200.0, at="2024-09-06")
    assert by_service(leaves, "expected") == pytest.approx(
        {"Compute": 100.0, "Storage": 60.0, "Network": 40.0}
    )
    assert by_service(leaves, "actual") == {"Compute": 90.0, "Storage": 0.0, "Network": 0.0}
    assert leaves["expected"].sum() == pytest.approx(200.0)


def test_weekly_season_uses_the_same_weekday_and_hour() -> None:
    # Batch spend runs only on Monday at 02:00; elsewhere the web tier dominates.
    hours = pd.date_range("2024-09-02", "2024-09-30 02:00", freq="h")
    rows = []
    for ts in hours:
        batch = 80.0 if (ts.weekday() == 0 and ts.hour == 2) else 1.0
        rows += [
            {"timestamp": ts, "service": "batch", "value": batch},
            {"timestamp": ts, "service": "web", "value": 20.0},
        ]
    facts = pd.DataFrame(rows)
    at = pd.Timestamp("2024-09-30 02:00")  # a Monday
    refs, season = reference_periods(pd.DatetimeIndex(facts["timestamp"]), at)
    assert season == "weekly"
    assert refs == [at - pd.Timedelta(days=7 * k) for k in range(1, 5)]
    leaves = disaggregate_expected(facts, 100.0, at=at)
    assert by_service(leaves, "expected") == pytest.approx({"batch": 80.0, "web": 20.0})
    flat = disaggregate_expected(facts, 100.0, at=at, season="none")
    assert by_service(flat, "expected")["batch"] < 10.0


def test_daily_season_when_history_is_shorter_than_a_week() -> None:
    hours = pd.date_range("2024-09-01", "2024-09-04 09:00", freq="h")
    rows = [
        {"timestamp": ts, "service": s, "value": (30.0 if ts.hour == 9 else 10.0) if s == "etl" else 10.0}
        for ts in hours
        for s in ("etl", "api")
    ]
    at = pd.Timestamp("2024-09-04 09:00")
    _, season = reference_periods(pd.DatetimeIndex([r["timestamp"] for r in rows]), at)
    assert season == "daily"
    leaves = disaggregate_expected(pd.DataFrame(rows), 40.0, at=at)
    assert by_service(leaves, "expected") == pytest.approx({"etl": 30.0, "api": 10.0})


def test_one_anomalous_reference_period_does_not_move_the_share() -> None:
    facts = daily_facts(4, {"Compute": 50.0, "Storage": 50.0})
    facts.loc[(facts["timestamp"] == "2024-09-02") & (facts["service"] == "Compute"), "value"] = 950.0
    leaves = disaggregate_expected(facts, 100.0, at="2024-09-05", season="none")
    assert by_service(leaves, "expected") == pytest.approx({"Compute": 50.0, "Storage": 50.0})


def test_new_leaf_gets_zero_expected_and_ranks_as_the_cause() -> None:
    history = daily_facts(7, {"Compute": 60.0, "Storage": 40.0})
    today = pd.DataFrame(
        [
            {"timestamp": pd.Timestamp("2024-09-08"), "service": "Compute", "value": 61.0},
            {"timestamp": pd.Timestamp("2024-09-08"), "service": "Storage", "value": 39.5},
            {"timestamp": pd.Timestamp("2024-09-08"), "service": "GPU", "value": 400.0},
        ]
    )
    leaves = disaggregate_expected(pd.concat([history, today]), 100.0, at="2024-09-08")
    assert by_service(leaves, "expected")["GPU"] == 0.0
    assert by_service(leaves, "actual")["GPU"] == 400.0
    result = rank_root_causes(leaves)
    assert result.selected == [{"service": "GPU"}]


def test_several_dimensions_keep_their_leaves() -> None:
    rng = np.random.default_rng(3)
    rows = [
        {"timestamp": ts, "service": s, "region": r, "value": float(rng.uniform(5, 10))}
        for ts in pd.date_range("2024-09-01", periods=3, freq="D")
        for s in ("a", "b")
        for r in ("x", "y", "z")
    ]
    leaves = disaggregate_expected(pd.DataFrame(rows), 60.0, at="2024-09-03")
    assert list(leaves.columns) == ["service", "region", "actual", "expected"]
    assert len(leaves) == 6
    assert leaves["expected"].sum() == pytest.approx(60.0)


@pytest.mark.parametrize(
    ("facts", "kwargs", "field"),
    [
        (daily_facts(3, {"a": 1.0}), {"at": "2024-09-01"}, "facts"),
        (daily_facts(3, {"a": 0.0}), {"at": "2024-09-03"}, "facts"),
        (daily_facts(3, {"a": 1.0}).drop(columns=["value"]), {"at": "2024-09-03"}, "value"),
        (daily_facts(3, {"a": 1.0}), {"at": "2024-09-03", "dimensions": ["region"]}, "region"),
        (daily_facts(3, {"a": 1.0}), {"at": pd.Timestamp("2024-09-03", tz="UTC")}, "at"),
        (daily_facts(3, {"a": 1.0}).assign(value="n/a"), {"at": "2024-09-03"}, "value"),
    ],
)
def test_bad_input(facts: pd.DataFrame, kwargs: dict[str, object], field: str) -> None:
    with pytest.raises(InputError) as info:
        disaggregate_expected(facts, 10.0, **kwargs)  # type: ignore[arg-type]
    assert info.value.field == field
