"""Explaining an event from coded leaf facts gives what the frame-based path gives on the same facts: the
same causes in the same order, the same dollars, shares and price/usage splits, to the bit, on random
tables that cover sporadic leaves, credits, unknown quantities, daily and hourly periods."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from detector.explain import explain_anomaly
from detector.explain_coded import NotCoded, explain_coded
from detector.leaf_codes import code_leaf_facts
from detector.leaf_expectation import reference_periods, reference_times
from detector.root_cause import RootCause

DIMS = ("service", "region", "account")


def random_facts(rng: np.random.Generator, *, hourly: bool, quantity: bool) -> pd.DataFrame:
    dims = DIMS[: int(rng.integers(1, 4))]
    cards = {d: int(rng.integers(1, 5)) for d in dims}
    step = pd.Timedelta(hours=1) if hourly else pd.Timedelta(days=1)
    periods = int(rng.integers(3, 40))
    scale = float(10.0 ** rng.integers(-2, 7))
    rows = []
    for p in range(periods):
        t = pd.Timestamp("2026-08-01") + p * step
        for combo in np.ndindex(*(cards[d] for d in dims)):
            if rng.random() < 0.25:
                continue  # a sporadic leaf: no row in this period
            value = round(float(rng.gamma(2.0, scale)), 2)
            if rng.random() < 0.05:
                value = -value  # a credit
            if rng.random() < 0.05:
                value = 0.0
            if p >= periods - 3 and combo[0] == 0 and rng.random() < 0.7:
                value *= float(rng.choice([3.0, 0.2, 10.0]))  # the event, in one value of one dimension
            row: dict[str, object] = {"timestamp": t, "value": value}
            row.update({d: f"{d}-{c}" for d, c in zip(dims, combo, strict=True)})
            if quantity:
                row["quantity"] = np.nan if rng.random() < 0.1 else round(float(rng.gamma(2.0, 10.0)), 3)
            rows.append(row)
    frame = pd.DataFrame(rows)
    if frame.empty:
        frame = pd.DataFrame(
            [{"timestamp": pd.Timestamp("2026-08-01"), "value": 1.0, **{d: f"{d}-0" for d in dims}}]
        )
        if quantity:
            frame["quantity"] = 1.0
    return frame[["timestamp", *dims, "value", *(["quantity"] if quantity else [])]]


def same(a: list[RootCause], b: list[RootCause]) -> bool:
    if [c.dimensions for c in a] != [c.dimensions for c in b]:
        return False
    for x, y in zip(a, b, strict=True):
        for u, v in zip(x.to_dict().values(), y.to_dict().values(), strict=True):
            if isinstance(u, float) and isinstance(v, float) and math.isnan(u) and math.isnan(v):
                continue
            if u != v:
                return False
    return True


@pytest.mark.parametrize("seed", range(300))
def test_coded_events_are_explained_as_the_frame_based_path_explains_them(seed: int) -> None:
    rng = np.random.default_rng(seed)
    hourly, quantity = bool(seed % 3 == 0), bool(seed % 2 == 0)
    facts = random_facts(rng, hourly=hourly, quantity=quantity)
    dims = [c for c in facts.columns if c not in ("timestamp", "value", "quantity")]
    times = pd.DatetimeIndex(facts["timestamp"].unique()).sort_values()
    start = times[int(rng.integers(0, len(times)))]
    periods = times[times >= start][-7:]
    totals = [(p, float(rng.gamma(2.0, 100.0)) if rng.random() > 0.1 else math.nan) for p in periods]
    coded = code_leaf_facts(
        facts, dims, time="timestamp", value="value", quantity="quantity" if quantity else None
    )
    assert coded is not None
    got = explain_coded(coded, coded.rows[()], [(p.value, v) for p, v in totals], shares_before=start.value)
    want = explain_anomaly(facts, totals, dimensions=dims, shares_before=start)
    assert same(got, want), (got, want)


def test_the_reference_periods_are_chosen_alike() -> None:
    rng = np.random.default_rng(7)
    for _ in range(500):
        step = pd.Timedelta(hours=int(rng.choice([1, 24])))
        seen = pd.DatetimeIndex(
            sorted({pd.Timestamp("2026-08-01") + int(k) * step for k in rng.integers(0, 60, 30)})
        )
        at = seen[-1] + int(rng.integers(1, 3)) * step
        want, _ = reference_periods(seen, at)
        got = reference_times(np.asarray(seen.as_unit("ns").asi8), at.value)
        assert got == [t.value for t in want]


def test_what_the_frame_based_path_sums_or_refuses_is_not_coded() -> None:
    facts = pd.DataFrame(
        {
            "timestamp": pd.to_datetime(["2026-08-01", "2026-08-01"]),
            "region": ["eu", "eu"],
            "value": [1.0, 2.0],
        }
    )
    assert code_leaf_facts(facts, ["region"], time="timestamp", value="value") is None  # one leaf twice
    facts.loc[1, "region"] = None
    assert code_leaf_facts(facts, ["region"], time="timestamp", value="value") is None  # a missing value
    facts.loc[1, "region"], facts.loc[1, "value"] = "us", math.inf
    assert code_leaf_facts(facts, ["region"], time="timestamp", value="value") is None  # not finite


def test_a_period_inside_the_reference_window_is_left_to_the_frame_based_path() -> None:
    facts = random_facts(np.random.default_rng(1), hourly=False, quantity=False)
    dims = [c for c in facts.columns if c not in ("timestamp", "value")]
    coded = code_leaf_facts(facts, dims, time="timestamp", value="value")
    assert coded is not None
    first = pd.Timestamp(facts["timestamp"].min()).value
    with pytest.raises(NotCoded):
        explain_coded(coded, coded.rows[()], [(first, 1.0)], shares_before=first + 1)
