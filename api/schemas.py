"""Request and response bodies of the HTTP API (pydantic), shared by the routers."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from core.types import Granularity


class SpendIn(BaseModel):
    """FOCUS rows as JSON objects: keys are FOCUS column names, exactly as the specification spells them."""

    rows: list[dict[str, Any]] = Field(..., min_length=1, description="FOCUS rows; `Tags` may be an object")
    source: str = Field("request", max_length=200, description="a name for this batch, shown in reports")


class RejectOut(BaseModel):
    reason: str
    rows: int
    files: list[str]


class IngestOut(BaseModel):
    run_id: str
    rows_read: int
    rows_kept: int
    rows_rejected: int
    rejected: list[RejectOut]
    usage_spend: dict[str, float]
    other_charges: dict[str, dict[str, float]]
    coverage_pct: dict[str, float]
    cost_basis: str
    partitions_written: int
    partitions_unchanged: int
    partitions_skipped_older: list[str]


class SeriesOut(BaseModel):
    product: str
    cost_line: str
    currency: str
    granularity: Granularity
    first_period: datetime
    last_period: datetime
    points: int
    total_spend: float


class PointOut(BaseModel):
    timestamp: datetime
    value: float


class SeriesPointsOut(BaseModel):
    product: str
    cost_line: str
    currency: str
    granularity: Granularity
    points: list[PointOut]
