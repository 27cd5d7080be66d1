"""Tables owned by ingestion: the runs, the manifest of fact partitions (which export made each), and the
business driver points (requests, orders...) that unit costs divide spend by."""

from __future__ import annotations

from sqlalchemy import Column, DateTime, Float, Integer, MetaData, String, Table, Text

metadata = MetaData()

ingest_runs = Table(
    "ingest_runs",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("started_at", DateTime(timezone=True), nullable=False),
    Column("finished_at", DateTime(timezone=True)),
    Column("origin", String(16), nullable=False),  # cli | api | demo
    Column("status", String(16), nullable=False),  # running | done | failed
    Column("files", Integer, nullable=False, default=0),
    Column("rows_read", Integer, nullable=False, default=0),
    Column("rows_kept", Integer, nullable=False, default=0),
    Column("rows_rejected", Integer, nullable=False, default=0),
    Column("report", Text),  # the IngestReport as JSON
)

fact_partitions = Table(
    "fact_partitions",
    metadata,
    Column("billing_account", String(256), primary_key=True),
    Column("billing_period", String(7), primary_key=True),
    Column("fingerprint", String(96), nullable=False),
    Column("rows", Integer, nullable=False),
    Column("sources", Text, nullable=False),  # file names (not paths) of the export
    Column("source_mtime", DateTime(timezone=True), nullable=False),
    Column("cost_basis", String(32), nullable=False),
    Column("ingested_at", DateTime(timezone=True), nullable=False),
    Column("run_id", String(36), nullable=False),
)

# Business drivers are small (a few series per product, hourly at most), so they live in the state
# database, where an upsert keyed by (product, driver, period) makes re-ingesting a no-op.
driver_points = Table(
    "driver_points",
    metadata,
    Column("product", String(256), primary_key=True),
    Column("driver", String(64), primary_key=True),
    Column("period_start", DateTime(timezone=True), primary_key=True),
    Column("unit", String(64), nullable=False),
    Column("value", Float, nullable=False),
    Column("ingested_at", DateTime(timezone=True), nullable=False),
)
