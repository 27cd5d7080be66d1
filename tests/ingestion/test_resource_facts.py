"""Resource-day facts: written by ingestion beside the leaf facts, replaced with them, ranked by excess."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import pandas as pd
import pytest
from sqlalchemy import Engine

from core.clock import FixedClock
from core.settings import Settings
from ingestion.fact_store import FactStore
from ingestion.focus_reader import empty_columns
from ingestion.ingest import Ingestor
from ingestion.resource_facts import resources_dir, top_resources
from ingestion.resource_store import ResourceStore
from tests.ingestion.focus_rows import row, write_csv

CLOCK = FixedClock(datetime(2026, 11, 1, tzinfo=UTC))
SERIES = ("checkout", "Amazon EC2", "USD")


def make_ingestor(tmp_path: Path, engine: Engine, **overrides: object) -> Ingestor:
    settings = Settings(data_dir=tmp_path / "data", _env_file=None, **overrides)  # type: ignore[call-arg]
    return Ingestor(settings, engine, CLOCK)


def resources(ing: Ingestor) -> FactStore:
    return ResourceStore(resources_dir(ing.settings.data_dir))


def hours(day: int, n: int, **kwargs: object) -> list[dict[str, object]]:
    start = datetime(2026, 9, 1) + timedelta(days=day)
    return [row(start=start + timedelta(hours=h), **kwargs) for h in range(n)]  # type: ignore[arg-type]


def test_spend_per_resource_and_day_beside_the_leaf_facts(tmp_path: Path, engine: Engine) -> None:
    rows = [
        *hours(0, 24, cost=1.0, ResourceId="i-a", ResourceName="web-1", SkuId="m6i"),
        *hours(0, 24, cost=0.5, ResourceId="i-b", SkuId="m6i"),
        *hours(1, 3, cost=2.0, ResourceId="i-a", ResourceName="web-1", SkuId="m6i"),
        row(cost=9.0, ResourceId=None, SkuId="m6i"),  # no resource: leaf facts only
        row(cost=7.0, ResourceId="i-a", category="Tax"),  # not usage
        row(cost=5.0, ResourceId="i-bad", ChargePeriodStart="yesterday"),  # rejected
    ]
    ing = make_ingestor(tmp_path, engine)
    report = ing.ingest_paths([write_csv(tmp_path / "x.csv", rows)])
    assert report.rows_kept == len(rows) - 1
    frame = resources(ing).query(
        "SELECT day, resource_id, resource_name, sku, cost FROM facts ORDER BY day, resource_id"
    )
    got = [(str(r.day)[:10], r.resource_id, r.resource_name, r.sku, r.cost) for r in frame.itertuples()]
    name_b = got[1][2]
    assert got == [
        ("2026-09-01", "i-a", "web-1", "m6i", 24.0),
        ("2026-09-01", "i-b", name_b, "m6i", 12.0),
        ("2026-09-02", "i-a", "web-1", "m6i", 6.0),
    ]
    assert pd.isna(name_b)  # no ResourceName: null
    # The leaf facts are unchanged by it: no resource column, no extra rows.
    assert "resource_id" not in ing.store.columns()
    assert ing.store.query("SELECT sum(cost) AS c FROM facts WHERE charge_category = 'Usage'")["c"][0] == 51.0


def test_a_newer_export_replaces_the_resources_and_the_setting_turns_them_off(
    tmp_path: Path, engine: Engine
) -> None:
    ing = make_ingestor(tmp_path, engine)
    ing.ingest_paths([write_csv(tmp_path / "a.csv", hours(0, 2, ResourceId="i-old"))])
    ing.ingest_paths([write_csv(tmp_path / "a.csv", hours(0, 2, ResourceId="i-new"))], force=True)
    assert resources(ing).query("SELECT DISTINCT resource_id FROM facts")["resource_id"].tolist() == ["i-new"]
    # A newer export of the period without resource ids leaves no stale resources behind.
    ing.ingest_paths([write_csv(tmp_path / "a.csv", hours(0, 2, ResourceId=None))], force=True)
    assert not resources(ing).has_facts()
    off = make_ingestor(tmp_path / "off", engine, keep_resources=False)
    off.ingest_paths([write_csv(tmp_path / "b.csv", hours(0, 2, ResourceId="i-x"))])
    assert not resources(off).has_facts() and off.store.has_facts()


def test_top_resources_rank_by_excess_over_their_own_baseline_within_the_cause(
    tmp_path: Path, engine: Engine
) -> None:
    rows = []
    for day in range(20):
        spike = day >= 18
        rows += hours(day, 1, cost=10.0, ResourceId="steady", SkuId="m6i")
        rows += hours(day, 1, cost=30.0 if spike else 10.0, ResourceId="grew", SkuId="m6i")
        rows += hours(day, 1, cost=5.0, ResourceId="other-sku", SkuId="r6g")
        if spike:
            rows += hours(day, 1, cost=50.0, ResourceId="new", SkuId="m6i", ResourceType="GPU")
            rows += hours(day, 1, cost=90.0, ResourceId="big-other-sku", SkuId="r6g")
    ing = make_ingestor(tmp_path, engine)
    ing.ingest_paths([write_csv(tmp_path / "x.csv", rows)])
    start, end = datetime(2026, 9, 19), datetime(2026, 9, 21)
    culprits = top_resources(resources(ing), SERIES, {"sku": "m6i"}, start=start, end=end, k=5)
    assert [(c.resource_id, c.excess) for c in culprits] == [("new", 100.0), ("grew", pytest.approx(40.0))]
    assert culprits[0].resource_type == "GPU" and culprits[1].expected == pytest.approx(20.0)
    # k caps the list; a cause in another product or value names nothing.
    assert len(top_resources(resources(ing), SERIES, {"sku": "m6i"}, start=start, end=end, k=1)) == 1
    assert top_resources(resources(ing), ("other", "Amazon EC2", "USD"), {}, start=start, end=end) == []


def test_each_leaf_day_keeps_its_dearest_resources_by_name_and_sums_the_rest(
    tmp_path: Path, engine: Engine
) -> None:
    # One leaf-day (m6i, day 0) with five resources, another (r6g) with two: a bound of 3 names the three
    # dearest of the first (a tie broken by id) and sums the other two into one row without an id.
    rows = [
        *hours(0, 2, cost=5.0, ResourceId="i-e", SkuId="m6i"),
        *hours(0, 2, cost=4.0, ResourceId="i-d", SkuId="m6i"),
        *hours(0, 1, cost=3.0, ResourceId="i-c", SkuId="m6i"),
        *hours(0, 1, cost=3.0, ResourceId="i-b", SkuId="m6i"),
        *hours(0, 1, cost=1.0, ResourceId="i-a", SkuId="m6i"),
        *hours(0, 1, cost=7.0, ResourceId="db-1", SkuId="r6g"),
        *hours(0, 1, cost=2.0, ResourceId="db-2", SkuId="r6g"),
    ]
    ing = make_ingestor(tmp_path, engine, resources_per_leaf_day=3)
    ing.ingest_paths([write_csv(tmp_path / "x.csv", rows)])
    frame = resources(ing).query(
        "SELECT sku, resource_id, cost FROM facts ORDER BY sku, cost DESC, resource_id"
    )
    got = [(r.sku, None if pd.isna(r.resource_id) else r.resource_id, r.cost) for r in frame.itertuples()]
    assert got == [
        ("m6i", "i-e", 10.0),
        ("m6i", "i-d", 8.0),
        ("m6i", None, 4.0),  # i-b (3, loses the tie to i-c) and i-a (1)
        ("m6i", "i-c", 3.0),
        ("r6g", "db-1", 7.0),
        ("r6g", "db-2", 2.0),
    ]
    # The table still adds up to the leaf facts' usage spend, and the "other" row is never a culprit.
    assert frame["cost"].sum() == ing.store.query("SELECT sum(cost) AS c FROM facts")["c"][0] == 34.0
    # No ResourceName column in this export: the table has no name column, culprits have no name.
    assert "resource_name" not in resources(ing).columns()
    culprits = top_resources(
        resources(ing), SERIES, {"sku": "m6i"}, start=datetime(2026, 8, 1), end=datetime(2026, 9, 2)
    )
    assert [c.resource_id for c in culprits] == ["i-e", "i-d", "i-c"] and culprits[0].resource_name is None


def test_the_bound_leaves_the_top_five_culprits_as_they_were(tmp_path: Path, engine: Engine) -> None:
    # Twelve resources under one usage type for three weeks, six of them rising in the last two days by
    # different amounts: the five largest rises are the culprits, bounded (10 per leaf-day) or not.
    rows = []
    for day in range(21):
        for i in range(12):
            rise = (i + 1) * 4.0 if day >= 19 and i % 2 == 0 else 0.0
            rows += hours(day, 1, cost=10.0 + i + rise, ResourceId=f"i-{i:02d}", SkuId="m6i")
    start, end = datetime(2026, 9, 20), datetime(2026, 9, 22)
    ranked = {}
    for bound in (0, 10):
        ing = make_ingestor(tmp_path / str(bound), engine, resources_per_leaf_day=bound)
        ing.ingest_paths([write_csv(tmp_path / f"{bound}.csv", rows)])
        culprits = top_resources(resources(ing), SERIES, {"sku": "m6i"}, start=start, end=end, k=5)
        ranked[bound] = [(c.resource_id, round(c.excess, 6)) for c in culprits]
    assert ranked[0] == [("i-10", 88.0), ("i-08", 72.0), ("i-06", 56.0), ("i-04", 40.0), ("i-02", 24.0)]
    assert ranked[10] == ranked[0]


def test_two_files_of_one_export_sum_their_resource_days_before_the_bound(
    tmp_path: Path, engine: Engine
) -> None:
    # One leaf-day billed in two files: i-a's day is split over both, so only their sum ranks it first.
    first = [
        *hours(0, 1, cost=3.0, ResourceId="i-a", SkuId="m6i"),
        *hours(0, 1, cost=4.0, ResourceId="i-b", SkuId="m6i"),
    ]
    second = [
        *[row(start=datetime(2026, 9, 1, 5), cost=3.0, ResourceId="i-a", SkuId="m6i")],
        *hours(0, 1, cost=2.0, ResourceId="i-c", SkuId="m6i"),
    ]
    folder = tmp_path / "export"
    folder.mkdir()
    write_csv(folder / "part-1.csv", first)
    write_csv(folder / "part-2.csv", second)
    ing = make_ingestor(tmp_path, engine, resources_per_leaf_day=1)
    ing.ingest_paths([folder])
    frame = resources(ing).query(
        "SELECT resource_id, cost FROM facts ORDER BY cost DESC, resource_id NULLS LAST"
    )
    got = [(None if pd.isna(r.resource_id) else r.resource_id, r.cost) for r in frame.itertuples()]
    assert got == [("i-a", 6.0), (None, 6.0)]  # i-b and i-c in the "other" row: the total is kept
    assert frame["cost"].sum() == ing.store.query("SELECT sum(cost) AS c FROM facts")["c"][0] == 12.0


def test_each_file_holds_a_leaf_day_keys_values_once_and_reads_back_joined(
    tmp_path: Path, engine: Engine
) -> None:
    rows = [
        *hours(0, 3, cost=1.0, ResourceId="i-a", SkuId="m6i"),
        *hours(0, 3, cost=1.0, ResourceId="i-b", SkuId="m6i"),
        *hours(1, 3, cost=1.0, ResourceId="i-a", SkuId="m6i"),
        *hours(0, 2, cost=1.0, ResourceId="db-1", SkuId="r6g", region="eu-west-1"),
    ]
    ing = make_ingestor(tmp_path, engine)
    ing.ingest_paths([write_csv(tmp_path / "x.csv", rows)])
    raw = FactStore(resources_dir(ing.settings.data_dir)).query(
        "SELECT day IS NULL AS key_row, count(*) AS n, count(sku) AS with_sku FROM facts GROUP BY ALL ORDER BY ALL"
    )
    # Two leaf-day keys (m6i in us-east-1, r6g in eu-west-1), four resource-days carrying none of the values.
    assert [tuple(r) for r in raw.itertuples(index=False)] == [(False, 4, 0), (True, 2, 2)]
    joined = resources(ing).query("SELECT day, region, sku, resource_id, cost FROM facts ORDER BY ALL")
    assert [(str(r.day)[:10], r.region, r.sku, r.resource_id, r.cost) for r in joined.itertuples()] == [
        ("2026-09-01", "eu-west-1", "r6g", "db-1", 2.0),
        ("2026-09-01", "us-east-1", "m6i", "i-a", 3.0),
        ("2026-09-01", "us-east-1", "m6i", "i-b", 3.0),
        ("2026-09-02", "us-east-1", "m6i", "i-a", 3.0),
    ]


def test_files_written_before_the_keys_were_split_out_still_read(tmp_path: Path) -> None:
    # The earlier layout: every value on every row, no leaf id.
    store = ResourceStore(tmp_path / "resources")
    old = pd.DataFrame(
        {
            "day": [pd.Timestamp("2026-09-01")],
            "billing_account": ["900"],
            "billing_period": ["2026-09"],
            "product": ["checkout"],
            "cost_line": ["Amazon EC2"],
            "currency": ["USD"],
            "account": ["111"],
            "region": ["us-east-1"],
            "service": ["Amazon EC2"],
            "sku": ["m6i"],
            "resource_type": ["Instance"],
            "resource_id": ["i-old"],
            "cost": [5.0],
        }
    )
    path = store.partition_path("900", "2026-09")
    path.parent.mkdir(parents=True)
    old.to_parquet(path)
    culprits = top_resources(
        store, SERIES, {"sku": "m6i"}, start=datetime(2026, 9, 1), end=datetime(2026, 9, 2)
    )
    assert [(c.resource_id, c.actual) for c in culprits] == [("i-old", 5.0)]


@pytest.mark.parametrize("files", [1, 2])
def test_only_crowded_leaf_days_are_cut_and_every_row_lands_in_its_own_partition(
    tmp_path: Path, engine: Engine, files: int
) -> None:
    # Bound 2. Billing account 900: a crowded leaf-day (three resources: the cheapest goes to "other")
    # beside one with two resources (kept as staged). Billing account 901, a month later: one resource
    # billed twice a day (summed, never cut). With two files each leaf-day is split over both.
    rows = [
        *hours(0, 2, cost=5.0, ResourceId="i-a", SkuId="m6i"),
        *hours(0, 2, cost=4.0, ResourceId="i-b", SkuId="m6i"),
        *hours(0, 2, cost=1.0, ResourceId="i-c", SkuId="m6i"),
        *hours(0, 2, cost=2.0, ResourceId="db-1", SkuId="r6g"),
        *hours(0, 2, cost=3.0, ResourceId="db-2", SkuId="r6g"),
        *hours(30, 2, cost=6.0, ResourceId="i-z", SkuId="m6i", billing_account="901"),
    ]
    folder = tmp_path / "export"
    folder.mkdir()
    for i in range(files):
        write_csv(folder / f"part-{i}.csv", rows[i::files])
    ing = make_ingestor(tmp_path, engine, resources_per_leaf_day=2)
    ing.ingest_paths([folder])
    frame = resources(ing).query(
        "SELECT billing_account, billing_period, sku, resource_id, cost FROM facts ORDER BY ALL"
    )
    got = [
        (
            r.billing_account,
            r.billing_period,
            r.sku,
            None if pd.isna(r.resource_id) else r.resource_id,
            r.cost,
        )
        for r in frame.itertuples()
    ]
    assert got == [
        ("900", "2026-09", "m6i", "i-a", 10.0),
        ("900", "2026-09", "m6i", "i-b", 8.0),
        ("900", "2026-09", "m6i", None, 2.0),  # i-c
        ("900", "2026-09", "r6g", "db-1", 4.0),
        ("900", "2026-09", "r6g", "db-2", 6.0),
        ("901", "2026-10", "m6i", "i-z", 12.0),
    ]
    # Each partition's file holds its own key rows and resource-days, nothing of the other's.
    raw = FactStore(resources_dir(ing.settings.data_dir))
    for account, period, resource_days in (("900", "2026-09", 5), ("901", "2026-10", 1)):
        path = raw.partition_path(account, period)
        with duckdb.connect() as conn:
            counts = conn.execute(
                "SELECT count(*) FILTER (WHERE day IS NOT NULL), "
                "count(*) FILTER (WHERE day IS NULL AND billing_account <> ?) "
                f"FROM read_parquet('{path}')",
                [account],
            ).fetchall()[0]
        assert counts == (resource_days, 0)


@pytest.mark.parametrize("name_sql", ["NULL::VARCHAR", "NULL", "CASE WHEN ResourceId = 'i-b' THEN 'db' END"])
def test_a_parquet_column_without_any_value_reads_as_absent(
    tmp_path: Path, engine: Engine, name_sql: str
) -> None:
    # ResourceName typed text but null in every row (its statistics say so), typed NULL, or with one value.
    csv_path = write_csv(
        tmp_path / "x.csv",
        [*hours(0, 2, cost=2.0, ResourceId="i-a", SkuId="m6i"), *hours(0, 1, cost=1.0, ResourceId="i-b")],
    )
    path = tmp_path / "x.parquet"
    with duckdb.connect() as conn:
        conn.execute(
            f"""COPY (SELECT * REPLACE (EffectiveCost::DOUBLE AS EffectiveCost), {name_sql} AS ResourceName
                      FROM read_csv('{csv_path}', all_varchar=true, nullstr='NULL'))
                TO '{path}' (FORMAT PARQUET)"""
        )
        columns = {str(r[0]): str(r[1]) for r in conn.execute(f"DESCRIBE SELECT * FROM '{path}'").fetchall()}
        empty = empty_columns(conn, path, columns)
    named = "'db'" in name_sql
    assert ("ResourceName" in empty) is not named and "ResourceId" not in empty
    ing = make_ingestor(tmp_path, engine)
    ing.ingest_paths([path])
    frame = resources(ing).query("SELECT * FROM facts ORDER BY resource_id")
    assert frame["resource_id"].tolist() == ["i-a", "i-b"] and frame["cost"].tolist() == [4.0, 1.0]
    # Without a value the table has no name column, as for an export without the column.
    assert ("resource_name" in frame.columns) is named
    if named:
        assert pd.isna(frame["resource_name"][0]) and frame["resource_name"][1] == "db"
