"""The fast paths of ingestion keep its behaviour: timestamp normalisation, one JSON parse per row,
and both ways of writing partitions (one filtered COPY each, or one partitioned COPY beyond a few)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine

from core.clock import FixedClock
from core.settings import Settings
from ingestion.fact_store import MAX_FILTERED_PARTITIONS
from ingestion.ingest import Ingestor
from tests.ingestion.focus_rows import hourly_rows, row, write_csv, write_parquet

Writer = Callable[[Path, Iterable[dict[str, Any]]], Path]
CLOCK = FixedClock(datetime(2026, 11, 1, tzinfo=UTC))


def make_ingestor(tmp_path: Path, engine: Engine) -> Ingestor:
    return Ingestor(Settings(data_dir=tmp_path / "data", _env_file=None), engine, CLOCK)


def test_offsets_are_honoured_and_dropped_to_naive_utc(tmp_path: Path, engine: Engine) -> None:
    rows = [
        row(ChargePeriodStart="2026-09-01T12:00:00+02:00", ChargePeriodEnd="2026-09-01T13:00:00+02:00"),
        row(ChargePeriodStart="2026-09-01T10:00:00Z", ChargePeriodEnd="2026-09-01T11:00:00Z"),
        row(ChargePeriodStart="2026-09-01 05:30:00-05", ChargePeriodEnd="2026-09-01 06:30:00-05"),
    ]
    ing = make_ingestor(tmp_path, engine)
    report = ing.ingest_paths([write_csv(tmp_path / "x.csv", rows)])
    assert report.rows_kept == 3 and not report.rejected
    hours = ing.store.query("SELECT period_start, period_hours, rows FROM facts ORDER BY period_start")
    # All three are 10:00 UTC: one leaf of three rows.
    assert hours["period_start"].tolist() == [datetime(2026, 9, 1, 10, 0)]
    assert hours["rows"].tolist() == [3] and hours["period_hours"].tolist() == [1.0]


def test_invalid_tags_are_counted_and_the_row_is_kept_unattributed(tmp_path: Path, engine: Engine) -> None:
    rows = hourly_rows(4, cost=1.0)
    rows[1]["Tags"] = '{"product": "checkout"'  # truncated JSON
    rows[2]["Tags"] = "[1, 2]"  # valid JSON without the keys
    ing = make_ingestor(tmp_path, engine)
    report = ing.ingest_paths([write_csv(tmp_path / "x.csv", rows)])
    assert report.rows_kept == 4 and report.rows_with_invalid_tags == 1
    assert report.coverage_pct == {"USD": 50.0}


@pytest.mark.parametrize("accounts", [MAX_FILTERED_PARTITIONS, MAX_FILTERED_PARTITIONS + 4])
@pytest.mark.parametrize("writer", [write_csv, write_parquet])
def test_every_partition_is_written_whichever_way_it_is_routed(
    tmp_path: Path, engine: Engine, accounts: int, writer: Writer
) -> None:
    rows = [
        r for a in range(accounts) for r in hourly_rows(3, cost=float(a + 1), billing_account=f"acct/{a}")
    ]
    path = writer(tmp_path / ("x.parquet" if writer is write_parquet else "x.csv"), rows)
    ing = make_ingestor(tmp_path, engine)
    first = ing.ingest_paths([path])
    assert first.partitions_written == accounts and first.rows_kept == 3 * accounts
    per_account = ing.store.query(
        "SELECT billing_account, sum(cost) AS c, sum(rows) AS n FROM facts GROUP BY 1 ORDER BY 1"
    )
    expected = sorted((f"acct/{a}", 3.0 * (a + 1)) for a in range(accounts))
    assert sorted(zip(per_account["billing_account"], per_account["c"], strict=True)) == expected
    assert per_account["n"].tolist() == [3] * accounts
    again = ing.ingest_paths([path])
    assert again.partitions_written == 0 and again.partitions_unchanged == accounts
