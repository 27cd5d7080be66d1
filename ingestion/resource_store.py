"""The resource-day store: reads the compact resource-day files back as one row per resource-day.

Each partition file (billing account × billing period, like the leaf facts) holds two kinds of rows:

* *leaf rows* (``day`` NULL): a leaf-day key's id (``leaf``) and its values — billing account and period,
  product, cost line, currency and the base dimensions — once per key;
* *resource rows*: ``day``, ``leaf``, ``resource_id`` (NULL for a leaf-day's "other" row), optionally
  ``resource_name``, and ``cost``; their billing account and period columns are empty (files written
  before that carry the partition's, the same values their leaf rows hold).

Ten dimension values repeated on every resource row cost three times the write of the rows themselves
(Parquet dictionary-encodes each value), so they are written once per key and joined back here.
``facts`` reads as ``day``, the key's columns, ``resource_id``, ``resource_name`` (when any export had
one) and ``cost``. Files written before the split (every column on every row, no ``leaf``) read as they are.
"""

from __future__ import annotations

import duckdb

from ingestion.fact_store import BASE_DIMENSIONS, FACT_FILE, FactStore

# The values a leaf id stands for, in the order they are written and read.
LEAF_COLUMNS: tuple[str, ...] = (
    "billing_account",
    "billing_period",
    "product",
    "cost_line",
    "currency",
    *BASE_DIMENSIONS,
)


class ResourceStore(FactStore):
    """Resource-day facts under ``root`` (``DATA_DIR/resources``), queried as one row per resource-day."""

    # No dictionary pages: resource ids, leaf ids and costs are mostly distinct, so building dictionaries
    # for them costs a third of the write and ZSTD alone gives a smaller file (bench/results/price_usage.md).
    COPY_OPTIONS = "FORMAT PARQUET, COMPRESSION ZSTD, DICTIONARY_SIZE_LIMIT 1"

    def _bind(self, conn: duckdb.DuckDBPyConnection) -> None:
        files = f"{self._sql_path(self.root)}/*/*/{FACT_FILE}"
        raw = f"read_parquet('{files}', union_by_name=true, hive_partitioning=false, filename=true)"
        conn.execute(f"CREATE TEMP VIEW _ss_raw AS SELECT * FROM {raw}")
        stored = {str(r[0]) for r in conn.execute("DESCRIBE _ss_raw").fetchall()}
        if "leaf" not in stored:  # only files from before the split: every row carries its values
            conn.execute("CREATE TEMP VIEW facts AS SELECT * EXCLUDE (filename) FROM _ss_raw")
            return
        # A leaf id is unique within its file (ingestion checks it), so the join stays inside the file.
        values = ", ".join(f"COALESCE(k.{c}, r.{c}) AS {c}" for c in LEAF_COLUMNS)
        name = ", r.resource_name" if "resource_name" in stored else ""
        conn.execute(
            f"""CREATE TEMP VIEW facts AS
                SELECT r.day, {values}, r.resource_id{name}, r.cost
                FROM _ss_raw r
                LEFT JOIN (SELECT * FROM _ss_raw WHERE day IS NULL) k
                       ON k.leaf = r.leaf AND k.filename = r.filename
                WHERE r.day IS NOT NULL"""
        )
