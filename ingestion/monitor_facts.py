"""Spend facts summed per monitor series (``core.monitors``): the listing, the wide frame training and the
sweep read, and the leaf tables root causes are ranked on.

Product × cost line keeps its own queries (``FactStore.list_series``, ``wide_series``); these serve the
other monitors, all of them in one scan: the facts are first summed to the period and every column any
monitor groups by, then each monitor's sums are taken from that much smaller table. A series is named by
a *token* (monitor, currency and values joined by a control character no dimension value carries), so
the listing and the frames agree without parsing names.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from core.monitors import Monitor
from core.types import Granularity, SeriesKey
from ingestion.fact_store import FactStore, SeriesInfo, period_points, spend_grid
from ingestion.focus_columns import USAGE

if TYPE_CHECKING:
    import pandas as pd

SEP = "\x1f"  # the ASCII unit separator: never part of a product, account or tag value
NONE = "(none)"  # a value the facts do not carry (an untagged row under a tag monitor)


@dataclass(frozen=True)
class MonitorSeries:
    """One series of a monitor: its key (granularity decided by its charges) and its listing."""

    monitor: Monitor
    token: str
    key: SeriesKey
    info: SeriesInfo


def _value(column: str) -> str:
    return f"COALESCE(CAST({column} AS VARCHAR), '{NONE}')"


def _token_sql(monitor: Monitor) -> str:
    parts = [f"'{monitor.name}'", "currency", *(_value(c) for c in monitor.columns)]
    return " || chr(31) || ".join(parts)


def token_of(monitor: Monitor, currency: str, values: Sequence[str]) -> str:
    return SEP.join([monitor.name, currency, *values])


def usable(store: FactStore, monitors: Sequence[Monitor]) -> list[Monitor]:
    """The monitors whose columns the facts have (a tag monitor needs its tag kept as a dimension)."""
    present = {"product", "cost_line", *store.dimensions()}
    return [m for m in monitors if not m.is_default and set(m.columns) <= present]


def _union(monitors: Sequence[Monitor], select: str, source: str) -> str:
    return " UNION ALL ".join(f"SELECT {_token_sql(m)} AS token, {select} FROM {source}" for m in monitors)


def list_monitor_series(store: FactStore, monitors: Sequence[Monitor]) -> list[MonitorSeries]:
    """Every series of ``monitors`` in the facts, as ``FactStore.list_series`` lists product × cost line."""
    wanted = usable(store, monitors)
    if not wanted:
        return []
    columns = sorted({c for m in wanted for c in m.columns})
    inner = f"""SELECT period_start, currency, {", ".join(columns)}, sum(cost) AS cost,
                       max(period_hours) AS period_hours
                FROM facts WHERE charge_category = ? GROUP BY ALL"""
    names, rows = store.records(
        f"""
        WITH f AS MATERIALIZED ({inner})
        SELECT token, min(period_start) AS first_period, max(period_start) AS last_period,
               max(period_hours) AS period_hours, sum(cost) AS total_spend
        FROM ({_union(wanted, "period_start, period_hours, cost", "f")})
        GROUP BY token ORDER BY token
        """,
        [USAGE],
    )
    by_name = {m.name: m for m in wanted}
    out: list[MonitorSeries] = []
    for row in (dict(zip(names, r, strict=True)) for r in rows):
        name, currency, *values = str(row["token"]).split(SEP)
        monitor = by_name[name]
        gran = Granularity.HOUR if float(row["period_hours"]) <= 1.0 else Granularity.DAY
        key = monitor.key(dict(zip(monitor.columns, values, strict=True)), currency, gran)
        first, last = row["first_period"], row["last_period"]
        info = SeriesInfo(
            key.product,
            key.cost_line,
            currency,
            gran,
            first,
            last,
            period_points(first, last, gran),
            float(row["total_spend"]),
        )
        out.append(MonitorSeries(monitor, str(row["token"]), key, info))
    return out


def wide_monitor_series(
    store: FactStore,
    monitors: Sequence[Monitor],
    granularity: Granularity,
    *,
    start: datetime | None = None,
    end: datetime | None = None,
) -> pd.DataFrame:
    """Every series of ``monitors`` at ``granularity``: rows are periods, columns tokens (as
    ``FactStore.wide_series``: NaN before a series' first spend, real zeros after it)."""
    import pandas as pd

    wanted = usable(store, monitors)
    if not wanted:
        return pd.DataFrame()
    unit = "hour" if granularity is Granularity.HOUR else "day"
    where, params = store._window(start, end)
    columns = sorted({c for m in wanted for c in m.columns})
    inner = f"""SELECT date_trunc('{unit}', period_start) AS t, currency, {", ".join(columns)},
                       sum(cost) AS cost
                FROM facts WHERE charge_category = ? {where} GROUP BY ALL"""
    frame = store.query(
        f"""
        WITH f AS MATERIALIZED ({inner})
        SELECT t, token, sum(cost) AS spend FROM ({_union(wanted, "t, cost", "f")}) GROUP BY ALL
        """,
        [USAGE, *params],
    )
    return spend_grid(frame, "token", granularity)


def monitor_leaf_tables(
    store: FactStore,
    keys: Sequence[SeriesKey],
    *,
    start: datetime,
    end: datetime,
    by_period: Granularity,
) -> dict[str, pd.DataFrame]:
    """Leaf tables (``t``, dimensions, ``actual``) of monitor series by key id, one scan per monitor shape:
    the dimensions are the ones a series does not fix, product and cost line included."""
    present = store.dimensions()
    unit = "hour" if by_period is Granularity.HOUR else "day"
    where, params = store._window(start, end)
    shapes: dict[tuple[tuple[str, ...], str], list[SeriesKey]] = {}
    for key in keys:
        shapes.setdefault((tuple(c for c, _ in key.filters), key.currency), []).append(key)
    out: dict[str, pd.DataFrame] = {}
    for (fixed, currency), members in shapes.items():
        if not fixed or any(c not in {"product", "cost_line", *present} for c in fixed):
            continue
        dims = list(dict.fromkeys(d for d in ("product", "cost_line", *present) if d not in fixed))
        match = ", ".join(_value(c) for c in fixed)
        token = " || chr(31) || ".join(_value(c) for c in fixed)
        wanted = ", ".join("(" + ", ".join("?" for _ in fixed) + ")" for _ in members)
        frame = store.query(
            f"""
            SELECT {token} AS _token,
                   date_trunc('{unit}', period_start) AS t, {", ".join(f"{_value(d)} AS {d}" for d in dims)},
                   sum(cost) AS actual
            FROM facts
            WHERE charge_category = ? AND currency = ? AND ({match}) IN ({wanted}) {where}
            GROUP BY ALL ORDER BY ALL
            """,
            [USAGE, currency, *(v for k in members for _, v in k.filters), *params],
        )
        if frame.empty:
            continue
        groups = dict(iter(frame.groupby("_token", sort=False)))
        for key in members:
            leaves = groups.get(SEP.join(v for _, v in key.filters))
            if leaves is not None:
                out[key.id] = leaves.drop(columns=["_token"]).reset_index(drop=True)
    return out
