"""Tables owned by training: job leases (one sweep / one training at a time across replicas) and job runs."""

from __future__ import annotations

from sqlalchemy import Column, DateTime, Index, MetaData, String, Table, Text

metadata = MetaData()

job_leases = Table(
    "job_leases",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("owner", String(128), nullable=False),
    Column("run_id", String(36)),
    Column("expires_at", DateTime(timezone=True), nullable=False),
)

job_runs = Table(
    "job_runs",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("name", String(64), nullable=False),  # sweep | train
    Column("owner", String(128), nullable=False),
    Column("status", String(16), nullable=False),  # running | done | failed
    Column("as_of", DateTime(timezone=True)),
    Column("started_at", DateTime(timezone=True), nullable=False),
    Column("finished_at", DateTime(timezone=True)),
    Column("attempts", String(8), nullable=False, default="1"),
    Column("summary", Text),  # JSON
    Index("ix_job_runs_name_started", "name", "started_at"),
)
