"""Read-only data for the dashboard's overview, built from the existing domain functions.

Nothing here writes: the pages' buttons call the JSON API. The series and incident pages read through
``series_queries``.
"""

from __future__ import annotations

import calendar
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import pandas as pd
from sqlalchemy import Engine, func, select

from alerts.budgets import list_budgets
from alerts.tables import incidents as incidents_table
from api.scoping import ALL, Slice, incidents_in
from core.types import Granularity
from ingestion.fact_store import FactStore
from ingestion.focus_columns import USAGE
from ingestion.tables import ingest_runs
from models.tables import model_versions
from training.leases import last_runs

SEVERITY_ORDER = ("page", "ticket", "none")
# Open incidents are grouped by the severity they reached (what was notified); those that never reached a
# ticket notify nobody and are "watching", shown apart from incidents.
INCIDENT_SEVERITIES = ("page", "ticket")
OPEN_LIMIT = 1000


def utc(value: datetime | pd.Timestamp | str | None) -> datetime | None:
    """Aware UTC datetimes everywhere: facts are naive UTC, state rows are aware."""
    if value is None:
        return None
    ts = pd.Timestamp(value)
    if pd.isna(ts):
        return None
    ts = ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")
    out: datetime = ts.to_pydatetime()
    return out


@dataclass
class SeverityGroup:
    severity: str
    incidents: list[dict[str, Any]]
    impact: dict[str, float]  # per currency: never summed across currencies
    projected: dict[str, float]


@dataclass
class ProductSpend:
    product: str
    currency: str
    month_to_date: float
    projected: float
    budget: float | None = None
    cost_line: str | None = None

    @property
    def burn(self) -> float | None:
        return self.month_to_date / self.budget if self.budget else None

    @property
    def projected_burn(self) -> float | None:
        return self.projected / self.budget if self.budget else None


@dataclass
class Coverage:
    currency: str
    recent: float  # share of the last 30 days of usage spend that has a product
    previous: float | None  # the 30 days before
    daily: list[float]


@dataclass
class Status:
    last_trained_at: datetime | None = None
    models_ok: int = 0
    models_failed: int = 0
    model_types: dict[str, int] = field(default_factory=dict)
    last_incident_update: datetime | None = None
    last_data_period: datetime | None = None
    jobs: list[tuple[str, datetime | None]] = field(default_factory=list)
    last_sweep: dict[str, Any] | None = None  # the newest recorded sweep run (training.leases.last_runs)


@dataclass
class Overview:
    groups: list[SeverityGroup]
    watching: list[dict[str, Any]]  # open, but below every severity rule so far: nobody was notified
    recent: list[dict[str, Any]]
    month: str | None
    month_share: float  # elapsed share of the month of the newest data
    spend: list[ProductSpend]
    budgets: list[ProductSpend]
    coverage: list[Coverage]
    status: Status
    demo: bool = False  # every ingested export so far is the generated demo export
    watched_resolved: int = 0  # resolved incidents that never reached a severity (not listed as incidents)


def _month_bounds(last: datetime) -> tuple[datetime, datetime, float]:
    start = last.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    days = calendar.monthrange(last.year, last.month)[1]
    end = start + timedelta(days=days)
    elapsed = (last - start).total_seconds() / 86400 + 1  # the newest period counts as a whole day
    return start, end, min(elapsed / days, 1.0)


def month_spend(store: FactStore) -> tuple[str | None, float, list[ProductSpend]]:
    """Usage spend per product and cost line in the month of the newest data (billing data lags the
    clock, so "this month" is the data's month), with a linear projection to month end."""
    last = store.last_period()
    if last is None:
        return None, 0.0, []
    start, end, share = _month_bounds(last)
    frame = store.query(
        "SELECT product, cost_line, currency, sum(cost) AS spend FROM facts "
        "WHERE charge_category = ? AND period_start >= ? AND period_start < ? GROUP BY ALL",
        [USAGE, start, end],
    )
    rows: list[ProductSpend] = []
    for rec in frame.to_dict("records"):
        spend = float(rec["spend"])
        rows.append(
            ProductSpend(
                str(rec["product"]), str(rec["currency"]), spend, spend / share, None, str(rec["cost_line"])
            )
        )
    return f"{start:%Y-%m}", share, rows


def _product_totals(rows: list[ProductSpend]) -> list[ProductSpend]:
    totals: dict[tuple[str, str], list[float]] = defaultdict(lambda: [0.0, 0.0])
    for r in rows:
        totals[(r.product, r.currency)][0] += r.month_to_date
        totals[(r.product, r.currency)][1] += r.projected
    out = [ProductSpend(p, c, v[0], v[1]) for (p, c), v in totals.items()]
    return sorted(out, key=lambda r: -r.month_to_date)


def coverage(store: FactStore) -> list[Coverage]:
    frame = store.coverage(Granularity.DAY)
    if frame.empty:
        return []
    out: list[Coverage] = []
    for currency, part in frame.groupby("currency"):
        part = part.sort_values("t")
        spend = part["spend"].astype(float).to_numpy()
        attributed = part["attributed"].fillna(0.0).astype(float).to_numpy()
        daily = [float(a / s) if s > 0 else 1.0 for a, s in zip(attributed, spend, strict=True)]
        recent = float(attributed[-30:].sum() / spend[-30:].sum()) if spend[-30:].sum() > 0 else 1.0
        prev_spend = spend[-60:-30].sum()
        previous = float(attributed[-60:-30].sum() / prev_spend) if prev_spend > 0 else None
        out.append(Coverage(str(currency), recent, previous, daily[-90:]))
    return out


def status(engine: Engine, store: FactStore, scheduler: Any) -> Status:
    """The last sweep (its recorded run), the last training (the model registry) and the schedule."""
    out = Status(last_data_period=utc(store.last_period()), last_sweep=last_runs(engine).get("sweep"))
    with engine.connect() as conn:
        newest = conn.execute(select(func.max(model_versions.c.trained_at))).scalar()
        if newest is not None:
            out.last_trained_at = utc(newest)
            rows = conn.execute(
                select(model_versions.c.status, model_versions.c.model_type, func.count())
                .where(model_versions.c.trained_at == newest)
                .group_by(model_versions.c.status, model_versions.c.model_type)
            ).all()
            for state, model_type, count in rows:
                if state == "ok":
                    out.models_ok += int(count)
                    out.model_types[str(model_type)] = out.model_types.get(str(model_type), 0) + int(count)
                else:
                    out.models_failed += int(count)
        out.last_incident_update = utc(conn.execute(select(func.max(incidents_table.c.updated_at))).scalar())
    if scheduler is not None:
        out.jobs = [(job.name, utc(job.next_run_time)) for job in scheduler.get_jobs()]
    return out


def held_to(out: Status, scope: Slice) -> Status:
    """The status a scoped session may see: when things ran, not how many models, series or anomalies
    every team has (those counts span all teams)."""
    if not scope.restricted:
        return out
    sweep = dict(out.last_sweep) if out.last_sweep else None
    if sweep is not None:
        sweep["summary"] = None
    return Status(
        last_trained_at=out.last_trained_at,
        last_data_period=out.last_data_period,
        jobs=out.jobs,
        last_sweep=sweep,
    )


def demo_only(engine: Engine) -> bool:
    """Whether the facts come from the generated demo export alone (no other ingestion ever succeeded)."""
    with engine.connect() as conn:
        origins = {
            str(o)
            for o in conn.execute(
                select(ingest_runs.c.origin).where(ingest_runs.c.status == "done")
            ).scalars()
        }
    return origins == {"demo"}


def overview(engine: Engine, store: FactStore, scheduler: Any, scope: Slice = ALL) -> Overview:
    """The overview page's data, held to ``scope``: a scoped session's totals sum its slice only, and
    the attribution coverage (a sum over every team's spend) is left out for it."""
    open_incidents = incidents_in(scope, engine, status="open", limit=OPEN_LIMIT)
    groups: list[SeverityGroup] = []
    for severity in INCIDENT_SEVERITIES:
        members = sorted(
            (i for i in open_incidents if i["peak_severity"] == severity), key=lambda i: -float(i["impact"])
        )
        impact: dict[str, float] = defaultdict(float)
        projected: dict[str, float] = defaultdict(float)
        for inc in members:
            impact[inc["currency"]] += float(inc["impact"])
            projected[inc["currency"]] += float(inc["projected_month_impact"])
        groups.append(SeverityGroup(severity, members, dict(impact), dict(projected)))
    watching = sorted(
        (i for i in open_incidents if i["peak_severity"] not in INCIDENT_SEVERITIES),
        key=lambda i: -float(i["impact"]),
    )
    # Resolved incidents that never reached a severity were only watched: they are not listed as incidents.
    resolved = incidents_in(scope, engine, status="resolved", limit=200)
    recent = [i for i in resolved if i["peak_severity"] in INCIDENT_SEVERITIES][:20]
    month, share, rows = month_spend(store)
    rows = [r for r in rows if scope.allows_series(r.product, r.cost_line or "", r.currency)]
    products = _product_totals(rows)
    budgets: list[ProductSpend] = []
    for b in list_budgets(engine):
        if scope.restricted and not scope.allows(
            {"product": b.product} | ({"cost_line": b.cost_line} if b.cost_line is not None else {})
        ):
            continue
        # A budget covers a product, or one of its cost lines, in one currency.
        matching = [
            r
            for r in rows
            if r.product == b.product and r.currency == b.currency and b.cost_line in (None, r.cost_line)
        ]
        mtd = sum(r.month_to_date for r in matching)
        budgets.append(
            ProductSpend(
                b.product, b.currency, mtd, mtd / share if share else 0.0, b.monthly_amount, b.cost_line
            )
        )
    # The budget closest to (or furthest past) its limit by month end comes first.
    budgets.sort(key=lambda b: -(b.projected_burn or 0.0))
    return Overview(
        groups=groups,
        watching=watching,
        recent=recent,
        month=month,
        month_share=share,
        spend=products,
        budgets=budgets,
        coverage=[] if scope.restricted else coverage(store),
        status=held_to(status(engine, store, scheduler), scope),
        demo=demo_only(engine),
        watched_resolved=sum(1 for i in resolved if i["peak_severity"] not in INCIDENT_SEVERITIES),
    )
