"""The periods of open incidents that training leaves out, so a baseline does not learn an anomaly while
it is going on, except new spend.

New spend (events of kind ``new_spend``: a series in cold start spending materially) has no earlier level
for the baseline to protect: its spend *is* the series. Left out of training, a new cost line would stay
in cold start for as long as its incident is open, and its incident would stay open for as long as it is
in cold start (``training.sweep_job`` raises new spend only in cold start): it would never settle. So a
new-spend event is trained on; the series leaves cold start once it has the history a baseline needs
(``models.cold_start.MIN_HISTORY``), and its incident then resolves like any other once in band.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime

from sqlalchemy import Engine, select

from alerts.tables import aware, aware_opt, incidents

NEW_SPEND = "new_spend"
Interval = tuple[datetime, datetime]
ScopedInterval = tuple[str, datetime, datetime]  # the monitor scope, first and last period
SeriesOf = tuple[str, str, str]  # product, cost line, currency


def excluded_span(
    period_start: datetime | None,
    period_end: datetime | None,
    anomalies: Mapping[str, Mapping[str, object]],
) -> Interval | None:
    """The ``(first, last)`` anomalous periods of an open incident to keep out of training (``None``: nothing
    to leave out). Its whole period, as before new spend was learned, unless it holds new spend: then from
    its first other event on (none: nothing). The stored events are the latest readings, which may start
    after the incident's first period: only new spend narrows the period."""
    if period_start is None or period_end is None:
        return None
    if not any(v.get("kind") == NEW_SPEND for v in anomalies.values()):
        return period_start, period_end
    starts = [aware(datetime.fromisoformat(k)) for k, v in anomalies.items() if v.get("kind") != NEW_SPEND]
    if not starts:
        return None
    return max(min(starts), period_start), period_end


def open_incident_periods(engine: Engine) -> dict[SeriesOf, list[ScopedInterval]]:
    """Per series, the ``(scope, first, last)`` anomalous periods of its open incidents that training leaves
    out (inclusive; the caller adds one period to the end). Series linked to an open incident
    (:mod:`alerts.grouping`) saw the same problem: they must not learn it either."""
    query = select(
        incidents.c.product,
        incidents.c.cost_line,
        incidents.c.currency,
        incidents.c.scope,
        incidents.c.period_start,
        incidents.c.period_end,
        incidents.c.anomalies,
        incidents.c.linked,
    ).where(incidents.c.open_key.is_not(None))
    out: dict[SeriesOf, list[ScopedInterval]] = {}
    with engine.connect() as conn:
        for row in conn.execute(query):
            span = excluded_span(
                aware_opt(row.period_start), aware_opt(row.period_end), json.loads(row.anomalies or "{}")
            )
            if span is None:
                continue
            out.setdefault((row.product, row.cost_line, row.currency), []).append((row.scope, *span))
            for link in json.loads(row.linked) if row.linked else []:
                series = (link["product"], link["cost_line"], link["currency"])
                out.setdefault(series, []).append((link["scope"], *span))
    return out
