"""``spendsentry init``: starter configuration written from the data already ingested.

What the facts and the exports say (accounts and how much of their spend has no product, products, cost
lines, the tag keys present in the export's ``Tags``) becomes a commented ``.env`` and three YAML templates
(attribution, routing, budgets) that a person edits. Templates hold placeholders only: never a secret, and
nothing from the environment.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb

from ingestion.fact_store import FactStore
from ingestion.focus_reader import discover_files, literal

TAG_SAMPLE_ROWS = 20_000  # rows read per export file for its tag keys: enough to see every key in use


@dataclass
class Survey:
    """What was seen in the ingested data."""

    accounts: list[tuple[str, str, float, float]] = field(
        default_factory=list
    )  # account, provider, spend, unattributed
    products: list[tuple[str, str, float]] = field(default_factory=list)  # product, currency, month spend
    cost_lines: list[str] = field(default_factory=list)
    tag_keys: list[tuple[str, int]] = field(default_factory=list)  # key, rows carrying it (sampled)
    hourly: bool = False
    last_period: Any = None


def survey(store: FactStore, exports: list[Path]) -> Survey:
    out = Survey()
    if not store.has_facts():
        return out
    frame = store.query(
        "SELECT account, provider, sum(cost) AS spend, "
        "sum(CASE WHEN product = 'unattributed' THEN cost ELSE 0 END) AS unattributed "
        "FROM facts WHERE charge_category = 'Usage' GROUP BY ALL ORDER BY spend DESC"
    )
    out.accounts = [
        (str(r["account"]), str(r["provider"]), float(r["spend"]), float(r["unattributed"]))
        for r in frame.to_dict("records")
    ]
    last = store.last_period()
    out.last_period = last
    month = store.query(
        "SELECT product, currency, sum(cost) AS spend FROM facts WHERE charge_category = 'Usage' "
        "AND product <> 'unattributed' AND period_start > ? - INTERVAL 30 DAY GROUP BY ALL ORDER BY spend DESC",
        [last],
    )
    out.products = [
        (str(r["product"]), str(r["currency"]), float(r["spend"])) for r in month.to_dict("records")
    ]
    lines = store.query("SELECT DISTINCT cost_line FROM facts ORDER BY 1")
    out.cost_lines = [str(v) for v in lines["cost_line"]]
    out.hourly = bool(store.query("SELECT max(period_hours) < 24 AS h FROM facts")["h"].iloc[0])
    out.tag_keys = tag_keys(exports)
    return out


def tag_keys(exports: list[Path]) -> list[tuple[str, int]]:
    """Tag keys in the ``Tags`` column of the exports (a sample of each file), most used first."""
    counts: Counter[str] = Counter()
    present = [p for p in exports if p.exists()]
    if not present:
        return []
    con = duckdb.connect()
    try:
        for path in discover_files(present):
            name = path.name.lower()
            reader = "read_parquet" if name.endswith(".parquet") else "read_csv"
            options = "" if reader == "read_parquet" else ", all_varchar = true, nullstr = 'NULL'"
            try:
                rows = con.execute(
                    f"SELECT Tags FROM {reader}({literal(str(path))}{options}) "
                    f"WHERE Tags IS NOT NULL LIMIT {TAG_SAMPLE_ROWS}"
                ).fetchall()
            except duckdb.Error:
                continue  # no Tags column, or a file ingest rejected: nothing to learn from it
            for (tags,) in rows:
                parsed = json.loads(tags) if isinstance(tags, str) else tags
                if isinstance(parsed, dict):
                    counts.update(str(k) for k in parsed)
    finally:
        con.close()
    return counts.most_common()
