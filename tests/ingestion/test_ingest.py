"""Ingestion end to end through the real DuckDB reader, real Parquet files and the state database."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import Engine, select

from core.clock import FixedClock
from core.errors import InputError, StoreError
from core.settings import Settings
from core.types import Granularity
from ingestion.ingest import Ingestor
from ingestion.tables import fact_partitions, ingest_runs
from tests.ingestion.focus_rows import hourly_rows, row, write_csv, write_parquet

CLOCK = FixedClock(datetime(2026, 11, 1, tzinfo=UTC))


def make_ingestor(tmp_path: Path, engine: Engine, **overrides: object) -> Ingestor:
    settings = Settings(data_dir=tmp_path / "data", _env_file=None, **overrides)  # type: ignore[call-arg]
    return Ingestor(settings, engine, CLOCK)


def store_total(ing: Ingestor) -> float:
    frame = ing.store.query("SELECT sum(cost) AS c FROM facts WHERE charge_category = 'Usage'")
    return float(frame.iloc[0, 0]) if not frame.empty else 0.0


def snapshot(root: Path) -> dict[str, tuple[float, bytes]]:
    return {str(p): (p.stat().st_mtime, p.read_bytes()) for p in sorted(root.rglob("*.parquet"))}


def test_focus_sample_matches_an_independent_pandas_reading(
    shared_data: Path, tmp_path: Path, engine: Engine
) -> None:
    sample = shared_data / "focus" / "focus_1.0_sample_1000.csv"
    ing = make_ingestor(tmp_path, engine)
    report = ing.ingest_paths([sample])

    raw = pd.read_csv(sample, na_values=["NULL"], keep_default_na=False)
    usage = raw[raw["ChargeCategory"] == "Usage"]
    assert report.rows_read == len(raw) == 1000
    assert report.rows_kept == 1000 and report.rows_rejected == 0
    for currency, spend in usage.groupby("BillingCurrency")["EffectiveCost"].sum().items():
        assert report.usage_spend[str(currency)] == pytest.approx(spend, abs=1e-6)

    def product(tags: object) -> str | None:
        if not isinstance(tags, str):
            return None
        parsed = json.loads(tags)
        return next((parsed[k] for k in ("product", "application", "app") if parsed.get(k)), None)

    usd = usage[usage["BillingCurrency"] == "USD"]
    attributed = usd[usd["Tags"].map(product).notna()]["EffectiveCost"].sum()
    assert report.coverage_pct["USD"] == pytest.approx(
        100 * attributed / usd["EffectiveCost"].sum(), abs=0.01
    )
    non_usage = raw[raw["ChargeCategory"] != "Usage"].groupby("ChargeCategory")["EffectiveCost"].sum()
    assert report.other_charges["USD"] == pytest.approx(non_usage.to_dict(), abs=1e-9)
    assert store_total(ing) == pytest.approx(usage["EffectiveCost"].sum(), abs=1e-6)
    with engine.connect() as conn:
        run = conn.execute(select(ingest_runs)).one()
    assert run.status == "done" and run.rows_read == 1000


def test_reingesting_the_same_export_changes_nothing(
    shared_data: Path, tmp_path: Path, engine: Engine
) -> None:
    sample = shared_data / "focus" / "focus_1.0_sample_1000.csv"
    ing = make_ingestor(tmp_path, engine)
    first = ing.ingest_paths([sample])
    before = snapshot(ing.store.root)
    second = ing.ingest_paths([sample])
    assert first.partitions_written > 0
    assert second.partitions_written == 0 and second.partitions_unchanged == first.partitions_written
    assert snapshot(ing.store.root) == before


def test_newer_export_replaces_the_period_and_older_is_skipped(tmp_path: Path, engine: Engine) -> None:
    ing = make_ingestor(tmp_path, engine)
    old = write_csv(tmp_path / "v1.csv", hourly_rows(24, cost=1.0))
    new = write_csv(tmp_path / "v2.csv", hourly_rows(24, cost=2.5))
    os.utime(old, (1_700_000_000, 1_700_000_000))
    os.utime(new, (1_700_100_000, 1_700_100_000))
    ing.ingest_paths([old])
    assert store_total(ing) == pytest.approx(24.0)
    ing.ingest_paths([new])
    assert store_total(ing) == pytest.approx(60.0)  # replaced, not added: never double counted
    skipped = ing.ingest_paths([old])
    assert skipped.partitions_skipped_older == ["900/2026-09"]
    assert store_total(ing) == pytest.approx(60.0)
    ing.ingest_paths([old], force=True)
    assert store_total(ing) == pytest.approx(24.0)
    with engine.connect() as conn:
        assert len(conn.execute(select(fact_partitions)).all()) == 1


def test_other_billing_accounts_and_periods_are_left_alone(tmp_path: Path, engine: Engine) -> None:
    ing = make_ingestor(tmp_path, engine)
    ing.ingest_paths([write_csv(tmp_path / "a.csv", hourly_rows(10, cost=1.0, billing_account="A"))])
    ing.ingest_paths([write_csv(tmp_path / "b.csv", hourly_rows(10, cost=3.0, billing_account="B"))])
    october = hourly_rows(5, start=datetime(2026, 10, 1), cost=7.0, billing_account="A")
    ing.ingest_paths([write_csv(tmp_path / "c.csv", october)])
    assert store_total(ing) == pytest.approx(10 + 30 + 35)


@pytest.mark.parametrize(
    ("field", "value", "reason"),
    [
        ("ChargePeriodStart", "yesterday", "ChargePeriodStart: missing or not a timestamp"),
        ("ChargePeriodStart", None, "ChargePeriodStart: missing or not a timestamp"),
        ("ChargePeriodEnd", "2026-08-01 00:00:00", "ChargePeriodEnd: before ChargePeriodStart"),
        ("BillingPeriodStart", "soon", "BillingPeriodStart: missing or not a timestamp"),
        ("BillingAccountId", None, "BillingAccountId: missing"),
        ("BillingCurrency", "dollars", "BillingCurrency: missing or not a 3-letter currency code"),
        ("ChargeCategory", "Refund", "ChargeCategory: missing or not one of"),
        ("EffectiveCost", "12,5", "EffectiveCost: missing or not a number"),
        ("EffectiveCost", None, "EffectiveCost: missing or not a number"),
        ("EffectiveCost", "inf", "EffectiveCost: missing or not a number"),
    ],
)
def test_each_bad_row_class_is_counted_by_reason_and_kept_out(
    tmp_path: Path, engine: Engine, field: str, value: object, reason: str
) -> None:
    ing = make_ingestor(tmp_path, engine)
    rows = hourly_rows(6, cost=1.0)
    rows[2][field] = value
    report = ing.ingest_paths([write_csv(tmp_path / "x.csv", rows)])
    assert report.rows_read == 6 and report.rows_kept == 5
    assert [(r.reason[: len(reason)], r.rows) for r in report.rejected] == [(reason, 1)]
    assert store_total(ing) == pytest.approx(5.0)
    assert report.rejects_file is not None
    sample = next(Path(report.rejects_file).glob("*.csv"))
    assert len(pd.read_csv(sample)) == 1


def test_malformed_csv_lines_are_counted_not_fatal(tmp_path: Path, engine: Engine) -> None:
    ing = make_ingestor(tmp_path, engine)
    path = write_csv(tmp_path / "x.csv", hourly_rows(4))
    with path.open("a") as fh:
        fh.write('1.0,"900"\n')
    report = ing.ingest_paths([path])
    assert report.rows_kept == 4
    assert report.rejected and report.rejected[0].reason.startswith("CSV:")
    assert report.rows_rejected == 1


def test_missing_mandatory_columns_name_them_and_write_nothing(tmp_path: Path, engine: Engine) -> None:
    ing = make_ingestor(tmp_path, engine)
    rows = [
        {k: v for k, v in r.items() if k not in ("ChargeCategory", "EffectiveCost")} for r in hourly_rows(3)
    ]
    with pytest.raises(InputError) as err:
        ing.ingest_paths([write_csv(tmp_path / "x.csv", rows)])
    assert "ChargeCategory" in err.value.reason and "EffectiveCost" in err.value.reason
    assert not ing.store.has_facts()


def test_one_bad_file_in_a_folder_writes_nothing_at_all(tmp_path: Path, engine: Engine) -> None:
    ing = make_ingestor(tmp_path, engine)
    folder = tmp_path / "export"
    folder.mkdir()
    write_csv(folder / "a.csv", hourly_rows(3))
    write_csv(folder / "b.csv", [{"Foo": 1}])
    with pytest.raises(InputError):
        ing.ingest_paths([folder])
    assert not ing.store.has_facts()
    with engine.connect() as conn:
        assert conn.execute(select(ingest_runs.c.status)).scalar_one() == "failed"


def test_optional_columns_may_be_absent_and_unknown_ones_are_ignored(tmp_path: Path, engine: Engine) -> None:
    ing = make_ingestor(tmp_path, engine)
    rows = []
    for r in hourly_rows(3):
        for col in ("RegionId", "SubAccountId", "ResourceId", "Tags", "ResourceType"):
            r.pop(col)
        r["x_Custom"] = "whatever"
        r["SomethingNew"] = "1"
        rows.append(r)
    report = ing.ingest_paths([write_csv(tmp_path / "x.csv", rows)])
    assert report.rows_kept == 3 and report.coverage_pct["USD"] == 0.0
    leaves = ing.store.leaf_table(
        "unattributed", "Amazon EC2", "USD", start=datetime(2026, 9, 1), end=datetime(2026, 10, 1)
    )
    # Without SubAccountId the account dimension falls back to the billing account.
    assert leaves["account"].tolist() == ["900"] and leaves["region"].tolist() == ["(none)"]


def test_focus_13_service_provider_name_is_accepted(tmp_path: Path, engine: Engine) -> None:
    ing = make_ingestor(tmp_path, engine)
    rows = [
        {**{k: v for k, v in r.items() if k != "ProviderName"}, "ServiceProviderName": "AWS"}
        for r in hourly_rows(2)
    ]
    assert ing.ingest_paths([write_csv(tmp_path / "x.csv", rows)]).rows_kept == 2


@pytest.mark.parametrize(
    ("basis", "expected"), [("EffectiveCost", 10.0), ("BilledCost", 11.0), ("ListCost", 13.0)]
)
def test_cost_basis_is_a_setting(tmp_path: Path, engine: Engine, basis: str, expected: float) -> None:
    ing = make_ingestor(tmp_path, engine, cost_basis=basis)
    ing.ingest_paths([write_csv(tmp_path / "x.csv", hourly_rows(10, cost=1.0))])
    assert store_total(ing) == pytest.approx(expected)


def test_non_usage_charges_stay_out_of_series_and_currencies_never_mix(
    tmp_path: Path, engine: Engine
) -> None:
    ing = make_ingestor(tmp_path, engine)
    rows = [
        *hourly_rows(3, cost=1.0),
        *hourly_rows(3, cost=2.0, currency="EUR", billing_account="901"),
        row(cost=-5.0, category="Credit"),
        row(cost=3.0, category="Tax"),
        row(cost=100.0, category="Purchase"),
    ]
    report = ing.ingest_paths([write_csv(tmp_path / "x.csv", rows)])
    assert report.usage_spend == {"EUR": 6.0, "USD": 3.0}
    assert report.other_charges == {"USD": {"Credit": -5.0, "Purchase": 100.0, "Tax": 3.0}}
    series = {(s.product, s.currency): s.total_spend for s in ing.store.list_series()}
    assert series == {("checkout", "USD"): 3.0, ("checkout", "EUR"): 6.0}
    hourly = ing.store.series("checkout", "Amazon EC2", "USD", Granularity.HOUR)
    assert hourly.sum() == pytest.approx(3.0)


def test_csv_gz_and_parquet_give_the_same_facts_as_csv(tmp_path: Path, engine: Engine) -> None:
    rows = hourly_rows(30, cost=1.25) + hourly_rows(30, cost=0.5, product=None, region="eu-west-1")
    totals = []
    for name, writer in (("x.csv", write_csv), ("x.csv.gz", write_csv), ("x.parquet", write_parquet)):
        ing = make_ingestor(tmp_path / name, engine)
        ing.ingest_paths([writer(tmp_path / name.replace("x", "src"), rows)])
        leaves = ing.store.leaf_table(
            "checkout", "Amazon EC2", "USD", start=datetime(2026, 9, 1), end=datetime(2026, 10, 1)
        )
        totals.append((store_total(ing), leaves.to_dict("records")))
    assert totals[0] == totals[1] == totals[2]
    assert totals[0][0] == pytest.approx(52.5)


def test_parquet_tags_as_a_map_column(tmp_path: Path, engine: Engine) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    rows = hourly_rows(4)
    frame = pd.DataFrame(rows).drop(columns=["Tags"])
    table = pa.Table.from_pandas(frame, preserve_index=False).append_column(
        "Tags", pa.array([[("product", "search")]] * 4, type=pa.map_(pa.string(), pa.string()))
    )
    pq.write_table(table, tmp_path / "x.parquet")
    ing = make_ingestor(tmp_path, engine)
    ing.ingest_paths([tmp_path / "x.parquet"])
    assert [s.product for s in ing.store.list_series()] == ["search"]


def test_failed_write_keeps_the_previous_facts(
    tmp_path: Path, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    ing = make_ingestor(tmp_path, engine)
    ing.ingest_paths([write_csv(tmp_path / "v1.csv", hourly_rows(4, cost=1.0))])
    before = snapshot(ing.store.root)

    def disk_full(src: object, dst: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("ingestion.fact_store.os.replace", disk_full)
    with pytest.raises(StoreError):
        ing.ingest_paths([write_csv(tmp_path / "v2.csv", hourly_rows(4, cost=9.0))])
    assert snapshot(ing.store.root) == before
    assert not list(ing.store.root.rglob("*.tmp"))
    assert store_total(ing) == pytest.approx(4.0)


def test_folder_ingestion_reads_every_export(tmp_path: Path, engine: Engine) -> None:
    folder = tmp_path / "export" / "2026"
    folder.mkdir(parents=True)
    write_csv(folder / "sep.csv", hourly_rows(5, cost=1.0))
    write_csv(folder / "oct.csv.gz", hourly_rows(5, start=datetime(2026, 10, 3), cost=2.0))
    (folder / "README.txt").write_text("not an export")
    ing = make_ingestor(tmp_path, engine)
    report = ing.ingest_paths([tmp_path / "export"])
    assert sorted(report.files) == ["oct.csv.gz", "sep.csv"]
    daily = ing.store.series("checkout", "Amazon EC2", "USD", Granularity.DAY)
    assert daily.sum() == pytest.approx(15.0)
    assert daily.index.freqstr == "D" and len(daily) == 33  # zero-filled from Sep 1 to Oct 3
