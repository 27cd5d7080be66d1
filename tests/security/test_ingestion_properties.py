"""Property: no FOCUS-like file, however broken, corrupts the stored facts.

Each example starts from two stored partitions, then ingests a generated export: valid rows for a
random mix of billing accounts and periods (with free text in tags and service names), rows broken in
one field, and sometimes a file cut at a random byte or followed by garbage. Afterwards the facts are
readable; a partition the file does not name is byte-identical; a partition the file names is either
unchanged or holds exactly the file's valid rows for it (clean files); nothing temporary is left over.
"""

from __future__ import annotations

import os
import tempfile
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.clock import FixedClock
from core.db import make_engine, migrate
from core.errors import InputError, StoreError
from core.settings import Settings
from ingestion.ingest import Ingestor
from tests.ingestion.focus_rows import hourly_rows, row, write_csv
from tests.security.snapshots import facts_snapshot

CLOCK = FixedClock(datetime(2026, 11, 1, tzinfo=UTC))
MONTHS = {"2026-09": datetime(2026, 9, 1), "2026-10": datetime(2026, 10, 1)}
ACCOUNTS = ("900", "901", "902")
# One broken field each; every one of these is a reject reason of the reader.
BREAKS: dict[str, Any] = {
    "ChargePeriodStart": "not a time",
    "BillingPeriodStart": "someday",
    "BillingCurrency": "DOLLARS",
    "ChargeCategory": "Bogus",
    "EffectiveCost": "abc",
}
TEXT = st.text(st.characters(blacklist_categories=("Cs", "Cc")), max_size=10)


@st.composite
def export_rows(draw: st.DrawFn) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """``(all rows in file order, the valid ones)``."""
    rows, valid = [], []
    for _ in range(draw(st.integers(1, 12))):
        month = draw(st.sampled_from(sorted(MONTHS)))
        start = MONTHS[month] + timedelta(hours=draw(st.integers(0, 71)))
        r = row(
            start=start,
            cost=draw(st.floats(-50, 5000, allow_nan=False).map(lambda c: round(c, 4))),
            product=draw(st.one_of(st.none(), TEXT.filter(str.strip))),
            service=draw(TEXT.filter(str.strip)),
            billing_account=draw(st.sampled_from(ACCOUNTS)),
        )
        broken = draw(st.one_of(st.none(), st.sampled_from(sorted(BREAKS))))
        if broken is None:
            valid.append(r)
        else:
            r[broken] = BREAKS[broken]
        rows.append(r)
    return rows, valid


def partition_totals(ing: Ingestor) -> dict[tuple[str, str], float]:
    frame = ing.store.query(
        "SELECT billing_account, billing_period, sum(cost) AS c FROM facts "
        "WHERE charge_category = 'Usage' GROUP BY ALL"
    )
    return {(str(r.billing_account), str(r.billing_period)): float(r.c) for r in frame.itertuples()}


def partition_files(root: Path) -> dict[tuple[str, str], bytes]:
    out = {}
    for p in root.rglob("*.parquet"):
        account = p.parent.parent.name.split("=", 1)[1]
        period = p.parent.name.split("=", 1)[1]
        out[(account, period)] = p.read_bytes()
    return out


@settings(max_examples=25, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
@given(
    data=export_rows(),
    damage=st.one_of(
        st.none(),
        st.tuples(st.sampled_from(["cut", "garbage"]), st.integers(0, 10_000), st.binary(max_size=64)),
    ),
)
def test_any_export_leaves_the_stored_facts_readable_and_intact(
    data: tuple[list[dict[str, Any]], list[dict[str, Any]]], damage: tuple[str, int, bytes] | None
) -> None:
    rows, valid = data
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        engine = make_engine(f"sqlite:///{root / 'state.db'}")
        try:
            migrate(engine)
            ing = Ingestor(Settings(data_dir=root / "data", _env_file=None), engine, CLOCK)  # type: ignore[call-arg]
            base = [
                *hourly_rows(6, cost=1.0, billing_account="900"),
                *hourly_rows(6, start=MONTHS["2026-10"], cost=2.0, billing_account="901"),
            ]
            first = write_csv(root / "v1.csv", base)
            os.utime(first, (1_700_000_000, 1_700_000_000))
            ing.ingest_paths([first])
            before_files = partition_files(ing.store.root)
            before_totals = partition_totals(ing)

            path = write_csv(root / "v2.csv", rows)
            if damage is not None:
                mode, at, junk = damage
                raw = path.read_bytes()
                path.write_bytes(raw[: at % (len(raw) + 1)] if mode == "cut" else raw + junk)
            os.utime(path, (1_700_003_600, 1_700_003_600))  # newer than v1: it may replace periods
            try:
                ing.ingest_paths([path])
            except (InputError, StoreError):
                assert partition_files(ing.store.root) == before_files
            after_files = partition_files(ing.store.root)
            after_totals = partition_totals(ing)  # readable: DuckDB reads every stored file
            named = {(str(r["BillingAccountId"]), str(r["BillingPeriodStart"])[:7]) for r in rows}
            for key, content in before_files.items():
                if key not in named:
                    assert after_files.get(key) == content, key
            if damage is None:
                expected: dict[tuple[str, str], float] = defaultdict(float)
                for r in valid:
                    expected[(r["BillingAccountId"], r["BillingPeriodStart"][:7])] += r["EffectiveCost"]
                for key in set(before_totals) | set(expected):
                    want = expected[key] if key in expected else before_totals.get(key)
                    assert after_totals.get(key, 0.0) == pytest.approx(want or 0.0, abs=1e-6), key
            leftovers = [p for p in ing.store.root.rglob("*") if p.name.startswith(".")]
            assert leftovers == []
            assert facts_snapshot(ing.store.root).keys() == {
                str(p.relative_to(ing.store.root)) for p in ing.store.root.rglob("*.parquet")
            }
        finally:
            engine.dispose()
