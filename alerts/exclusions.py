"""What training must leave out: periods of expected-change windows (with ``exclude_from_training``)
that match a series, and the anomalous periods of incidents whose feedback was ``expected`` or
``not_anomaly``. Intervals are half-open ``[start, end)``.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta

from sqlalchemy import Engine, select

from alerts.expected_changes import list_expected_changes
from alerts.feedback import EXCLUDED_FROM_TRAINING
from alerts.tables import aware, incidents

Interval = tuple[datetime, datetime]


def _merge(intervals: list[Interval]) -> list[Interval]:
    merged: list[Interval] = []
    for start, end in sorted(intervals):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def training_exclusions(
    engine: Engine,
    product: str,
    cost_line: str,
    *,
    period: timedelta = timedelta(days=1),
    labels: Mapping[str, str] | None = None,
    currency: str | None = None,
    scope: str | None = None,
) -> list[Interval]:
    """Merged ``[start, end)`` intervals to drop from one series' training data.

    ``period`` is the series' granularity: an incident's last anomalous period starts at its
    ``period_end``, so the interval extends one period past it. ``labels`` are the series' extra labels
    (team, env) for windows scoped by them.
    """
    match_labels = {**(labels or {}), "product": product, "cost_line": cost_line}
    if currency is not None:
        match_labels["currency"] = currency
    out: list[Interval] = [
        (c.starts_at, c.ends_at)
        for c in list_expected_changes(engine)
        if c.exclude_from_training and c.matches(match_labels)
    ]
    query = select(incidents.c.period_start, incidents.c.period_end).where(
        incidents.c.product == product,
        incidents.c.cost_line == cost_line,
        incidents.c.feedback.in_(EXCLUDED_FROM_TRAINING),
        incidents.c.period_start.is_not(None),
    )
    if currency is not None:
        query = query.where(incidents.c.currency == currency)
    if scope is not None:
        query = query.where(incidents.c.scope == scope)
    with engine.connect() as conn:
        for start, end in conn.execute(query):
            out.append((aware(start), aware(end or start) + period))
    return _merge(out)
