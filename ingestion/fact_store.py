"""The spend fact store: leaf facts in Parquet, one file per billing account and billing period.

A leaf fact is the spend of one period (hour) × product × cost line × attributed dimensions, per charge
category and currency, with its ``quantity`` and ``quantity_unit`` (NULL when unknown; absent from
partitions written before they were kept, which read as NULL). ``cost`` is in the configured cost basis only: the other FOCUS cost columns are not
kept (storing them cost an eighth of the ingestion time), so a new basis means re-ingesting. Files are
replaced whole and atomically (write aside, then ``os.replace``), so a reader sees either the old period or
the new one, a failed write (disk full, crash) leaves the previous facts readable, and re-ingesting an
export never double counts. DuckDB answers every query.
"""

from __future__ import annotations

import os
import re
import shutil
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote as urlquote

import duckdb

from core.errors import InputError, StoreError
from core.types import UNATTRIBUTED, Granularity
from ingestion.focus_columns import USAGE

FACT_FILE = "facts.parquet"
# Up to this many partitions are written by one filtered COPY each, beyond it by one partitioned COPY.
MAX_FILTERED_PARTITIONS = 16
BASE_DIMENSIONS: tuple[str, ...] = ("account", "region", "service", "sku", "resource_type")
SERIES_COLUMNS: tuple[str, ...] = ("product", "cost_line", "currency")
_DIMENSION = re.compile(r"^[a-z][a-z0-9_]{0,62}$")

if TYPE_CHECKING:
    import pandas as pd

# pandas is imported by the methods that return frames: listing the series (``spendsentry series``) needs
# only DuckDB's rows, and pandas alone costs a third of a second at start.


@dataclass(frozen=True)
class SeriesInfo:
    product: str
    cost_line: str
    currency: str
    granularity: Granularity
    first_period: datetime
    last_period: datetime
    points: int
    total_spend: float


@dataclass(frozen=True)
class PartitionWrite:
    billing_account: str
    billing_period: str
    rows: int
    fingerprint: str
    changed: bool


def connect(threads: int | None = None, memory_limit: str = "1GB") -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB connection with bounded memory, UTC time zone and spilling allowed."""
    conn = duckdb.connect(config={"memory_limit": memory_limit, "preserve_insertion_order": False})
    conn.execute("SET TimeZone='UTC'")
    if threads:
        conn.execute(f"SET threads={int(threads)}")
    return conn


def fingerprint_sql(relation: str) -> str:
    """Order-independent fingerprint of a set of fact rows: equal sets give equal fingerprints."""
    return f"SELECT count(*), COALESCE(sum(hash(_r)::HUGEINT), 0) FROM {relation} AS _r"


def spend_grid(frame: pd.DataFrame, column: str, granularity: Granularity) -> pd.DataFrame:
    """Long ``(t, <column>, spend)`` rows as one column per ``column`` value on a gap-free period grid: 0
    where a series spent nothing after its first period, NaN before it (it did not exist yet)."""
    import pandas as pd

    if frame.empty:
        return pd.DataFrame()
    wide = frame.pivot_table(index="t", columns=column, values="spend", aggfunc="sum")
    grid = pd.date_range(wide.index.min(), wide.index.max(), freq=granularity.pandas_freq, name="t")
    wide = wide.reindex(grid)
    started = wide.notna().cumsum() > 0
    return wide.fillna(0.0).where(started)


class FactStore:
    """Parquet leaf facts under ``root``, queried with DuckDB."""

    COPY_OPTIONS = "FORMAT PARQUET, COMPRESSION ZSTD"  # how partitions are written

    def __init__(self, root: Path, *, memory_limit: str = "1GB", threads: int | None = None) -> None:
        self.root = Path(root)
        self.memory_limit = memory_limit
        self.threads = threads

    # -- writing -----------------------------------------------------------------------------------

    def partition_path(self, billing_account: str, billing_period: str) -> Path:
        # Account ids are provider strings: encode them so no id can escape the folder.
        account = urlquote(billing_account, safe="")
        return self.root / f"billing_account={account}" / f"billing_period={billing_period}" / FACT_FILE

    def replace_partitions(
        self,
        conn: duckdb.DuckDBPyConnection,
        select_sql: str,
        partitions: Sequence[tuple[str, str]],
        params: Sequence[Any] = (),
        *,
        replace: str = "",
    ) -> list[PartitionWrite]:
        """Make ``select_sql``'s rows the whole content of each (billing account, period) in ``partitions``.

        ``replace`` (``<expression> AS <column>, ...``) rewrites columns after the rows are picked by
        their billing account and period, e.g. to leave out values every row of a file would repeat.

        Every partition is written aside first; each is then compared with the stored one and swapped in
        with ``os.replace`` only if its content differs, so a reader never sees half a period.
        """
        for _, period in partitions:
            if not re.fullmatch(r"\d{4}-\d{2}", period):
                raise InputError("BillingPeriodStart", f"unexpected billing period {period!r}")
        if not partitions:
            return []
        self.root.mkdir(parents=True, exist_ok=True)
        staging = self.root / f".staging-{uuid.uuid4().hex}"
        try:
            columns = f"* REPLACE ({replace})" if replace else "*"
            if len(partitions) <= MAX_FILTERED_PARTITIONS:
                # One COPY per partition, its filter pushed down to the scan: a partitioned COPY buffers
                # every partition's rows in memory before writing, which costs more than a few filtered
                # scans of ``select_sql`` (about a quarter of the write time of a 1M-leaf export).
                for pid, (account, period) in enumerate(partitions):
                    folder = staging / f"_ss_pid={pid}"
                    folder.mkdir(parents=True)
                    conn.execute(
                        f"""COPY (SELECT {columns} FROM ({select_sql}) WHERE billing_account = ? AND billing_period = ?)
                            TO '{self._sql_path(folder / "data_0.parquet")}' ({self.COPY_OPTIONS})""",
                        [*params, account, period],
                    )
            else:
                # Many partitions: one scan routes every row to its partition's folder.
                conn.execute(
                    "CREATE OR REPLACE TEMP TABLE _ss_parts "
                    "(billing_account VARCHAR, billing_period VARCHAR, pid INTEGER)"
                )
                conn.executemany(
                    "INSERT INTO _ss_parts VALUES (?, ?, ?)",
                    [(a, p, i) for i, (a, p) in enumerate(partitions)],
                )
                conn.execute(
                    f"""COPY (SELECT {columns} FROM (
                                SELECT f.*, p.pid AS _ss_pid FROM ({select_sql}) f
                                JOIN _ss_parts p ON f.billing_account = p.billing_account
                                                AND f.billing_period = p.billing_period))
                        TO '{self._sql_path(staging)}' ({self.COPY_OPTIONS}, PARTITION_BY (_ss_pid))""",
                    list(params),
                )
            return [
                self._swap_in(conn, staging, pid, account, period)
                for pid, (account, period) in enumerate(partitions)
            ]
        except (duckdb.Error, OSError) as exc:
            raise StoreError(f"could not write facts: {str(exc).splitlines()[0]}") from exc
        finally:
            shutil.rmtree(staging, ignore_errors=True)
            conn.execute("DROP TABLE IF EXISTS _ss_parts")

    def _swap_in(
        self, conn: duckdb.DuckDBPyConnection, staging: Path, pid: int, account: str, period: str
    ) -> PartitionWrite:
        target = self.partition_path(account, period)
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f".{FACT_FILE}.{uuid.uuid4().hex}.tmp")
        files = sorted((staging / f"_ss_pid={pid}").glob("*.parquet"))
        try:
            if len(files) == 1:
                os.replace(files[0], tmp)
            elif files:  # several writer threads wrote parts of it: one file per partition
                listing = ", ".join(f"'{self._sql_path(f)}'" for f in files)
                conn.execute(
                    # Not hive: the staging folder's _ss_pid=N must not become a column of the facts.
                    f"COPY (SELECT * FROM read_parquet([{listing}], hive_partitioning=false)) "
                    f"TO '{self._sql_path(tmp)}' ({self.COPY_OPTIONS})"
                )
            else:
                raise StoreError(f"no facts were staged for {account} {period}")
            tmp_sql = f"read_parquet('{self._sql_path(tmp)}', hive_partitioning=false)"
            if target.exists():
                # Fingerprints are read back from Parquet on both sides, so types and rounding match.
                rows, digest = conn.execute(fingerprint_sql(tmp_sql)).fetchall()[0]
                fingerprint = f"{rows}:{digest}"
                old_sql = f"read_parquet('{self._sql_path(target)}', hive_partitioning=false)"
                old = conn.execute(fingerprint_sql(old_sql)).fetchall()[0]
                if f"{old[0]}:{old[1]}" == fingerprint:
                    tmp.unlink()
                    return PartitionWrite(account, period, int(rows), fingerprint, False)
            else:
                # A new partition has nothing to compare with: its row count (Parquet metadata) will do.
                rows = conn.execute(f"SELECT count(*) FROM {tmp_sql}").fetchall()[0][0]
                fingerprint = f"{rows}:new"
            if not rows:  # a filtered COPY writes a file even when no row matched
                raise StoreError(f"no facts were staged for {account} {period}")
            with open(tmp, "rb") as fh:
                os.fsync(fh.fileno())
            os.replace(tmp, target)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        return PartitionWrite(account, period, int(rows), fingerprint, True)

    # -- reading -----------------------------------------------------------------------------------

    @staticmethod
    def _sql_path(path: Path) -> str:
        return str(path).replace("'", "''")

    def has_facts(self) -> bool:
        return self.root.is_dir() and any(self.root.glob(f"*/*/{FACT_FILE}"))

    def _conn(self) -> duckdb.DuckDBPyConnection:
        return connect(self.threads, self.memory_limit)

    def _facts(self) -> str:
        # The files hold every column. Hive partitioning would re-read billing_account from the folder names
        # and, once two of them look numeric, type it BIGINT: AWS account ids would lose their leading zeros.
        # union_by_name: partitions written by older versions may carry columns newer ones do not.
        files = f"{self._sql_path(self.root)}/*/*/{FACT_FILE}"
        return f"read_parquet('{files}', union_by_name=true, hive_partitioning=false)"

    def _bind(self, conn: duckdb.DuckDBPyConnection) -> None:
        """Bind ``facts`` to the stored rows (a store with another layout overrides this)."""
        conn.execute(f"CREATE TEMP VIEW facts AS SELECT * FROM {self._facts()}")

    def query(self, sql: str, params: Sequence[Any] = ()) -> pd.DataFrame:
        """Run ``sql`` with ``facts`` bound to every leaf fact; an empty store gives an empty frame."""
        import pandas as pd

        if not self.has_facts():
            return pd.DataFrame()
        with self._conn() as conn:
            self._bind(conn)
            try:
                return conn.execute(sql, list(params)).df()
            except duckdb.Error as exc:
                raise StoreError(f"fact store query failed: {str(exc).splitlines()[0]}") from exc

    def records(self, sql: str, params: Sequence[Any] = ()) -> tuple[list[str], list[tuple[Any, ...]]]:
        """:meth:`query` as column names and plain rows, without pandas (for listings)."""
        if not self.has_facts():
            return [], []
        with self._conn() as conn:
            self._bind(conn)
            try:
                cursor = conn.execute(sql, list(params))
                rows = cursor.fetchall()
            except duckdb.Error as exc:
                raise StoreError(f"fact store query failed: {str(exc).splitlines()[0]}") from exc
            return [str(d[0]) for d in cursor.description or []], rows

    def columns(self) -> list[str]:
        """Every column of the stored facts (the union over partitions); none for an empty store."""
        if not self.has_facts():
            return []
        return self.records("SELECT * FROM facts LIMIT 0")[0]

    def dimensions(self) -> list[str]:
        """The root-cause dimensions present in the store: the base ones and every tag dimension."""
        cols = self.columns()
        return [*BASE_DIMENSIONS, *sorted(c for c in cols if str(c).startswith("tag_"))]

    def last_period(self) -> datetime | None:
        import pandas as pd

        frame = self.query("SELECT max(period_start) AS t FROM facts WHERE charge_category = ?", [USAGE])
        values: list[Any] = frame["t"].tolist() if not frame.empty else []
        if not values or pd.isna(values[0]):
            return None
        return pd.Timestamp(values[0]).to_pydatetime()

    def list_series(self) -> list[SeriesInfo]:
        names, rows = self.records(
            """
            SELECT product, cost_line, currency,
                   min(period_start) AS first_period, max(period_start) AS last_period,
                   max(period_hours) AS period_hours, sum(cost) AS total_spend
            FROM facts WHERE charge_category = ?
            GROUP BY ALL ORDER BY product, cost_line, currency
            """,
            [USAGE],
        )
        out: list[SeriesInfo] = []
        for row in (dict(zip(names, r, strict=True)) for r in rows):
            # A series is hourly when its charges are (at most) hour long, else daily.
            gran = Granularity.HOUR if float(row["period_hours"]) <= 1.0 else Granularity.DAY
            first, last = row["first_period"], row["last_period"]
            out.append(
                SeriesInfo(
                    str(row["product"]),
                    str(row["cost_line"]),
                    str(row["currency"]),
                    gran,
                    first,
                    last,
                    period_points(first, last, gran),
                    float(row["total_spend"]),
                )
            )
        return out

    def series(
        self,
        product: str,
        cost_line: str,
        currency: str,
        granularity: Granularity,
        *,
        start: datetime | None = None,
        end: datetime | None = None,
    ) -> pd.Series:
        """Usage spend per period, zero-filled from the series' first period to ``end`` (exclusive).

        Without ``end`` the grid runs to the store's newest period, so a series that stopped shows zeros.
        """
        import pandas as pd

        unit = "hour" if granularity is Granularity.HOUR else "day"
        where, params = self._window(start, end)
        frame = self.query(
            f"""
            SELECT date_trunc('{unit}', period_start) AS t, sum(cost) AS spend FROM facts
            WHERE charge_category = ? AND product = ? AND cost_line = ? AND currency = ? {where}
            GROUP BY 1 ORDER BY 1
            """,
            [USAGE, product, cost_line, currency, *params],
        )
        freq = granularity.pandas_freq
        if frame.empty:
            return pd.Series(dtype=float, name="spend", index=pd.DatetimeIndex([], name="t", freq=freq))
        values = frame.set_index(pd.DatetimeIndex(frame["t"]))["spend"].astype(float)
        last = self.last_period() or values.index[-1].to_pydatetime()
        stop = pd.Timestamp(end) - pd.Timedelta(1, unit="ns") if end is not None else pd.Timestamp(last)
        grid = pd.date_range(values.index[0], stop.floor(freq), freq=freq, name="t")
        return values.reindex(grid, fill_value=0.0).rename("spend")

    def wide_series(
        self, granularity: Granularity, *, start: datetime | None = None, end: datetime | None = None
    ) -> pd.DataFrame:
        """Every usage series at once: rows are periods, columns ``product|cost_line|currency``.

        Batched training fits all columns that share this grid with one design matrix. NaN marks
        periods before a series' first spend; zeros after it are real zeros.
        """
        unit = "hour" if granularity is Granularity.HOUR else "day"
        where, params = self._window(start, end)
        frame = self.query(
            f"""
            SELECT date_trunc('{unit}', period_start) AS t,
                   product || '|' || cost_line || '|' || currency AS series, sum(cost) AS spend
            FROM facts WHERE charge_category = ? {where} GROUP BY ALL
            """,
            [USAGE, *params],
        )
        return spend_grid(frame, "series", granularity)

    def leaf_table(
        self,
        product: str,
        cost_line: str,
        currency: str,
        *,
        start: datetime,
        end: datetime,
        dimensions: Sequence[str] | None = None,
        by_period: Granularity | None = None,
        quantity: bool = False,
    ) -> pd.DataFrame:
        """Spend per combination of ``dimensions`` over [start, end): the cube root causes are ranked on.

        With ``by_period`` the cube keeps a ``t`` column at that granularity (for per-leaf history), with
        ``quantity`` the leaves' quantities (see :meth:`leaf_tables`).
        """
        frame = self.leaf_tables(
            [(product, cost_line, currency)],
            start=start,
            end=end,
            dimensions=dimensions,
            by_period=by_period,
            quantity=quantity,
        )
        return frame.drop(columns=list(SERIES_COLUMNS), errors="ignore")

    def leaf_tables(
        self,
        series: Sequence[tuple[str, str, str]],
        *,
        start: datetime,
        end: datetime,
        dimensions: Sequence[str] | None = None,
        by_period: Granularity | None = None,
        quantity: bool = False,
    ) -> pd.DataFrame:
        """:meth:`leaf_table` for several ``(product, cost_line, currency)`` series in one scan, with those
        three columns first: a sweep explains all its anomalies at once instead of scanning per anomaly.

        With ``quantity`` a ``quantity`` column follows ``actual``: the leaf's quantity, NaN where it is unknown
        (a fact without one, mixed units, or partitions written before quantities were kept).
        """
        import pandas as pd

        stored = self.columns()
        present = [*BASE_DIMENSIONS, *sorted(c for c in stored if c.startswith("tag_"))]
        dims = list(dimensions) if dimensions is not None else present
        for dim in dims:
            if not _DIMENSION.match(dim):
                raise InputError("dimensions", f"{dim!r} is not a dimension name")
        cols = [
            f"COALESCE(CAST({d} AS VARCHAR), '(none)') AS {d}" if d in present else f"'(none)' AS {d}"
            for d in dims
        ]
        if by_period is not None:
            unit = "hour" if by_period is Granularity.HOUR else "day"
            cols.insert(0, f"date_trunc('{unit}', period_start) AS t")
        where, params = self._window(start, end)
        keys = list(dict.fromkeys(series))
        extra = ["quantity"] if quantity else []
        if not keys:
            return pd.DataFrame(
                columns=[*SERIES_COLUMNS, *(["t"] if by_period else []), *dims, "actual", *extra]
            )
        quantity_sql = ""
        if quantity and "quantity" in stored:
            same_unit = "min(quantity_unit) IS NOT DISTINCT FROM max(quantity_unit)"
            quantity_sql = (
                f", CASE WHEN count(quantity) = count(*) AND {same_unit} THEN sum(quantity) END AS quantity"
            )
        elif quantity:
            quantity_sql = ", CAST(NULL AS DOUBLE) AS quantity"
        wanted = ", ".join("(?, ?, ?)" for _ in keys)
        frame = self.query(
            f"""
            SELECT product, cost_line, currency, {", ".join(cols)}, sum(cost) AS actual{quantity_sql} FROM facts
            WHERE charge_category = ? AND (product, cost_line, currency) IN ({wanted}) {where}
            GROUP BY ALL ORDER BY ALL
            """,
            [USAGE, *(v for key in keys for v in key), *params],
        )
        if quantity and "quantity" in frame.columns:
            frame["quantity"] = frame["quantity"].astype(float)  # NULL -> NaN
        return frame

    def coverage(self, granularity: Granularity = Granularity.DAY) -> pd.DataFrame:
        """Attribution coverage per period and currency: the share of usage spend that has a product."""
        unit = "hour" if granularity is Granularity.HOUR else "day"
        return self.query(
            f"""
            SELECT date_trunc('{unit}', period_start) AS t, currency, sum(cost) AS spend,
                   sum(cost) FILTER (WHERE product <> ?) AS attributed
            FROM facts WHERE charge_category = ? GROUP BY ALL ORDER BY ALL
            """,
            [UNATTRIBUTED, USAGE],
        )

    @staticmethod
    def _window(start: datetime | None, end: datetime | None) -> tuple[str, list[Any]]:
        import pandas as pd

        clauses, params = "", []
        if start is not None:
            clauses += " AND period_start >= ?"
            params.append(pd.Timestamp(start).tz_localize(None) if pd.Timestamp(start).tzinfo else start)
        if end is not None:
            clauses += " AND period_start < ?"
            params.append(pd.Timestamp(end).tz_localize(None) if pd.Timestamp(end).tzinfo else end)
        return clauses, params


def period_points(first: datetime, last: datetime, granularity: Granularity) -> int:
    """Periods from ``first``'s to ``last``'s (both included) at ``granularity``: hours or days."""
    if granularity is Granularity.HOUR:
        lo, hi = (
            first.replace(minute=0, second=0, microsecond=0),
            last.replace(minute=0, second=0, microsecond=0),
        )
        return (hi - lo) // timedelta(hours=1) + 1
    return (last.date() - first.date()).days + 1
