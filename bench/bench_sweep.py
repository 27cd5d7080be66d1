"""Sweep throughput: a sweep over N daily series with stored models, end to end (1k / 10k / 50k series).

Facts are generated straight into the fact store's Parquet layout (one leaf per series and day, a few
dimensions), models are trained with the batched model, then one sweep runs with incidents and the
outbox (no receiver configured). The sweep is what is timed; training is reported beside it.
Run: ``.venv/bin/python -m bench.bench_sweep`` (``SWEEP_SIZES=1000,10000`` to choose sizes).
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from bench.machine import describe
from bench.publish import publish
from core.clock import FixedClock
from core.db import make_engine, migrate
from core.settings import Settings
from training.sweep_job import run_sweep
from training.train_job import train_all

RESULTS = Path(__file__).resolve().parent / "results" / "sweep.md"
DAYS = 120

FACTS = """
COPY (
  SELECT TIMESTAMP '2026-06-01' + to_days(d) AS period_start, 'B1' AS billing_account,
         strftime(TIMESTAMP '2026-06-01' + to_days(d), '%Y-%m') AS billing_period, 'AWS' AS provider,
         'Usage' AS charge_category, 'USD' AS currency, 'product-' || (s // 20) AS product,
         'line-' || (s % 20) AS cost_line, 'acct-' || (s % 7) AS account, 'region-' || (s % 5) AS region,
         'svc-' || (s % 20) AS service, 'sku-' || (s % 11) AS sku, 'type' AS resource_type, 24.0 AS period_hours,
         greatest(0, (100 + s % 50) * (1 + 0.3 * (dayofweek(TIMESTAMP '2026-06-01' + to_days(d)) IN (0, 6))::INT)
           * (1 + 0.05 * (random() - 0.5)) * CASE WHEN s % 97 = 0 AND d >= {days} - 2 THEN 3 ELSE 1 END) AS cost,
         1::BIGINT AS rows
  FROM range({n}) a(s), range({days}) b(d)
) TO '{path}' (FORMAT PARQUET)
"""


def run(n: int, root: Path) -> dict[str, float]:
    settings = Settings(database_url=f"sqlite:///{root / 'state.db'}", data_dir=root / "data", _env_file=None)  # type: ignore[call-arg]
    target = settings.facts_dir / "billing_account=B1" / "billing_period=all" / "facts.parquet"
    target.parent.mkdir(parents=True, exist_ok=True)
    with duckdb.connect() as conn:
        conn.execute(FACTS.format(n=n, days=DAYS, path=target))
    engine = make_engine(settings.database_url)
    migrate(engine)
    clock = FixedClock(datetime(2026, 9, 29, tzinfo=UTC))
    from alerts.wiring import alerting_from_settings

    t0 = time.perf_counter()
    trained = train_all(settings, engine, clock, model="seasonal", workers=1)
    train_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    report = run_sweep(
        settings,
        engine,
        clock,
        at=datetime(2026, 9, 29, tzinfo=UTC),
        alerting=alerting_from_settings(settings, engine, clock),
    )
    sweep_s = time.perf_counter() - t0
    engine.dispose()
    return {
        "series": n,
        "trained": trained.trained,
        "train_s": train_s,
        "sweep_s": sweep_s,
        "evaluated": report.evaluated,
        "anomalies": report.anomalies,
    }


def main() -> None:
    sizes = [int(x) for x in os.environ.get("SWEEP_SIZES", "1000,10000,50000").split(",")]
    rows = []
    for n in sizes:
        with tempfile.TemporaryDirectory(prefix="ss-sweep-") as tmp:
            print(f"sweep bench: {n} series...", file=sys.stderr, flush=True)
            rows.append(run(n, Path(tmp)))
            print(rows[-1], file=sys.stderr, flush=True)
    lines = [
        "## Sweep over many series",
        "",
        f"Machine: {describe()}. Command: `.venv/bin/python -m bench.bench_sweep` (part of `make bench`).",
        "",
        f"Daily series, {DAYS} days of facts each, stored batched models; one sweep = read facts, load every",
        "model, score, post-rules, root causes for the anomalies, incidents and outbox in the state DB (SQLite).",
        "",
        "| series | sweep s | series/s | anomalies | training s (batched, for reference) |",
        "|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r['series']:,.0f} | {r['sweep_s']:.1f} | {r['series'] / r['sweep_s']:,.0f} | "
            f"{r['anomalies']:.0f} | {r['train_s']:.1f} |"
        )
    lines += ["", "Target: 10,000 series in ≤ 30 s end to end.", ""]
    publish("\n".join(lines), RESULTS)


if __name__ == "__main__":
    main()
