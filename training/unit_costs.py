"""Unit-cost monitoring: cost per driver unit per product, through the same baselines, detector, root
causes and incident flow as spend.

The baseline learns the unit cost; the detector judges it. Everything handed to alerts is in money:
an event's actual is the spend, its expected is the expected unit cost times the volume actually served,
so its impact is the $ the regression costs. Windows are the unit-cost SLO's error budget (cost per unit
may run ``UNIT_COST_SLO_PCT`` above its baseline): actual = spend above the volume-adjusted expectation,
expected = the allowance, so ``burn_rate`` is the budget burn and the usual page/ticket factors apply.

A product's spend evaluations are reconciled with its unit costs: when a driver's unit cost is normal,
spend that grew grew with volume, so the spend monitor's anomalies are dropped and its windows are judged
against the volume-adjusted expectation (efficiency intact: no incident). When the unit cost regresses,
spend evaluations carry the verdict label too.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, cast

import numpy as np
import pandas as pd
from sqlalchemy import Engine

from core.anomaly import Anomaly, CauseRef, SeriesEvaluation, WindowSpend
from core.settings import Settings
from core.types import Granularity, SeriesKey
from detector.explain import explain_anomaly
from ingestion.drivers import DriverStore
from ingestion.fact_store import FactStore
from models.base import Baseline
from models.registry import ModelRegistry, TrainedModel
from models.seasonal import BatchedSeasonalBaseline
from training.slo import evaluate_coverage
from training.unit_series import (
    ALL_COST_LINES,
    UnitSpec,
    informative_dimensions,
    spend_frame,
    unit_frame,
    unit_specs,
)

if TYPE_CHECKING:  # sweep_job imports this module inside run_sweep; a top-level import would be circular
    from training.sweep_job import Sweeper, SweepReport
    from training.train_job import TrainReport

log = logging.getLogger(__name__)

REGRESSION = "unit cost regression"
EFFICIENT = "efficiency intact"
WITH_VOLUME = "spend grew with volume"
MAX_CAUSE_PERIODS = 7
Exclusions = Callable[[SeriesKey], Sequence[tuple[datetime, datetime]]]


@dataclass(frozen=True)
class UnitResult:
    """One unit-cost verdict, with the raw $ windows (spend vs expected spend at the volume served)."""

    spec: UnitSpec
    evaluation: SeriesEvaluation
    dollars: list[WindowSpend]


def _naive(at: datetime | pd.Timestamp) -> pd.Timestamp:
    ts = pd.Timestamp(at)
    return ts.tz_convert("UTC").tz_localize(None) if ts.tzinfo else ts


def _step(gran: Granularity) -> pd.Timedelta:
    return pd.Timedelta(hours=1) if gran is Granularity.HOUR else pd.Timedelta(days=1)


def _specs(settings: Settings, store: FactStore, drivers: DriverStore) -> list[UnitSpec]:
    listed = drivers.list_drivers()
    return unit_specs(settings, store.list_series(), listed) if listed else []


# -- training ---------------------------------------------------------------------------------------


def train_unit_costs(
    settings: Settings,
    engine: Engine,
    *,
    trained_at: datetime,
    at: datetime | None = None,
    exclusions: Exclusions | None = None,
    report: TrainReport | None = None,
) -> int:
    """Fit and register a batched seasonal baseline per unit-cost series; returns how many were trained."""
    store = FactStore(
        settings.facts_dir, memory_limit=settings.duckdb_memory_limit, threads=settings.duckdb_threads
    )
    specs = _specs(settings, store, DriverStore(engine))
    trained: list[TrainedModel] = []
    for spec in specs:
        y = unit_frame(store, DriverStore(engine), spec, start=None, end=at)["unit_cost"]
        if len(y) == 0:
            continue
        y = y.reindex(pd.date_range(y.index[0], y.index[-1], freq=spec.granularity.pandas_freq, name="t"))
        # Expected changes and open incidents stay out of training, as for spend.
        for start, end in (
            exclusions(SeriesKey(spec.product, spec.cost_line, spec.currency, spec.granularity))
            if exclusions
            else []
        ):
            y[(y.index >= _naive(start)) & (y.index < _naive(end))] = np.nan
        observed = y.dropna()
        try:
            model: Baseline | None = BatchedSeasonalBaseline(granularity=spec.granularity.value).fit(y)
            error = None
        except Exception as exc:  # one series never stops the training; it is recorded as failed
            model, error = None, f"{type(exc).__name__}: {str(exc)[:300]}"
        trained.append(
            TrainedModel(
                key=spec.key,
                model=model,
                train_start=observed.index[0].to_pydatetime() if len(observed) else None,
                train_end=observed.index[-1].to_pydatetime() if len(observed) else None,
                points=len(observed),
                error=error,
            )
        )
        if report is not None:
            report.series += 1
            if error is None:
                report.trained += 1
                report.by_model["unit_cost:seasonal"] = report.by_model.get("unit_cost:seasonal", 0) + 1
            else:
                report.failed.append((spec.key.id, error))
    if trained:
        ModelRegistry(engine, settings.models_path).save_all(trained, trained_at=trained_at)
    return sum(1 for t in trained if t.error is None)


# -- evaluation -------------------------------------------------------------------------------------


def evaluate_unit_costs(
    settings: Settings, engine: Engine, as_of: datetime, sweeper: Sweeper, report: SweepReport | None = None
) -> list[SeriesEvaluation]:
    """The unit-cost evaluations at ``as_of`` of every product that has drivers (none otherwise)."""
    return [r.evaluation for r in _evaluate(settings, engine, as_of, sweeper, report)]


def _evaluate(
    settings: Settings, engine: Engine, as_of: datetime, sweeper: Sweeper, report: SweepReport | None
) -> list[UnitResult]:
    from training.sweep_job import LOOKBACK  # lazily: see the TYPE_CHECKING import above

    drivers = DriverStore(engine)
    specs = _specs(settings, sweeper.store, drivers)
    if not specs:
        return []
    current = sweeper.registry.current()
    results: list[UnitResult] = []
    for spec in specs:
        try:
            frame = unit_frame(
                sweeper.store,
                drivers,
                spec,
                start=(_naive(as_of) - LOOKBACK[spec.granularity]).to_pydatetime(),
                end=as_of,
            )
            result = _evaluate_one(settings, sweeper, spec, frame, as_of, current.get(spec.key.id), report)
        except Exception as exc:  # one series never stops the sweep; it is reported
            log.exception("unit-cost evaluation failed for %s", spec.key.id)
            if report is not None:
                report.skipped.append((spec.key.id, f"{type(exc).__name__}: {exc}"))
            continue
        if result is not None:
            results.append(result)
    return results


def _model(
    sweeper: Sweeper, spec: UnitSpec, entry: object, report: SweepReport | None
) -> tuple[Baseline, bool]:
    if entry is not None:
        try:
            return sweeper.registry.load(entry), False  # type: ignore[arg-type]
        except Exception as exc:
            if report is not None:
                report.fallbacks.append((spec.key.id, f"stored model unusable ({exc}); fitted on the spot"))
    elif report is not None:
        report.fallbacks.append((spec.key.id, "no trained model yet; fitted on the spot"))
    return BatchedSeasonalBaseline(granularity=spec.granularity.value), True


def _evaluate_one(
    settings: Settings,
    sweeper: Sweeper,
    spec: UnitSpec,
    frame: pd.DataFrame,
    as_of: datetime,
    entry: object,
    report: SweepReport | None,
) -> UnitResult | None:
    from training.sweep_job import WINDOW_HOURS, _utc_event

    if len(frame) < 2:
        if report is not None:
            report.skipped.append((spec.key.id, "fewer than two periods with spend and volume"))
        return None
    y = frame["unit_cost"]
    model, fit = _model(sweeper, spec, entry, report)
    # Only complete periods are in the frame, so the clock-implied completeness does not apply.
    detection = sweeper.detector.run(model, y, completeness=np.ones(len(y)), as_of=_naive(as_of), fit=fit)
    points = detection.points.copy()
    points["spend"] = frame["spend"].to_numpy()
    points["volume"] = frame["volume"].to_numpy()
    points["expected_spend"] = points["expected"].clip(lower=0).to_numpy() * points["volume"]
    judged = points[~points["held_back"].astype(bool)]
    if judged.empty:
        return None
    step = _step(spec.granularity)
    newest = pd.DatetimeIndex(judged.index)[-1]
    events = [
        a for a in detection.anomalies if _naive(a.end) >= newest - step * sweeper.detector.config.merge_gap
    ]
    dollars = []
    for hours in WINDOW_HOURS[spec.granularity]:
        tail = judged.tail(max(int(pd.Timedelta(hours=hours) / step), 1))
        dollars.append(WindowSpend(hours, float(tail["spend"].sum()), float(tail["expected_spend"].sum())))
    allowance = settings.unit_cost_slo_pct / 100.0
    windows = [WindowSpend(w.hours, max(w.actual - w.expected, 0.0), allowance * w.expected) for w in dollars]
    if not events:
        # A slow drift stays inside each period's band; its budget burn still adds up (as for spend).
        long_w = windows[-1]
        if long_w.burn_rate > settings.ticket_burn_factor and long_w.actual >= settings.materiality_floor:
            tail = judged.tail(max(int(pd.Timedelta(hours=long_w.hours) / step), 1))
            events = [
                _sustained(
                    tail,
                    min(
                        1.0,
                        0.5
                        + 0.5
                        * (long_w.burn_rate - settings.ticket_burn_factor)
                        / settings.ticket_burn_factor,
                    ),
                )
            ]
    converted = [c for a in events if (c := _in_dollars(a, judged, step, as_of)) is not None]
    in_dollars = [_utc_event(_with_causes(sweeper.store, spec, a, judged, step)) for a in converted]
    row = judged.iloc[-1]
    in_band = bool(row["lower"] <= row["value"] <= row["upper"]) or not bool(row["is_anomaly"])
    evaluation = SeriesEvaluation(
        product=spec.product,
        cost_line=spec.cost_line,
        currency=spec.currency,
        granularity=spec.granularity,
        as_of=as_of,
        anomalies=in_dollars,
        in_band=in_band,
        windows=windows,
        # Zero: a product budget sums the month projections of a sweep's evaluations, and the spend
        # evaluations already carry this money.
        month_to_date_actual=0.0,
        month_projection=0.0,
        scope=spec.scope,
        labels=_labels(spec, judged, dollars, REGRESSION if in_dollars else EFFICIENT),
    )
    return UnitResult(spec, evaluation, dollars)


def _sustained(tail: pd.DataFrame, score: float) -> Anomaly:
    return Anomaly(
        start=pd.Timestamp(tail.index[0]).to_pydatetime(),
        end=pd.Timestamp(tail.index[-1]).to_pydatetime(),
        direction="up",
        actual=float(tail["value"].sum()),
        expected=float(tail["expected"].sum()),
        impact=0.0,
        impact_pct=0.0,
        anomaly_score=score,
    )


def _in_dollars(
    anomaly: Anomaly, judged: pd.DataFrame, step: pd.Timedelta, as_of: datetime
) -> Anomaly | None:
    """The event in money: spend against the expected unit cost times the volume served."""
    part = judged[(judged.index >= _naive(anomaly.start)) & (judged.index <= _naive(anomaly.end))]
    if part.empty:
        return None
    actual, expected = float(part["spend"].sum()), float(part["expected_spend"].sum())
    impact = actual - expected
    month_end = _naive(as_of).normalize().replace(day=1) + pd.offsets.MonthBegin(1)
    remaining = max(int((month_end - (pd.DatetimeIndex(part.index)[-1] + step)) / step), 0)
    return dataclasses.replace(
        anomaly,
        actual=actual,
        expected=expected,
        impact=impact,
        impact_pct=100.0 * impact / expected if expected > 0 else 1e6,
        projected_month_impact=max(impact / len(part), 0.0) * remaining,
        expected_trend=None,
        expected_seasonal=None,
    )


def _with_causes(
    store: FactStore, spec: UnitSpec, anomaly: Anomaly, judged: pd.DataFrame, step: pd.Timedelta
) -> Anomaly:
    """Which cost line (and within it which service, region, account...) moved the unit cost, in $."""
    start, end = _naive(anomaly.start), _naive(anomaly.end)
    periods = [p for p in pd.date_range(start, end, freq=step) if p in judged.index][-MAX_CAUSE_PERIODS:]
    if not periods:
        return anomaly
    dims = store.dimensions()
    if spec.cost_line == ALL_COST_LINES:
        dims = ["cost_line", *dims]
    history = pd.Timedelta(days=35) if step >= pd.Timedelta(days=1) else pd.Timedelta(days=15)
    facts = spend_frame(
        store, spec, start=(periods[0] - history).to_pydatetime(), end=(end + step).to_pydatetime(), by=dims
    )
    if facts.empty:
        return anomaly
    facts = facts.rename(columns={"t": "timestamp", "spend": "value"})
    dims = informative_dimensions(facts, dims)
    totals = [(p, cast(float, judged.loc[p, "expected_spend"])) for p in periods]
    causes = [
        CauseRef(c.dimensions, c.actual, c.expected, c.contribution, c.share)
        for c in explain_anomaly(facts, totals, dimensions=dims, shares_before=periods[0])
    ]
    return dataclasses.replace(anomaly, root_causes=causes)


def _labels(spec: UnitSpec, judged: pd.DataFrame, dollars: list[WindowSpend], verdict: str) -> dict[str, str]:
    """What a person reads first: the verdict, the unit cost against its expectation, volume and spend."""
    long_w = dollars[-1]
    n = max(int(pd.Timedelta(hours=long_w.hours) / _step(spec.granularity)), 1)
    tail, before = judged.tail(n), judged.iloc[:-n].tail(28 * n)

    def change(column: str) -> str:
        if before.empty or float(before[column].mean()) <= 0:
            return "n/a"
        return f"{(float(tail[column].mean()) / float(before[column].mean()) - 1) * 100:+.1f}%"

    volume = float(tail["volume"].sum())
    return {
        "monitor": "unit_cost",
        "driver": spec.driver,
        "unit": spec.unit,
        "verdict": verdict,
        "unit_cost": f"{long_w.actual / volume:.6g}" if volume > 0 else "n/a",
        "expected_unit_cost": f"{long_w.expected / volume:.6g}" if volume > 0 else "n/a",
        "volume_change": change("volume"),
        "spend_change": change("spend"),
    }


# -- reconciling spend with volume --------------------------------------------------------------------


def _closest(windows: Sequence[WindowSpend], hours: float) -> WindowSpend | None:
    longer = sorted((w for w in windows if w.hours >= hours), key=lambda w: w.hours)
    return longer[0] if longer else (max(windows, key=lambda w: w.hours) if windows else None)


def explain_spend(spend: Sequence[SeriesEvaluation], units: Sequence[UnitResult]) -> list[SeriesEvaluation]:
    """Spend evaluations of products with drivers, judged against their volume (see the module docstring)."""
    by_product: dict[tuple[str, str], list[UnitResult]] = {}
    for r in units:
        if r.spec.cost_line == ALL_COST_LINES:
            by_product.setdefault((r.spec.product, r.spec.currency), []).append(r)
    out: list[SeriesEvaluation] = []
    for ev in spend:
        results = by_product.get((ev.product, ev.currency))
        if not results:
            out.append(ev)
            continue
        efficient = [r for r in results if not r.evaluation.anomalies and r.evaluation.in_band]
        if not efficient:
            regressed = results[0].evaluation.labels
            out.append(
                dataclasses.replace(
                    ev, labels={**ev.labels, "verdict": REGRESSION, "driver": regressed["driver"]}
                )
            )
            continue
        if not ev.anomalies and all(w.burn_rate <= 1.0 for w in ev.windows):
            out.append(ev)
            continue
        # The product's cost lines only: its total (a monitor series, core.monitors) counts them again.
        lines = [
            s for s in spend if s.monitor is None and (s.product, s.currency) == (ev.product, ev.currency)
        ]
        out.append(_volume_adjusted(ev, efficient[0], lines))
    return out


def _volume_adjusted(
    ev: SeriesEvaluation, unit: UnitResult, siblings: Sequence[SeriesEvaluation]
) -> SeriesEvaluation:
    """Scale each window's expectation by how much the volume explains (the product's expected spend at
    the volume served over its spend baseline's expectation): burn near 1 means spend followed volume."""
    windows = []
    for w in ev.windows:
        dollar = _closest(unit.dollars, w.hours)
        modelled = sum(s_w.expected for s in siblings if (s_w := _closest(s.windows, w.hours)) is not None)
        factor = dollar.expected / modelled if dollar is not None and modelled > 0 else 1.0
        windows.append(WindowSpend(w.hours, w.actual, w.expected * max(factor, 1.0)))
    labels = {**ev.labels, "verdict": WITH_VOLUME, "driver": unit.spec.driver}
    return dataclasses.replace(ev, anomalies=[], in_band=True, windows=windows, labels=labels)


def with_unit_economics(
    settings: Settings,
    engine: Engine,
    as_of: datetime,
    sweeper: Sweeper,
    spend: list[SeriesEvaluation],
    report: SweepReport | None = None,
) -> list[SeriesEvaluation]:
    """What ``run_sweep`` hands alerting: spend reconciled with volume, then the unit-cost and SLO
    evaluations. Without drivers and without a coverage SLO it returns ``spend`` unchanged."""
    units = _evaluate(settings, engine, as_of, sweeper, report)
    coverage = evaluate_coverage(settings, sweeper.store, as_of, step=timedelta(days=1))
    if not units and not coverage:
        return spend
    out = [*explain_spend(spend, units), *(r.evaluation for r in units), *coverage]
    if report is not None:
        report.evaluated = len(out)
        report.anomalies = sum(len(e.anomalies) for e in out)
    return out
