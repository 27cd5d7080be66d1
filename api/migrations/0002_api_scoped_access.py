"""API tables: token slices (``api_tokens.matchers``), dashboard sessions and the audit log.

Revision ID: api_0002
Revises: api_0001
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "api_0002"
down_revision = "api_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("api_tokens") as batch:
        batch.add_column(sa.Column("matchers", sa.Text()))
    op.create_table(
        "api_sessions",
        sa.Column("id_hash", sa.String(64), primary_key=True),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("token_name", sa.String(100), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "api_audit",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("token_name", sa.String(100), nullable=False),
        sa.Column("method", sa.String(10), nullable=False),
        sa.Column("path", sa.String(300), nullable=False),
        sa.Column("target", sa.String(300)),
        sa.Column("status", sa.Integer(), nullable=False),
        sa.Column("request_id", sa.String(64)),
    )
    op.create_index("ix_api_audit_at", "api_audit", ["at"])
    op.create_index("ix_api_audit_token_name", "api_audit", ["token_name"])


def downgrade() -> None:
    op.drop_index("ix_api_audit_token_name", "api_audit")
    op.drop_index("ix_api_audit_at", "api_audit")
    op.drop_table("api_audit")
    op.drop_table("api_sessions")
    with op.batch_alter_table("api_tokens") as batch:
        batch.drop_column("matchers")
