"""Alerts: grouping links an anomalous series to the incident that owns its problem.

``linked_to`` is the owning incident's id on an incident whose series joined another's problem (it
notifies nothing of its own while linked); ``linked`` is the JSON list of series linked to an owner.

Revision ID: alerts_0004
Revises: alerts_0003
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "alerts_0004"
down_revision = "alerts_0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("alert_incidents") as batch:
        batch.add_column(sa.Column("linked_to", sa.String(36), nullable=True))
        batch.add_column(sa.Column("linked", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("alert_incidents") as batch:
        batch.drop_column("linked")
        batch.drop_column("linked_to")
