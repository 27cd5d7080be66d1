"""``GET /v1/series``: the stored spend series and their points."""

from __future__ import annotations

from datetime import datetime

import pandas as pd
from fastapi import APIRouter, Query
from starlette.concurrency import run_in_threadpool

from api.deps import StoreDep
from api.schemas import PointOut, SeriesOut, SeriesPointsOut
from api.scoping import SliceDep
from core.errors import NotFoundError
from core.types import Granularity

router = APIRouter(prefix="/v1/series", tags=["series"])


@router.get("", response_model=list[SeriesOut])
async def list_series(store: StoreDep, scope: SliceDep) -> list[SeriesOut]:
    """Every usage series (in the token's slice): product, cost line, currency, granularity, first and
    last period, spend."""
    infos = await run_in_threadpool(store.list_series)
    return [
        SeriesOut.model_validate(info.__dict__)
        for info in infos
        if scope.allows_series(info.product, info.cost_line, info.currency)
    ]


@router.get("/points", response_model=SeriesPointsOut)
async def series_points(
    store: StoreDep,
    scope: SliceDep,
    product: str = Query(..., max_length=256),
    cost_line: str = Query(..., max_length=256),
    currency: str = Query("USD", pattern="^[A-Za-z]{3}$"),
    granularity: Granularity | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
) -> SeriesPointsOut:
    """The spend of one series per period (zero where nothing was charged)."""
    infos = await run_in_threadpool(store.list_series)
    match = [
        i
        for i in infos
        if (i.product, i.cost_line, i.currency) == (product, cost_line, currency.upper())
        and scope.allows_series(i.product, i.cost_line, i.currency)
    ]
    if not match:
        raise NotFoundError(f"no series {product} / {cost_line} in {currency.upper()}")
    gran = granularity or match[0].granularity
    values = await run_in_threadpool(
        store.series, product, cost_line, currency.upper(), gran, start=start, end=end
    )
    return SeriesPointsOut(
        product=product,
        cost_line=cost_line,
        currency=currency.upper(),
        granularity=gran,
        points=[
            PointOut(timestamp=t.to_pydatetime(), value=float(v))
            for t, v in zip(pd.DatetimeIndex(values.index), values.to_numpy(), strict=True)
        ],
    )
