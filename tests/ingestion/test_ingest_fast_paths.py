"""The fast paths of ingestion keep its behaviour: timestamp normalisation (and the plain cast for text
that cannot carry an offset), the currency check, one JSON parse per row, facts holding the cost basis
only, and both ways of writing partitions (one filtered COPY each, or one partitioned COPY beyond a few).
Also what DuckDB must never read from folder names (key=value folders are not columns, inputs or facts)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import pytest
from sqlalchemy import Engine

from core.clock import FixedClock
from core.settings import Settings
from ingestion.fact_store import MAX_FILTERED_PARTITIONS, FactStore
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


# Text timestamps of every shape near the fast path's 'YYYY-MM-DD?HH:MM:SS[Z]': the ones it takes and the
# ones carrying an offset (or odd enough) that must take the offset-aware cast instead.
TIMESTAMP_TEXTS = [
    "2026-09-01 10:00:00",
    "2026-09-01T10:00:00",
    "2026-09-01T10:00:00Z",
    "2026-09-01 10:59:59",
    "2026-09-01T12:00+02",
    "2026-09-01T12+02:00",
    "2026-09-01T12:00:00+02",
    "2026-09-01 05:30:00-05",
    "2026-09-01T12:00:00.5+02:00",
    "2026-09-01T10:00:00.000Z",
    "2026-09-01 10:00:00 UTC",
    "2026-09-01 12:00:00 Europe/Paris",
    "2026-09-01x10:00:00",
    "2026-09-01 25:00:00",
    "2026-02-30 10:00:00",
    "2026-09-01 10:00:0Z",
    "2026-09-01",
]


def aware_hour(text: str) -> datetime | None:
    """The reference: DuckDB's offset-aware cast, the hour it falls in as naive UTC (None when rejected)."""
    with duckdb.connect() as conn:
        conn.execute("SET TimeZone='UTC'")
        value = conn.execute(
            "SELECT date_trunc('hour', timezone('UTC', TRY_CAST(? AS TIMESTAMPTZ)))", [text]
        ).fetchall()[0][0]
    return value if isinstance(value, datetime) else None


@pytest.mark.parametrize("text", TIMESTAMP_TEXTS)
def test_text_timestamps_read_the_instant_the_offset_aware_cast_reads(
    tmp_path: Path, engine: Engine, text: str
) -> None:
    # The plain TIMESTAMP cast ignores offsets: only text with no room for one may take it.
    end = "2026-09-02 00:00:00+00"
    ing = make_ingestor(tmp_path, engine)
    report = ing.ingest_paths(
        [write_csv(tmp_path / "x.csv", [row(ChargePeriodStart=text, ChargePeriodEnd=end)])]
    )
    expected = aware_hour(text)
    if expected is None:
        assert report.rows_kept == 0
        assert [r.reason for r in report.rejected] == ["ChargePeriodStart: missing or not a timestamp"]
    else:
        assert report.rows_kept == 1, report.rejected
        stored = ing.store.query("SELECT period_start FROM facts")["period_start"].tolist()
        assert stored == [expected]


@pytest.mark.parametrize(
    ("currency", "kept_as"),
    [
        ("USD", "USD"),
        (" eur ", "EUR"),
        ("usd", "USD"),
        ("US1", None),
        ("USDX", None),
        ("US", None),
        ("ÉUR", None),
        ("U[D", None),
        ("U D", None),
        ("", None),
    ],
)
def test_currency_must_be_three_letters(
    tmp_path: Path, engine: Engine, currency: str, kept_as: str | None
) -> None:
    ing = make_ingestor(tmp_path, engine)
    report = ing.ingest_paths([write_csv(tmp_path / "x.csv", [row(currency=currency)])])
    if kept_as is None:
        assert report.rows_kept == 0
        assert report.rejected[0].reason.startswith("BillingCurrency: missing or not a 3-letter")
    else:
        assert report.rows_kept == 1 and list(report.usage_spend) == [kept_as]


@pytest.mark.parametrize("writer", [write_csv, write_parquet])
def test_facts_hold_the_cost_basis_and_nothing_else_of_the_costs(
    tmp_path: Path, engine: Engine, writer: Writer
) -> None:
    settings = Settings(data_dir=tmp_path / "data", cost_basis="BilledCost", _env_file=None)
    ing = Ingestor(settings, engine, CLOCK)
    ing.ingest_paths(
        [writer(tmp_path / ("x.parquet" if writer is write_parquet else "x.csv"), hourly_rows(2, cost=10.0))]
    )
    facts = ing.store.query("SELECT * FROM facts")
    assert sorted(c for c in facts.columns if "cost" in c) == ["cost", "cost_line"]
    assert facts["cost"].sum() == pytest.approx(22.0)  # BilledCost is 1.1 x EffectiveCost in these rows


def test_numeric_account_ids_stay_text(tmp_path: Path, engine: Engine) -> None:
    # Folder names say billing_account=123456789012: the ids must come back as the text the export had,
    # not as numbers read from the folder names.
    ids = ["123456789012", "210987654321"]
    rows = [r for a in ids for r in hourly_rows(2, cost=1.0, billing_account=a, account=a)]
    ing = make_ingestor(tmp_path, engine)
    ing.ingest_paths([write_csv(tmp_path / "x.csv", rows)])
    facts = ing.store.query("SELECT DISTINCT billing_account, account FROM facts ORDER BY 1")
    assert facts["billing_account"].tolist() == ids and facts["account"].tolist() == ids


def test_partitions_written_with_the_old_cost_columns_are_still_read_and_replaced(
    tmp_path: Path, engine: Engine
) -> None:
    # Facts written before the extra cost columns were dropped sit beside new ones until re-ingested.
    ing = make_ingestor(tmp_path, engine)
    old_export = write_csv(tmp_path / "old.csv", hourly_rows(3, cost=2.0, billing_account="900"))
    ing.ingest_paths([old_export])
    (old_file,) = (tmp_path / "data" / "facts").glob("billing_account=900/*/facts.parquet")
    with duckdb.connect() as conn:
        conn.execute(
            f"""COPY (SELECT *, cost AS effective_cost, cost * 1.1 AS billed_cost, cost * 1.3 AS list_cost
                      FROM read_parquet('{old_file}')) TO '{old_file}.old' (FORMAT PARQUET)"""
        )
    Path(f"{old_file}.old").replace(old_file)

    ing.ingest_paths([write_csv(tmp_path / "new.csv", hourly_rows(3, cost=5.0, billing_account="901"))])
    totals = ing.store.query("SELECT billing_account, sum(cost) AS c FROM facts GROUP BY 1 ORDER BY 1")
    assert list(zip(totals["billing_account"], totals["c"], strict=True)) == [("900", 6.0), ("901", 15.0)]
    assert [s.total_spend for s in ing.store.list_series()] == [21.0]

    again = ing.ingest_paths([old_export], force=True)
    assert again.partitions_written == 1  # the old layout is rewritten once...
    assert ing.ingest_paths([old_export], force=True).partitions_unchanged == 1  # ...then it is the same
    assert "effective_cost" not in ing.store.query("SELECT * FROM facts").columns


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


def test_a_partition_staged_in_several_files_is_merged_without_the_staging_folder_key(tmp_path: Path) -> None:
    # A partitioned COPY may leave a partition in several files under _ss_pid=N; the merged facts file
    # must hold the fact columns only, not _ss_pid read back from the folder name.
    store = FactStore(tmp_path / "facts")
    staging = tmp_path / "facts" / ".staging-x" / "_ss_pid=0"
    staging.mkdir(parents=True)
    with duckdb.connect() as conn:
        for part in range(2):
            conn.execute(
                f"""COPY (SELECT '900' AS billing_account, '2026-09' AS billing_period, {part + 1}.0 AS cost)
                    TO '{staging / f"data_{part}.parquet"}' (FORMAT PARQUET)"""
            )
        write = store._swap_in(conn, staging.parent, 0, "900", "2026-09")
    assert write.rows == 2 and write.changed
    facts = store.query("SELECT * FROM facts ORDER BY cost")
    assert list(facts.columns) == ["billing_account", "billing_period", "cost"]
    assert facts["cost"].tolist() == [1.0, 2.0]


@pytest.mark.parametrize("writer", [write_csv, write_parquet])
def test_folder_names_never_become_columns(tmp_path: Path, engine: Engine, writer: Writer) -> None:
    # Exports often sit under key=value folders (AWS: BILLING_PERIOD=2026-09/); one named after a FOCUS
    # column must not replace that column's values.
    folder = tmp_path / "exports" / "BILLING_PERIOD=2026-09" / "BillingAccountId=123"
    folder.mkdir(parents=True)
    name = "part-0.parquet" if writer is write_parquet else "part-0.csv"
    writer(folder / name, hourly_rows(3, cost=1.0, billing_account="900"))
    ing = make_ingestor(tmp_path, engine)
    report = ing.ingest_paths([tmp_path / "exports"])
    assert report.rows_kept == 3 and not report.rejected
    facts = ing.store.query("SELECT DISTINCT billing_account FROM facts")
    assert facts["billing_account"].tolist() == ["900"]
