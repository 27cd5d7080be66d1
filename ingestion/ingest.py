"""Ingestion: FOCUS exports (files, folders or JSON rows) into leaf facts, idempotently.

Every source is streamed through DuckDB into a staging table of leaf facts (rows aggregated per period
and attributed dimensions, rejected rows counted per reason). Nothing reaches the fact store until every
source has been read, and then each billing account's billing period is replaced whole: the same export
twice changes nothing, a newer export of a period replaces it, and an older one is skipped.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pandas as pd
from sqlalchemy import Engine, delete, insert, select

from core.clock import Clock
from core.errors import InputError, SpendSentryError
from core.settings import Settings
from core.types import UNATTRIBUTED
from ingestion import focus_columns as fc
from ingestion.attribution import Attribution, load_attribution
from ingestion.charge_descriptions import descriptions_dir, publish_descriptions
from ingestion.fact_store import FactStore
from ingestion.focus_reader import (
    LEAF_KEYS,
    check_columns,
    columns_of,
    discover_files,
    empty_columns,
    literal,
    normalise,
    quantity_aggregates,
    quote,
    relation,
)
from ingestion.report import IngestReport, RejectClass
from ingestion.resource_facts import (
    STAGED_ALL,
    publish_resources,
    resources_dir,
    stage_with_extras,
    staging_sql,
)
from ingestion.resource_store import ResourceStore
from ingestion.tables import fact_partitions, ingest_runs

MAX_REJECT_SAMPLE = 10_000
Progress = Callable[[int, int, str], None]


@dataclass(frozen=True)
class Source:
    name: str  # shown to users: a file name, never a full path
    mtime: datetime  # when the export was produced, to tell a newer export from an older one
    path: Path | None = None
    frame: pd.DataFrame | None = None


def _aware(value: datetime) -> datetime:
    # SQLite hands back naive datetimes even for timezone-aware columns; they are stored as UTC.
    return value if value.tzinfo else value.replace(tzinfo=UTC)


class Ingestor:
    """Loads FOCUS sources into the fact store and records what it did in the state database."""

    def __init__(
        self, settings: Settings, engine: Engine, clock: Clock, store: FactStore | None = None
    ) -> None:
        self.settings = settings
        self.engine = engine
        self.clock = clock
        self.store = store or FactStore(
            settings.facts_dir, memory_limit=settings.duckdb_memory_limit, threads=settings.duckdb_threads
        )
        self.resource_store = ResourceStore(
            resources_dir(settings.data_dir),
            memory_limit=settings.duckdb_memory_limit,
            threads=settings.duckdb_threads,
        )
        self.description_store = FactStore(
            descriptions_dir(settings.data_dir),
            memory_limit=settings.duckdb_memory_limit,
            threads=settings.duckdb_threads,
        )

    def ingest_paths(
        self,
        paths: Iterable[Path],
        *,
        force: bool = False,
        progress: Progress | None = None,
        origin: str = "cli",
    ) -> IngestReport:
        files = discover_files(paths)
        sources = [Source(p.name, datetime.fromtimestamp(p.stat().st_mtime, UTC), path=p) for p in files]
        return self._run(sources, force=force, progress=progress, origin=origin)

    def ingest_frame(
        self, frame: pd.DataFrame, *, name: str = "request", origin: str = "api"
    ) -> IngestReport:
        """Ingest JSON rows (already a frame of strings); they are as new as the moment they arrive."""
        if frame.empty:
            raise InputError("rows", "no rows")
        return self._run([Source(name, self.clock.now(), frame=frame.astype("string"))], origin=origin)

    # -- the run ---------------------------------------------------------------------------------

    def _connect(self, workdir: Path) -> duckdb.DuckDBPyConnection:
        # In memory, spilling to workdir past the memory limit: staging is scratch, never worth a disk write.
        conn = duckdb.connect(
            ":memory:",
            config={"memory_limit": self.settings.duckdb_memory_limit, "preserve_insertion_order": False},
        )
        conn.execute(f"SET temp_directory={literal(str(workdir / 'spill'))}")
        conn.execute("SET TimeZone='UTC'")
        # DuckDB 2.0's type pushdown turns a TRY_CAST that appears twice on a CSV column into a strict
        # cast inside the reader: a bad value would then be a malformed line instead of a row rejected
        # for its reason. Every CSV column must reach the plan as text. (Older DuckDBs lack the optimizer.)
        with contextlib.suppress(duckdb.Error):
            conn.execute("SET disabled_optimizers='type_pushdown'")
        if self.settings.duckdb_threads:
            conn.execute(f"SET threads={int(self.settings.duckdb_threads)}")
        return conn

    def _run(
        self, sources: Sequence[Source], *, force: bool = False, progress: Progress | None = None, origin: str
    ) -> IngestReport:
        started = time.perf_counter()
        run_id = str(uuid.uuid4())
        report = IngestReport(
            run_id=run_id, files=[s.name for s in sources], cost_basis=self.settings.cost_basis
        )
        attribution = load_attribution(self.settings)
        workdir = self.settings.data_dir / "tmp" / f"ingest-{run_id}"
        workdir.mkdir(parents=True, exist_ok=True)
        started_at = self.clock.now()
        try:
            with self._connect(workdir) as conn:
                tag_dims = self._stage(conn, sources, attribution, run_id, report, progress)
                self._publish(conn, sources, tag_dims, run_id, report, force)
        except SpendSentryError:
            self._record_run(run_id, started_at, origin, "failed", report)
            raise
        finally:
            shutil.rmtree(workdir, ignore_errors=True)
        report.seconds = time.perf_counter() - started
        self._record_run(run_id, started_at, origin, "done", report)
        return report

    def _stage(
        self,
        conn: duckdb.DuckDBPyConnection,
        sources: Sequence[Source],
        attribution: Attribution,
        run_id: str,
        report: IngestReport,
        progress: Progress | None,
    ) -> tuple[str, ...]:
        tag_dims: tuple[str, ...] = ()
        for index, source in enumerate(sources):
            if progress:
                progress(index, len(sources), source.name)
            if source.frame is not None:
                conn.register("_frame", source.frame)
                rel = "_frame"
            else:
                assert source.path is not None
                rel = relation(source.path, f"_rejects_{index}")
            conn.execute(f"CREATE OR REPLACE TEMP VIEW src AS SELECT * FROM {rel}")
            columns = columns_of(conn, "src", source.name)
            check_columns(columns, self.settings.cost_basis, attribution.cost_line, source.name)
            if source.path is not None:  # optional columns without a value read as absent: as NULL, unread
                keep = {*fc.MANDATORY, self.settings.cost_basis}
                empty = empty_columns(conn, source.path, columns) - keep
                columns = {c: t for c, t in columns.items() if c not in empty}
            plan = normalise(
                columns,
                self.settings.cost_basis,
                attribution,
                quantities=self.settings.keep_quantities,
                resources=self.settings.keep_resources,
                descriptions=self.settings.keep_descriptions,
            )
            tag_dims = plan.tag_dimensions
            keys = [*LEAF_KEYS, *tag_dims]
            quantity = f" {quantity_aggregates()}," if plan.quantities else ""
            # Rejected rows collapse to one group per reason: their values are not trusted.
            key_sql = ", ".join(f"CASE WHEN reason IS NULL THEN {quote(k)} END AS {quote(k)}" for k in keys)
            aggregates = f"""max(period_hours) AS period_hours, sum(cost) AS cost, count(*)::BIGINT AS rows,{quantity}
                       sum(tags_invalid::INTEGER) AS tags_invalid, {index} AS source_idx"""
            agg = f"SELECT reason, {key_sql}, {aggregates} FROM ({plan.sql}) GROUP BY ALL"
            verb = "CREATE TABLE staged AS" if index == 0 else "INSERT INTO staged BY NAME"
            extras = plan.resources or plan.descriptions
            try:
                if extras:  # the same scan also groups the resource-days and the usage types' descriptions
                    stage_with_extras(
                        conn,
                        staging_sql(
                            plan.sql,
                            keys,
                            aggregates,
                            names=fc.RESOURCE_NAME in columns,
                            resources=plan.resources,
                            descriptions=plan.descriptions,
                        ),
                        plan.params,
                        index,
                        resources=plan.resources,
                        descriptions=plan.descriptions,
                    )
                else:
                    conn.execute(f"{verb} {agg}", plan.params)
            except duckdb.Error as exc:
                raise InputError(source.name, f"cannot be read: {str(exc).splitlines()[0]}") from exc
            if source.path is not None and not source.path.name.lower().endswith(".parquet"):
                target = STAGED_ALL if extras else "staged"
                self._count_malformed(conn, f"_rejects_{index}", index, target)
            rejected = conn.execute(
                "SELECT count(*) FROM staged WHERE source_idx = ? AND reason IS NOT NULL", [index]
            ).fetchall()[0]
            if rejected and rejected[0]:
                self._write_reject_sample(conn, plan.reason_sql, plan.from_sql, source, run_id, report)
            if source.frame is not None:
                conn.unregister("_frame")
        if progress:
            progress(len(sources), len(sources), "")
        return tag_dims

    @staticmethod
    def _count_malformed(conn: duckdb.DuckDBPyConnection, table: str, index: int, target: str) -> None:
        # Lines the CSV reader could not split into the header's columns: one staged group per error type.
        conn.execute(
            f"""INSERT INTO {target} BY NAME
                SELECT 'CSV: ' || lower(error_type) || ' (malformed line)' AS reason,
                       count(*)::BIGINT AS rows, {index} AS source_idx
                FROM (SELECT line, min(error_type) AS error_type FROM {table} GROUP BY line)
                GROUP BY error_type"""
        )

    def _write_reject_sample(
        self,
        conn: duckdb.DuckDBPyConnection,
        reason_sql: str,
        from_sql: str,
        source: Source,
        run_id: str,
        report: IngestReport,
    ) -> None:
        # A second pass only for files that had rejects, so people can see and fix the rows themselves.
        folder = self.settings.data_dir / "rejects" / run_id
        folder.mkdir(parents=True, exist_ok=True)
        target = folder / f"{Path(source.name).name}.rejects.csv"
        conn.execute(
            f"""COPY (SELECT COLUMNS(lambda c: NOT starts_with(c, '_ss_')) FROM
                      (SELECT *, {reason_sql} AS reject_reason FROM {from_sql})
                      WHERE reject_reason IS NOT NULL LIMIT {MAX_REJECT_SAMPLE})
                TO {literal(str(target))} (HEADER, DELIMITER ',')"""
        )
        report.rejects_file = str(folder)

    def _publish(
        self,
        conn: duckdb.DuckDBPyConnection,
        sources: Sequence[Source],
        tag_dims: tuple[str, ...],
        run_id: str,
        report: IngestReport,
        force: bool,
    ) -> None:
        summary = conn.execute(
            """SELECT reason, billing_account, billing_period, charge_category, currency,
                      product = ? AS unattributed, source_idx, sum(cost)::DOUBLE AS cost, sum(rows) AS rows,
                      sum(tags_invalid) AS tags_invalid
               FROM staged GROUP BY ALL""",
            [UNATTRIBUTED],
        ).df()
        report.rows_read = int(summary["rows"].sum())
        report.rows_with_invalid_tags = int(summary["tags_invalid"].fillna(0).sum())
        bad = summary[summary["reason"].notna()]
        for reason, group in bad.groupby("reason", sort=True):
            names = sorted({sources[int(i)].name for i in group["source_idx"]})
            report.rejected.append(RejectClass(str(reason), int(group["rows"].sum()), names))
        good = summary[summary["reason"].isna()]

        keys = [*LEAF_KEYS, *tag_dims]
        key_sql = ", ".join(quote(k) for k in keys)
        now = self.clock.now()
        manifest_rows: list[dict[str, object]] = []
        kept_parts: set[tuple[str, str]] = set()
        with self.engine.connect() as db:
            stored = {
                (r.billing_account, r.billing_period): r for r in db.execute(select(fact_partitions)).all()
            }
        to_write: list[tuple[str, str]] = []
        mtimes: dict[tuple[str, str], tuple[datetime, list[int]]] = {}
        for (account, period), group in good.groupby(["billing_account", "billing_period"], sort=True):
            idxs = sorted({int(i) for i in group["source_idx"]})
            mtime = max(sources[i].mtime for i in idxs)
            previous = stored.get((str(account), str(period)))
            if previous is not None and not force and _aware(previous.source_mtime) > mtime:
                report.partitions_skipped_older.append(f"{account}/{period}")
                continue
            to_write.append((str(account), str(period)))
            mtimes[(str(account), str(period))] = (mtime, idxs)
        # Rows of one leaf can come from several files of the same export: sum them.
        group_sql = "GROUP BY ALL" if len(sources) > 1 else ""
        aggregate = "sum" if group_sql else ""
        quantity = ""
        if self.settings.keep_quantities:  # DOUBLE in the facts, like cost
            single = ", quantity::DOUBLE AS quantity, quantity_unit"
            quantity = f", {quantity_aggregates('DOUBLE')}" if group_sql else single
        writes = self.store.replace_partitions(
            conn,
            f"""SELECT {key_sql}, {"max" if group_sql else ""}(period_hours) AS period_hours,
                       {aggregate}(cost)::DOUBLE AS cost, {aggregate}(rows)::BIGINT AS rows{quantity}
                FROM staged WHERE reason IS NULL {group_sql}""",
            to_write,
        )
        if self.settings.keep_resources:
            publish_resources(
                conn,
                self.resource_store,
                to_write,
                per_leaf_day=self.settings.resources_per_leaf_day,
                sources=len(sources),
            )
        if self.settings.keep_descriptions:
            publish_descriptions(conn, self.description_store, "staged_descriptions", to_write)
        for write in writes:
            key = (write.billing_account, write.billing_period)
            kept_parts.add(key)
            if write.changed:
                report.partitions_written += 1
            else:
                report.partitions_unchanged += 1
            mtime, idxs = mtimes[key]
            manifest_rows.append(
                {
                    "billing_account": write.billing_account,
                    "billing_period": write.billing_period,
                    "fingerprint": write.fingerprint,
                    "rows": write.rows,
                    "sources": json.dumps(sorted({sources[i].name for i in idxs})),
                    "source_mtime": mtime,
                    "cost_basis": self.settings.cost_basis,
                    "ingested_at": now,
                    "run_id": run_id,
                }
            )
        # A boolean Series, not a list: an empty list would select no *columns* when every row is rejected.
        kept = good[
            pd.Series(
                [
                    (a, p) in kept_parts
                    for a, p in zip(good["billing_account"], good["billing_period"], strict=True)
                ],
                index=good.index,
                dtype=bool,
            )
        ]
        report.rows_kept = int(kept["rows"].sum())
        usage = kept[kept["charge_category"] == fc.USAGE]
        for cur, group in usage.groupby("currency", sort=True):
            total = float(group["cost"].sum())
            attributed = float(group.loc[~group["unattributed"].astype(bool), "cost"].sum())
            report.usage_spend[str(cur)] = round(total, 6)
            # Coverage is a share of spend; with no spend at all nothing is unattributed.
            report.coverage_pct[str(cur)] = round(100.0 * attributed / total, 2) if total else 100.0
        other = kept[kept["charge_category"] != fc.USAGE]
        sums = other.groupby(["currency", "charge_category"], sort=True)["cost"].sum()
        for (cur, cat), spend in zip(sums.index.tolist(), sums.tolist(), strict=True):
            report.other_charges.setdefault(str(cur), {})[str(cat)] = round(float(spend), 6)
        if manifest_rows:
            with self.engine.begin() as db:
                for row in manifest_rows:
                    db.execute(
                        delete(fact_partitions).where(
                            fact_partitions.c.billing_account == row["billing_account"],
                            fact_partitions.c.billing_period == row["billing_period"],
                        )
                    )
                db.execute(insert(fact_partitions), manifest_rows)

    def _record_run(
        self, run_id: str, started_at: datetime, origin: str, status: str, report: IngestReport
    ) -> None:
        with self.engine.begin() as db:
            db.execute(
                insert(ingest_runs).values(
                    id=run_id,
                    started_at=started_at,
                    finished_at=self.clock.now(),
                    origin=origin,
                    status=status,
                    files=len(report.files),
                    rows_read=report.rows_read,
                    rows_kept=report.rows_kept,
                    rows_rejected=report.rows_rejected,
                    report=json.dumps(report.to_dict()),
                )
            )
