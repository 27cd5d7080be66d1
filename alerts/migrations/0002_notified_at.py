"""Alerts: when an incident last notified anyone (quiet updates: impact-only updates at most daily).

Revision ID: alerts_0002
Revises: alerts_0001
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "alerts_0002"
down_revision = "alerts_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # batch mode: SQLite cannot ALTER a table in place beyond ADD COLUMN, and batch keeps both engines alike.
    with op.batch_alter_table("alert_incidents") as batch:
        batch.add_column(sa.Column("notified_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("alert_incidents") as batch:
        batch.drop_column("notified_at")
