"""A generated fact store for sweep tests: daily and hourly series on several time grids, with spikes.

Written straight into the fact store's Parquet layout (as ``bench.bench_sweep`` does), so a test gets a
few hundred series without an ingest. Daily series: most observed over the whole window, some starting
late or with missing days (each such pattern is a grid of its own), every fourth one spiking over its last
two days; two regions and two services per series, so root causes have leaves to rank. Hourly series: a
product with a few cost lines over three weeks, one spiking over its last hours.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import duckdb

DAILY_START = datetime(2026, 6, 1)
DAILY_DAYS = 90
HOURLY_DAYS = 21
AS_OF = DAILY_START + timedelta(days=DAILY_DAYS)  # the hourly series end here too

_COMMON = """
'USD' AS currency, 'Usage' AS charge_category, 'AWS' AS provider, 'sku-' || (s % 3) AS sku,
'type' AS resource_type, 'acct-' || (s % 4) AS account, 1::BIGINT AS rows
"""

_DAILY = f"""
COPY (
  SELECT TIMESTAMP '{{start}}' + to_days(d) AS period_start, 'B1' AS billing_account,
         strftime(TIMESTAMP '{{start}}' + to_days(d), '%Y-%m') AS billing_period, {_COMMON},
         'product-' || (s // 8) AS product, 'line-' || (s % 8) AS cost_line, 24.0 AS period_hours,
         'region-' || r AS region, 'svc-' || r AS service,
         (50 + s % 30 + 20 * r) * (1 + 0.3 * (dayofweek(TIMESTAMP '{{start}}' + to_days(d)) IN (0, 6))::INT)
           * (1 + 0.1 * sin(s * 7 + d * 1.3)) * CASE WHEN s % 4 = 0 AND r = 1 AND d >= {{days}} - 2
             THEN 4 ELSE 1 END AS cost
  FROM range({{n}}) a(s), range({{days}}) b(d), range(2) c(r)
  WHERE NOT (s % 5 = 1 AND d < 40) AND NOT (s % 7 = 2 AND d BETWEEN 50 AND 52)
) TO '{{path}}' (FORMAT PARQUET)
"""

_HOURLY = f"""
COPY (
  SELECT TIMESTAMP '{{start}}' + to_hours(h) AS period_start, 'B2' AS billing_account,
         strftime(TIMESTAMP '{{start}}' + to_hours(h), '%Y-%m') AS billing_period, {_COMMON},
         'hourly-product' AS product, 'hline-' || s AS cost_line, 1.0 AS period_hours,
         'region-' || r AS region, 'svc-' || r AS service,
         (5 + s + 2 * r) * (1 + 0.5 * (hour(TIMESTAMP '{{start}}' + to_hours(h)) BETWEEN 8 AND 18)::INT)
           * (1 + 0.1 * sin(s * 3 + h * 0.7)) * CASE WHEN s = 0 AND r = 0 AND h >= {{hours}} - 4
             THEN 6 ELSE 1 END AS cost
  FROM range({{n}}) a(s), range({{hours}}) b(h), range(2) c(r)
) TO '{{path}}' (FORMAT PARQUET)
"""


def write_sweep_facts(facts: Path, *, daily: int = 96, hourly: int = 4) -> None:
    """Write ``daily`` daily and ``hourly`` hourly series' facts under ``facts`` (a fact store root)."""
    for account, sql, params in (
        ("B1", _DAILY, {"n": daily, "days": DAILY_DAYS, "start": DAILY_START}),
        (
            "B2",
            _HOURLY,
            {"n": hourly, "hours": HOURLY_DAYS * 24, "start": AS_OF - timedelta(days=HOURLY_DAYS)},
        ),
    ):
        target = facts / f"billing_account={account}" / "billing_period=all" / "facts.parquet"
        target.parent.mkdir(parents=True, exist_ok=True)
        with duckdb.connect() as conn:
            conn.execute(sql.format(path=target, **params))
