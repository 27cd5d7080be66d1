"""Alerts: rebaselines (a lasting step learned as the series' new normal) and how an incident resolved.

Revision ID: alerts_0003
Revises: alerts_0002
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "alerts_0003"
down_revision = "alerts_0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "alert_rebaselines",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("product", sa.String(256), nullable=False),
        sa.Column("cost_line", sa.String(256), nullable=False),
        sa.Column("currency", sa.String(8), nullable=False),
        sa.Column("scope", sa.String(128), nullable=False),
        sa.Column("since", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ratio", sa.Float, nullable=False),
        sa.Column("month_impact", sa.Float, nullable=False),
        sa.Column("incident_id", sa.String(36), nullable=False),
        sa.Column("reason", sa.String(16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("applied_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index("ix_alert_rebaselines_incident_id", "alert_rebaselines", ["incident_id"])
    op.create_index("ix_alert_rebaselines_series", "alert_rebaselines", ["product", "cost_line", "currency"])
    # batch mode: SQLite cannot ALTER a table in place beyond ADD COLUMN, and batch keeps both engines alike.
    with op.batch_alter_table("alert_incidents") as batch:
        batch.add_column(sa.Column("resolution", sa.String(32), nullable=True))
        batch.add_column(sa.Column("level_shift", sa.Text, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("alert_incidents") as batch:
        batch.drop_column("level_shift")
        batch.drop_column("resolution")
    op.drop_index("ix_alert_rebaselines_series", table_name="alert_rebaselines")
    op.drop_index("ix_alert_rebaselines_incident_id", table_name="alert_rebaselines")
    op.drop_table("alert_rebaselines")
