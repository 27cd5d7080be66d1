"""The monitors' series for training and the sweep: which ones exist, and their spend as one wide frame
with columns named by series id, like product × cost line's.

Monitor series cost what their number costs: one per product for product totals, one per account or
team value for the configured ones, a small share of the product × cost line series. The facts are read
in one extra scan per granularity (``ingestion.monitor_facts``).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from core.monitors import Monitor, extra_monitors, load_monitors
from core.settings import Settings
from core.types import DEFAULT_SCOPE, Granularity, SeriesKey
from ingestion.fact_store import FactStore
from ingestion.monitor_facts import MonitorSeries, list_monitor_series, usable, wide_monitor_series

if TYPE_CHECKING:
    import pandas as pd


def configured_monitors(settings: Settings) -> tuple[Monitor, ...]:
    """Every monitor, product × cost line first (``SPENDSENTRY_MONITORS_FILE`` or the defaults)."""
    return load_monitors(settings.monitors_file)


def monitor_series(settings: Settings, store: FactStore) -> list[MonitorSeries]:
    """Every series of the monitors beyond product × cost line that the facts hold."""
    monitors = extra_monitors(configured_monitors(settings))
    return list_monitor_series(store, monitors) if monitors else []


def monitor_frame(
    store: FactStore,
    series: Sequence[MonitorSeries],
    granularity: Granularity,
    *,
    start: datetime | None = None,
    end: datetime | None = None,
) -> tuple[pd.DataFrame, dict[str, MonitorSeries]]:
    """The spend of ``series`` at ``granularity`` (columns: series ids) and the series by id."""
    import pandas as pd

    members = {s.token: s for s in series if s.key.granularity is granularity}
    if not members:
        return pd.DataFrame(), {}
    monitors = list(dict.fromkeys(s.monitor for s in members.values()))
    wide = wide_monitor_series(store, monitors, granularity, start=start, end=end)
    names = [n for n in wide.columns if n in members]
    if not names:
        return pd.DataFrame(), {}
    frame = wide[names].rename(columns={n: members[n].key.id for n in names})
    return frame, {members[n].key.id: members[n] for n in names}


def join_frames(left: pd.DataFrame, right: pd.DataFrame) -> pd.DataFrame:
    """Product × cost line columns and monitor columns on one grid (a union of both indexes)."""
    if right.empty:
        return left
    if left.empty:
        return right
    return left.join(right, how="outer")


def evaluation_fields(key: SeriesKey) -> dict[str, Any]:
    """What a monitor series' evaluation carries beyond product × cost line's: its scope (part of the
    fingerprint), the monitor's name, the values it fixes, and those values as routing labels
    (``account=123``, ``team=core``), so routes can send an account's incidents to its owners."""
    if key.scope == DEFAULT_SCOPE:
        return {}
    name = key.scope.split(":", 1)[0]
    labels = {"monitor": name}
    labels.update({c.removeprefix("tag_"): v for c, v in key.filters if c not in ("product", "cost_line")})
    return {"scope": key.scope, "monitor": name, "dimensions": dict(key.filters), "labels": labels}


def describe_monitors(settings: Settings, store: FactStore) -> list[dict[str, Any]]:
    """Every monitor with its dimensions and how many series it tracks now (``GET /v1/monitors``, the
    dashboard). A tag monitor whose tag is not kept as a dimension tracks nothing, and says why."""
    monitors = configured_monitors(settings)
    extra = extra_monitors(monitors)
    listed = list_monitor_series(store, extra) if extra else []
    ready = set(usable(store, extra))
    out: list[dict[str, Any]] = []
    for monitor in monitors:
        if monitor.is_default:
            count = len(store.list_series())
        else:
            count = sum(1 for s in listed if s.monitor == monitor)
        note = None
        if not monitor.is_default and monitor not in ready:
            note = "its tag is not a dimension: add it to DIMENSION_TAG_KEYS and re-ingest"
        out.append({**monitor.to_dict(), "default": monitor.is_default, "series": count, "note": note})
    return out
