"""Spend over time for the demo export: components, seasonal patterns, noise and injected incidents.

A *component* is one leaf of the catalog: a cost line's share in one sub account, region and SKU, carried by
a resource (replaced every few weeks for short-lived kinds, so resources appear and disappear while the cost
line stays smooth). ``spend_matrix`` gives EffectiveCost per (period, component). All random draws happen
before incidents are added, so an export with and without incidents differs only inside the incidents.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Final

import numpy as np
import numpy.typing as npt

from ingestion.demo_catalog import (
    BILLING_ACCOUNTS,
    COMMITTED,
    COST_LINES,
    EC2,
    RDS,
    S3,
    SKUS,
    SUB_ACCOUNTS,
    CostLine,
    code,
)

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

# Month-start batch jobs run from midnight for this many hours (hourly mode).
BATCH_HOURS: Final = 6


def sku_id(sku_key: str, region: str) -> str:
    """The SkuId of a catalog SKU in a region (AWS SKUs are regional, so the region is part of the id)."""
    return code(f"sku:{sku_key}:{region}", 16)


@dataclass(frozen=True)
class Components:
    """Parallel per-component arrays (length C); batch components only spend on month-start periods."""

    line: IntArray
    sub_account: list[str]
    region: list[str]
    sku: list[str]  # catalog SKU key
    ordinal: IntArray  # resource number within its (line, account, region, SKU)
    base: FloatArray  # weekday level per day
    life: IntArray  # days before the resource is replaced; 0 = long-lived
    offset: IntArray
    batch: BoolArray
    committed: BoolArray

    def __len__(self) -> int:
        return len(self.line)


@dataclass(frozen=True)
class Grid:
    """The charge periods: ``days`` days of ``per_day`` periods each, from ``start``."""

    start: datetime
    days: int
    per_day: int

    @property
    def periods(self) -> int:
        return self.days * self.per_day

    def day(self) -> IntArray:
        return np.arange(self.periods, dtype=np.int64) // self.per_day

    def hour(self) -> IntArray:
        return (np.arange(self.periods, dtype=np.int64) % self.per_day) * (24 // self.per_day)

    def month_index(self) -> IntArray:
        """Per period, the number of calendar months since the start's month."""
        first = self.start.date()
        dates = [first + timedelta(days=d) for d in range(self.days)]
        by_day = np.array([(d.year - first.year) * 12 + d.month - first.month for d in dates], dtype=np.int64)
        return np.repeat(by_day, self.per_day)

    def is_month_start(self) -> BoolArray:
        first = self.start.date()
        by_day = np.array([(first + timedelta(days=d)).day == 1 for d in range(self.days)], dtype=np.bool_)
        return np.repeat(by_day, self.per_day)

    def at(self, period: int) -> datetime:
        return self.start + timedelta(hours=period * 24 // self.per_day)


def build_components(rng: np.random.Generator) -> Components:
    rows: list[tuple[int, str, str, str, int, float, int, int, bool, bool]] = []
    for li, line in enumerate(COST_LINES):
        # Uneven SKU and resource shares, as in real bills where a few resources dominate.
        sku_share = rng.dirichlet(np.full(len(line.skus), 3.0))
        committed = (line.product, line.service) in {(p, s) for p, s, _ in COMMITTED}
        for account, a_w in line.accounts:
            for region, r_w in line.regions:
                for sku_key, s_w in zip(line.skus, sku_share, strict=True):
                    res_share = rng.dirichlet(np.full(line.resources, 4.0))
                    for ordinal, res_w in enumerate(res_share):
                        sku = SKUS[sku_key]
                        life = int(rng.integers(7, 46)) if sku.rotates else 0
                        offset = int(rng.integers(0, max(life, 1)))
                        is_committed = committed and any(
                            (line.product, line.service, region) == c for c in COMMITTED
                        )
                        weight = line.level * a_w * r_w * float(s_w) * float(res_w)
                        rows.append(
                            (li, account, region, sku_key, ordinal, weight, life, offset, False, is_committed)
                        )
        if line.batch > 0:
            # One job cluster per month, created for the month-start run and gone the same day.
            account, region, sku_key = line.accounts[0][0], line.regions[0][0], line.skus[0]
            rows.append((li, account, region, sku_key, 99, line.level * line.batch, 0, 0, True, False))
    cols = list(zip(*rows, strict=True))
    return Components(
        line=np.array(cols[0], dtype=np.int64),
        sub_account=list(cols[1]),
        region=list(cols[2]),
        sku=list(cols[3]),
        ordinal=np.array(cols[4], dtype=np.int64),
        base=np.array(cols[5], dtype=np.float64),
        life=np.array(cols[6], dtype=np.int64),
        offset=np.array(cols[7], dtype=np.int64),
        batch=np.array(cols[8], dtype=np.bool_),
        committed=np.array(cols[9], dtype=np.bool_),
    )


def line_level(line: CostLine, day: int) -> float:
    """The cost line's weekday level per day on ``day`` (trend included, no noise)."""
    return line.level * (1.0 + line.trend * day / 30.0)


def spend_matrix(comps: Components, grid: Grid, rng: np.random.Generator) -> FloatArray:
    """EffectiveCost per (period, component), before incidents."""
    day, hour = grid.day(), grid.hour()
    weekday = np.array([(grid.start.date() + timedelta(days=int(d))).weekday() for d in range(grid.days)])
    weekend = np.repeat(weekday >= 5, grid.per_day)
    lines = COST_LINES
    trend = np.array([ln.trend for ln in lines])[comps.line]
    wk = np.array([ln.weekend for ln in lines])[comps.line]
    amp = np.array([ln.daily_amp for ln in lines])[comps.line]

    level = comps.base / grid.per_day * (1.0 + np.outer(day / 30.0, trend))
    level *= np.where(weekend[:, None], wk[None, :], 1.0)
    if grid.per_day > 1:
        level *= 1.0 + amp[None, :] * np.cos(2 * np.pi * (hour[:, None] - 15) / 24)
    # Noise shared by a whole cost line (demand) and noise per resource; hours are noisier than days.
    hourly = grid.per_day > 1
    s_line, s_comp = (0.05, 0.10) if hourly else (0.035, 0.06)
    shared = rng.standard_normal((grid.periods, len(lines)))[:, comps.line]
    own = rng.standard_normal((grid.periods, len(comps)))
    level *= np.exp(s_line * shared - s_line**2 / 2 + s_comp * own - s_comp**2 / 2)

    # Batch components spend only at the start of each month (the first hours in hourly mode).
    batch_on = grid.is_month_start() & (hour < BATCH_HOURS if hourly else True)
    batch_share = 1.0 / BATCH_HOURS if hourly else 1.0
    level[:, comps.batch] = np.where(
        batch_on[:, None],
        comps.base[comps.batch][None, :] * batch_share * np.exp(s_comp * own[:, comps.batch]),
        0.0,
    )
    return np.asarray(level, dtype=np.float64)


@dataclass(frozen=True)
class IncidentPlan:
    """An incident relative to the history: it starts after the first 60% of the days."""

    id: str
    product: str
    service: str
    kind: str
    root_cause: dict[str, str]
    factor: float  # extra spend at peak, as a multiple of the cost line's weekday level
    start_frac: float  # start, as a fraction of the days after the first 60%
    length_frac: float
    severity: str


INCIDENT_PLANS: Final = (
    IncidentPlan("inc-1", "recommendations", EC2, "spike", {"sku": sku_id("p4d", "us-west-2")}, 3.0,
                 6 / 48, 2 / 48, "page"),
    IncidentPlan("inc-2", "checkout", RDS, "step", {"account": "104857600456"}, 0.6, 28 / 48,
                 10 / 48, "ticket"),
    IncidentPlan("inc-3", "search", S3, "drift", {"region": "eu-west-1"}, 1.2, 2 / 48, 14 / 48, "ticket"),
    IncidentPlan("inc-4", "search", EC2, "step", {"region": "eu-west-1", "service": EC2}, 1.0,
                 23 / 48, 5 / 48, "ticket"),
    IncidentPlan("inc-5", "media", EC2, "step", {"account": "734003200555"}, 0.8, 12 / 48, 7 / 48, "ticket"),
)  # fmt: skip


@dataclass(frozen=True)
class OngoingPlan:
    """An incident still going on when the export ends: it covers its last ``days`` days.

    ``make run``'s demo ends on these, so the dashboard opens on one page and one ticket that are open.
    A page needs more than 3x the expected burn on both windows (a 5x spike does so from its second day);
    a ticket more than 1.5x but less than 3x (1.8x on weekdays, a little more at weekends); the step is
    shorter than the week after which a step is learned as the new normal.
    """

    id: str
    product: str
    service: str
    kind: str
    root_cause: dict[str, str]
    factor: float
    days: int
    severity: str


ONGOING_PLANS: Final = (
    OngoingPlan("open-page", "search", "Amazon OpenSearch Service", "spike", {"region": "eu-west-1"}, 4.0, 3,
                "page"),
    OngoingPlan("open-ticket", "data-platform", S3, "step", {"region": "us-west-2"}, 0.8, 5, "ticket"),
)  # fmt: skip


@dataclass(frozen=True)
class PlacedIncident:
    plan: IncidentPlan
    first: int  # first period
    stop: int  # one past the last period
    extra: float  # per period at peak
    currency: str


def _round_half_up(x: float) -> int:
    return math.floor(x + 0.5)


def _matches(plan: IncidentPlan, comps: Components, c: int) -> bool:
    line = COST_LINES[int(comps.line[c])]
    dims = {
        "account": comps.sub_account[c],
        "region": comps.region[c],
        "service": line.service,
        "sku": sku_id(comps.sku[c], comps.region[c]),
        "resource_type": SKUS[comps.sku[c]].resource_type or "",
    }
    return (
        line.product == plan.product
        and line.service == plan.service
        and not comps.batch[c]
        and all(dims.get(k) == v for k, v in plan.root_cause.items())
    )


def _placements(grid: Grid, ongoing: bool) -> list[tuple[IncidentPlan, int, int]]:
    """(plan, first day, length in days) of every incident that fits in the grid."""
    head = math.ceil(grid.days * 0.6)
    tail = grid.days - head
    out: list[tuple[IncidentPlan, int, int]] = []
    for plan in INCIDENT_PLANS:
        first_day = head + _round_half_up(plan.start_frac * tail)
        length = max(1, _round_half_up(plan.length_frac * tail))
        if first_day + length < grid.days:  # else too short a history to show this incident and its end
            out.append((plan, first_day, length))
    if ongoing:
        for o in ONGOING_PLANS:
            # Only after the four weeks of history a baseline needs before it alerts.
            first_day = grid.days - o.days
            if first_day >= 28:
                as_plan = IncidentPlan(o.id, o.product, o.service, o.kind, o.root_cause, o.factor, 0.0, 0.0,
                                       o.severity)  # fmt: skip
                out.append((as_plan, first_day, o.days))
    return out


def inject_incidents(
    spend: FloatArray, comps: Components, grid: Grid, *, ongoing: bool = False
) -> list[PlacedIncident]:
    """Add every planned incident to ``spend`` in place; the extra is split over the root-cause slice.

    With ``ongoing``, the :data:`ONGOING_PLANS` too: incidents that last to the end of the grid."""
    placed: list[PlacedIncident] = []
    for plan, first_day, length in _placements(grid, ongoing):
        idx = np.array([c for c in range(len(comps)) if _matches(plan, comps, c)], dtype=np.int64)
        if idx.size == 0:
            raise AssertionError(f"incident {plan.id} matches no component")  # a catalog bug
        line = COST_LINES[int(comps.line[idx[0]])]
        extra = round(plan.factor * line_level(line, first_day) / grid.per_day, 2)
        first, stop = first_day * grid.per_day, (first_day + length) * grid.per_day
        n = stop - first
        shape = np.arange(1, n + 1) / n if plan.kind == "drift" else np.ones(n)
        if plan.kind == "drop":
            shape = -shape
        weights = comps.base[idx] / comps.base[idx].sum()
        add = extra * shape[:, None] * weights[None, :]
        # A drop can remove at most 95% of what the slice spends.
        window = spend[first:stop][:, idx]
        spend[first:stop, idx] = np.maximum(window + add, window * 0.05)
        currency = BILLING_ACCOUNTS[SUB_ACCOUNTS[comps.sub_account[int(idx[0])]].billing].currency
        placed.append(PlacedIncident(plan, first, stop, extra, currency))
    return placed


def resource_generation(comps: Components, grid: Grid, t: IntArray, c: IntArray) -> IntArray:
    """Which incarnation of its resource a component is on at period ``t`` (rows given as (t, c) pairs)."""
    day = t // grid.per_day
    life = comps.life[c]
    rotating = (day + comps.offset[c]) // np.maximum(life, 1)
    gen = np.where(life > 0, rotating, 0)
    # Batch clusters are new every month.
    return np.where(comps.batch[c], grid.month_index()[t], gen).astype(np.int64)


def first_of_month_after(d: date) -> date:
    return date(d.year + d.month // 12, d.month % 12 + 1, 1)
