"""Tables owned by alerts: incidents and their history, budgets, expected changes, feedback, rebaselines,
the outbox and the notification log.

Timestamps are timezone-aware UTC; SQLite hands them back naive, so readers pass them through
``alerts.tables.aware``. JSON values are stored as text so that both SQLite and PostgreSQL agree.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    Float,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

metadata = MetaData()

incidents = Table(
    "alert_incidents",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("fingerprint", String(64), nullable=False, index=True),
    # Equal to the fingerprint while open and NULL once resolved: a unique column that allows one open
    # incident per fingerprint on every database (NULLs never collide), without partial indexes.
    Column("open_key", String(64), unique=True),
    Column("product", String(256), nullable=False),
    Column("cost_line", String(256), nullable=False),
    Column("currency", String(8), nullable=False),
    Column("scope", String(128), nullable=False),
    Column("status", String(16), nullable=False),  # open | resolved
    Column("severity", String(8), nullable=False),  # none | ticket | page (current)
    Column("peak_severity", String(8), nullable=False),
    Column("opened_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("resolved_at", DateTime(timezone=True)),
    Column("in_band_since", DateTime(timezone=True)),
    Column("period_start", DateTime(timezone=True)),  # first anomalous period of the incident
    Column("period_end", DateTime(timezone=True)),  # last anomalous period seen so far
    Column("impact", Float, nullable=False),
    Column("peak_impact", Float, nullable=False),
    Column("actual", Float, nullable=False),
    Column("expected", Float, nullable=False),
    Column("burn_rate", Float),
    Column("projected_month_impact", Float, nullable=False),
    Column("notified_severity", String(8)),
    Column("notified_impact", Float),
    Column("notified_at", DateTime(timezone=True)),  # the last notification's sweep time
    Column("notify_seq", Integer, nullable=False),
    Column("receivers", Text, nullable=False),  # JSON list of receivers told so far
    Column("feedback", String(16)),
    Column("muted_by", String(36)),
    Column("labels", Text, nullable=False),  # JSON object
    Column("anomalies", Text, nullable=False),  # JSON: {event start ISO: impact} of every event seen
    Column("root_causes", Text, nullable=False),  # JSON list of the newest root causes
    Column("reasons", Text, nullable=False),  # JSON list: why the severity is what it is
    Column("resolution", String(32)),  # how it ended when not back in band: "new normal" or "expected_change"
    Column(
        "level_shift", Text
    ),  # JSON: the newest lasting step read under it (since, hours, ratio, $ a month)
    Column("linked_to", String(36)),  # the owning incident's id while this series joined its problem
    Column("linked", Text),  # JSON list of the series linked to this incident (alerts.grouping)
)

incident_events = Table(
    "alert_incident_events",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("incident_id", String(36), nullable=False, index=True),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("kind", String(16), nullable=False),  # opened | extended | escalated | resolved | feedback | ...
    Column("severity", String(8), nullable=False),
    Column("impact", Float, nullable=False),
    Column("detail", Text, nullable=False),
)

budgets = Table(
    "alert_budgets",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("product", String(256), nullable=False),
    Column("cost_line", String(256), nullable=False),  # "" = the whole product
    Column("currency", String(8), nullable=False),
    Column("monthly_amount", Float, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    UniqueConstraint("product", "cost_line", name="uq_alert_budgets_scope"),
)

expected_changes = Table(
    "alert_expected_changes",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("name", String(256), nullable=False),
    Column("matchers", Text, nullable=False),  # JSON list of matcher strings, e.g. ['product="shop"']
    Column("starts_at", DateTime(timezone=True), nullable=False),
    Column("ends_at", DateTime(timezone=True), nullable=False),
    Column("mute", Boolean, nullable=False),
    Column("exclude_from_training", Boolean, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("created_by", String(128)),
)

feedback = Table(
    "alert_feedback",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("incident_id", String(36), nullable=False, index=True),
    Column("kind", String(16), nullable=False),  # expected | not_anomaly | confirmed
    Column("note", Text),
    Column("author", String(128)),
    Column("at", DateTime(timezone=True), nullable=False),
)

# A series' new normal: from ``since`` its spend is ``ratio`` times its old baseline. Sweeps scale the
# forecast by it until a training has learned it (``applied_at``); trainings scale the history before
# ``since`` by it, so the new level is what every later model learns.
rebaselines = Table(
    "alert_rebaselines",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("product", String(256), nullable=False),
    Column("cost_line", String(256), nullable=False),
    Column("currency", String(8), nullable=False),
    Column("scope", String(128), nullable=False),
    Column("since", DateTime(timezone=True), nullable=False),
    Column("ratio", Float, nullable=False),
    Column("month_impact", Float, nullable=False),
    Column("incident_id", String(36), nullable=False, index=True),
    Column("reason", String(16), nullable=False),  # persisted | feedback
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("applied_at", DateTime(timezone=True)),  # the first training that learned it
    Index("ix_alert_rebaselines_series", "product", "cost_line", "currency"),
)

outbox = Table(
    "alert_outbox",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    # fingerprint:receiver:seq — unique, so the same notification can never be queued twice.
    Column("event_key", String(255), nullable=False, unique=True),
    Column("incident_id", String(36), nullable=False),
    Column("fingerprint", String(64), nullable=False),
    Column("receiver", String(128), nullable=False),
    Column("action", String(16), nullable=False),  # open | update | resolve
    Column("seq", Integer, nullable=False),
    Column("payload", Text, nullable=False),  # the receiver-neutral Notification as JSON (no secrets)
    Column("status", String(16), nullable=False),  # pending | sending | delivered | failed | skipped
    Column("attempts", Integer, nullable=False),
    Column("next_attempt_at", DateTime(timezone=True), nullable=False),
    Column("lease_owner", String(64)),
    Column("lease_until", DateTime(timezone=True)),
    Column("last_error", Text),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("finished_at", DateTime(timezone=True)),
    Index("ix_alert_outbox_due", "status", "next_attempt_at"),
)

notification_log = Table(
    "alert_notification_log",
    metadata,
    Column("receiver", String(128), primary_key=True),
    Column("fingerprint", String(64), primary_key=True),
    Column("incident_id", String(36), nullable=False),
    Column("seq", Integer, nullable=False),
    Column("action", String(16), nullable=False),
    Column("severity", String(8), nullable=False),
    Column("event_key", String(255), nullable=False),
    Column("sent_at", DateTime(timezone=True), nullable=False),
)


def aware(value: datetime) -> datetime:
    """Return ``value`` as timezone-aware UTC (SQLite returns naive datetimes that were stored as UTC)."""
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def aware_opt(value: datetime | None) -> datetime | None:
    return None if value is None else aware(value)
