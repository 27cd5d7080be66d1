"""The training job: fit a baseline for every stored series and record it in the model registry.

``seasonal`` fits every series of a granularity with the batched robust model, in column chunks spread
over the workers. ``prophet`` fits Prophet per series. ``auto`` fits the batched model for all, then lets
Prophet challenge it by rolling-origin backtest on the series that spend the most (``prophet_budget``
of them), because Prophet costs about a second per series and the largest series matter most.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

import numpy as np
import pandas as pd
from sqlalchemy import Engine

from alerts.rebaseline import Rebaseline, ScopedRef, history_factors, mark_applied, scoped_rebaselines
from core.clock import Clock
from core.settings import Settings
from core.types import DEFAULT_SCOPE, Granularity, SeriesKey
from ingestion.fact_store import FactStore
from models.auto import AutoBaseline
from models.base import Baseline
from models.prophet_baseline import ProphetBaseline
from models.registry import ModelRegistry, TrainedModel
from models.seasonal import BatchedSeasonalBaseline
from training.fanout import Progress, fan_out
from training.monitors import join_frames, monitor_frame, monitor_series

ModelChoice = Literal["auto", "seasonal", "prophet"]
# Windows to keep out of training (expected changes, feedback): the alerts package supplies them.
Exclusions = Callable[[SeriesKey], Sequence[tuple[datetime, datetime]]]
FitResult = tuple[str, Baseline | None, str | None]


@dataclass
class TrainReport:
    series: int = 0
    trained: int = 0
    failed: list[tuple[str, str]] = field(default_factory=list)
    by_model: dict[str, int] = field(default_factory=dict)
    not_ready: int = 0
    seconds: float = 0.0

    def lines(self) -> list[str]:
        out = [f"series: {self.series}", f"trained: {self.trained}", f"failed: {len(self.failed)}"]
        out += [f"model {name}: {count}" for name, count in sorted(self.by_model.items())]
        if self.not_ready:
            out.append(f"cold start (not alerting yet): {self.not_ready}")
        out += [f"failed {sid}: {err}" for sid, err in self.failed[:20]]
        out.append(f"seconds: {self.seconds:.1f}")
        return out


def _error(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {str(exc)[:300]}"


def fit_seasonal_chunk(frame: pd.DataFrame, params: dict[str, Any]) -> list[FitResult]:
    """Fit a chunk in one batch; if the batch fails, fit its series one by one to isolate the culprit."""
    try:
        batch = BatchedSeasonalBaseline(**params).fit_many(frame)
        return [(str(name), batch[name], None) for name in frame.columns]
    except Exception:
        out: list[FitResult] = []
        for name in frame.columns:
            try:
                out.append((str(name), BatchedSeasonalBaseline(**params).fit(frame[name]), None))
            except Exception as exc:
                out.append((str(name), None, _error(exc)))
        return out


def fit_one(name: str, y: pd.Series, kind: str) -> FitResult:
    try:
        model: Baseline = AutoBaseline() if kind == "auto" else ProphetBaseline()
        return name, model.fit(y), None
    except Exception as exc:
        return name, None, _error(exc)


def _apply_exclusions(
    frame: pd.DataFrame, keys: dict[str, SeriesKey], exclusions: Exclusions | None
) -> pd.DataFrame:
    if exclusions is None:
        return frame
    frame = frame.copy()
    for name, key in keys.items():
        for start, end in exclusions(key):
            mask = (
                frame.index >= pd.Timestamp(start).tz_localize(None)
                if pd.Timestamp(start).tzinfo
                else frame.index >= pd.Timestamp(start)
            )
            mask &= (
                frame.index < pd.Timestamp(end).tz_localize(None)
                if pd.Timestamp(end).tzinfo
                else frame.index < pd.Timestamp(end)
            )
            frame.loc[mask, name] = np.nan  # missing, not zero: the model skips these points
    return frame


def _apply_rebaselines(
    frame: pd.DataFrame, keys: dict[str, SeriesKey], learned: dict[ScopedRef, list[Rebaseline]]
) -> tuple[pd.DataFrame, list[int]]:
    """History before each new normal scaled up to it, so the model learns the new level from all of its
    history (seasonality included) and the step no longer alerts; returns the frame and the records used."""
    used: list[int] = []
    frame = frame.copy() if learned else frame
    for name, key in keys.items():
        records = learned.get((key.product, key.cost_line, key.currency.upper(), key.scope), [])
        if records:
            frame[name] = frame[name] * history_factors(pd.DatetimeIndex(frame.index), records)
            used += [r.id for r in records]
    return frame, used


def train_all(
    settings: Settings,
    engine: Engine,
    clock: Clock,
    *,
    model: ModelChoice = "auto",
    workers: int | None = None,
    dask_address: str | None = None,
    at: datetime | None = None,
    progress: Progress | None = None,
    exclusions: Exclusions | None = None,
    prophet_budget: int = 50,
    chunk_series: int = 2000,
) -> TrainReport:
    """Train every stored series on facts before ``at`` (all facts when None) and register the models."""
    started = time.perf_counter()
    store = FactStore(
        settings.facts_dir, memory_limit=settings.duckdb_memory_limit, threads=settings.duckdb_threads
    )
    registry = ModelRegistry(engine, settings.models_path)
    infos = store.list_series()
    monitored = monitor_series(settings, store)
    report = TrainReport(series=len(infos) + len(monitored))
    trained_at = clock.now()
    learned = scoped_rebaselines(engine)
    applied: list[int] = []
    frames: dict[str, pd.Series] = {}
    keys: dict[str, SeriesKey] = {}
    tasks: list[tuple[Any, ...]] = []
    kinds: list[str] = []
    for gran in Granularity:
        members = {f"{i.product}|{i.cost_line}|{i.currency}": i for i in infos if i.granularity is gran}
        if not members:
            continue
        wide = store.wide_series(gran, end=at)
        names = [n for n in wide.columns if n in members]
        if not names:
            continue
        gkeys = {
            n: SeriesKey(members[n].product, members[n].cost_line, members[n].currency, gran) for n in names
        }
        wide = _apply_exclusions(wide[names], gkeys, exclusions)
        wide, used = _apply_rebaselines(wide, gkeys, learned)
        applied += used
        keys.update({gkeys[n].id: gkeys[n] for n in names})
        renamed = wide.rename(columns={n: gkeys[n].id for n in names})
        # The other monitors' series (product totals, accounts, ...) train beside them, on the same grid.
        extra, by_id = monitor_frame(store, monitored, gran, end=at)
        if by_id:
            extra = _apply_exclusions(extra, {sid: m.key for sid, m in by_id.items()}, exclusions)
            extra, used = _apply_rebaselines(extra, {sid: m.key for sid, m in by_id.items()}, learned)
            applied += used
            keys.update({sid: m.key for sid, m in by_id.items()})
            renamed = join_frames(renamed, extra)
        for sid in renamed.columns:
            frames[sid] = renamed[sid]
        if model in ("seasonal", "auto"):
            params = {"granularity": gran.value}
            for lo in range(0, len(renamed.columns), chunk_series):
                tasks.append((renamed.iloc[:, lo : lo + chunk_series], params))
                kinds.append("seasonal")
        else:
            for sid in renamed.columns:
                tasks.append((sid, renamed[sid], "prophet"))
                kinds.append("prophet")

    results: dict[str, FitResult] = {}

    def run(func: Callable[..., Any], batch: list[tuple[Any, ...]]) -> list[Any]:
        return fan_out(func, batch, workers=workers, dask_address=dask_address, progress=progress)

    seasonal_tasks = [t for t, k in zip(tasks, kinds, strict=True) if k == "seasonal"]
    for chunk in run(fit_seasonal_chunk, seasonal_tasks):
        results.update({r[0]: r for r in chunk})
    one_tasks = [t for t, k in zip(tasks, kinds, strict=True) if k == "prophet"]
    if model == "auto" and prophet_budget > 0:
        # Prophet challenges the batched model where spend is largest and history allows a backtest.
        # Product × cost line only: product totals would outspend every line and take the budget.
        spend = {
            sid: float(np.nansum(y.to_numpy()))
            for sid, y in frames.items()
            if keys[sid].scope == DEFAULT_SCOPE
        }
        top = sorted(spend, key=lambda s: -spend[s])[:prophet_budget]
        one_tasks = [(sid, frames[sid], "auto") for sid in top]
    for result in run(fit_one, one_tasks):
        name, fitted, error = result
        if fitted is not None or name not in results:
            results[name] = result

    trained: list[TrainedModel] = []
    for sid, (_name, fitted, error) in sorted(results.items()):
        y = frames[sid]
        observed = y.dropna()
        trained.append(
            TrainedModel(
                key=keys[sid],
                model=fitted,
                train_start=observed.index[0].to_pydatetime() if len(observed) else None,
                train_end=observed.index[-1].to_pydatetime() if len(observed) else None,
                points=len(observed),
                error=error,
            )
        )
        if error is not None or fitted is None:
            report.failed.append((sid, error or "no model"))
            continue
        report.trained += 1
        record = fitted.record() if hasattr(fitted, "record") else {}
        kind = str(record.get("model_type") or type(fitted).__name__)
        if kind == "auto":
            kind = f"auto:{record.get('selected_model_type')}"
        report.by_model[kind] = report.by_model.get(kind, 0) + 1
        if not record.get("alerting_ready", True):
            report.not_ready += 1
    registry.save_all(trained, trained_at=trained_at)
    mark_applied(engine, applied, trained_at)
    # Unit-cost baselines (issue 10): only products with drivers have any.
    from training.unit_costs import train_unit_costs

    train_unit_costs(settings, engine, trained_at=trained_at, at=at, exclusions=exclusions, report=report)
    report.seconds = time.perf_counter() - started
    return report
