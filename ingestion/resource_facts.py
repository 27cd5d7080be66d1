"""Resource-day facts: the spend of each resource (``ResourceId``) per day, kept beside the leaf facts.

Leaf facts stop at the usage type: a resource id per leaf would multiply them by the resources of each
leaf (thousands of instances under one SKU). Naming the resources behind a root cause needs far less —
their spend per day — so ingestion keeps a separate, compact table: one row per day × series ×
base dimensions × resource, usage charges with a resource id only, partitioned and replaced exactly like
the leaf facts (same billing account × billing period files, under ``DATA_DIR/resources``).

Both tables come out of one scan of each export: the staging query groups every row twice with
``GROUPING SETS`` (leaf keys, and day + resource keys), so parsing is not paid twice.

The table is bounded per *leaf-day* (day × series × base dimensions): only the ``per_leaf_day`` resources
that spent most in it are kept by name, the rest of its spend is one row without a resource id (the
"other" row, so the table still adds up to the leaf-day's spend). It can then never hold more rows than
``per_leaf_day + 1`` per leaf-day, whatever the number of resources, and a culprit listing reads few rows.
Ties in spend are broken by resource id, so the same export always keeps the same resources.
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


def staging_sql(plan_sql: str, leaf_keys: Sequence[str], aggregates: str, *, names: bool = True) -> str:
    """The staging query of one export: leaf groups (``_ss_set = 1``) and resource-day groups (``0``).

    ``aggregates`` are the leaf aggregates (cost, rows, ...). Rejected rows collapse to one group per reason
    in the leaf set and never reach the resource set. Without ``names`` (the export has no ``ResourceName``)
    the name is a NULL constant, not an aggregate every row pays for.
    """
    masked = ", ".join(f"CASE WHEN reason IS NULL THEN {quote(k)} END AS {quote(k)}" for k in leaf_keys)
    resource_key_set = [k for k in RESOURCE_KEYS if k not in ("resource_id", "resource_name")]
    leaf_set = ", ".join(["reason", *(quote(k) for k in leaf_keys)])
    # The name goes with the id: an aggregate, not one more key to hash.
    resource_set = ", ".join(["reason", "_ss_day", *(quote(k) for k in resource_key_set), "resource_id"])
    name = "max(resource_name)" if names else "CAST(NULL AS VARCHAR)"
    return f"""
        SELECT reason, {", ".join(quote(k) for k in leaf_keys)}, _ss_day, resource_id,
               {name} AS resource_name, GROUPING(_ss_day) AS _ss_set, {aggregates}
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


# The resource-day rows of one leaf-day, bounded: written once, then read by each partition's COPY.
BOUNDED = "_ss_resources"
LEAF_DAY_KEYS: tuple[str, ...] = (
    "day",
    *(k for k in RESOURCE_KEYS if k not in ("resource_id", "resource_name")),
)


def bound_resources(conn: duckdb.DuckDBPyConnection, *, per_leaf_day: int, sources: int) -> bool:
    """Build :data:`BOUNDED` from the staged resource-days: the ``per_leaf_day`` dearest resources of each
    leaf-day and one "other" row (``resource_id`` NULL) for the rest; ``per_leaf_day`` 0 keeps them all.

    Returns whether any resource has a name: without one the table has no ``resource_name`` column.
    """
    keys = ", ".join(quote(k) for k in LEAF_DAY_KEYS)
    named = bool(conn.execute("SELECT count(resource_name) FROM staged_resources").fetchall()[0][0])
    name = ", max(resource_name) AS resource_name" if named else ""
    # Several files of one export can bill the same resource-day: sum them (one file's are unique).
    rows = (
        f"(SELECT {keys}, resource_id{name}, sum(cost) AS cost FROM staged_resources GROUP BY {keys}, resource_id)"
        if sources > 1
        else f"(SELECT {keys}, resource_id{', resource_name' if named else ''}, cost FROM staged_resources)"
    )
    conn.execute(f"DROP TABLE IF EXISTS {BOUNDED}")
    if per_leaf_day <= 0:
        conn.execute(f"CREATE TEMP TABLE {BOUNDED} AS SELECT * REPLACE (cost::DOUBLE AS cost) FROM {rows}")
        return named
    # Leaf-days are told apart by a hash of their keys here: grouping on one integer instead of eleven
    # strings is what keeps this cheap. The hash only picks which resources keep their name (each
    # leaf-day's cut: its per_leaf_day-th dearest resource); every row keeps its own keys, so even a
    # collision (two leaf-days ranked together) loses no spend.
    n = int(per_leaf_day)
    # Computed twice (cut and join): cheaper than materialising every row beside its hash.
    leaf_day = f"hash({keys})"
    leaf_day_r = f"hash({', '.join('r.' + quote(k) for k in LEAF_DAY_KEYS)})"
    conn.execute(
        f"""CREATE TEMP TABLE _ss_cut AS
            SELECT {leaf_day} AS _ss_leaf_day, list_min(max((cost, resource_id), {n})) AS _ss_cut
            FROM {rows} GROUP BY _ss_leaf_day HAVING count(*) > {n}"""
    )
    if not conn.execute("SELECT count(*) FROM _ss_cut").fetchall()[0][0]:
        # No leaf-day has more resources than are kept: the rows as they are.
        conn.execute(f"CREATE TEMP TABLE {BOUNDED} AS SELECT * REPLACE (cost::DOUBLE AS cost) FROM {rows}")
    else:
        # A leaf-day's rows at or above its cut keep their name, the others sum into its "other" row.
        conn.execute(
            f"""CREATE TEMP TABLE {BOUNDED} AS
                WITH marked AS (
                    SELECT r.*, c._ss_cut IS NULL OR (r.cost, r.resource_id) >= c._ss_cut AS _ss_keep
                    FROM {rows} r LEFT JOIN _ss_cut c ON {leaf_day_r} = c._ss_leaf_day)
                SELECT * EXCLUDE (_ss_keep) REPLACE (cost::DOUBLE AS cost) FROM marked WHERE _ss_keep
                UNION ALL BY NAME
                SELECT {keys}, sum(cost)::DOUBLE AS cost FROM marked WHERE NOT _ss_keep GROUP BY ALL"""
        )
    conn.execute("DROP TABLE _ss_cut")
    return named


def publish_resources(
    conn: duckdb.DuckDBPyConnection,
    store: FactStore,
    partitions: Sequence[tuple[str, str]],
    *,
    per_leaf_day: int,
    sources: int,
) -> None:
    """Replace the resource-day facts of ``partitions`` with the staged ones (removing stale ones)."""
    named = bound_resources(conn, per_leaf_day=per_leaf_day, sources=sources)
    present = {
        (str(a), str(p))
        for a, p in conn.execute(f"SELECT DISTINCT billing_account, billing_period FROM {BOUNDED}").fetchall()
    }
    for account, period in partitions:
        if (account, period) not in present:  # the new export of the period names no resource
            store.partition_path(account, period).unlink(missing_ok=True)
    wanted = [p for p in partitions if p in present]
    columns = [*LEAF_DAY_KEYS, "resource_id", *(["resource_name"] if named else []), "cost"]
    store.replace_partitions(conn, f"SELECT {', '.join(quote(c) for c in columns)} FROM {BOUNDED}", wanted)
    conn.execute(f"DROP TABLE {BOUNDED}")


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
    # Exports without ResourceName write no name column; the "other" rows (no resource id) name nobody.
    name = "max(resource_name)" if "resource_name" in store.columns() else "CAST(NULL AS VARCHAR)"
    # A baseline day on which a resource's leaf-day folded it into its "other" row (bounded table) spent
    # at most that leaf-day's cut (its cheapest named resource): counting the cut keeps a resource that
    # was small then from looking new, so a bound never pushes it above a real culprit.
    leaf = ", ".join(
        quote(k) for k in ("billing_account", "account", "region", "service", "sku", "resource_type")
    )
    frame = store.query(
        f"""
        WITH f AS (
            SELECT * FROM facts
            WHERE product = ? AND cost_line = ? AND currency = ? AND day >= ? AND day < ? {where}),
        folded AS (
            SELECT day, {leaf}, min(cost) FILTER (WHERE resource_id IS NOT NULL) AS cut
            FROM f WHERE day < ? GROUP BY ALL HAVING count(*) FILTER (WHERE resource_id IS NULL) > 0),
        unseen AS (
            SELECT r.resource_id, sum(COALESCE(o.cut, 0)) AS cost
            FROM (SELECT DISTINCT resource_id, {leaf} FROM f WHERE resource_id IS NOT NULL) r
            JOIN folded o USING ({leaf})
            ANTI JOIN f p ON p.resource_id = r.resource_id AND p.day = o.day
            GROUP BY r.resource_id),
        ranked AS (
            SELECT resource_id, {name} AS resource_name, max(resource_type) AS resource_type,
                   COALESCE(sum(cost) FILTER (WHERE day >= ?), 0) AS actual,
                   COALESCE(sum(cost) FILTER (WHERE day < ?), 0) AS before
            FROM f WHERE resource_id IS NOT NULL GROUP BY resource_id)
        SELECT ranked.* EXCLUDE (before), (before + COALESCE(unseen.cost, 0)) / ? * ? AS expected
        FROM ranked LEFT JOIN unseen USING (resource_id)
        ORDER BY actual - expected DESC, resource_id LIMIT ?
        """,
        [*series, ref0, day1, *filters.values(), day0, day0, day0, baseline_days, days, k],
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
