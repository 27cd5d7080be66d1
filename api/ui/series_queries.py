"""Read-only data for the series and incident pages: one series over a window, scored as a sweep would.

The detector is re-run over the shown window with the stored model, so the band and the markers on the
chart are the ones the detector sees, not a drawing of its own: the band is its alarm boundary
(:mod:`detector.alarm_boundary`), the values beyond which it flags a period.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import Engine

from alerts.expected_changes import list_expected_changes
from alerts.incidents import get_incident, list_incidents
from alerts.rebaseline import list_rebaselines
from alerts.summary import cause_title
from api.rebaselined_model import RebaselinedModel
from core.settings import Settings
from core.types import Granularity, SeriesKey
from detector.alarm_boundary import alarm_boundary, alerting_ready
from detector.detector import Detector
from detector.post_rules import DetectorConfig
from ingestion.fact_store import FactStore, SeriesInfo
from ingestion.monitor_facts import MonitorSeries
from models.registry import ModelRegistry
from models.seasonal import BatchedSeasonalBaseline
from training.monitors import evaluation_fields, monitor_frame, monitor_series
from training.sweep_job import LOOKBACK

from .queries import utc
from .rebaselined import rebaseline_notes
from .svg import Bar, SeriesData, Span

DEFAULT_DAYS = {Granularity.DAY: 90, Granularity.HOUR: 14}
MAX_DAYS = 400


@dataclass
class SeriesView:
    info: SeriesInfo
    granularity: Granularity
    data: SeriesData
    trend: list[float | None]
    seasonal: list[float | None]
    model: str  # how the band was obtained, in words
    incidents: list[dict[str, Any]]
    windows: list[dict[str, Any]]
    notes: list[str]


def pick_series(
    infos: list[SeriesInfo], product: str | None, cost_line: str | None, currency: str | None
) -> SeriesInfo | None:
    """The asked series, else the product's biggest cost line, else the biggest series overall."""
    if not infos:
        return None
    by_spend = sorted(infos, key=lambda i: -i.total_spend)
    for cand in by_spend:
        if (
            cand.product == product
            and cand.cost_line == cost_line
            and (currency is None or cand.currency == currency)
        ):
            return cand
    # A cost line kept while the product changed, or one billed in another currency, falls back gracefully.
    same_line = [i for i in by_spend if i.product == product and i.cost_line == cost_line]
    return next(iter(same_line), next((i for i in by_spend if i.product == product), by_spend[0]))


def _none_if_nan(value: Any) -> float | None:
    number = float(value)
    return number if math.isfinite(number) else None


def series_view(
    settings: Settings,
    engine: Engine,
    store: FactStore,
    info: SeriesInfo,
    granularity: Granularity,
    *,
    start: datetime | None = None,
    end: datetime | None = None,
    days: int | None = None,
    monitor: MonitorSeries | None = None,
) -> SeriesView:
    """One series over a window: actual, expected band, detector verdicts, expected changes, incidents.

    ``monitor`` names a series of another monitor (a product total, an account): its spend is summed
    from the facts as the sweep sums it, and its own model, new normals and incidents are shown."""
    notes: list[str] = []
    gran = granularity
    if gran is Granularity.HOUR and info.granularity is Granularity.DAY:
        notes.append("This series is billed per day: hourly spend is not available, showing days.")
        gran = Granularity.DAY
    step = pd.Timedelta(hours=1) if gran is Granularity.HOUR else pd.Timedelta(days=1)
    last = pd.Timestamp(store.last_period() or info.last_period).floor(gran.pandas_freq)
    stop = min(pd.Timestamp(end).tz_localize(None) if end else last + step, last + step)
    if start is None:
        span = min(max(days or DEFAULT_DAYS[gran], 1), MAX_DAYS)
        begin = stop - pd.Timedelta(days=span)
    else:
        begin = pd.Timestamp(start).tz_localize(None).floor(gran.pandas_freq)
    # The scorer needs history before the window for its residual scale, as in a sweep.
    history_start = begin - pd.Timedelta(LOOKBACK[gran])
    if monitor is None:
        y = store.series(
            info.product,
            info.cost_line,
            info.currency,
            gran,
            start=history_start.to_pydatetime(),
            end=stop.to_pydatetime(),
        )
        key = SeriesKey(info.product, info.cost_line, info.currency, gran)
    else:
        key = SeriesKey(
            info.product, info.cost_line, info.currency, gran, monitor.key.scope, monitor.key.filters
        )
        # The monitor's series at the shown granularity (a product total of daily lines is daily).
        at = MonitorSeries(monitor.monitor, monitor.token, key, monitor.info)
        frame, _ = monitor_frame(
            store, [at], gran, start=history_start.to_pydatetime(), end=stop.to_pydatetime()
        )
        y = frame[key.id].dropna() if key.id in frame else pd.Series(dtype=float)
    registry = ModelRegistry(engine, settings.models_path)
    entry = registry.current([key]).get(key.id)
    model: Any
    fit = False
    if entry is not None:
        model = registry.load(entry)
        described = f"stored {entry.model_type} model, version {entry.version}, trained {entry.trained_at:%Y-%m-%d %H:%M} UTC"
    else:
        model, fit = BatchedSeasonalBaseline(granularity=gran.value), True
        described = "no stored model at this granularity: a seasonal model fitted on the spot"
    learned = [
        r
        for r in list_rebaselines(engine, product=info.product, cost_line=info.cost_line)
        if r.scope == key.scope and r.currency.upper() == info.currency.upper()
    ]
    notes += rebaseline_notes(learned, entry.trained_at if entry is not None else None)
    if learned and entry is not None:
        model = RebaselinedModel(model, learned, entry.trained_at)
    detector = Detector(DetectorConfig())
    alarm_upper, alarm_lower = np.empty(0), np.empty(0)
    if len(y) >= 2:
        detection = detector.run(model, y, as_of=stop, fit=fit)
        # Computed over the whole scored history, as the decision was: the boundary at a point depends on
        # the points before it, including those before the window.
        boundary = alarm_boundary(detection, detector.config, alerting_ready=alerting_ready(model, detection))
        shown_rows = np.asarray(detection.index >= begin)
        points = detection.points[shown_rows]
        alarm_upper, alarm_lower = boundary.upper[shown_rows], boundary.lower[shown_rows]
        if len(points) and not np.isfinite(alarm_upper).any() and not np.isfinite(alarm_lower).any():
            notes.append(
                "No band: the detector cannot alarm anywhere in this window yet (too little history for "
                "the model to alert), so no value would be flagged."
            )
    else:
        points = pd.DataFrame(
            columns=["value", "expected", "lower", "upper", "trend", "seasonal", "is_anomaly"]
        )
    times = [utc(t) or datetime.min.replace(tzinfo=UTC) for t in pd.DatetimeIndex(points.index)]
    labels = {
        "product": info.product,
        "cost_line": info.cost_line,
        "currency": info.currency,
        "scope": key.scope,
        **evaluation_fields(key).get("labels", {}),
    }
    t_first = times[0] if times else None
    t_end = times[-1] + step.to_pytimedelta() if times else None
    windows = [
        c.to_dict()
        for c in list_expected_changes(engine)
        if c.matches(labels)
        and t_first is not None
        and t_end is not None
        and c.starts_at < t_end
        and c.ends_at > t_first
    ]
    related = [
        i
        for i in list_incidents(engine, product=info.product, cost_line=info.cost_line, limit=200)
        if i["currency"] == info.currency
        and i.get("scope", "default") == key.scope
        and i["period_start"]
        and i["period_end"]
    ]
    shown = [
        i
        for i in related
        if t_first is not None
        and t_end is not None
        and (utc(i["period_start"]) or t_end) < t_end
        and (utc(i["period_end"]) or t_first) >= t_first
    ]
    data = SeriesData(
        times=times,
        actual=[float(v) for v in points["value"]],
        expected=[_none_if_nan(v) for v in points["expected"]],
        # The band is the alarm boundary; an infinite side (no value alarms there) is left out.
        lower=[_none_if_nan(v) for v in alarm_lower],
        upper=[_none_if_nan(v) for v in alarm_upper],
        anomaly=[bool(v) for v in points["is_anomaly"]],
        windows=[
            Span(
                utc(w["starts_at"]) or t_first or datetime.min,
                utc(w["ends_at"]) or t_first or datetime.min,
                w["name"],
            )
            for w in windows
        ],
        incidents=[
            Span(
                utc(i["period_start"]) or datetime.min,
                utc(i["period_end"]) or datetime.min,
                f"{i['peak_severity']} {i['status']} {i['product']} / {i['cost_line']}",
                f"/ui/incidents/{i['id']}",
            )
            for i in shown
        ],
    )
    return SeriesView(
        info=info,
        granularity=gran,
        data=data,
        trend=[_none_if_nan(v) for v in points["trend"]] if "trend" in points else [],
        seasonal=[_none_if_nan(v) for v in points["seasonal"]] if "seasonal" in points else [],
        model=described,
        incidents=shown,
        windows=windows,
        notes=notes,
    )


def find_monitor_series(
    settings: Settings, store: FactStore, scope: str, product: str, cost_line: str, currency: str | None
) -> MonitorSeries | None:
    """The series of a monitor other than product × cost line (scope ``product``, ``account:account=1``)."""
    for m in monitor_series(settings, store):
        key = m.key
        if (key.scope, key.product, key.cost_line) == (scope, product, cost_line) and (
            currency is None or key.currency.upper() == currency.upper()
        ):
            return m
    return None


@dataclass
class IncidentPage:
    incident: dict[str, Any]
    causes: list[Bar]
    series: SeriesView | None
    change_start: str
    change_end: str


def cause_bar(cause: dict[str, Any]) -> Bar:
    """A root cause's bar: stacked usage and price parts when the split is known."""
    note = f"({float(cause.get('share', 0.0)):.0%} of the excess)"
    usage, price = cause.get("usage_effect"), cause.get("price_effect")
    parts: tuple[tuple[str, float], ...] = ()
    if isinstance(usage, int | float) and isinstance(price, int | float):
        parts = (("usage", float(usage)), ("price", float(price)))
        note = f"(usage {usage:+,.0f}, price {price:+,.0f}: {cause.get('driver')}; {note[1:]}"
    # Named as notifications name it: the usage type's description first when the export had one.
    title = cause_title(cause) if cause.get("dimensions") else "(whole series)"
    return Bar(title, float(cause.get("contribution", 0.0)), note, parts)


def incident_page(settings: Settings, engine: Engine, store: FactStore, incident_id: str) -> IncidentPage:
    inc = get_incident(engine, incident_id)
    causes = [cause_bar(c) for c in inc["root_causes"]]
    scope = inc.get("scope", "default")
    monitor = None
    if scope == "default":
        infos = [
            i
            for i in store.list_series()
            if (i.product, i.cost_line, i.currency) == (inc["product"], inc["cost_line"], inc["currency"])
        ]
    else:  # a product total's or an account's incident: that series' own chart
        monitor = find_monitor_series(
            settings, store, scope, inc["product"], inc["cost_line"], inc["currency"]
        )
        infos = [monitor.info] if monitor is not None else []
    view: SeriesView | None = None
    start, end = utc(inc["period_start"]), utc(inc["period_end"])
    if infos and start is not None and end is not None:
        info = infos[0]
        step = timedelta(hours=1) if info.granularity is Granularity.HOUR else timedelta(days=1)
        view = series_view(
            settings,
            engine,
            store,
            info,
            info.granularity,
            start=start - step * 28,
            end=end + step * 10,
            monitor=monitor,
        )
    # The form's default window: the incident's periods, to its last period's end.
    if start is not None and end is not None:
        span_end = end + (
            timedelta(days=1) if view is None or view.granularity is Granularity.DAY else timedelta(hours=1)
        )
        change_start, change_end = start.strftime("%Y-%m-%dT%H:%M"), span_end.strftime("%Y-%m-%dT%H:%M")
    else:
        change_start = change_end = ""
    return IncidentPage(inc, causes, view, change_start, change_end)
