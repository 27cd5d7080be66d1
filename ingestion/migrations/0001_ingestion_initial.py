"""Ingestion tables: ingest_runs and fact_partitions.

Revision ID: ingestion_0001
Revises:
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "ingestion_0001"
down_revision = None
branch_labels = ("ingestion",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "ingest_runs",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True)),
        sa.Column("origin", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("files", sa.Integer, nullable=False),
        sa.Column("rows_read", sa.Integer, nullable=False),
        sa.Column("rows_kept", sa.Integer, nullable=False),
        sa.Column("rows_rejected", sa.Integer, nullable=False),
        sa.Column("report", sa.Text),
    )
    op.create_table(
        "fact_partitions",
        sa.Column("billing_account", sa.String(256), primary_key=True),
        sa.Column("billing_period", sa.String(7), primary_key=True),
        sa.Column("fingerprint", sa.String(96), nullable=False),
        sa.Column("rows", sa.Integer, nullable=False),
        sa.Column("sources", sa.Text, nullable=False),
        sa.Column("source_mtime", sa.DateTime(timezone=True), nullable=False),
        sa.Column("cost_basis", sa.String(32), nullable=False),
        sa.Column("ingested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("run_id", sa.String(36), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("fact_partitions")
    op.drop_table("ingest_runs")
