"""Alerts tables: incidents, incident events, budgets, expected changes, feedback, outbox, notification log.

Revision ID: alerts_0001
Revises:
Create Date: 2026-11-29
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from alembic import op

revision = "alerts_0001"
down_revision = None
branch_labels = ("alerts",)
depends_on = None


def _ts(name: str, nullable: bool = True) -> sa.Column[datetime]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "alert_incidents",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("fingerprint", sa.String(64), nullable=False),
        sa.Column("open_key", sa.String(64), unique=True),
        sa.Column("product", sa.String(256), nullable=False),
        sa.Column("cost_line", sa.String(256), nullable=False),
        sa.Column("currency", sa.String(8), nullable=False),
        sa.Column("scope", sa.String(128), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("severity", sa.String(8), nullable=False),
        sa.Column("peak_severity", sa.String(8), nullable=False),
        _ts("opened_at", nullable=False),
        _ts("updated_at", nullable=False),
        _ts("resolved_at"),
        _ts("in_band_since"),
        _ts("period_start"),
        _ts("period_end"),
        sa.Column("impact", sa.Float, nullable=False),
        sa.Column("peak_impact", sa.Float, nullable=False),
        sa.Column("actual", sa.Float, nullable=False),
        sa.Column("expected", sa.Float, nullable=False),
        sa.Column("burn_rate", sa.Float),
        sa.Column("projected_month_impact", sa.Float, nullable=False),
        sa.Column("notified_severity", sa.String(8)),
        sa.Column("notified_impact", sa.Float),
        sa.Column("notify_seq", sa.Integer, nullable=False),
        sa.Column("receivers", sa.Text, nullable=False),
        sa.Column("feedback", sa.String(16)),
        sa.Column("muted_by", sa.String(36)),
        sa.Column("labels", sa.Text, nullable=False),
        sa.Column("anomalies", sa.Text, nullable=False),
        sa.Column("root_causes", sa.Text, nullable=False),
        sa.Column("reasons", sa.Text, nullable=False),
    )
    op.create_index("ix_alert_incidents_fingerprint", "alert_incidents", ["fingerprint"])
    op.create_table(
        "alert_incident_events",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("incident_id", sa.String(36), nullable=False),
        _ts("at", nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("severity", sa.String(8), nullable=False),
        sa.Column("impact", sa.Float, nullable=False),
        sa.Column("detail", sa.Text, nullable=False),
    )
    op.create_index("ix_alert_incident_events_incident_id", "alert_incident_events", ["incident_id"])
    op.create_table(
        "alert_budgets",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("product", sa.String(256), nullable=False),
        sa.Column("cost_line", sa.String(256), nullable=False),
        sa.Column("currency", sa.String(8), nullable=False),
        sa.Column("monthly_amount", sa.Float, nullable=False),
        _ts("created_at", nullable=False),
        _ts("updated_at", nullable=False),
        sa.UniqueConstraint("product", "cost_line", name="uq_alert_budgets_scope"),
    )
    op.create_table(
        "alert_expected_changes",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("name", sa.String(256), nullable=False),
        sa.Column("matchers", sa.Text, nullable=False),
        _ts("starts_at", nullable=False),
        _ts("ends_at", nullable=False),
        sa.Column("mute", sa.Boolean, nullable=False),
        sa.Column("exclude_from_training", sa.Boolean, nullable=False),
        _ts("created_at", nullable=False),
        sa.Column("created_by", sa.String(128)),
    )
    op.create_table(
        "alert_feedback",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("incident_id", sa.String(36), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("note", sa.Text),
        sa.Column("author", sa.String(128)),
        _ts("at", nullable=False),
    )
    op.create_index("ix_alert_feedback_incident_id", "alert_feedback", ["incident_id"])
    op.create_table(
        "alert_outbox",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("event_key", sa.String(255), nullable=False, unique=True),
        sa.Column("incident_id", sa.String(36), nullable=False),
        sa.Column("fingerprint", sa.String(64), nullable=False),
        sa.Column("receiver", sa.String(128), nullable=False),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("seq", sa.Integer, nullable=False),
        sa.Column("payload", sa.Text, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        _ts("next_attempt_at", nullable=False),
        sa.Column("lease_owner", sa.String(64)),
        _ts("lease_until"),
        sa.Column("last_error", sa.Text),
        _ts("created_at", nullable=False),
        _ts("finished_at"),
    )
    op.create_index("ix_alert_outbox_due", "alert_outbox", ["status", "next_attempt_at"])
    op.create_table(
        "alert_notification_log",
        sa.Column("receiver", sa.String(128), primary_key=True),
        sa.Column("fingerprint", sa.String(64), primary_key=True),
        sa.Column("incident_id", sa.String(36), nullable=False),
        sa.Column("seq", sa.Integer, nullable=False),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("severity", sa.String(8), nullable=False),
        sa.Column("event_key", sa.String(255), nullable=False),
        _ts("sent_at", nullable=False),
    )


def downgrade() -> None:
    for table in (
        "alert_notification_log",
        "alert_outbox",
        "alert_feedback",
        "alert_expected_changes",
        "alert_budgets",
        "alert_incident_events",
        "alert_incidents",
    ):
        op.drop_table(table)
