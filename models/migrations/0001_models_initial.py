"""Model registry: model_versions.

Revision ID: models_0001
Revises:
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "models_0001"
down_revision = None
branch_labels = ("models",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "model_versions",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("series_id", sa.String(800), nullable=False),
        sa.Column("product", sa.String(256), nullable=False),
        sa.Column("cost_line", sa.String(256), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("granularity", sa.String(8), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("model_type", sa.String(32)),
        sa.Column("trained_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("train_start", sa.DateTime(timezone=True)),
        sa.Column("train_end", sa.DateTime(timezone=True)),
        sa.Column("points", sa.Integer),
        sa.Column("alerting_ready", sa.Boolean),
        sa.Column("metrics", sa.Text),
        sa.Column("artifact", sa.String(512)),
        sa.Column("schema_version", sa.Integer),
        sa.Column("error", sa.Text),
    )
    op.create_index("ix_model_versions_series", "model_versions", ["series_id", "id"])


def downgrade() -> None:
    op.drop_index("ix_model_versions_series", "model_versions")
    op.drop_table("model_versions")
