"""Resource-day facts: written by ingestion beside the leaf facts, replaced with them, ranked by excess."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import Engine

from core.clock import FixedClock
from core.settings import Settings
from ingestion.fact_store import FactStore
from ingestion.ingest import Ingestor
from ingestion.resource_facts import resources_dir, top_resources
from tests.ingestion.focus_rows import row, write_csv

CLOCK = FixedClock(datetime(2026, 11, 1, tzinfo=UTC))
SERIES = ("checkout", "Amazon EC2", "USD")


def make_ingestor(tmp_path: Path, engine: Engine, **overrides: object) -> Ingestor:
    settings = Settings(data_dir=tmp_path / "data", _env_file=None, **overrides)  # type: ignore[call-arg]
    return Ingestor(settings, engine, CLOCK)


def resources(ing: Ingestor) -> FactStore:
    return FactStore(resources_dir(ing.settings.data_dir))


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
