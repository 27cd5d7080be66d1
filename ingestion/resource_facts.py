"""Resource-day facts: the spend of each resource (``ResourceId``) per day, kept beside the leaf facts.

Leaf facts stop at the usage type: a resource id per leaf would multiply them by the resources of each
leaf (thousands of instances under one SKU). Naming the resources behind a root cause needs far less —
their spend per day — so ingestion keeps a separate, compact table: one row per day × series ×
base dimensions × resource, usage charges with a resource id only, partitioned and replaced exactly like
the leaf facts (same billing account × billing period files, under ``DATA_DIR/resources``).

Both tables come out of one scan of each export (parsing is not paid twice), and the resource-days are
grouped by day × a 64-bit id of their leaf-day key × resource id, not by ten strings: the key's values are
written once per key, beside the rows (:mod:`ingestion.resource_store` reads them back joined). On an
export where nearly every row is a resource-day of its own, that halves the grouping and cuts the write
to a third (``bench/results/price_usage.md``).

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

from ingestion.charge_descriptions import description_branch
from ingestion.fact_store import BASE_DIMENSIONS, FactStore
from ingestion.focus_columns import USAGE
from ingestion.focus_reader import quote
from ingestion.resource_store import LEAF_COLUMNS, ResourceStore


def resources_dir(data_dir: Path) -> Path:
    return Path(data_dir) / "resources"


def _leaf_id(prefix: str = "") -> str:
    # One 64-bit id for a leaf-day key's values: grouping and ranking on one integer instead of ten
    # strings is most of what keeps the resource-days cheap (see the module docstring).
    return f"hash({', '.join(prefix + quote(c) for c in LEAF_COLUMNS)})"


STAGED_ALL = "_ss_staged_all"
RESOURCE_SET, DESCRIPTION_SET = 0, 2
# The columns of the groups staged beside the leaf groups (resource-days and descriptions): ``_ss_x_*``
# and the resource's id and name.
EXTRA_COLUMNS: tuple[str, ...] = (
    "_ss_x_day",
    "_ss_x_leaf",
    "_ss_x_account",
    "_ss_x_period",
    "resource_id",
    "resource_name",
    "_ss_x_service",
    "_ss_x_sku",
    "_ss_x_description",
    "_ss_x_cost",
    "_ss_x_set",
)


def staging_sql(
    plan_sql: str,
    leaf_keys: Sequence[str],
    aggregates: str,
    *,
    names: bool = True,
    resources: bool = True,
    descriptions: bool = False,
) -> str:
    """The staging query of one export: leaf groups and, side by side with them, resource-day groups
    (``_ss_x_set = 0``) with ``resources`` and usage-type descriptions (``2``) with ``descriptions``.

    One scan feeds every aggregation (DuckDB streams a CTE read several times to all of them): the leaf
    facts with ``aggregates`` (cost, rows, quantities...), and per day × leaf-day id × resource id only
    the cost (and the name); the descriptions per usage type. ``GROUPING SETS`` would compute every leaf
    aggregate for the resource-days too, and the quantity unit's string minimum and maximum over a million
    groups cost more than the rest. Rejected rows collapse to one group per reason among the leaf groups
    and never reach the other groups.

    The two outputs share rows (``POSITIONAL JOIN``: the n-th leaf group beside the n-th other group,
    unrelated to it) instead of being stacked: stacked, each row would carry the other kind's columns as
    NULLs, and writing those NULLs into the staged table (a million resource-days × 20 leaf columns) cost
    as much as grouping the resource-days. The views of :func:`stage_with_extras` take each kind apart.
    Without ``names`` (the export has no ``ResourceName``) the name is a NULL constant, not an aggregate.
    """
    masked = ", ".join(f"CASE WHEN reason IS NULL THEN {quote(k)} END AS {quote(k)}" for k in leaf_keys)
    name = "max(resource_name)" if names else "CAST(NULL AS VARCHAR)"
    leaf_id = (
        f"CASE WHEN reason IS NULL AND charge_category = '{USAGE}' AND resource_id IS NOT NULL "
        f"THEN {_leaf_id()} END"
        if resources
        else "NULL"
    )
    # A leaf group also carries its leaf-day id (one per group: the id is a function of the leaf keys),
    # which is where the id's values are looked up afterwards (:func:`leaf_values`).
    leaf_id_of = ", min(_ss_leaf) AS _ss_leaf" if resources else ""
    leaves = f"SELECT reason, {masked}, {aggregates}{leaf_id_of} FROM _ss_rows GROUP BY ALL"
    others = []
    if resources:
        others.append(
            f"""SELECT date_trunc('day', period_start) AS _ss_x_day, _ss_leaf AS _ss_x_leaf, resource_id,
                       {name} AS resource_name, sum(cost) AS _ss_x_cost, {RESOURCE_SET} AS _ss_x_set
                FROM _ss_rows WHERE _ss_leaf IS NOT NULL
                GROUP BY date_trunc('day', period_start), _ss_leaf, resource_id"""
        )
    if descriptions:
        others.append(description_branch(DESCRIPTION_SET))
    if not others:
        return f"WITH _ss_rows AS (SELECT *, NULL AS _ss_leaf FROM ({plan_sql}) AS _ss_plan) {leaves}"
    return f"""
        WITH _ss_rows AS (SELECT *, {leaf_id} AS _ss_leaf FROM ({plan_sql}) AS _ss_plan)
        SELECT * FROM ({leaves}) POSITIONAL JOIN ({" UNION ALL BY NAME ".join(others)})
    """


def stage_with_extras(
    conn: duckdb.DuckDBPyConnection,
    sql: str,
    params: Sequence[Any],
    index: int,
    *,
    resources: bool,
    descriptions: bool,
) -> None:
    """Run :func:`staging_sql` into one table; ``staged`` (leaf groups), ``staged_resources`` and
    ``staged_descriptions`` are views.

    Views, not copies: copying the leaf groups out costs more than grouping twice did.
    """
    if index:
        conn.execute(f"INSERT INTO {STAGED_ALL} BY NAME {sql}", list(params))
        return
    conn.execute(f"CREATE TABLE {STAGED_ALL} AS {sql}", list(params))
    present = {str(r[0]) for r in conn.execute(f"DESCRIBE {STAGED_ALL}").fetchall()}
    extra = [c for c in (*EXTRA_COLUMNS, "_ss_leaf") if c in present]
    # Every leaf group (and every malformed-line group, see the ingestor) has a row count; a row past
    # the last leaf group of its source holds none.
    conn.execute(
        f"CREATE VIEW staged AS SELECT * EXCLUDE ({', '.join(extra)}) FROM {STAGED_ALL} WHERE rows IS NOT NULL"
    )
    if resources:
        conn.execute(
            "CREATE VIEW staged_resources AS SELECT _ss_x_day AS day, _ss_x_leaf AS leaf, resource_id, "
            f"resource_name, _ss_x_cost AS cost FROM {STAGED_ALL} WHERE _ss_x_set = {RESOURCE_SET}"
        )
    if descriptions:
        conn.execute(
            "CREATE VIEW staged_descriptions AS SELECT _ss_x_account AS billing_account, "
            "_ss_x_period AS billing_period, _ss_x_service AS service, _ss_x_sku AS sku, "
            f"_ss_x_description AS _ss_description, _ss_x_cost AS cost FROM {STAGED_ALL} "
            f"WHERE _ss_x_set = {DESCRIPTION_SET}"
        )


# Temp tables of the publish step: the resource-days summed over several files of one export, the
# crowded leaf-days (more resources than the bound), the bounded rows of those, and the leaf ids' values.
SUMMED = "_ss_resources_summed"
CROWDED = "_ss_crowded"
CUT = "_ss_resources_cut"
LEAVES = "_ss_leaves"
_TEMP_TABLES = (SUMMED, CROWDED, CUT, LEAVES)


def bound_resources(conn: duckdb.DuckDBPyConnection, *, per_leaf_day: int, sources: int) -> tuple[str, bool]:
    """A select of the bounded resource-day rows: the ``per_leaf_day`` dearest resources of each leaf-day
    and one "other" row (``resource_id`` NULL) for the rest; ``per_leaf_day`` 0 keeps them all.

    Rows are ``day, leaf, resource_id[, resource_name], cost``. Returns the select and whether any resource
    has a name (without one the table has no ``resource_name`` column).
    """
    named = bool(conn.execute("SELECT count(resource_name) FROM staged_resources").fetchall()[0][0])
    name = ", resource_name" if named else ""
    key = "day, leaf, resource_id"
    rows = "staged_resources"
    if sources > 1:
        # Several files of one export can bill the same resource-day: sum them once (one file's are
        # unique), into a table the count, the cut and every partition's write read.
        conn.execute(
            f"""CREATE OR REPLACE TEMP TABLE {SUMMED} AS
                SELECT {key}{", max(resource_name) AS resource_name" if named else ""}, sum(cost) AS cost
                FROM staged_resources GROUP BY day, leaf, resource_id"""
        )
        rows = SUMMED
    n = int(per_leaf_day)
    every = f"SELECT {key}{name}, cost::DOUBLE AS cost FROM {rows}"
    if n <= 0:
        return every, named
    conn.execute(
        f"CREATE OR REPLACE TEMP TABLE {CROWDED} AS "
        f"SELECT day, leaf FROM {rows} GROUP BY day, leaf HAVING count(*) > {n}"
    )
    if not conn.execute(f"SELECT count(*) FROM {CROWDED}").fetchall()[0][0]:
        return every, named  # no leaf-day to cut: the staged rows are the table
    # Only crowded leaf-days are cut (a top-n state per leaf-day costs far more than the count), at their
    # n-th dearest cost, which one top-n aggregate of numbers (``max(cost, n)``, sorted dearest first)
    # gives with their total: no sort of the resource-days. Resources above the cut are kept; of those at
    # the cut, as many as are left to keep, by resource id (a sort of the tied rows alone); the "other"
    # row is the total less the n dearest costs, exact in DECIMAL. Every other leaf-day's rows pass as
    # they are, never copied: each partition's write reads them where they were staged.
    conn.execute(
        f"""CREATE OR REPLACE TEMP TABLE {CUT} AS
            WITH cut AS (
                SELECT day, leaf, top[{n}] AS cut, total - list_reduce(top, lambda a, b: a + b) AS rest,
                       {n} - len(list_filter(top, lambda c: c > top[{n}])) AS room
                FROM (SELECT day, leaf, max(cost, {n}) AS top, sum(cost) AS total
                      FROM {rows} SEMI JOIN {CROWDED} USING (day, leaf) GROUP BY day, leaf)),
            kept AS (SELECT r.*, c.cut, c.room FROM {rows} r JOIN cut c USING (day, leaf) WHERE r.cost >= c.cut)
            SELECT * EXCLUDE (cut, room) REPLACE (cost::DOUBLE AS cost) FROM kept WHERE cost > cut
            UNION ALL BY NAME
            SELECT * EXCLUDE (cut, room) REPLACE (cost::DOUBLE AS cost) FROM kept WHERE cost = cut
            QUALIFY row_number() OVER (PARTITION BY day, leaf ORDER BY resource_id DESC) <= room
            UNION ALL BY NAME
            SELECT day, leaf, rest::DOUBLE AS cost FROM cut"""
    )
    kept = f"SELECT {key}{name}, cost::DOUBLE AS cost FROM {rows} ANTI JOIN {CROWDED} USING (day, leaf)"
    return f"{kept} UNION ALL BY NAME SELECT {key}{name}, cost FROM {CUT}", named


def leaf_values(conn: duckdb.DuckDBPyConnection) -> None:
    """Build :data:`LEAVES`: the values behind every leaf-day id, read from one staged leaf group each.

    An id is a 64-bit hash of the values: two keys of one export would share one with odds of about
    K²/2^65 for K keys (3 in 10^8 for a million), and their resources would then be filed under one
    of them (their spend still adds up).
    """
    values = ", ".join(quote(c) for c in LEAF_COLUMNS)
    conn.execute(f"DROP TABLE IF EXISTS {LEAVES}")
    # Grouping the leaf groups by their id alone (an integer) and fetching one row each by its row id
    # reads the ten values of a few thousand rows instead of hashing them for every leaf group.
    conn.execute(
        f"""CREATE TEMP TABLE {LEAVES} AS
            SELECT _ss_leaf AS leaf, {values} FROM {STAGED_ALL}
            WHERE rowid IN (SELECT min(rowid) FROM {STAGED_ALL} WHERE _ss_leaf IS NOT NULL GROUP BY _ss_leaf)"""
    )


def publish_resources(
    conn: duckdb.DuckDBPyConnection,
    store: FactStore,
    partitions: Sequence[tuple[str, str]],
    *,
    per_leaf_day: int,
    sources: int,
) -> None:
    """Replace the resource-day facts of ``partitions`` with the staged ones (removing stale ones)."""
    leaf_values(conn)
    bounded, named = bound_resources(conn, per_leaf_day=per_leaf_day, sources=sources)
    present = {
        (str(a), str(p))
        for a, p in conn.execute(f"SELECT DISTINCT billing_account, billing_period FROM {LEAVES}").fetchall()
    }
    for account, period in partitions:
        if (account, period) not in present:  # the new export of the period names no resource
            store.partition_path(account, period).unlink(missing_ok=True)
    wanted = [p for p in partitions if p in present]
    # Resource rows take their partition's account and period from their key's values (the partition's
    # filter then reaches the small key table, and the join only picks the rows of its keys: cheaper than
    # staging two more strings per resource-day), and write them empty: every value of a key, these two
    # included, is in its leaf row of the same file (a quarter of the write, repeated on every row; the
    # reader joins them back).
    store.replace_partitions(
        conn,
        f"""SELECT r.day, k.billing_account, k.billing_period, r.leaf, r.resource_id{", r.resource_name" if named else ""},
                   r.cost
            FROM ({bounded}) r JOIN {LEAVES} k USING (leaf)
            UNION ALL BY NAME
            SELECT * FROM {LEAVES}""",
        wanted,
        replace=", ".join(
            f"CASE WHEN day IS NULL THEN {c} END AS {c}" for c in ("billing_account", "billing_period")
        ),
    )
    for table in _TEMP_TABLES:
        conn.execute(f"DROP TABLE IF EXISTS {table}")


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
    if not isinstance(store, ResourceStore):  # a plain store would read the compact rows as they are
        store = ResourceStore(store.root, memory_limit=store.memory_limit, threads=store.threads)
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
