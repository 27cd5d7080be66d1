"""Request and response bodies of ``POST /v1/score`` and ``POST /v1/score/batch`` (pydantic).

The field names are the contract's; fields beyond it (``completeness``, ``held_back``, the anomaly's
trend / seasonal split and month projection) are additions, documented in the OpenAPI schema.
Values are plain floats here: non-finite values, order, duplicates and granularity are checked by the
router, so that each gets a 422 naming the exact point.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal, NotRequired

from pydantic import BaseModel, Field
from typing_extensions import TypedDict  # typing.TypedDict is refused by pydantic before 3.12

from core.types import Granularity

MAX_BATCH_SERIES = 100


# A typed dict, not a model: a request holds hundreds of points, and validating each into a model object
# cost twice as much as validating it into a dict (the scoring route reads them column by column anyway).
class ScorePointIn(TypedDict):
    """One point of the series: the start of its period and its spend."""

    timestamp: datetime
    value: float
    completeness: NotRequired[
        Annotated[
            float | None,
            Field(
                ge=0.0,
                le=1.0,
                description="share of this period's spend already in the data (billing exports fill in "
                "late); omitted: complete, except a period the server clock says is still running",
            ),
        ]
    ]


class BreakdownIn(BaseModel):
    timestamp: datetime
    dimensions: dict[str, str] = Field(..., min_length=1, description='e.g. {"region": "eu-west-1"}')
    value: float
    quantity: float | None = Field(
        None,
        description="the leaf's quantity in this period (one unit per leaf: e.g. GB or hours); with it, "
        "root causes split their $ into usage and unit price",
    )


class ScoreRequest(BaseModel):
    series: list[ScorePointIn] = Field(..., min_length=1, description="one point per period, oldest first")
    granularity: Granularity | None = Field(
        None, description="hour or day; inferred from the spacing if omitted"
    )
    product: str | None = Field(None, max_length=256)
    cost_line: str | None = Field(None, max_length=256)
    direction: Literal["up", "down", "both"] = "up"
    breakdown: list[BreakdownIn] | None = Field(
        None, description="leaf spend per period and dimension values; anomalies then carry root causes"
    )


class ScoredPointOut(BaseModel):
    timestamp: datetime
    value: float
    expected: float | None
    lower: float | None
    upper: float | None
    anomaly_score: float = Field(
        ..., ge=0.0, le=1.0, description="the alarm signal: high where an alarm is raised or escalated"
    )
    is_anomaly: bool
    tail_score: float = Field(
        0.0, ge=0.0, le=1.0, description="how unusual the point is (high through a whole event)"
    )
    completeness: float = Field(1.0, description="share of the period believed present (1 = complete)")
    held_back: bool = Field(False, description="too incomplete to judge: never anomalous until complete")


class RootCauseOut(BaseModel):
    dimensions: dict[str, str]
    actual: float
    expected: float
    contribution: float
    share: float
    usage_effect: float | None = Field(
        None, description="$ of the contribution due to quantity used (midpoint rule); null when unknown"
    )
    price_effect: float | None = Field(
        None,
        description="$ of the contribution due to unit price; usage_effect + price_effect = contribution",
    )
    driver: Literal["usage", "price", "mix", "unknown"] = Field(
        "unknown", description="the effect that carries at least 75% of the change, else mix"
    )
    usage_change_pct: float | None = Field(None, description="how much more was used, in %")
    price_change_pct: float | None = Field(None, description="how much dearer each unit got, in %")


class AnomalyOut(BaseModel):
    start: datetime
    end: datetime
    actual: float
    expected: float
    impact: float
    impact_pct: float
    anomaly_score: float
    root_causes: list[RootCauseOut]
    direction: Literal["up", "down"]
    expected_trend: float | None = Field(None, description="trend part of `expected` over the event")
    expected_seasonal: float | None = Field(None, description="seasonal part of `expected` over the event")
    projected_month_impact: float = Field(0.0, description="extra spend to the month's end if it continues")
    completeness: float | None = Field(
        None, description="completeness of the event's newest period if partial"
    )


class CompletenessOut(BaseModel):
    policy: Literal["scale", "hold"]
    partial_periods: int
    held_back: int


class ScoreResponse(BaseModel):
    points: list[ScoredPointOut]
    anomalies: list[AnomalyOut]
    model: dict[str, Any]
    completeness: CompletenessOut


class ScoreBatchRequest(BaseModel):
    items: list[ScoreRequest] = Field(..., min_length=1, max_length=MAX_BATCH_SERIES)


class ScoreBatchResponse(BaseModel):
    results: list[ScoreResponse]
