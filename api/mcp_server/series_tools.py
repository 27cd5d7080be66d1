"""Read and score tools on spend series: ``list_series``, ``series_spend`` and ``score_series``.

``series_spend`` reads the fact store as ``GET /v1/series/points`` does. ``score_series`` judges a stored
series as ``POST /v1/score`` judges one that names a trained series: the stored baseline from the model
registry (fitted on the spot when the series has none yet), the detector's post-rules, the clock's
completeness for the newest periods. It needs the ``score`` scope, as the HTTP endpoint does.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

import numpy as np
import pandas as pd
from mcp.server.mcpserver import MCPServer
from mcp.types import ToolAnnotations
from pydantic import Field

from alerts.rebaseline import spend_rebaselines_of
from api.mcp_server.context import ToolContext, cleaned
from api.rebaselined_model import RebaselinedModel
from core.errors import InputError, NotFoundError
from core.types import Granularity
from detector.detector import Detector
from detector.post_rules import DetectorConfig, period_completeness
from ingestion.fact_store import SeriesInfo
from models.base import Baseline
from models.registry import ModelRegistry

READ_ONLY = ToolAnnotations(read_only_hint=True, open_world_hint=False)
MIN_POINTS = 3
MAX_ANOMALIES = 50

Name = Annotated[str, Field(min_length=1, max_length=256)]
Currency = Annotated[
    str | None,
    Field(pattern="^[A-Za-z]{3}$", description="ISO 4217 code; needed only when the series has several"),
]
When = Annotated[datetime | None, Field(description="ISO-8601; UTC when it has no offset")]
MaxPoints = Annotated[int, Field(ge=1, le=5000, description="the newest points returned (all are used)")]


def _naive_utc(value: datetime | None) -> datetime | None:
    if value is None or value.tzinfo is None:
        return value
    return pd.Timestamp(value).tz_convert("UTC").tz_localize(None).to_pydatetime()


def find_series(
    ctx: ToolContext, product: str, cost_line: str, currency: str | None, granularity: Granularity | None
) -> SeriesInfo:
    """The stored series named; ``NotFoundError`` when none, ``InputError`` naming ``currency`` when
    several currencies match and none was given."""
    infos = [i for i in ctx.store.list_series() if (i.product, i.cost_line) == (product, cost_line)]
    if currency is not None:
        infos = [i for i in infos if i.currency == currency.upper()]
    if granularity is not None:
        infos = [i for i in infos if i.granularity is granularity]
    if not infos:
        raise NotFoundError(
            f"no series {product} / {cost_line}" + (f" in {currency.upper()}" if currency else "")
        )
    if len({i.currency for i in infos}) > 1:
        raise InputError(
            "currency", f"the series has several: {', '.join(sorted({i.currency for i in infos}))}"
        )
    return infos[0]


def _window(start: datetime | None, end: datetime | None) -> tuple[datetime | None, datetime | None]:
    start, end = _naive_utc(start), _naive_utc(end)
    if start is not None and end is not None and end <= start:
        raise InputError("end", "must be after start")
    return start, end


def spend(
    ctx: ToolContext,
    info: SeriesInfo,
    start: datetime | None,
    end: datetime | None,
    max_points: int,
) -> dict[str, Any]:
    values = ctx.store.series(
        info.product, info.cost_line, info.currency, info.granularity, start=start, end=end
    )
    if start is not None:
        values = values[values.index >= pd.Timestamp(start)]
    shown = values.iloc[-max_points:]
    return cleaned(
        {
            "product": info.product,
            "cost_line": info.cost_line,
            "currency": info.currency,
            "granularity": info.granularity.value,
            "periods": len(values),
            "total": float(values.sum()),
            "mean": float(values.mean()) if len(values) else None,
            "min": float(values.min()) if len(values) else None,
            "max": float(values.max()) if len(values) else None,
            "truncated": len(shown) < len(values),
            "points": [
                {"timestamp": t, "value": float(v)}
                for t, v in zip(pd.DatetimeIndex(shown.index), shown.to_numpy(), strict=True)
            ],
        }
    )


def _baseline(ctx: ToolContext, info: SeriesInfo) -> tuple[Baseline, dict[str, Any], bool]:
    """The stored model of the series when there is a usable one, else a fresh seasonal one to fit."""
    registry = ModelRegistry(ctx.engine, ctx.settings.models_path)
    entry = registry.latest_for(info.product, info.cost_line, info.granularity)
    if entry is not None and entry.artifact is not None:
        try:
            model = registry.load(entry)
        except Exception:  # an unreadable artifact: fit on the spot, as /v1/score does
            model = None
        if model is not None:
            # Scaled by the series' new normals, as sweeps and POST /v1/score scale it.
            learned = spend_rebaselines_of(ctx.engine, info.product, info.cost_line)
            if learned:
                model = RebaselinedModel(model, learned, entry.trained_at)
            about = {
                "source": "stored",
                "version": entry.version,
                "model_type": entry.model_type,
                "trained_at": entry.trained_at,
                "train_end": entry.train_end,
            }
            return model, about, False
    from models.seasonal import BatchedSeasonalBaseline

    fresh = BatchedSeasonalBaseline(granularity=info.granularity.value)
    return fresh, {"source": "fitted_on_request", "model_type": "seasonal"}, True


def score(
    ctx: ToolContext,
    info: SeriesInfo,
    start: datetime | None,
    end: datetime | None,
    direction: Literal["up", "down", "both"],
    max_points: int,
) -> dict[str, Any]:
    y = ctx.store.series(info.product, info.cost_line, info.currency, info.granularity, start=start, end=end)
    if start is not None:
        y = y[y.index >= pd.Timestamp(start)]
    if len(y) < MIN_POINTS:
        raise InputError("start", f"{len(y)} periods in the window; at least {MIN_POINTS} are needed")
    baseline, about, fit = _baseline(ctx, info)
    index = pd.DatetimeIndex(y.index)
    step = pd.Timedelta(hours=1) if info.granularity is Granularity.HOUR else pd.Timedelta(days=1)
    now = pd.Timestamp(ctx.clock.now()).tz_convert("UTC").tz_localize(None)
    completeness = period_completeness(index, step, now)
    detection = Detector(DetectorConfig(direction=direction)).run(
        baseline, y, completeness=completeness, fit=fit
    )
    cols = detection.columns
    rows = range(max(0, len(index) - max_points), len(index))
    anomalies = detection.anomalies[-MAX_ANOMALIES:]
    return cleaned(
        {
            "product": info.product,
            "cost_line": info.cost_line,
            "currency": info.currency,
            "granularity": info.granularity.value,
            "direction": direction,
            "model": about,
            "periods": len(index),
            "anomalous_periods": int(np.asarray(cols["is_anomaly"], dtype=bool).sum()),
            "anomalies": [
                {
                    k: getattr(a, k)
                    for k in (
                        "start",
                        "end",
                        "direction",
                        "actual",
                        "expected",
                        "impact",
                        "impact_pct",
                        "anomaly_score",
                    )
                }
                for a in anomalies
            ],
            "points": [
                {
                    "timestamp": index[i],
                    "value": float(cols["value"][i]),
                    "expected": float(cols["expected"][i]),
                    "lower": float(cols["lower"][i]),
                    "upper": float(cols["upper"][i]),
                    "anomaly_score": float(np.clip(np.nan_to_num(cols["anomaly_score"][i]), 0.0, 1.0)),
                    "is_anomaly": bool(cols["is_anomaly"][i]),
                }
                for i in rows
            ],
        }
    )


def register(server: MCPServer, ctx: ToolContext) -> None:
    @server.tool(annotations=READ_ONLY)
    def list_series() -> dict[str, Any]:
        """The stored spend series (product x cost line x currency): granularity, first and last
        period, number of periods and total spend. Names to pass to series_spend and score_series."""
        with ctx.call("read"):
            infos = ctx.store.list_series()
            return cleaned({"series": [{**i.__dict__, "granularity": i.granularity.value} for i in infos]})

    @server.tool(annotations=READ_ONLY)
    def series_spend(
        product: Name,
        cost_line: Name,
        currency: Currency = None,
        granularity: Granularity | None = None,
        start: When = None,
        end: Annotated[datetime | None, Field(description="exclusive; ISO-8601")] = None,
        max_points: MaxPoints = 400,
    ) -> dict[str, Any]:
        """The spend of one series per period (zero where nothing was charged), with its total,
        mean, min and max over the window."""
        with ctx.call("read"):
            start, end = _window(start, end)
            info = find_series(ctx, product, cost_line, currency, granularity)
            return spend(ctx, info, start, end, max_points)

    @server.tool(annotations=READ_ONLY)
    def score_series(
        product: Name,
        cost_line: Name,
        currency: Currency = None,
        start: When = None,
        end: Annotated[datetime | None, Field(description="exclusive; ISO-8601")] = None,
        direction: Literal["up", "down", "both"] = "up",
        max_points: MaxPoints = 60,
    ) -> dict[str, Any]:
        """Score a stored series against its trained baseline: expected spend and band per period,
        anomaly scores in [0, 1], and the anomaly events (start, end, actual, expected, $ impact).
        Needs the `score` scope."""
        with ctx.call("score"):
            start, end = _window(start, end)
            info = find_series(ctx, product, cost_line, currency, None)
            return score(ctx, info, start, end, direction, max_points)
