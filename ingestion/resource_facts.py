"""Resource-day facts: the spend of each resource (``ResourceId``) per day, kept beside the leaf facts.

Leaf facts stop at the usage type: a resource id per leaf would multiply them by the resources of each
leaf (thousands of instances under one SKU). Naming the resources behind a root cause needs far less —
their spend per day — so ingestion keeps a separate, compact table: one row per day × series ×
base dimensions × resource, usage charges with a resource id only, partitioned and replaced exactly like
the leaf facts (same billing account × billing period files, under ``DATA_DIR/resources``).

Both tables come out of one scan of each export: the staging query groups every row twice with
``GROUPING SETS`` (leaf keys, and day + resource keys), so parsing is not paid twice.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

from ingestion.fact_store import BASE_DIMENSIONS, FactStore
from ingestion.focus_columns import USAGE
from ingestion.focus_reader import quote

RESOURCE_KEYS: tuple[str, ...] = (
    "billing_account",
    "billing_period",
    "product",
    "cost_line",
    "currency",
    *BASE_DIMENSIONS,
    "resource_id",
    "resource_name",
)


def resources_dir(data_dir: Path) -> Path:
    return Path(data_dir) / "resources"


def staging_sql(plan_sql: str, leaf_keys: Sequence[str], aggregates: str) -> str:
    """The staging query of one export: leaf groups (``_ss_set = 1``) and resource-day groups (``0``).

    ``aggregates`` are the leaf aggregates (cost, rows, ...). Rejected rows collapse to one group per reason
    in the leaf set and never reach the resource set.
    """
    masked = ", ".join(f"CASE WHEN reason IS NULL THEN {quote(k)} END AS {quote(k)}" for k in leaf_keys)
    resource_key_set = [k for k in RESOURCE_KEYS if k not in ("resource_id", "resource_name")]
    leaf_set = ", ".join(["reason", *(quote(k) for k in leaf_keys)])
    # The name goes with the id: an aggregate, not one more key to hash.
    resource_set = ", ".join(["reason", "_ss_day", *(quote(k) for k in resource_key_set), "resource_id"])
    return f"""
        SELECT reason, {", ".join(quote(k) for k in leaf_keys)}, _ss_day, resource_id,
               max(resource_name) AS resource_name, GROUPING(_ss_day) AS _ss_set, {aggregates}
        FROM (
            SELECT * REPLACE ({masked},
                              CASE WHEN reason IS NULL THEN resource_id END AS resource_id,
                              CASE WHEN reason IS NULL THEN resource_name END AS resource_name),
                   CASE WHEN reason IS NULL AND charge_category = '{USAGE}' AND resource_id IS NOT NULL
                        THEN date_trunc('day', period_start) END AS _ss_day
            FROM ({plan_sql}) AS _ss_plan
        )
        GROUP BY GROUPING SETS (({leaf_set}), ({resource_set}))
    """


STAGED_ALL = "_ss_staged_all"


def stage_with_resources(
    conn: duckdb.DuckDBPyConnection, sql: str, params: Sequence[Any], index: int
) -> None:
    """Run :func:`staging_sql` into one table; ``staged`` (leaf groups) and ``staged_resources`` are views.

    Views, not copies: copying the leaf groups out costs more than grouping twice did.
    """
    if index:
        conn.execute(f"INSERT INTO {STAGED_ALL} BY NAME {sql}", list(params))
        return
    conn.execute(f"CREATE TABLE {STAGED_ALL} AS {sql}", list(params))
    conn.execute(
        "CREATE VIEW staged AS SELECT * EXCLUDE (_ss_day, resource_id, resource_name, _ss_set) "
        f"FROM {STAGED_ALL} WHERE _ss_set IS DISTINCT FROM 0"  # malformed-line groups have no set
    )
    conn.execute(
        f"CREATE VIEW staged_resources AS SELECT _ss_day AS day, {', '.join(quote(k) for k in RESOURCE_KEYS)}, "
        f"cost FROM {STAGED_ALL} WHERE _ss_set = 0 AND _ss_day IS NOT NULL"
    )


def publish_resources(
    conn: duckdb.DuckDBPyConnection, store: FactStore, partitions: Sequence[tuple[str, str]]
) -> None:
    """Replace the resource-day facts of ``partitions`` with the staged ones (removing stale ones)."""
    present = {
        (str(a), str(p))
        for a, p in conn.execute(
            "SELECT DISTINCT billing_account, billing_period FROM staged_resources"
        ).fetchall()
    }
    for account, period in partitions:
        if (account, period) not in present:  # the new export of the period names no resource
            store.partition_path(account, period).unlink(missing_ok=True)
    wanted = [p for p in partitions if p in present]
    keys = ", ".join(quote(k) for k in ("day", *RESOURCE_KEYS))
    store.replace_partitions(
        conn, f"SELECT {keys}, sum(cost)::DOUBLE AS cost FROM staged_resources GROUP BY ALL", wanted
    )


@dataclass(frozen=True)
class Culprit:
    """One resource behind a root cause: its spend over an event and its excess over its own baseline."""

    resource_id: str
    resource_name: str | None
    resource_type: str | None
    actual: float
    expected: float
    excess: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "resource_id": self.resource_id,
            "resource_name": self.resource_name,
            "resource_type": self.resource_type,
            "actual": round(self.actual, 2),
            "expected": round(self.expected, 2),
            "excess": round(self.excess, 2),
        }


def top_resources(
    store: FactStore,
    series: tuple[str, str, str],
    dimensions: dict[str, str],
    *,
    start: datetime,
    end: datetime,
    baseline_days: int = 14,
    k: int = 5,
) -> list[Culprit]:
    """The ``k`` resources of a cause with the largest excess $ over [start, end) (days).

    A resource's expected spend is its mean daily spend over the ``baseline_days`` before ``start`` times
    the event's days: a resource that did not exist then has all its spend as excess. Only the base
    dimensions of the cause filter (tag dimensions are not kept per resource).
    """
    if not store.has_facts():
        return []
    filters = {d: v for d, v in dimensions.items() if d in BASE_DIMENSIONS}
    day0, day1 = pd.Timestamp(start).floor("D"), pd.Timestamp(end).ceil("D")
    days = max((day1 - day0).days, 1)
    ref0 = day0 - pd.Timedelta(days=baseline_days)
    where = "".join(f" AND COALESCE(CAST({quote(d)} AS VARCHAR), '(none)') = ?" for d in filters)
    frame = store.query(
        f"""
        SELECT resource_id, max(resource_name) AS resource_name, max(resource_type) AS resource_type,
               COALESCE(sum(cost) FILTER (WHERE day >= ?), 0) AS actual,
               COALESCE(sum(cost) FILTER (WHERE day < ?), 0) / ? * ? AS expected
        FROM facts
        WHERE product = ? AND cost_line = ? AND currency = ? AND day >= ? AND day < ? {where}
        GROUP BY resource_id
        ORDER BY actual - expected DESC, resource_id LIMIT ?
        """,
        [day0, day0, baseline_days, days, *series, ref0, day1, *filters.values(), k],
    )
    out = []
    for row in frame.to_dict("records"):
        actual, expected = float(row["actual"]), float(row["expected"])
        if actual - expected <= 0:
            break
        name = row["resource_name"]
        kind = row["resource_type"]
        out.append(
            Culprit(
                str(row["resource_id"]),
                None if pd.isna(name) else str(name),
                None if pd.isna(kind) else str(kind),
                actual,
                expected,
                actual - expected,
            )
        )
    return out
