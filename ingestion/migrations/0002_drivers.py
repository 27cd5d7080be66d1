"""Ingestion table: driver_points (business drivers per product, for unit costs).

Revision ID: ingestion_0002
Revises: ingestion_0001
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "ingestion_0002"
down_revision = "ingestion_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "driver_points",
        sa.Column("product", sa.String(256), primary_key=True),
        sa.Column("driver", sa.String(64), primary_key=True),
        sa.Column("period_start", sa.DateTime(timezone=True), primary_key=True),
        sa.Column("unit", sa.String(64), nullable=False),
        sa.Column("value", sa.Float, nullable=False),
        sa.Column("ingested_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("driver_points")
