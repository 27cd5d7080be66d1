"""Unit-cost series: a product's spend (or one cost line's) divided by a business driver's volume.

One series per product × driver × currency, plus one per configured cost line
(``SPENDSENTRY_UNIT_COST_LINES``: ``product:cost_line`` or ``product:*``). The granularity is the coarser
of the spend's and the driver's (hourly volumes are summed into days: drivers are counts such as
requests, orders or GB; send gauges such as monthly active users daily). Periods without a positive
volume have no unit cost (missing, not zero), so a gap in driver data never looks like a cheap day.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import numpy as np
import pandas as pd

from core.settings import Settings
from core.types import Granularity, SeriesKey
from ingestion.drivers import DriverInfo, DriverStore
from ingestion.fact_store import FactStore, SeriesInfo
from ingestion.focus_columns import USAGE

ALL_COST_LINES = "(all)"  # the cost line of a product-level unit cost (every cost line of the product)
SCOPE_PREFIX = "unit:"


@dataclass(frozen=True)
class UnitSpec:
    """One unit-cost series to train and monitor."""

    product: str
    driver: str
    unit: str
    cost_line: str  # ALL_COST_LINES or one cost line
    currency: str
    granularity: Granularity

    @property
    def scope(self) -> str:
        return f"{SCOPE_PREFIX}{self.driver}"

    @property
    def key(self) -> SeriesKey:
        """The model registry key: never equal to a spend series' key (its cost line names the driver)."""
        return SeriesKey(self.product, f"{self.cost_line} per {self.driver}", self.currency, self.granularity)


def configured_cost_lines(settings: Settings) -> dict[str, set[str]]:
    """``UNIT_COST_LINES`` as product -> cost lines (``*`` for all of them)."""
    out: dict[str, set[str]] = {}
    for entry in settings.unit_cost_lines:
        product, sep, cost_line = entry.partition(":")
        if sep and product.strip() and cost_line.strip():
            out.setdefault(product.strip(), set()).add(cost_line.strip())
    return out


def unit_specs(
    settings: Settings, infos: Sequence[SeriesInfo], drivers: Sequence[DriverInfo]
) -> list[UnitSpec]:
    """Every unit-cost series the stored spend and drivers allow: only products that have drivers."""
    by_product: dict[str, list[DriverInfo]] = {}
    for d in drivers:
        by_product.setdefault(d.product, []).append(d)
    lines = configured_cost_lines(settings)
    specs: set[UnitSpec] = set()
    for info in infos:
        for d in by_product.get(info.product, []):
            gran = (
                Granularity.DAY if Granularity.DAY in (info.granularity, d.granularity) else Granularity.HOUR
            )
            # A product with hourly and daily cost lines is watched daily: one grid for all its spend.
            if any(i.product == info.product and i.granularity is Granularity.DAY for i in infos):
                gran = Granularity.DAY
            specs.add(UnitSpec(info.product, d.driver, d.unit, ALL_COST_LINES, info.currency, gran))
            wanted = lines.get(info.product, set())
            if "*" in wanted or info.cost_line in wanted:
                specs.add(UnitSpec(info.product, d.driver, d.unit, info.cost_line, info.currency, gran))
    return sorted(
        specs, key=lambda s: (s.product, s.driver, s.currency, s.cost_line != ALL_COST_LINES, s.cost_line)
    )


def _naive(at: datetime | pd.Timestamp) -> pd.Timestamp:
    ts = pd.Timestamp(at)
    return ts.tz_convert("UTC").tz_localize(None) if ts.tzinfo else ts


def spend_frame(
    store: FactStore,
    spec: UnitSpec,
    *,
    start: datetime | None,
    end: datetime | None,
    by: Sequence[str] = (),
) -> pd.DataFrame:
    """Usage spend of the spec's product (and cost line) per period, optionally per ``by`` columns."""
    unit = "hour" if spec.granularity is Granularity.HOUR else "day"
    clauses, params = "", list[object]([USAGE, spec.product, spec.currency])
    if spec.cost_line != ALL_COST_LINES:
        clauses += " AND cost_line = ?"
        params.append(spec.cost_line)
    if start is not None:
        clauses += " AND period_start >= ?"
        params.append(_naive(start).to_pydatetime())
    if end is not None:
        clauses += " AND period_start < ?"
        params.append(_naive(end).to_pydatetime())
    present = set(store.dimensions()) | {"cost_line"}
    cols = "".join(
        f", COALESCE(CAST({c} AS VARCHAR), '(none)') AS {c}" if c in present else f", '(none)' AS {c}"
        for c in by
    )
    return store.query(
        f"""
        SELECT date_trunc('{unit}', period_start) AS t{cols}, sum(cost) AS spend FROM facts
        WHERE charge_category = ? AND product = ? AND currency = ? {clauses}
        GROUP BY ALL ORDER BY ALL
        """,
        params,
    )


def unit_frame(
    store: FactStore, drivers: DriverStore, spec: UnitSpec, *, start: datetime | None, end: datetime | None
) -> pd.DataFrame:
    """Columns ``spend``, ``volume``, ``unit_cost`` on the periods where the driver has a positive volume.

    Only complete periods (ending at or before ``end``) are kept: half a day's spend over half a day's
    volume is a fair ratio, but the detector would read a partial period's ratio as a full one.
    """
    freq = spec.granularity.pandas_freq
    volume = drivers.series(spec.product, spec.driver, start=start, end=end)
    if volume.empty:
        return pd.DataFrame(columns=["spend", "volume", "unit_cost"], dtype=float)
    volume = volume.groupby(pd.DatetimeIndex(volume.index).floor(freq)).sum()
    spend_rows = spend_frame(store, spec, start=start, end=end)
    spend = (
        pd.Series(spend_rows["spend"].to_numpy(dtype=float), index=pd.DatetimeIndex(spend_rows["t"]))
        if not spend_rows.empty
        else pd.Series(dtype=float)
    )
    if spend.empty:
        return pd.DataFrame(columns=["spend", "volume", "unit_cost"], dtype=float)
    first = max(pd.DatetimeIndex(volume.index).min(), pd.DatetimeIndex(spend.index).min())
    last = pd.DatetimeIndex(volume.index).max()
    grid = pd.date_range(first, last, freq=freq, name="t")
    step = pd.Timedelta(hours=1) if spec.granularity is Granularity.HOUR else pd.Timedelta(days=1)
    if end is not None:
        grid = grid[grid + step <= _naive(end)]
    frame = pd.DataFrame({"spend": spend.reindex(grid, fill_value=0.0), "volume": volume.reindex(grid)})
    frame = frame[frame["volume"] > 0]
    frame["unit_cost"] = frame["spend"] / frame["volume"]
    finite: pd.DataFrame = frame[np.isfinite(frame["unit_cost"])]
    return finite


def informative_dimensions(facts: pd.DataFrame, dims: list[str]) -> list[str]:
    """Dimensions worth ranking: not constant (a value every leaf shares is the whole, not a cause), and
    not a renaming of the cost line (it is ServiceName by default): one cause, one name."""
    keep = [d for d in dims if facts[d].nunique(dropna=False) > 1]
    if "cost_line" in keep:
        keep = ["cost_line"] + [
            d
            for d in keep
            if d != "cost_line"
            and not (
                facts.groupby("cost_line")[d].nunique().max() == 1
                and facts.groupby(d)["cost_line"].nunique().max() == 1
            )
        ]
    return keep or dims[:1]
