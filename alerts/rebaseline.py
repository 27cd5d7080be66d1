"""Rebaselines: a lasting step in spend learned as the series' *new normal*, which ends its incident.

An excess that persists stays one incident (``alerts.lifecycle`` keeps it open while the sweep reads a
level shift). Once the shift has lasted ``RebaselinePolicy.after`` (``REBASELINE_AFTER_HOURS``), or at
once on feedback ``expected``, the sweep records a rebaseline — from ``since`` the series spends
``ratio`` times its old baseline, adding ``month_impact`` a month — and resolves the incident with the
resolution ``new normal``; its resolve notification says so, with the $ a month (as Harness CCM
re-baselines).

The record then changes what is expected, everywhere, without waiting for a model to catch up:

- a sweep scales a model trained before the record (not yet ``applied``) by ``ratio`` from ``since`` on;
- a training scales the history before ``since`` by ``ratio``, so the model learns the new level from all
  of its history (seasonality included), and marks the record applied; a sweep then scales that model's
  forecast *before* ``since`` back down, to compare it with what was spent then.

Each training reads the raw facts again, so records are kept (they are also the series' history of new
normals, shown on the series page).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, replace
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import Connection, Engine, insert, select, update

from alerts.lifecycle import NEW_NORMAL, IncidentState
from alerts.tables import aware, aware_opt, rebaselines

SeriesRef = tuple[str, str, str]  # product, cost line, currency


@dataclass(frozen=True)
class RebaselinePolicy:
    after: timedelta | None = timedelta(hours=168)  # how long a shift lasts before it is learned; None: never


@dataclass(frozen=True)
class Rebaseline:
    id: int
    product: str
    cost_line: str
    currency: str
    scope: str
    since: datetime
    ratio: float
    month_impact: float
    incident_id: str
    reason: str  # persisted | feedback
    created_at: datetime
    applied_at: datetime | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "product": self.product,
            "cost_line": self.cost_line,
            "currency": self.currency,
            "scope": self.scope,
            "since": self.since.isoformat(),
            "ratio": self.ratio,
            "month_impact": self.month_impact,
            "incident_id": self.incident_id,
            "reason": self.reason,
            "created_at": self.created_at.isoformat(),
            "applied_at": self.applied_at.isoformat() if self.applied_at else None,
        }


def is_due(state: IncidentState, policy: RebaselinePolicy, now: datetime | None = None) -> bool:
    """An open incident whose level shift has lasted the policy's time is learned as the new normal.

    With ``now``, the incident itself must also have been open that long: a step read as long-lasting can
    sit under an incident that has just opened (a product total that crossed a rule only when its line's
    drift grew, long after the drift began), and resolving it as the new normal at once would open, learn
    and reopen it sweep after sweep while the spend still grows.
    """
    shift = state.level_shift
    if policy.after is None or not state.is_open or shift is None:
        return False
    if now is not None and now - state.opened_at < policy.after:
        return False
    return float(shift["hours"]) >= policy.after / timedelta(hours=1)


def resolve_as_new_normal(state: IncidentState, now: datetime) -> IncidentState:
    """``state`` resolved because its level is the new normal (its ``level_shift`` says which)."""
    return replace(
        state, status="resolved", resolved_at=now, updated_at=now, resolution=NEW_NORMAL, in_band_since=None
    )


def record_rebaseline(conn: Connection, state: IncidentState, *, reason: str, now: datetime) -> Rebaseline:
    """Store the new normal of ``state``'s series, from its ``level_shift``, on the caller's transaction."""
    shift = state.level_shift
    if shift is None:
        raise ValueError(f"incident {state.id} has no level shift to learn")
    record = Rebaseline(
        id=0,
        product=state.product,
        cost_line=state.cost_line,
        currency=state.currency,
        scope=state.scope,
        since=aware(datetime.fromisoformat(str(shift["since"]))),
        ratio=float(shift["ratio"]),
        month_impact=float(shift["month_impact"]),
        incident_id=state.id,
        reason=reason,
        created_at=now,
        applied_at=None,
    )
    values = {k: v for k, v in asdict(record).items() if k != "id"}
    key = conn.execute(insert(rebaselines).values(**values)).inserted_primary_key
    return replace(record, id=int(key[0]) if key is not None else 0)


def _of(row: Any) -> Rebaseline:
    return Rebaseline(
        id=int(row.id),
        product=row.product,
        cost_line=row.cost_line,
        currency=row.currency,
        scope=row.scope,
        since=aware(row.since),
        ratio=float(row.ratio),
        month_impact=float(row.month_impact),
        incident_id=row.incident_id,
        reason=row.reason,
        created_at=aware(row.created_at),
        applied_at=aware_opt(row.applied_at),
    )


def list_rebaselines(
    engine: Engine, *, product: str | None = None, cost_line: str | None = None
) -> list[Rebaseline]:
    """Rebaselines, oldest first (optionally of one product or cost line)."""
    query = select(rebaselines).order_by(rebaselines.c.since, rebaselines.c.id)
    if product is not None:
        query = query.where(rebaselines.c.product == product)
    if cost_line is not None:
        query = query.where(rebaselines.c.cost_line == cost_line)
    with engine.connect() as conn:
        return [_of(r) for r in conn.execute(query)]


ScopedRef = tuple[str, str, str, str]  # product, cost line, currency, monitor scope


def scoped_rebaselines(engine: Engine) -> dict[ScopedRef, list[Rebaseline]]:
    """Rebaselines of every spend series, product × cost line and the other monitors' (a product total's
    new normal scales the product total), by product, cost line, currency and scope."""
    out: dict[ScopedRef, list[Rebaseline]] = defaultdict(list)
    for r in list_rebaselines(engine):
        out[(r.product, r.cost_line, r.currency.upper(), r.scope)].append(r)
    return dict(out)


def spend_rebaselines(engine: Engine) -> dict[SeriesRef, list[Rebaseline]]:
    """Rebaselines of spend series (the default monitor scope), by product, cost line and currency."""
    out: dict[SeriesRef, list[Rebaseline]] = defaultdict(list)
    for r in list_rebaselines(engine):
        if r.scope == "default":
            out[(r.product, r.cost_line, r.currency.upper())].append(r)
    return dict(out)


def spend_rebaselines_of(engine: Engine, product: str, cost_line: str) -> list[Rebaseline]:
    """Rebaselines of one spend series (the default monitor scope), in every currency, oldest first."""
    return [r for r in list_rebaselines(engine, product=product, cost_line=cost_line) if r.scope == "default"]


def mark_applied(engine: Engine, ids: Iterable[int], at: datetime) -> None:
    """Record that the training of ``at`` learned these rebaselines (the first training only)."""
    wanted = sorted(set(ids))
    if not wanted:
        return
    with engine.begin() as conn:
        conn.execute(
            update(rebaselines)
            .where(rebaselines.c.id.in_(wanted), rebaselines.c.applied_at.is_(None))
            .values(applied_at=at)
        )


def _naive(value: datetime) -> np.datetime64:
    ts = pd.Timestamp(value)
    return (ts.tz_convert("UTC").tz_localize(None) if ts.tzinfo else ts).to_datetime64()


def learned_by(record: Rebaseline, trained_at: datetime | None) -> bool:
    """Whether a model trained at ``trained_at`` (None: fitted on the spot, on scaled history) learned it."""
    if trained_at is None:
        return True
    return record.applied_at is not None and record.applied_at <= aware(trained_at)


def history_factors(index: pd.DatetimeIndex, records: Sequence[Rebaseline]) -> np.ndarray:
    """What training multiplies each period by: every new normal that came after it (naive UTC index)."""
    factors = np.ones(len(index))
    times = index.to_numpy()
    for r in records:
        factors[times < _naive(r.since)] *= r.ratio
    return factors


def forecast_factors(
    index: pd.DatetimeIndex, records: Sequence[Rebaseline], trained_at: datetime | None
) -> np.ndarray:
    """What a sweep multiplies a model's forecast by: the new normals it has not learned, from their
    ``since`` on, and the old level before the ``since`` of those it has (naive UTC index)."""
    factors = np.ones(len(index))
    times = index.to_numpy()
    for r in records:
        since = _naive(r.since)
        if learned_by(r, trained_at):
            factors[times < since] /= r.ratio
        else:
            factors[times >= since] *= r.ratio
    return factors
