"""Tables owned by models: the model registry (one row per trained version of a series' baseline)."""

from __future__ import annotations

from sqlalchemy import Boolean, Column, DateTime, Index, Integer, MetaData, String, Table, Text

metadata = MetaData()

model_versions = Table(
    "model_versions",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("series_id", String(800), nullable=False),
    Column("product", String(256), nullable=False),
    Column("cost_line", String(256), nullable=False),
    Column("currency", String(3), nullable=False),
    Column("granularity", String(8), nullable=False),
    Column("status", String(16), nullable=False),  # ok | failed
    Column("model_type", String(32)),
    Column("trained_at", DateTime(timezone=True), nullable=False),
    Column("train_start", DateTime(timezone=True)),
    Column("train_end", DateTime(timezone=True)),
    Column("points", Integer),
    Column("alerting_ready", Boolean),
    Column("metrics", Text),  # JSON: the model's record (backtest errors, cold start reason...)
    Column("artifact", String(512)),  # path relative to the model directory
    Column("schema_version", Integer),
    Column("error", Text),
    Index("ix_model_versions_series", "series_id", "id"),
)
