"""Root-cause ranking on hand-built leaf tables (one per situation to handle) and on real B0 instances."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from core.errors import InputError
from detector.root_cause import RootCauseResult, rank_root_causes
from detector.root_cause_search import group_ids

SERVICES = ["Compute", "Storage", "Database", "Network", "Analytics"]
REGIONS = ["eu-west-1", "eu-central-1", "us-east-1", "us-west-2", "ap-south-1", "sa-east-1"]
ACCOUNTS = ["prod", "staging", "dev", "shared"]


def leaf_table(seed: int = 1, noise: float = 0.01) -> pd.DataFrame:
    """Every service × region × account leaf, with actual within ~1% of expected."""
    rng = np.random.default_rng(seed)
    rows = list(itertools.product(SERVICES, REGIONS, ACCOUNTS))
    frame = pd.DataFrame(rows, columns=["service", "region", "account"])
    frame["expected"] = rng.lognormal(4.0, 1.0, len(frame)).round(2)
    frame["actual"] = frame["expected"] * rng.normal(1.0, noise, len(frame))
    return frame


def scale(frame: pd.DataFrame, factor: float, **where: str) -> pd.DataFrame:
    mask = np.ones(len(frame), dtype=bool)
    for column, value in where.items():
        mask &= (frame[column] == value).to_numpy()
    out = frame.copy()
    out.loc[mask, "actual"] = out.loc[mask, "actual"] * factor
    return out


def selected_set(result: RootCauseResult) -> set[frozenset[tuple[str, str]]]:
    return {frozenset(dims.items()) for dims in result.selected}


def element(**dims: str) -> frozenset[tuple[str, str]]:
    return frozenset(dims.items())


def test_single_cause_is_found_with_its_dollars() -> None:
    frame = scale(leaf_table(), 2.0, region="eu-west-1")
    result = rank_root_causes(frame)
    assert selected_set(result) == {element(region="eu-west-1")}
    top = result.root_causes[0]
    in_region = frame[frame["region"] == "eu-west-1"]
    assert top.dimensions == {"region": "eu-west-1"}
    assert top.actual == pytest.approx(in_region["actual"].sum())
    assert top.expected == pytest.approx(in_region["expected"].sum())
    assert top.contribution == pytest.approx(top.actual - top.expected)
    total = frame["actual"].sum() - frame["expected"].sum()
    assert top.share == pytest.approx(top.contribution / total)
    assert 0.9 < top.share < 1.1


def test_two_simultaneous_causes() -> None:
    frame = scale(scale(leaf_table(2), 3.0, region="us-east-1"), 1.8, service="Database")
    result = rank_root_causes(frame)
    assert selected_set(result) == {element(region="us-east-1"), element(service="Database")}


def test_cause_fixing_two_dimensions() -> None:
    frame = scale(leaf_table(3), 2.5, service="Compute", region="eu-west-1")
    result = rank_root_causes(frame)
    assert selected_set(result) == {element(service="Compute", region="eu-west-1")}


def test_causes_at_different_depths() -> None:
    frame = scale(leaf_table(4), 2.0, region="ap-south-1")
    frame = scale(frame, 3.0, service="Storage", account="dev")
    result = rank_root_causes(frame)
    assert selected_set(result) == {element(region="ap-south-1"), element(service="Storage", account="dev")}


def test_decrease_mixed_with_increase() -> None:
    frame = scale(leaf_table(5), 0.3, region="us-west-2")
    frame = scale(frame, 2.5, service="Network", region="eu-central-1")
    result = rank_root_causes(frame)
    assert selected_set(result) == {
        element(region="us-west-2"),
        element(service="Network", region="eu-central-1"),
    }
    by_name = {frozenset(c.dimensions.items()): c for c in result.root_causes}
    assert by_name[element(region="us-west-2")].contribution < 0
    assert by_name[element(service="Network", region="eu-central-1")].contribution > 0


def test_new_resources_with_zero_expected_spend() -> None:
    frame = leaf_table(6)
    new = pd.DataFrame(
        [(s, "me-central-1", a) for s in SERVICES for a in ACCOUNTS], columns=["service", "region", "account"]
    )
    new["expected"] = 0.0
    new["actual"] = np.linspace(20.0, 60.0, len(new))
    result = rank_root_causes(pd.concat([frame, new], ignore_index=True))
    assert selected_set(result) == {element(region="me-central-1")}
    top = result.root_causes[0]
    assert top.expected == 0.0
    assert top.contribution == pytest.approx(new["actual"].sum())


def test_a_single_new_leaf_is_its_own_cause() -> None:
    frame = leaf_table(7)
    extra = pd.DataFrame(
        [
            {
                "service": "Analytics",
                "region": "eu-west-1",
                "account": "sandbox",
                "expected": 0.0,
                "actual": 5e4,
            }
        ]
    )
    result = rank_root_causes(pd.concat([frame, extra], ignore_index=True))
    assert selected_set(result) == {element(account="sandbox")}


def test_no_deviation_gives_no_cause() -> None:
    frame = leaf_table(8, noise=0.0)
    result = rank_root_causes(frame)
    assert result.root_causes == []
    assert result.selected == []


def test_duplicate_leaves_are_summed() -> None:
    frame = scale(leaf_table(9), 2.0, service="Compute", region="us-east-1")
    halves = pd.concat(
        [frame.assign(actual=frame["actual"] / 2, expected=frame["expected"] / 2)] * 2, ignore_index=True
    )
    once = rank_root_causes(frame)
    twice = rank_root_causes(halves)
    assert twice.selected == once.selected
    assert twice.root_causes[0].contribution == pytest.approx(once.root_causes[0].contribution)


def test_explicit_dimensions_and_column_names() -> None:
    frame = scale(leaf_table(10), 2.0, account="staging").rename(
        columns={"actual": "cost", "expected": "fcst"}
    )
    frame["note"] = "ignored"
    result = rank_root_causes(
        frame, dimensions=["service", "region", "account"], actual="cost", expected="fcst"
    )
    assert selected_set(result) == {element(account="staging")}


def test_to_dict_is_the_contract_json_and_top_k_caps_the_list() -> None:
    frame = scale(scale(leaf_table(11), 2.0, region="eu-west-1"), 2.0, service="Network")
    result = rank_root_causes(frame, top_k=1)
    payload = result.to_dict()
    assert set(payload) == {"root_causes", "selected"}
    assert len(payload["root_causes"]) == 1
    # The contract's keys, plus the price/usage split (additive; unknown without quantities).
    contract = {"dimensions", "actual", "expected", "contribution", "share"}
    split = {"usage_effect", "price_effect", "driver", "usage_change_pct", "price_change_pct"}
    assert set(payload["root_causes"][0]) == contract | split
    assert len(payload["selected"]) == 2
    assert all(set(item) == {"dimensions"} for item in payload["selected"])
    # The selected causes come first, largest contribution first.
    full = rank_root_causes(frame)
    assert payload["root_causes"][0] == full.root_causes[0].to_dict()
    contributions = [abs(c.contribution) for c in full.root_causes[: len(full.selected)]]
    assert contributions == sorted(contributions, reverse=True)


def test_large_table_is_ranked_correctly() -> None:
    rng = np.random.default_rng(12)
    n = 60_000
    frame = pd.DataFrame(
        {f"d{j}": rng.integers(0, card, n).astype(str) for j, card in enumerate([6, 8, 10, 12, 15])}
    )
    frame = frame.drop_duplicates(ignore_index=True)
    frame["expected"] = rng.lognormal(2.0, 1.0, len(frame))
    frame["actual"] = frame["expected"] * rng.normal(1.0, 0.02, len(frame))
    hit = (frame["d1"] == "3") & (frame["d3"] == "7")
    frame.loc[hit, "actual"] *= 2.2
    result = rank_root_causes(frame)
    assert selected_set(result) == {element(d1="3", d3="7")}


@pytest.mark.parametrize(
    ("mutate", "field"),
    [
        (lambda f: f.drop(columns=["actual"]), "actual"),
        (lambda f: f.drop(columns=["expected"]), "expected"),
        (lambda f: f.assign(actual=np.where(f.index == 3, np.nan, f["actual"])), "actual"),
        (lambda f: f.assign(expected=np.where(f.index == 5, np.inf, f["expected"])), "expected"),
        (lambda f: f.assign(actual=f["actual"].astype(str).where(f.index != 2, "12 USD")), "actual"),
        (lambda f: f[["actual", "expected"]], "dimensions"),
    ],
)
def test_bad_input_names_the_field(mutate, field: str) -> None:
    with pytest.raises(InputError) as info:
        rank_root_causes(mutate(leaf_table()))
    assert info.value.field == field


def test_bad_arguments_are_input_errors() -> None:
    frame = leaf_table()
    with pytest.raises(InputError, match="top_k"):
        rank_root_causes(frame, top_k=0)
    with pytest.raises(InputError, match="zone"):
        rank_root_causes(frame, dimensions=["service", "zone"])
    with pytest.raises(InputError):
        rank_root_causes(frame, dimensions=["service", "actual"])


def _b0_truth(element_text: str) -> frozenset[tuple[str, str]]:
    return frozenset(tuple(kv.split("=", 1)) for kv in element_text.split("&"))  # type: ignore[misc]


@pytest.mark.parametrize(
    "setting", ["B_cuboid_layer_1_n_ele_2", "B_cuboid_layer_2_n_ele_3", "B_cuboid_layer_3_n_ele_2"]
)
def test_real_b0_instances(shared_data: Path, setting: str) -> None:
    folder = shared_data / "rca-b0" / setting
    info = pd.read_csv(folder / "injection_info.csv").head(2)
    for timestamp, truth in zip(info["timestamp"], info["set"], strict=True):
        leaves = pd.read_csv(folder / f"{timestamp}.csv.gz", dtype={c: str for c in "abcd"})
        result = rank_root_causes(leaves, actual="real", expected="predict")
        assert selected_set(result) == {_b0_truth(e) for e in str(truth).split(";")}, timestamp


def test_group_ids_renumber_a_sparse_space_in_key_order() -> None:
    """Few leaves in a large key space are numbered densely, in the order of their keys, so that every
    per-group array stays the size of the leaves and ties between groups break as they would unnumbered."""
    rng = np.random.default_rng(11)
    codes = rng.integers(0, 60, size=(40, 3)).astype(np.int64)
    cards = [60, 60, 60]
    ids, space = group_ids(codes, cards, (0, 1, 2))
    dense = (codes[:, 0] * 60 + codes[:, 1]) * 60 + codes[:, 2]
    assert space == np.unique(dense).size < 60**3
    # Same groups, and the numbering increases with the dense key.
    order = np.argsort(dense, kind="stable")
    assert np.all(np.diff(ids[order]) >= 0)
    assert np.array_equal(dense[order][np.r_[True, np.diff(ids[order]) > 0]], np.unique(dense))
    # A small space stays dense: ids are the keys themselves.
    small, small_space = group_ids(codes % 4, [4, 4, 4], (0, 2))
    assert small_space == 16
    assert np.array_equal(small, (codes[:, 0] % 4) * 4 + codes[:, 2] % 4)
