"""Builders of detector verdicts for the alerts tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from core.anomaly import Anomaly, CauseRef, SeriesEvaluation, WindowSpend
from core.types import Granularity

T0 = datetime(2026, 11, 10, 0, tzinfo=UTC)


def windows(short: float, long: float, *, expected_per_hour: float = 100.0) -> list[WindowSpend]:
    """6 h and 24 h windows burning at ``short`` and ``long`` times the expected rate."""
    return [
        WindowSpend(hours=6, actual=6 * expected_per_hour * short, expected=6 * expected_per_hour),
        WindowSpend(hours=24, actual=24 * expected_per_hour * long, expected=24 * expected_per_hour),
    ]


def anomaly(
    start: datetime, end: datetime, impact: float, *, expected: float = 1000.0, cause: str = "Compute"
) -> Anomaly:
    return Anomaly(
        start=start,
        end=end,
        direction="up",
        actual=expected + impact,
        expected=expected,
        impact=impact,
        impact_pct=impact / expected * 100,
        anomaly_score=0.99,
        projected_month_impact=impact * 10,
        root_causes=[
            CauseRef(
                dimensions={"service": cause, "region": "eu-west-1"},
                actual=expected + impact * 0.8,
                expected=expected,
                contribution=impact * 0.8,
                share=0.8,
            )
        ],
    )


def evaluation(
    at: datetime,
    *,
    burn: tuple[float, float] = (1.0, 1.0),
    impact: float | None = None,
    in_band: bool | None = None,
    product: str = "shop",
    cost_line: str = "Compute",
    labels: dict[str, str] | None = None,
    month_projection: float = 0.0,
    start: datetime = T0,
) -> SeriesEvaluation:
    """A verdict at ``at``: anomalous with ``impact`` when given, else quiet and in band."""
    anomalies = [anomaly(start, at - timedelta(hours=1), impact)] if impact is not None else []
    return SeriesEvaluation(
        product=product,
        cost_line=cost_line,
        currency="USD",
        granularity=Granularity.HOUR,
        as_of=at,
        anomalies=anomalies,
        in_band=in_band if in_band is not None else impact is None,
        windows=windows(*burn),
        month_to_date_actual=1000.0,
        month_projection=month_projection,
        labels=labels or {"team": "web"},
    )
