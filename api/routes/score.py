"""``POST /v1/score`` and ``POST /v1/score/batch``: ad hoc scoring of a series sent in the request.

The baseline is the stored one when ``product`` and ``cost_line`` name a trained series
(the model registry, through the app's cached ``StoredModels``), else a
``BatchedSeasonalBaseline`` fitted on the request. Everything a client can get wrong is a 422 naming
the point (``series.3.value``) or a 413 for too many points; the detector itself lives in
:mod:`detector` and knows nothing of HTTP.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
from fastapi import APIRouter, Request

from api.deps import ClockDep, SettingsDep
from api.score_schemas import (
    AnomalyOut,
    CompletenessOut,
    RootCauseOut,
    ScoreBatchRequest,
    ScoreBatchResponse,
    ScoredPointOut,
    ScorePointIn,
    ScoreRequest,
    ScoreResponse,
)
from core.anomaly import Anomaly
from core.clock import Clock
from core.errors import InputError, TooLargeError
from core.types import Granularity
from detector.detector import Detection, Detector
from detector.explain import explain_anomaly
from detector.post_rules import DetectorConfig, period_completeness
from models.base import Baseline

router = APIRouter(prefix="/v1/score", tags=["score"])

DEFAULT_MAX_POINTS = 20_000  # per series; settings.max_score_points overrides when it exists
MIN_POINTS = 3
_STEP = {Granularity.HOUR: pd.Timedelta(hours=1), Granularity.DAY: pd.Timedelta(days=1)}


StoredLookup = Callable[[str | None, str | None, Granularity], Baseline | None]


def _utc_naive(ts: pd.Timestamp) -> pd.Timestamp:
    return ts.tz_convert("UTC").tz_localize(None) if ts.tzinfo is not None else ts


def parse_series(
    points: list[ScorePointIn], granularity: Granularity | None, *, max_points: int, prefix: str = ""
) -> tuple[pd.Series, Granularity, np.ndarray]:
    """Validate the points: ``(values on the full period grid, granularity, completeness or NaN)``."""
    field = f"{prefix}series"
    if len(points) > max_points:
        raise TooLargeError(field, f"{len(points)} points; at most {max_points} per series")
    if len(points) < MIN_POINTS:
        raise InputError(field, f"at least {MIN_POINTS} points are needed to fit a baseline")
    times = [_utc_naive(pd.Timestamp(p.timestamp)) for p in points]
    for i, p in enumerate(points):
        if not np.isfinite(p.value):
            raise InputError(f"{field}.{i}.value", "not a finite number")
        if i and times[i] == times[i - 1]:
            raise InputError(f"{field}.{i}.timestamp", f"duplicate timestamp {times[i].isoformat()}")
        if i and times[i] < times[i - 1]:
            raise InputError(f"{field}.{i}.timestamp", "earlier than the point before: send oldest first")
    index = pd.DatetimeIndex(times)
    gran = granularity or _infer_granularity(index, field)
    step = _STEP[gran]
    for i, t in enumerate(times):
        if t.floor(step) != t:
            raise InputError(
                f"{field}.{i}.timestamp",
                f"{t.isoformat()} is not the start of {'an hour' if gran is Granularity.HOUR else 'a day'} "
                f"(granularity {gran.value}): mixed granularity",
            )
    periods = int((index[-1] - index[0]) / step) + 1
    if periods > max_points:
        raise TooLargeError(field, f"the points span {periods} {gran.value}s; at most {max_points}")
    grid = pd.date_range(index[0], index[-1], freq=step)
    values = pd.Series([p.value for p in points], index=index, dtype=np.float64).reindex(grid)
    given = pd.Series(
        [np.nan if p.completeness is None else p.completeness for p in points], index=index, dtype=np.float64
    ).reindex(grid)
    return values, gran, given.to_numpy()


def _infer_granularity(index: pd.DatetimeIndex, field: str) -> Granularity:
    per_hour = pd.Timedelta(hours=1) // pd.Timedelta(1, unit=index.unit)
    diffs = np.diff(index.asi8)
    smallest = pd.Timedelta(int(diffs.min()) * (pd.Timedelta(hours=1) / per_hour))
    hourly = bool((diffs % per_hour == 0).all())
    if smallest < pd.Timedelta(hours=1) or not hourly:
        raise InputError(field, f"points {smallest} apart: only hourly or daily series are scored")
    if smallest < pd.Timedelta(days=1):
        day_gaps = int((diffs >= 24 * per_hour).sum())
        # Hourly points mixed with daily totals (not an outage now and then): reject rather than guess.
        if day_gaps >= 2 and day_gaps >= 0.2 * len(diffs):
            raise InputError(field, "points 1 hour apart and points a day or more apart: mixed granularity")
        return Granularity.HOUR
    return Granularity.DAY


def score_one(
    req: ScoreRequest,
    *,
    clock: Clock,
    max_points: int,
    prefix: str = "",
    stored_lookup: StoredLookup | None = None,
) -> ScoreResponse:
    """Validate, fit (or load), score, decide, and add root causes: one series, one answer."""
    y, gran, given = parse_series(req.series, req.granularity, max_points=max_points, prefix=prefix)
    step = _STEP[gran]
    now = pd.Timestamp(clock.now())
    by_clock = period_completeness(pd.DatetimeIndex(y.index), step, _utc_naive(now))
    completeness = np.where(np.isfinite(given), given, by_clock)
    stored = stored_lookup(req.product, req.cost_line, gran) if stored_lookup is not None else None
    baseline: Baseline
    if stored is not None:
        baseline, source = stored, "stored"
    else:
        from models.seasonal import BatchedSeasonalBaseline

        baseline, source = BatchedSeasonalBaseline(granularity=gran.value), "fitted_on_request"
    detector = Detector(DetectorConfig(direction=req.direction))
    detection = detector.run(baseline, y, completeness=completeness, fit=stored is None)
    record = baseline.record() if hasattr(baseline, "record") else {}
    model: dict[str, Any] = {
        **record,
        "source": source,
        "granularity": gran.value,
        "direction": req.direction,
    }
    anomalies = [_anomaly_out(a, req, detection, step) for a in detection.anomalies]
    return ScoreResponse(
        points=_points_out(detection, req.series),
        anomalies=anomalies,
        model=model,
        completeness=CompletenessOut.model_validate(detection.completeness_note()),
    )


def _num(v: float) -> float | None:
    return float(v) if np.isfinite(v) else None


def _points_out(detection: Detection, sent: list[ScorePointIn]) -> list[ScoredPointOut]:
    frame = detection.points
    wanted = pd.DatetimeIndex([_utc_naive(pd.Timestamp(p.timestamp)) for p in sent])
    rows = frame.loc[wanted]

    # Column-wise, then zipped: one pandas access per column instead of one per cell (this is the hot
    # path of /v1/score with a stored model).
    def column(name: str) -> list[float | None]:
        values = rows[name].to_numpy(dtype=np.float64)
        return [float(v) if np.isfinite(v) else None for v in values]

    scores = np.clip(np.nan_to_num(rows["anomaly_score"].to_numpy(dtype=np.float64)), 0.0, 1.0).tolist()
    flags = rows["is_anomaly"].to_numpy(dtype=bool).tolist()
    held = rows["held_back"].to_numpy(dtype=bool).tolist()
    complete = rows["completeness"].to_numpy(dtype=np.float64).tolist()
    return [
        ScoredPointOut.model_construct(
            timestamp=p.timestamp,
            value=p.value,
            expected=e,
            lower=lo,
            upper=hi,
            anomaly_score=sc,
            is_anomaly=f,
            completeness=c,
            held_back=h,
        )
        for p, e, lo, hi, sc, f, c, h in zip(
            sent,
            column("expected"),
            column("lower"),
            column("upper"),
            scores,
            flags,
            complete,
            held,
            strict=True,
        )
    ]


def _anomaly_out(a: Anomaly, req: ScoreRequest, detection: Detection, step: pd.Timedelta) -> AnomalyOut:
    causes = _root_causes(a, req, detection) if req.breakdown else []
    return AnomalyOut(
        start=a.start,
        end=a.end,
        actual=a.actual,
        expected=a.expected,
        impact=a.impact,
        impact_pct=a.impact_pct,
        anomaly_score=a.anomaly_score,
        root_causes=causes,
        direction=a.direction,
        expected_trend=a.expected_trend,
        expected_seasonal=a.expected_seasonal,
        projected_month_impact=a.projected_month_impact,
        completeness=a.completeness,
    )


def _root_causes(a: Anomaly, req: ScoreRequest, detection: Detection) -> list[RootCauseOut]:
    """Split the event's excess over the breakdown's leaves, period by period, and rank the causes."""
    assert req.breakdown is not None
    rows = [
        {"timestamp": _utc_naive(pd.Timestamp(b.timestamp)), **b.dimensions, "value": b.value}
        for b in req.breakdown
    ]
    facts = pd.DataFrame(rows)
    dims = sorted({k for b in req.breakdown for k in b.dimensions})
    facts[dims] = facts[dims].fillna("")
    span = detection.points.loc[pd.Timestamp(a.start) : pd.Timestamp(a.end)]
    # A partial period's expected total is scaled by its completeness, as its actual is partial too.
    totals = [
        (at, float(exp) * float(c))
        for at, exp, c in zip(
            pd.DatetimeIndex(span.index), span["expected"], span["completeness"], strict=True
        )
    ]
    return [RootCauseOut.model_validate(c.to_dict()) for c in explain_anomaly(facts, totals, dimensions=dims)]


def _max_points(settings: object) -> int:
    return int(getattr(settings, "max_score_points", DEFAULT_MAX_POINTS))


def _lookup(request: Request) -> StoredLookup | None:
    models = getattr(request.app.state, "stored_models", None)
    return models.get if models is not None else None


@router.post("", response_model=ScoreResponse)
def score(body: ScoreRequest, settings: SettingsDep, clock: ClockDep, request: Request) -> ScoreResponse:
    """Score every point of a series and group the anomalous ones into events (sync: runs in a thread).
    The stored baseline is used when ``product`` and ``cost_line`` name a trained series."""
    return score_one(body, clock=clock, max_points=_max_points(settings), stored_lookup=_lookup(request))


@router.post("/batch", response_model=ScoreBatchResponse)
def score_batch(
    body: ScoreBatchRequest, settings: SettingsDep, clock: ClockDep, request: Request
) -> ScoreBatchResponse:
    """Score many series in one request; an error names the item (``items.2.series.5.value``)."""
    limit = _max_points(settings)
    total = sum(len(item.series) for item in body.items)
    if total > 10 * limit:
        raise TooLargeError("items", f"{total} points in all; at most {10 * limit} per batch")
    return ScoreBatchResponse(
        results=[
            score_one(
                item, clock=clock, max_points=limit, prefix=f"items.{k}.", stored_lookup=_lookup(request)
            )
            for k, item in enumerate(body.items)
        ]
    )
