"""The demo FOCUS export: reproducible, shaped like a real export, with the patterns and incidents claimed."""

from __future__ import annotations

import csv
import json
from datetime import timedelta
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest

from ingestion.demo_catalog import DEMO_FOCUS_COLUMNS
from ingestion.demo_data import DemoTruth, InjectedIncident, write_demo_export

DIMENSION_COLUMNS = {
    "account": "SubAccountId",
    "region": "RegionId",
    "service": "ServiceName",
    "sku": "SkuId",
    "resource_type": "ResourceType",
}


def _read(folder: Path) -> pd.DataFrame:
    frames = [
        pd.read_csv(p, na_values=["NULL"], keep_default_na=False) for p in sorted(folder.glob("focus_*.csv"))
    ]
    df = pd.concat(frames, ignore_index=True)
    for col in ("ChargePeriodStart", "ChargePeriodEnd", "BillingPeriodStart", "BillingPeriodEnd"):
        df[col] = pd.to_datetime(df[col])
    df["product"] = [json.loads(t).get("product") if isinstance(t, str) else None for t in df["Tags"]]
    return df


@pytest.fixture(scope="module")
def export(tmp_path_factory: pytest.TempPathFactory) -> tuple[DemoTruth, pd.DataFrame, Path]:
    out = tmp_path_factory.mktemp("demo")
    truth = write_demo_export(out)
    return truth, _read(out), out


@pytest.fixture(scope="module")
def baseline(tmp_path_factory: pytest.TempPathFactory) -> tuple[DemoTruth, pd.DataFrame]:
    out = tmp_path_factory.mktemp("demo-no-incidents")
    truth = write_demo_export(out, incidents=False)
    return truth, _read(out)


def _usage(df: pd.DataFrame) -> pd.DataFrame:
    return df[df["ChargeCategory"] == "Usage"]


def _slice(df: pd.DataFrame, inc: InjectedIncident) -> pd.Series:
    mask = (
        (df["ChargeCategory"] == "Usage")
        & (df["product"] == inc.product)
        & (df["ServiceName"] == inc.cost_line)
    )
    for dim, value in inc.root_cause.items():
        mask &= df[DIMENSION_COLUMNS[dim]] == value
    return mask


def _daily(df: pd.DataFrame) -> pd.Series:
    return df.groupby(df["ChargePeriodStart"].dt.floor("D"))["EffectiveCost"].sum()


def test_same_seed_gives_the_same_bytes_and_another_seed_does_not(tmp_path: Path) -> None:
    runs = {}
    for name, seed in (("a", 3), ("b", 3), ("c", 4)):
        write_demo_export(tmp_path / name, days=40, seed=seed)
        runs[name] = {p.name: p.read_bytes() for p in sorted((tmp_path / name).iterdir())}
    assert runs["a"] == runs["b"]
    assert runs["a"]["focus_2026-06.csv"] != runs["c"]["focus_2026-06.csv"]


def test_columns_are_those_of_the_focus_sample_in_its_order(export, shared_data: Path) -> None:
    with (shared_data / "focus" / "focus_1.0_sample_1000.csv").open(newline="") as f:
        sample_header = next(csv.reader(f))
    truth, _, out = export
    for name in truth.files:
        with (out / name).open(newline="") as f:
            assert next(csv.reader(f)) == sample_header, name
    assert list(DEMO_FOCUS_COLUMNS) == sample_header


def test_nulls_are_written_as_bare_null_like_the_sample(export) -> None:
    _, _, out = export
    text = (out / "focus_2026-07.csv").read_text()
    assert ",NULL," in text
    assert '"NULL"' not in text and ",," not in text


def test_one_file_per_billing_month(export) -> None:
    truth, df, out = export
    assert truth.files == [f"focus_2026-0{m}.csv" for m in (6, 7, 8, 9)]
    assert sorted(p.name for p in out.iterdir()) == [*truth.files, "truth.json"]
    for name in truth.files:
        part = pd.read_csv(out / name, na_values=["NULL"], keep_default_na=False)
        month = pd.Timestamp(name[6:13] + "-01")
        assert set(pd.to_datetime(part["BillingPeriodStart"])) == {month}
        assert set(pd.to_datetime(part["BillingPeriodEnd"])) == {month + pd.DateOffset(months=1)}
        usage = pd.to_datetime(part.loc[part["ChargeCategory"] == "Usage", "ChargePeriodStart"])
        assert usage.min() >= month and usage.max() < month + pd.DateOffset(months=1)
    assert df["Id"].is_unique and len(df) == truth.rows


def test_default_size_is_small_enough_for_make_run(export) -> None:
    truth, df, _ = export
    assert 20_000 <= len(df) <= 60_000
    assert df["ChargePeriodStart"].min() == pd.Timestamp(truth.start)
    assert _usage(df)["ChargePeriodEnd"].max() == pd.Timestamp(truth.end)


def test_usage_spend_has_a_weekly_pattern(baseline) -> None:
    _, df = baseline
    usd = _usage(df)[_usage(df)["BillingCurrency"] == "USD"]
    daily = _daily(usd)
    daily = daily[daily.index.day != 1]  # leave the month-start batch out
    weekend = daily[daily.index.day_of_week >= 5].mean()
    weekday = daily[daily.index.day_of_week < 5].mean()
    assert weekend / weekday < 0.93
    checkout = usd[(usd["product"] == "checkout") & (usd["ServiceName"] == "Amazon Elastic Compute Cloud")]
    by_day = _daily(checkout)
    ratio = by_day[by_day.index.day_of_week >= 5].mean() / by_day[by_day.index.day_of_week < 5].mean()
    assert 0.68 < ratio < 0.82  # the catalog's weekend factor is 0.75


def test_month_start_batch_runs_on_the_first_of_every_month_only(export) -> None:
    truth, df, _ = export
    assert {(b["product"], b["cost_line"]) for b in truth.month_start_batches} >= {
        ("data-platform", "AWS Glue")
    }
    for batch in truth.month_start_batches:
        usage = _usage(df)
        rows = usage[(usage["product"] == batch["product"]) & (usage["ServiceName"] == batch["cost_line"])]
        daily = _daily(rows)
        normal = daily[daily.index.day != 1].median()
        firsts = daily[daily.index.day == 1]
        assert len(firsts) == 4
        assert (firsts > 3 * normal).all(), firsts
        assert (daily[daily.index.day != 1] < 1.8 * normal).all()


def test_incidents_are_placed_as_specified(export) -> None:
    truth, _, _ = export
    assert [i.kind for i in truth.incidents].count("spike") >= 1
    assert {"spike", "step", "drift"} <= {i.kind for i in truth.incidents}
    assert 3 <= len(truth.incidents) <= 5
    assert {i.expected_severity for i in truth.incidents} == {"page", "ticket"}
    assert any(set(i.root_cause) == {"region", "service"} for i in truth.incidents)
    history_60 = truth.start + 0.6 * (truth.end - truth.start)
    for inc in truth.incidents:
        assert history_60 <= inc.start < inc.end < truth.end
        assert inc.extra_per_period > 0


def test_incidents_change_the_data_exactly_in_their_slice_and_window(export, baseline) -> None:
    truth, df, _ = export
    _, base = baseline
    assert len(df) == len(base) and (df["Id"].to_numpy() == base["Id"].to_numpy()).all()
    usage = (df["ChargeCategory"] == "Usage").to_numpy()
    diff = df["EffectiveCost"].to_numpy() - base["EffectiveCost"].to_numpy()
    explained = np.zeros(len(df), dtype=bool)
    for inc in truth.incidents:
        window = (df["ChargePeriodStart"] >= inc.start) & (df["ChargePeriodStart"] < inc.end)
        mask = (_slice(df, inc) & window).to_numpy()
        explained |= mask
        per_period = pd.Series(diff[mask]).groupby(df.loc[mask, "ChargePeriodStart"].to_numpy()).sum()
        assert len(per_period) == (inc.end - inc.start) / timedelta(days=1), inc.id
        if inc.kind == "drift":
            assert per_period.is_monotonic_increasing
            assert per_period.iloc[-1] == pytest.approx(inc.extra_per_period, abs=1e-3)
            assert per_period.iloc[0] < 0.2 * inc.extra_per_period
        else:
            assert np.allclose(per_period, inc.extra_per_period, atol=1e-3), inc.id
    assert np.abs(diff[usage & ~explained]).max() < 1e-9  # nowhere else


def test_incidents_stand_out_against_the_pre_incident_level(export) -> None:
    truth, df, _ = export
    for inc in truth.incidents:
        daily = _daily(df[_slice(df, inc)])
        start, end = pd.Timestamp(inc.start), pd.Timestamp(inc.end)
        before = daily[(daily.index >= start - pd.Timedelta(days=14)) & (daily.index < start)].mean()
        during = daily[(daily.index >= start) & (daily.index < end)].mean()
        days = (end - start).days
        expected = inc.extra_per_period * ((days + 1) / (2 * days) if inc.kind == "drift" else 1.0)
        assert during - before == pytest.approx(expected, rel=0.2), inc.id
        after = daily[(daily.index >= end) & (daily.index < end + pd.Timedelta(days=5))].mean()
        assert after < before + 0.3 * expected, inc.id  # the incident ends when the truth says


def test_incident_root_cause_is_a_small_part_of_its_cost_line(export) -> None:
    truth, df, _ = export
    usage = _usage(df)
    for inc in truth.incidents:
        before = usage["ChargePeriodStart"] < pd.Timestamp(inc.start)
        line = before & (usage["product"] == inc.product) & (usage["ServiceName"] == inc.cost_line)
        share = usage.loc[_slice(df, inc)[usage.index] & before, "EffectiveCost"].sum()
        share /= usage.loc[line, "EffectiveCost"].sum()
        assert 0.0 < share < 0.6, inc.id


def test_untagged_share_is_as_recorded(export) -> None:
    truth, df, _ = export
    usage = _usage(df)
    untagged = usage.loc[usage["product"].isna(), "EffectiveCost"].sum() / usage["EffectiveCost"].sum()
    assert untagged == pytest.approx(truth.untagged_share, abs=1e-5)
    assert 0.05 <= truth.untagged_share <= 0.10
    usd = usage[usage["BillingCurrency"] == "USD"]
    usd_share = usd.loc[usd["product"].isna(), "EffectiveCost"].sum() / usd["EffectiveCost"].sum()
    assert usd_share == pytest.approx(truth.untagged_share_by_currency["USD"], abs=1e-5)
    assert (usage["Tags"].isna()).any() and usage["Tags"].notna().any()


def test_usd_and_eur_are_both_billed_and_never_mixed_in_an_account(export) -> None:
    truth, df, _ = export
    assert set(df["BillingCurrency"]) == {"USD", "EUR"}
    assert (df.groupby("BillingAccountId")["BillingCurrency"].nunique() == 1).all()
    assert df["BillingAccountId"].nunique() == 3
    assert set(df["ProviderName"]) == {"AWS", "Microsoft"}
    for inc in truth.incidents:
        assert set(df.loc[_slice(df, inc), "BillingCurrency"]) == {inc.currency}


def test_products_services_and_charge_categories_look_like_a_real_bill(export) -> None:
    truth, df, _ = export
    usage = _usage(df)
    assert set(usage["product"].dropna()) == set(truth.products)
    assert 4 <= len(truth.products) <= 6
    assert {"Usage", "Tax", "Credit", "Purchase"} == set(df["ChargeCategory"])
    assert (df.loc[df["ChargeCategory"] == "Credit", "BilledCost"] < 0).all()
    assert (df["ChargeCategory"] == "Usage").mean() > 0.95
    assert (usage["ListCost"] >= usage["BilledCost"] - 1e-9).all()
    assert (usage["ListCost"] >= usage["EffectiveCost"] - 1e-9).all()
    committed = usage["PricingCategory"] == "Committed"
    assert committed.any() and (usage.loc[committed, "BilledCost"] == 0).all()
    assert ((usage["ChargePeriodEnd"] - usage["ChargePeriodStart"]) == pd.Timedelta(days=1)).all()
    assert usage["SubAccountId"].nunique() >= 6 and usage["RegionId"].nunique() >= 5
    assert usage["ServiceName"].nunique() >= 10 and usage["ResourceId"].notna().all()
    tags = [json.loads(t) for t in usage["Tags"].dropna().unique()]
    assert all(isinstance(t, dict) for t in tags)
    assert {"product", "team", "env"} <= set().union(*tags)


def test_resources_appear_and_disappear(export) -> None:
    _, df, _ = export
    usage = _usage(df)
    span = usage.groupby("ResourceId")["ChargePeriodStart"].agg(["min", "max"])
    first, last = usage["ChargePeriodStart"].min(), usage["ChargePeriodStart"].max()
    assert ((span["min"] > first) & (span["max"] < last)).sum() >= 20


def test_hourly_mode(tmp_path: Path) -> None:
    truth = write_demo_export(tmp_path, days=30, granularity="hour")
    assert truth.granularity == "hour" and truth.files == ["focus_2026-06.csv"]
    df = _read(tmp_path)
    usage = _usage(df)
    assert len(df) < 1_000_000
    assert usage["ChargePeriodStart"].nunique() == 30 * 24
    assert ((usage["ChargePeriodEnd"] - usage["ChargePeriodStart"]) == pd.Timedelta(hours=1)).all()
    checkout = usage[
        (usage["product"] == "checkout") & (usage["ServiceName"] == "Amazon Elastic Compute Cloud")
    ]
    by_hour = checkout.groupby(checkout["ChargePeriodStart"].dt.hour)["EffectiveCost"].sum()
    assert by_hour[15] > 1.5 * by_hour[3]  # the daily cycle
    assert truth.incidents and all(i.start.hour == 0 for i in truth.incidents)
    for inc in truth.incidents:
        hours = df.loc[_slice(df, inc), "ChargePeriodStart"]
        window = hours[(hours >= inc.start) & (hours < inc.end)]
        assert window.nunique() == (inc.end - inc.start) / timedelta(hours=1)


def test_compressed_csv_and_parquet_hold_the_same_rows(tmp_path: Path) -> None:
    totals = {}
    for fmt in ("csv", "csv.gz", "parquet"):
        truth = write_demo_export(tmp_path, days=45, fmt=fmt)
        suffix = fmt if fmt != "csv" else "csv"
        assert truth.files == [f"focus_2026-06.{suffix}", f"focus_2026-07.{suffix}"]
        # A new format replaces the old one, so a folder ingest never counts a month twice.
        assert sorted(p.name for p in tmp_path.iterdir()) == [*truth.files, "truth.json"]
        paths = [str(tmp_path / f) for f in truth.files]
        if fmt == "parquet":
            rel = duckdb.read_parquet(paths)
        else:
            rel = duckdb.read_csv(paths, na_values=["NULL"], header=True)
        assert rel.columns == list(DEMO_FOCUS_COLUMNS)
        rows, total = rel.aggregate("count(*), round(sum(EffectiveCost), 4)").fetchall()[0]
        assert rows == truth.rows
        totals[fmt] = total
    assert totals["csv"] == totals["csv.gz"] == totals["parquet"]


def test_truth_file_round_trips(export) -> None:
    truth, _, out = export
    assert DemoTruth.from_json((out / "truth.json").read_text()) == truth


def test_without_incidents_the_truth_lists_none(baseline) -> None:
    truth, _ = baseline
    assert truth.incidents == []


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [({"days": 0}, "days"), ({"granularity": "week"}, "granularity"), ({"fmt": "xlsx"}, "fmt")],
)
def test_bad_arguments_are_refused(tmp_path: Path, kwargs, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        write_demo_export(tmp_path, **kwargs)
