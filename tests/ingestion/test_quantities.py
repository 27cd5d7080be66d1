"""Facts keep each leaf's quantity and unit: with and without quantity columns, mixed units, old partitions."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine

from core.clock import FixedClock
from core.settings import Settings
from ingestion.ingest import Ingestor
from tests.ingestion.focus_rows import hourly_rows, row, write_csv, write_parquet

CLOCK = FixedClock(datetime(2026, 11, 1, tzinfo=UTC))
SEPT = {"start": datetime(2026, 9, 1), "end": datetime(2026, 10, 1)}


def make_ingestor(tmp_path: Path, engine: Engine, **overrides: object) -> Ingestor:
    settings = Settings(data_dir=tmp_path / "data", _env_file=None, **overrides)  # type: ignore[call-arg]
    return Ingestor(settings, engine, CLOCK)


def leaves(ing: Ingestor) -> list[tuple[str, float, float]]:
    frame = ing.store.leaf_table("checkout", "Amazon EC2", "USD", dimensions=["sku"], quantity=True, **SEPT)
    return list(zip(frame["sku"], frame["actual"], frame["quantity"], strict=True))


def units(ing: Ingestor) -> list[object]:
    frame = ing.store.query("SELECT DISTINCT quantity_unit FROM facts ORDER BY 1")
    return list(frame["quantity_unit"])


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_consumed_quantity_and_its_unit_are_summed_per_leaf(tmp_path: Path, engine: Engine, fmt: str) -> None:
    rows = [
        *hourly_rows(3, cost=2.0, SkuId="A", ConsumedQuantity=4.0, ConsumedUnit="Hours"),
        *hourly_rows(2, cost=1.0, SkuId="B", ConsumedQuantity=10.0, ConsumedUnit="GB"),
    ]
    writer = write_csv if fmt == "csv" else write_parquet
    ing = make_ingestor(tmp_path, engine)
    ing.ingest_paths([writer(tmp_path / f"x.{fmt}", rows)])
    assert leaves(ing) == [("A", 6.0, 12.0), ("B", 2.0, 20.0)]
    assert units(ing) == ["GB", "Hours"]


def test_pricing_quantity_stands_in_for_rows_without_consumed_quantity(
    tmp_path: Path, engine: Engine
) -> None:
    rows = [
        row(
            cost=3.0,
            SkuId="A",
            ConsumedQuantity=None,
            ConsumedUnit=None,
            PricingQuantity=5,
            PricingUnit="Hours",
        ),
        row(
            cost=3.0,
            SkuId="B",
            ConsumedQuantity=7,
            ConsumedUnit="Hours",
            PricingQuantity=1,
            PricingUnit="Hours",
        ),
    ]
    ing = make_ingestor(tmp_path, engine)
    ing.ingest_paths([write_csv(tmp_path / "x.csv", rows)])
    assert leaves(ing) == [("A", 3.0, 5.0), ("B", 3.0, 7.0)]


def test_a_leaf_mixing_units_or_missing_a_quantity_has_none(tmp_path: Path, engine: Engine) -> None:
    rows = [
        row(cost=1.0, SkuId="mixed", ConsumedQuantity=1, ConsumedUnit="Hours"),
        row(cost=1.0, SkuId="mixed", ConsumedQuantity=1, ConsumedUnit="GB", ResourceId="other"),
        row(cost=1.0, SkuId="partial", ConsumedQuantity=2, ConsumedUnit="GB"),
        row(cost=1.0, SkuId="partial", ConsumedQuantity=None, ConsumedUnit=None, ResourceId="other"),
    ]
    ing = make_ingestor(tmp_path, engine)
    ing.ingest_paths([write_csv(tmp_path / "x.csv", rows)])
    got = {sku: (cost, qty) for sku, cost, qty in leaves(ing)}
    assert got["mixed"][0] == 2.0 and math.isnan(got["mixed"][1])
    assert got["partial"][0] == 2.0 and math.isnan(got["partial"][1])


def test_exports_without_quantity_columns_still_ingest(tmp_path: Path, engine: Engine) -> None:
    ing = make_ingestor(tmp_path, engine)
    report = ing.ingest_paths([write_csv(tmp_path / "x.csv", hourly_rows(4, cost=1.5))])
    assert report.rows_kept == 4
    [(sku, cost, qty)] = leaves(ing)
    assert (sku, cost) == ("SKU1", 6.0) and math.isnan(qty)


def test_quantities_sum_over_several_files_of_one_period(tmp_path: Path, engine: Engine) -> None:
    folder = tmp_path / "export"
    folder.mkdir()
    write_csv(folder / "a.csv", hourly_rows(2, cost=1.0, ConsumedQuantity=3, ConsumedUnit="Hours"))
    later = datetime(2026, 9, 2)
    write_csv(
        folder / "b.csv", hourly_rows(2, start=later, cost=1.0, ConsumedQuantity=5, ConsumedUnit="Hours")
    )
    ing = make_ingestor(tmp_path, engine)
    ing.ingest_paths([folder])
    assert leaves(ing) == [("SKU1", 4.0, 16.0)]


def test_partitions_written_without_quantities_read_as_unknown(tmp_path: Path, engine: Engine) -> None:
    # An older version (or KEEP_QUANTITIES=false) wrote one period without the columns, a newer one the next.
    old = make_ingestor(tmp_path, engine, keep_quantities=False)
    old.ingest_paths([write_csv(tmp_path / "sep.csv", hourly_rows(2, ConsumedQuantity=3, ConsumedUnit="h"))])
    assert "quantity" not in old.store.columns()
    assert math.isnan(leaves(old)[0][2])
    new = make_ingestor(tmp_path, engine)
    october = hourly_rows(2, start=datetime(2026, 10, 1), ConsumedQuantity=3, ConsumedUnit="h")
    new.ingest_paths([write_csv(tmp_path / "oct.csv", october)])
    sept = leaves(new)
    assert sept[0][1] == 2.0 and math.isnan(sept[0][2])
    frame = new.store.leaf_table(
        "checkout", "Amazon EC2", "USD", start=datetime(2026, 10, 1), end=datetime(2026, 11, 1), quantity=True
    )
    assert frame["quantity"].tolist() == [6.0]
