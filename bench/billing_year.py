"""A generated year of billing data with known incidents and traps, and its ground-truth manifest.

``write_billing_year`` builds on the demo export's world (``ingestion.demo_*``: accounts, regions, SKUs,
six products with weekly and daily seasonality, growth, noise, month-start batch jobs, resources that come
and go) and injects the changes of a plan (``bench.billing_year_plan``): spikes on one account or SKU of a
cost line, a brand-new cost line, a permanent level shift, a price rise on one usage type, a slow drift,
and traps that must not alert (month start, month end, a blip under the materiality floor, a planned change
announced as an expected-change window, holiday dips). It writes one FOCUS file per month and
``manifest.json``: every change with its windows, the dimension values it touches as the service names
them, and the outcome expected. The same seed gives the same files.

    python -m bench.billing_year --out DIR --granularity daily|hourly --seed N
"""

from __future__ import annotations

import argparse
import json
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any, Final, Literal

import numpy as np
import numpy.typing as npt

from bench.billing_year_plan import DEFAULT_PLAN, LINE_SCALE, YEAR_REPLAY_DAYS, Change, us_holidays
from ingestion.demo_catalog import BILLING_ACCOUNTS, COST_LINES, SUB_ACCOUNTS

# The demo export's writers: one Arrow table per month in the FOCUS column order, written by DuckDB.
from ingestion.demo_data import write_monthly_files
from ingestion.demo_patterns import Components, Grid, build_components, sku_id, spend_matrix
from ingestion.demo_rows import usage_columns

Granularity = Literal["daily", "hourly"]
FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

# (start, days, training days): a calendar year of days after four months of training, or 90 hourly days
# (September to November, Thanksgiving included) after five weeks of training.
DEFAULTS: Final[dict[str, tuple[date, int, int]]] = {
    "daily": (date(2025, 1, 1), 365, 120),
    "hourly": (date(2025, 9, 1), 90, 35),
}


@dataclass(frozen=True)
class Injected:
    """One change as placed in the data; times are naive UTC, windows ``[start, end)`` (end None: open)."""

    id: str
    kind: str
    expected: str  # page | ticket | watch | nothing
    resolution: str | None  # resolved | new_normal | None
    note: str
    products: list[str]
    cost_lines: list[str]
    currency: str
    dimensions: dict[str, str]  # the slice as the service's dimensions name it (account, region, sku)
    windows: list[tuple[datetime, datetime | None]]
    extra_per_day: float  # $ a day added at the peak (0 for traps that take spend away)

    @property
    def trap(self) -> bool:
        return self.expected == "nothing"


@dataclass(frozen=True)
class Manifest:
    granularity: str
    period_hours: int
    seed: int
    start: datetime
    end: datetime  # exclusive: the last period ends here
    replay_start: datetime  # models are trained on the facts before this
    replay_end: datetime  # the last sweep (it sees the last period complete)
    injected: list[Injected]
    expected_changes: list[dict[str, Any]] = field(default_factory=list)
    files: list[str] = field(default_factory=list)
    rows: int = 0

    @property
    def period(self) -> timedelta:
        return timedelta(hours=self.period_hours)

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, default=_iso) + "\n"

    @classmethod
    def from_json(cls, text: str) -> Manifest:
        doc = json.loads(text)
        for k in ("start", "end", "replay_start", "replay_end"):
            doc[k] = datetime.fromisoformat(doc[k])
        doc["injected"] = [
            Injected(
                **{
                    **i,
                    "windows": [
                        (datetime.fromisoformat(a), datetime.fromisoformat(b) if b else None)
                        for a, b in i["windows"]
                    ],
                }
            )
            for i in doc["injected"]
        ]
        return cls(**doc)


def _iso(value: object) -> str:
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"not JSON serialisable: {value!r}")


def _select(comps: Components, product: str, service: str, keys: dict[str, str] | None = None) -> IntArray:
    """The components of a cost line (optionally of a slice of it), month-start batch clusters apart."""
    keys = keys or {}
    out = []
    for c in range(len(comps)):
        line = COST_LINES[int(comps.line[c])]
        dims = {"account": comps.sub_account[c], "region": comps.region[c], "sku": comps.sku[c]}
        if (
            line.product == product
            and line.service == service
            and not comps.batch[c]
            and all(dims[k] == v for k, v in keys.items())
        ):
            out.append(c)
    if not out:
        raise ValueError(f"no component for {product} / {service} / {keys}")  # a plan that names nothing
    return np.array(out, dtype=np.int64)


def _per_day(spend: FloatArray, idx: IntArray, grid: Grid, first: int, days: int = 28) -> float:
    """What the components spent a day over the ``days`` before period ``first``."""
    lo = max(0, first - days * grid.per_day)
    return float(spend[lo:first, idx].sum()) * grid.per_day / max(first - lo, 1)


def _day_mask(grid: Grid, days: Sequence[date]) -> npt.NDArray[np.bool_]:
    first = grid.start.date()
    by_day = np.array([(first + timedelta(days=d)) in set(days) for d in range(grid.days)], dtype=np.bool_)
    return np.repeat(by_day, grid.per_day)


class _Injector:
    """Applies a plan's changes to a spend matrix (periods x components) in place."""

    def __init__(self, spend: FloatArray, comps: Components, grid: Grid, train_days: int) -> None:
        self.spend, self.comps, self.grid = spend, comps, grid
        self.train_days = train_days
        self.span = grid.days - train_days
        self.scale = min(1.0, self.span / YEAR_REPLAY_DAYS)
        self.price_rises: list[tuple[IntArray, int, int, float]] = []  # to dress the rows' unit prices
        self.expected_changes: list[dict[str, Any]] = []

    def _placed(self, change: Change) -> tuple[int, int]:
        first_day = self.train_days + math.floor(change.at * self.span + 0.5)
        if change.days is None:
            return first_day * self.grid.per_day, self.grid.periods
        length = max(1, math.floor(change.days * self.scale + 0.5))
        if first_day + length + 2 > self.grid.days:
            raise ValueError(f"{change.id} does not fit in {self.grid.days} days")
        return first_day * self.grid.per_day, (first_day + length) * self.grid.per_day

    def apply(self, change: Change) -> Injected:
        g, spend = self.grid, self.spend
        service = change.services[0] if change.services else ""
        product = change.products[0]
        windows: list[tuple[datetime, datetime | None]] = []
        extra = 0.0
        dims: dict[str, str] = {}
        if change.kind in ("month_start", "month_end", "holiday"):
            windows = self._calendar(change)
        else:
            first, stop = self._placed(change)
            windows = [(g.at(first), g.at(stop) if change.days is not None else None)]
            line = _select(self.comps, product, service)
            part = _select(self.comps, product, service, change.slice) if change.slice else line
            dims = self._dimensions(change, part)
            rate, part_rate = _per_day(spend, line, g, first), _per_day(spend, part, g, first)
            weights = self.comps.base[part] / self.comps.base[part].sum()
            n = stop - first
            if change.kind in ("spike", "drift", "blip"):
                extra = change.size if change.kind == "blip" else change.size * rate
                shape = np.arange(1, n + 1) / n if change.kind == "drift" else np.ones(n)
                spend[first:stop, part] += (extra / g.per_day) * shape[:, None] * weights[None, :]
            elif change.kind in ("level_shift", "price_rise"):
                factor = 1.0 + change.size * rate / part_rate
                spend[first:stop, part] *= factor
                extra = (factor - 1.0) * part_rate
                if change.kind == "price_rise":
                    self.price_rises.append((part, first, stop, factor))
            elif change.kind == "planned":
                spend[first:stop, part] *= change.size
                extra = (change.size - 1.0) * part_rate
                self.expected_changes.append(
                    {
                        "name": change.note,
                        "matchers": [f"product={product}", f'cost_line="{service}"'],
                        "starts_at": g.at(first).isoformat(),
                        # Announced for the change plus the day after: the sweep that sees its last day.
                        "ends_at": (g.at(stop) + timedelta(days=1)).isoformat(),
                    }
                )
            elif change.kind == "new_cost_line":
                spend[:first, line] = 0.0
                spend[first:, line] *= change.size / rate
                extra = change.size
            else:
                raise ValueError(f"unknown kind {change.kind!r}")
        any_line = _select(self.comps, product, service) if service else np.array([0], dtype=np.int64)
        account = SUB_ACCOUNTS[self.comps.sub_account[int(any_line[0])]]
        return Injected(
            id=change.id,
            kind=change.kind,
            expected=change.expected,
            resolution=change.resolution,
            note=change.note,
            products=list(change.products),
            cost_lines=list(change.services),
            currency=BILLING_ACCOUNTS[account.billing].currency,
            dimensions=dims,
            windows=windows,
            extra_per_day=round(extra, 2),
        )

    def _dimensions(self, change: Change, part: IntArray) -> dict[str, str]:
        dims = {k: v for k, v in change.slice.items() if k != "sku"}
        if "sku" in change.slice:
            regions = {self.comps.region[int(c)] for c in part}
            if len(regions) != 1:
                raise ValueError(f"{change.id}: a SKU slice must sit in one region, not {sorted(regions)}")
            dims["sku"] = sku_id(change.slice["sku"], regions.pop())
        return dims

    def _calendar(self, change: Change) -> list[tuple[datetime, datetime | None]]:
        g = self.grid
        dates = [g.start.date() + timedelta(days=d) for d in range(g.days)]
        if change.kind == "month_start":
            days = [d for d in dates if d.day == 1]
        elif change.kind == "month_end":
            days = [d for d in dates if (d + timedelta(days=1)).day == 1]
        else:
            days = sorted({h for y in {d.year for d in dates} for h in us_holidays(y)} & set(dates))
        if change.kind != "month_start":
            mask = _day_mask(g, days)
            for product in change.products:
                services = change.services or tuple(ln.service for ln in COST_LINES if ln.product == product)
                for service in services:
                    spend_idx = _select(self.comps, product, service)
                    self.spend[np.ix_(mask, spend_idx)] *= change.size
        replay = datetime.combine(g.start.date() + timedelta(days=self.train_days), datetime.min.time())
        at = [datetime.combine(d, datetime.min.time()) for d in days]
        # The day before the replay counts: the replay's first sweep is the one that sees it.
        return [(a, a + timedelta(days=1)) for a in at if a + timedelta(days=1) >= replay]


def _scale_lines(spend: FloatArray, comps: Components, grid: Grid, train_days: int) -> None:
    for (product, service), per_day in LINE_SCALE.items():
        line = _select(comps, product, service)
        spend[:, line] *= per_day / _per_day(spend, line, grid, train_days * grid.per_day, train_days)


def _dress_price_rises(usage: dict[str, Any], t: IntArray, c: IntArray, rises: list[Any]) -> None:
    """A price rise changes the unit price, not the quantity used: dress the rows accordingly."""
    if not rises:
        return
    for k in ("ListUnitPrice", "ContractedUnitPrice", "ConsumedQuantity", "PricingQuantity"):
        usage[k] = np.array(usage[k], dtype=np.float64, copy=True)
    for part, first, stop, factor in rises:
        rows = np.isin(c, part) & (t >= first) & (t < stop)
        usage["ListUnitPrice"][rows] *= factor
        usage["ContractedUnitPrice"][rows] *= factor
        usage["ConsumedQuantity"][rows] /= factor
        usage["PricingQuantity"][rows] /= factor


def write_billing_year(
    out: Path,
    *,
    granularity: Granularity = "daily",
    seed: int = 7,
    days: int | None = None,
    train_days: int | None = None,
    plan: Sequence[Change] = DEFAULT_PLAN,
    fmt: Literal["parquet", "csv"] = "parquet",
) -> Manifest:
    """Write ``focus_<YYYY-MM>.<fmt>`` per month and ``manifest.json`` into ``out`` (created if needed)."""
    if granularity not in DEFAULTS:
        raise ValueError(f"granularity must be 'daily' or 'hourly', not {granularity!r}")
    start, default_days, default_train = DEFAULTS[granularity]
    days = days or default_days
    train_days = train_days or default_train
    if not 28 <= train_days < days:
        raise ValueError("train_days must be at least 28 and fewer than days")
    per_day = 1 if granularity == "daily" else 24
    rng = np.random.default_rng(seed)
    grid = Grid(datetime(start.year, start.month, start.day), days, per_day)
    comps = build_components(rng)
    spend = spend_matrix(comps, grid, rng)
    _scale_lines(spend, comps, grid, train_days)
    injector = _Injector(spend, comps, grid, train_days)
    injected = [injector.apply(change) for change in plan]

    t, c = np.nonzero(spend > 0)
    usage, groups = usage_columns(comps, grid, spend[t, c], t, c)
    _dress_price_rises(usage, t, c, injector.price_rises)
    month_of_row = grid.month_index()[t]
    out.mkdir(parents=True, exist_ok=True)
    files, rows = write_monthly_files(out, usage, groups, grid, month_of_row, fmt)
    end = grid.start + timedelta(days=days)
    manifest = Manifest(
        granularity=granularity,
        period_hours=24 // per_day,
        seed=seed,
        start=grid.start,
        end=end,
        replay_start=grid.start + timedelta(days=train_days),
        replay_end=end,
        injected=injected,
        expected_changes=injector.expected_changes,
        files=files,
        rows=rows,
    )
    (out / "manifest.json").write_text(manifest.to_json())
    return manifest


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.billing_year", description=__doc__.split("\n")[0])
    parser.add_argument("--out", required=True, type=Path, metavar="DIR")
    parser.add_argument("--granularity", choices=("daily", "hourly"), default="daily")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--days", type=int, help="length (default: 365 daily, 90 hourly)")
    parser.add_argument(
        "--train-days", type=int, help="days before the replay (default: 120 daily, 35 hourly)"
    )
    parser.add_argument("--format", choices=("parquet", "csv"), default="parquet")
    args = parser.parse_args(argv)
    m = write_billing_year(
        args.out,
        granularity=args.granularity,
        seed=args.seed,
        days=args.days,
        train_days=args.train_days,
        fmt=args.format,
    )
    print(f"{len(m.files)} files, {m.rows:,} rows, {m.start:%Y-%m-%d} → {m.end:%Y-%m-%d}; replay from "
          f"{m.replay_start:%Y-%m-%d}; manifest: {args.out / 'manifest.json'}")  # fmt: skip
    for i in m.injected:
        first = i.windows[0][0].strftime("%Y-%m-%d %H:%M") if i.windows else "-"
        print(f"  {i.id:<26} {i.expected:<7} from {first}  {i.note}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
