"""The sweep: evaluate every series as of a time, rank root causes, update incidents, notify.

Facts after ``as_of`` are never read, so a sweep at a past time sees only what was known then (replay and
``sweep --at`` rely on it). Each series is scored with its stored model; a series whose model is missing
or unreadable is fitted on the spot with the batched model, and reported as a fallback. Every series of a
granularity is read in one query, so a sweep over thousands of series costs a few scans, not one each.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any, TypeVar, cast

import numpy as np
import pandas as pd
from sqlalchemy import Engine

from alerts.rebaseline import Rebaseline, forecast_factors, history_factors, scoped_rebaselines
from core.anomaly import (
    HOURS_PER_MONTH,
    Anomaly,
    AnomalyKind,
    CauseRef,
    LevelShift,
    SeriesEvaluation,
    WindowSpend,
)
from core.clock import Clock
from core.settings import Settings
from core.types import DEFAULT_SCOPE, Granularity, SeriesKey
from detector.batch_scores import score_rows
from detector.detector import Detection, Detector
from detector.events import events_from_arrays, projected_month_impact
from detector.explain import explain_anomaly
from detector.explain_coded import NotCoded, explain_coded
from detector.leaf_codes import LeafCodes, code_leaf_facts, codes_frame
from detector.level_shift import find_level_shift
from detector.nan_arrays import nansum
from detector.open_checks import may_have_open_event, may_shift
from detector.post_rules import DetectorConfig, completeness_masks, threshold_mask
from ingestion.fact_store import SERIES_COLUMNS, FactStore, SeriesInfo
from ingestion.monitor_facts import monitor_leaf_tables
from models.base import Baseline, forecast_arrays
from models.registry import ModelRegistry, load_artifact
from models.seasonal import BatchedSeasonalBaseline
from training.cause_labels import with_labels
from training.culprits import with_culprits
from training.fanout import fan_out, idle_cores
from training.monitors import evaluation_fields, join_frames, monitor_frame, monitor_series
from training.planned_periods import Interval, ended_windows, excused_values, planned_spans
from training.sweep_grid import SeriesGrid, grid_step, naive, periods_in, series_grid, shared_grids

log = logging.getLogger(__name__)

# How much history the scorer sees: its tail fits use a trailing window (28 daily points, a week of hourly
# ones), so about twice that is enough; more only costs time in every sweep.
LOOKBACK = {Granularity.DAY: timedelta(days=63), Granularity.HOUR: timedelta(days=14)}
# Trailing windows for burn rates: the short one reacts, the long one confirms.
WINDOW_HOURS = {Granularity.DAY: (24.0, 72.0), Granularity.HOUR: (6.0, 24.0, 72.0)}
MAX_CAUSE_PERIODS = 7
NEW_SPEND_HOURS = 24.0  # a new series' spend over its last day decides whether it is material
# ... or, on an intraday series, its run rate once this many periods have spent: a day's worth of hours
# need not pass before a leak at $20 an hour counts, and a one-off charge in one hour still does not.
NEW_SPEND_MIN_PERIODS = 2
# An intraday excess the detector sustains without opening on it is an event once it has lasted this many
# periods in a row with a sustaining score at least this (see Sweeper._sustained_run). Above the detector's
# threshold (0.5), which only holds an event already opened on a surprising period: opening on sustaining
# evidence alone asks for more (on the 90 hourly days, noise reached 0.55 for two hours; a +37% step 0.68).
SUSTAINED_RUN_MIN_PERIODS = 2
SUSTAINED_RUN_SCORE = 0.6
Progress = Callable[[int, int], None]
_T = TypeVar("_T")


@dataclass
class SweepReport:
    as_of: datetime
    series: int = 0
    evaluated: int = 0
    anomalies: int = 0
    fallbacks: list[tuple[str, str]] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    incidents: dict[str, int] = field(default_factory=dict)
    delivered: dict[str, int] = field(default_factory=dict)
    heartbeat: str | None = None  # "sent" or "failed: <reason>" when a heartbeat receiver is configured
    seconds: float = 0.0
    evaluations: list[SeriesEvaluation] = field(default_factory=list)

    def lines(self) -> list[str]:
        out = [
            f"as of: {self.as_of.isoformat()}",
            f"series: {self.series}, evaluated: {self.evaluated}, open anomalies: {self.anomalies}",
        ]
        if self.incidents:
            out.append("incidents: " + ", ".join(f"{k} {v}" for k, v in sorted(self.incidents.items())))
        if self.delivered:
            out.append("notifications: " + ", ".join(f"{k} {v}" for k, v in sorted(self.delivered.items())))
        out += [f"fallback {sid}: {why}" for sid, why in self.fallbacks[:20]]
        out += [f"skipped {sid}: {why}" for sid, why in self.skipped[:20]]
        out.append(f"seconds: {self.seconds:.1f}")
        return out


_naive = naive
_step = grid_step


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _utc_event(anomaly: Anomaly) -> Anomaly:
    # Facts are naive UTC; everything handed to alerts is timezone-aware, as the state DB stores it.
    return dataclasses.replace(anomaly, start=_utc(anomaly.start), end=_utc(anomaly.end))


def _up_event(
    index: pd.DatetimeIndex,
    span: np.ndarray,
    points: dict[str, np.ndarray] | None,
    *,
    actual: float,
    expected: float,
    score: float,
    kind: AnomalyKind = "anomaly",
    projected: float = 0.0,
) -> Anomaly:
    """An upward event the sweep's own rules found (a sustained burn, a sustained run, new spend) over the
    periods ``span`` of ``index`` (its first and last row at least); ``points`` split its expected spend into
    trend and seasonal parts, ``None`` when there is no baseline to split."""
    excess = actual - expected
    return Anomaly(
        start=index[span[0]].to_pydatetime(),
        end=index[span[-1]].to_pydatetime(),
        direction="up",
        actual=actual,
        expected=expected,
        impact=excess,
        # A zero baseline (new spend) caps the % at 100, as elsewhere.
        impact_pct=100.0 * excess / expected if expected > 0 else 100.0,
        anomaly_score=score,
        projected_month_impact=projected,
        expected_trend=None if points is None else nansum(points["trend"][span]),
        expected_seasonal=None if points is None else nansum(points["seasonal"][span]),
        kind=kind,
    )


class Sweeper:
    """Evaluates series into ``SeriesEvaluation``s; alerting is applied by the caller (``run_sweep``)."""

    def __init__(
        self,
        settings: Settings,
        engine: Engine | None,
        *,
        detector: Detector | None = None,
        workers: int | None = None,
        shared: bool = True,
    ) -> None:
        self.settings = settings
        self.shared = shared  # see evaluate_items
        self.store = FactStore(
            settings.facts_dir, memory_limit=settings.duckdb_memory_limit, threads=settings.duckdb_threads
        )
        # Workers evaluate without a database (engine None): they only read artifacts from the model directory.
        self.engine = engine
        self.models_path = settings.models_path  # a computed setting: read once, not once per series
        self.registry = ModelRegistry(cast(Engine, engine), self.models_path)
        self.workers = workers
        # Spend anomalies last: an anomalous period is kept out of the scorer's history, so the second
        # day of a spike is judged against normal days, not against the first day of the spike.
        self.detector = detector or Detector(DetectorConfig())

    def evaluate(
        self, as_of: datetime, report: SweepReport, progress: Progress | None = None
    ) -> list[SeriesEvaluation]:
        end = _naive(as_of)
        infos = [i for i in self.store.list_series() if pd.Timestamp(i.first_period) < end]
        monitored = [
            m for m in monitor_series(self.settings, self.store) if pd.Timestamp(m.info.first_period) < end
        ]
        report.series = len(infos) + len(monitored)
        current = self.registry.current() if self.engine is not None else {}
        # New normals learned by alerts (alerts.rebaseline): each scales its series' expected spend.
        learned = scoped_rebaselines(self.engine) if self.engine is not None else {}
        # Ended expected-change windows: their periods are excused (training.planned_periods).
        ended = ended_windows(self.engine, as_of, max(LOOKBACK.values())) if self.engine is not None else []
        # Processes pay off only past a few hundred series (each worker starts and imports once), and only
        # on cores no other job keeps busy (training.fanout.idle_cores).
        workers = self.workers
        if workers is None:
            workers = 1 if len(infos) < 400 or idle_cores() < 2 else idle_cores()
        tasks: list[tuple[Any, ...]] = []
        for gran in Granularity:
            members = [i for i in infos if i.granularity is gran]
            if not members:
                continue
            wide = self.store.wide_series(
                gran, start=(end - LOOKBACK[gran]).to_pydatetime(), end=end.to_pydatetime()
            )
            items: list[tuple[SeriesKey, SeriesInfo, str]] = []
            for info in members:
                key = SeriesKey(info.product, info.cost_line, info.currency, gran)
                column = f"{info.product}|{info.cost_line}|{info.currency}"
                if column not in wide.columns:
                    report.skipped.append((key.id, "no spend in the lookback window"))
                    continue
                items.append((key, info, column))
            # The other monitors' series (product totals, accounts, ...) are judged alike, in the same chunks.
            extra, by_id = monitor_frame(
                self.store,
                monitored,
                gran,
                start=(end - LOOKBACK[gran]).to_pydatetime(),
                end=end.to_pydatetime(),
            )
            items += [(m.key, m.info, sid) for sid, m in by_id.items()]
            report.skipped += [
                (m.key.id, "no spend in the lookback window")
                for m in monitored
                if m.key.granularity is gran and m.key.id not in by_id
            ]
            wide = join_frames(wide, extra)
            # In this process one chunk per granularity: every chunk scans the leaf facts for its causes.
            size = max(len(items), 1) if workers == 1 else max(50, -(-len(items) // (4 * workers)))
            for lo in range(0, len(items), size):
                chunk = items[lo : lo + size]
                tasks.append(
                    (
                        self.settings,
                        self.detector.config,
                        [(k, i) for k, i, _ in chunk],
                        wide[[c for _, _, c in chunk]],
                        {k.id: current.get(k.id) for k, _, _ in chunk},
                        as_of,
                        {
                            k.id: learned[ref]
                            for k, _, _ in chunk
                            if (ref := (k.product, k.cost_line, k.currency.upper(), k.scope)) in learned
                        },
                        {k.id: p for k, _, _ in chunk if (p := planned_spans(ended, k))},
                        self.shared,
                    )
                )
        evaluations: list[SeriesEvaluation] = []
        for evals, fallbacks, skipped in fan_out(evaluate_chunk, tasks, workers=workers, progress=progress):
            evaluations.extend(evals)
            report.fallbacks.extend(fallbacks)
            report.skipped.extend(skipped)
        evaluations.sort(key=lambda e: (e.product, e.cost_line, e.currency, e.granularity.value, e.scope))
        report.evaluated = len(evaluations)
        report.anomalies = sum(len(e.anomalies) for e in evaluations)
        return evaluations

    def evaluate_items(
        self,
        items: list[tuple[SeriesKey, SeriesInfo]],
        frame: pd.DataFrame,
        entries: dict[str, Any],
        as_of: datetime,
        rebaselined: dict[str, list[Rebaseline]] | None = None,
        planned: dict[str, list[Interval]] | None = None,
        *,
        shared: bool = True,
    ) -> tuple[list[SeriesEvaluation], list[tuple[str, str]], list[tuple[str, str]]]:
        """Evaluate ``items`` (one column of ``frame`` each) and rank their open events' root causes.

        ``shared`` judges series observed on the same periods on one grid (:mod:`training.sweep_grid`),
        read from the frame once; ``shared=False`` takes each column alone, as :meth:`evaluate_one` does,
        which gives the same evaluations (the tests compare both) at several times the cost.
        """
        report = SweepReport(as_of=as_of)
        rebaselined, planned = rebaselined or {}, planned or {}
        evaluations: list[SeriesEvaluation] = []
        to_explain: list[_Explain] = []
        if shared and items:
            done = self._judge_shared(items, frame, entries, as_of, rebaselined, planned, report)
        else:
            done = [
                self._guarded(
                    key,
                    report,
                    partial(
                        self._evaluate_column,
                        key,
                        info,
                        frame,
                        column,
                        as_of,
                        entries.get(key.id),
                        report,
                        rebaselined.get(key.id, []),
                        planned.get(key.id),
                    ),
                )
                for (key, info), column in zip(items, frame.columns, strict=True)
            ]
        for result in done:
            if result is not None:
                evaluations.append(result[0])
                if result[1] is not None:
                    to_explain.append(result[1])
        explained = self._explain(to_explain, report)
        evaluations = [explained.get(id(e), e) for e in evaluations]
        return evaluations, report.fallbacks, report.skipped

    def _model(self, key: SeriesKey, entry: Any, report: SweepReport) -> tuple[Baseline, bool]:
        if entry is not None:
            try:
                return load_artifact(self.models_path, entry), False
            except Exception as exc:
                report.fallbacks.append((key.id, f"stored model unusable ({exc}); fitted on the spot"))
        else:
            report.fallbacks.append((key.id, "no trained model yet; fitted on the spot"))
        return BatchedSeasonalBaseline(granularity=key.granularity.value), True

    def _evaluate_column(
        self,
        key: SeriesKey,
        info: SeriesInfo,
        frame: pd.DataFrame,
        column: Any,
        *args: Any,
    ) -> tuple[SeriesEvaluation, _Explain | None] | None:
        return self.evaluate_one(key, info, frame[column].dropna(), *args)

    def evaluate_one(
        self,
        key: SeriesKey,
        info: SeriesInfo,
        y: pd.Series,
        as_of: datetime,
        entry: Any,
        report: SweepReport,
        learned: list[Rebaseline] | None = None,
        planned: list[Interval] | None = None,
    ) -> tuple[SeriesEvaluation, _Explain | None] | None:
        """The verdict on one series ``y`` (observed periods only) on a grid of its own; its open events
        get root causes later, with the chunk's others."""
        if len(y) < 2:
            report.skipped.append((key.id, "fewer than two periods"))
            return None
        grid = series_grid(pd.DatetimeIndex(y.index), key.granularity, as_of)
        return self._judge(key, y.to_numpy(dtype=np.float64), grid, as_of, entry, report, learned, planned)

    def _judge_shared(
        self,
        items: list[tuple[SeriesKey, SeriesInfo]],
        frame: pd.DataFrame,
        entries: dict[str, Any],
        as_of: datetime,
        rebaselined: dict[str, list[Rebaseline]],
        planned: dict[str, list[Interval]],
        report: SweepReport,
    ) -> list[tuple[SeriesEvaluation, _Explain | None] | None]:
        """:meth:`evaluate_one` for every item, with series observed on the same periods sharing one grid
        and scored together (:func:`detector.batch_scores.score_rows`); the same verdicts, in item order."""
        grids = shared_grids(frame, [key.granularity for key, _ in items], as_of)
        prepared = [
            self._guarded(
                key,
                report,
                partial(
                    self._prepare,
                    key,
                    spent,
                    grid,
                    entries.get(key.id),
                    report,
                    rebaselined.get(key.id, []),
                    planned.get(key.id),
                ),
            )
            for (key, _info), (spent, grid) in zip(items, grids, strict=True)
        ]
        by_grid: dict[int, list[int]] = {}
        for i, prep in enumerate(prepared):
            if prep is not None:
                by_grid.setdefault(id(prep.grid), []).append(i)
        points: dict[int, dict[str, np.ndarray] | None] = {}
        for members in by_grid.values():
            ready = [cast(_Prepared, prepared[i]) for i in members]
            points.update(zip(members, self._score_together(ready, report), strict=True))
        return [
            self._guarded(prep.key, report, partial(self._finish, prep, scored, as_of))
            for i, prep in enumerate(prepared)
            if prep is not None and (scored := points[i]) is not None
        ]

    def _score_together(
        self, ready: list[_Prepared], report: SweepReport
    ) -> list[dict[str, np.ndarray] | None]:
        """The scored points of series sharing one grid, in one batch; should the batch fail, series by
        series, so that only a series that cannot be scored is left out (and reported)."""
        grid = ready[0].grid
        try:
            return list(
                score_rows(
                    np.stack([p.scored for p in ready]),
                    {c: np.stack([p.forecast[c] for p in ready]) for c in ready[0].forecast},
                    completeness=grid.completeness,
                    step=grid.step,
                    index=grid.index,
                    config=self.detector.config,
                )
            )
        except Exception:
            log.exception("scoring %d series together failed; scoring them one by one", len(ready))
        return [
            self._guarded(
                p.key,
                report,
                partial(
                    self.detector.score_arrays,
                    p.scored,
                    p.forecast,
                    completeness=grid.completeness,
                    step=grid.step,
                    index=grid.index,
                ),
            )
            for p in ready
        ]

    @staticmethod
    def _guarded(key: SeriesKey, report: SweepReport, call: Callable[[], _T]) -> _T | None:
        """``call()``, or None when it fails: one series never stops the sweep; its failure is reported."""
        try:
            return call()
        except Exception as exc:
            log.exception("sweep failed for %s", key.id)
            report.skipped.append((key.id, f"{type(exc).__name__}: {exc}"))
            return None

    def _judge(
        self,
        key: SeriesKey,
        spent: np.ndarray,
        grid: SeriesGrid,
        as_of: datetime,
        entry: Any,
        report: SweepReport,
        learned: list[Rebaseline] | None = None,
        planned: list[Interval] | None = None,
    ) -> tuple[SeriesEvaluation, _Explain | None] | None:
        """The verdict on the observed values ``spent`` of a series on ``grid``."""
        prep = self._prepare(key, spent, grid, entry, report, learned, planned)
        if prep is None:
            return None
        # Plain arrays all the way, no per-point frame: a sweep judges every series every hour.
        points = self.detector.score_arrays(
            prep.scored,
            prep.forecast,
            completeness=grid.completeness,
            step=grid.step,
            index=grid.index,
        )
        return self._finish(prep, points, as_of)

    def _prepare(
        self,
        key: SeriesKey,
        spent: np.ndarray,
        grid: SeriesGrid,
        entry: Any,
        report: SweepReport,
        learned: list[Rebaseline] | None = None,
        planned: list[Interval] | None = None,
    ) -> _Prepared | None:
        """What scoring a series needs: its model's forecast over ``grid`` and the values to score."""
        if len(spent) < 2:
            report.skipped.append((key.id, "fewer than two periods"))
            return None
        model, fit = self._model(key, entry, report)
        index, completeness = grid.index, grid.completeness
        if fit:
            y = pd.Series(spent, index=index)
            history = y.where(completeness >= 1.0)  # partial periods would drag the fit down
            # Fitted here as training would: on history scaled to the new normals (alerts.rebaseline).
            model.fit(history * history_factors(index, learned) if learned else history)
        # One forecast serves the scoring and the month-end projection.
        horizon = grid.horizon
        columns = forecast_arrays(model, horizon)
        if learned:
            factors = forecast_factors(horizon, learned, None if fit else entry.trained_at)
            columns = {c: v * factors for c, v in columns.items()}
        n = len(index)
        # The month to date counts planned spend (money all the same); scoring does not.
        scored = excused_values(spent, columns["expected"][:n], index, planned) if planned else spent
        return _Prepared(
            key=key,
            grid=grid,
            spent=spent,
            scored=scored,
            forecast={c: v[:n] for c, v in columns.items()},
            rest_expected=float(np.clip(columns["expected"][n:], 0.0, None).sum()),
            ready=bool(getattr(model, "alerting_ready_", True)),
        )

    def _finish(
        self, prep: _Prepared, points: dict[str, np.ndarray], as_of: datetime
    ) -> tuple[SeriesEvaluation, _Explain | None]:
        """The verdict on a scored series: post-rules, open events, windows, projection."""
        key, grid, spent, ready = prep.key, prep.grid, prep.spent, prep.ready
        step, index, rest_expected = grid.step, grid.index, prep.rest_expected
        config = self.detector.config
        if threshold_mask(points["tail_score"], config.threshold).any():
            points.update(self.detector.decide(points, alerting_ready=ready, index=index))
        else:
            points.update(_quiet_decision(points, config))
        judged = np.flatnonzero(~points["held_back"].astype(bool))
        open_events: list[Anomaly] = []
        if points["flagged"].any():
            # Events still open: they reach the newest judged period (held-back partial periods excluded).
            newest = index[judged[-1]] if judged.size else index[-1]
            since = newest - step * self.detector.config.merge_gap
            # Most flagged series' events ended long ago: build events only where one may still be open.
            if may_have_open_event(points["flagged"], points["candidate"], int(index.searchsorted(since))):
                events = events_from_arrays(points, index, step, merge_gap=self.detector.config.merge_gap)
                open_events = [a for a in events if _naive(a.end) >= since]
        if not open_events and judged.size:
            sustained = self._sustained_excess(key.granularity, points, index, judged, step)
            if sustained is not None:
                open_events = [sustained]
        if ready and not open_events and judged.size and step < pd.Timedelta(days=1):
            run = self._sustained_run(points, index, judged, step)
            if run is not None:
                open_events = [run]
        if not ready and not open_events and judged.size:
            # Cold start scores a young series but never alarms on it; spend where there was none is news
            # at once. Its severity is judged against its product (alerts.burn_rate), not its own model.
            fresh = self._new_spend(points, index, judged, step)
            if fresh is not None:
                open_events = [fresh]
        if key.scope != DEFAULT_SCOPE:
            # A total or an account catches what its lines miss by adding it up: below the materiality
            # floor there is nothing to add up, only a second reading of a line's small event.
            open_events = [a for a in open_events if abs(a.impact) >= self.settings.materiality_floor]
        open_events = [_utc_event(a) for a in open_events]
        in_band = True
        if judged.size:
            last = int(judged[-1])
            inside = points["lower"][last] <= points["value"][last] <= points["upper"][last]
            in_band = bool(inside) or not bool(points["is_anomaly"][last])
        values = points["value"][judged]
        expected = np.clip(points["expected"][judged], 0.0, None)
        windows = self._windows(key.granularity, values, expected, step)
        mtd = nansum(spent[judged][grid.in_month[judged]])
        projection = self._projection(mtd, rest_expected, windows) if judged.size else 0.0
        evaluation = SeriesEvaluation(
            product=key.product,
            cost_line=key.cost_line,
            currency=key.currency,
            granularity=key.granularity,
            as_of=as_of,
            anomalies=open_events,
            in_band=in_band,
            windows=windows,
            month_to_date_actual=mtd if judged.size else 0.0,
            month_projection=projection,
            level_shift=self._level_shift(points, grid.subset(judged), judged, step)
            if ready and judged.size
            else None,
            **evaluation_fields(key),
        )
        job = _Explain(evaluation, key, points["expected"], index, step) if open_events else None
        return evaluation, job

    def _level_shift(
        self, points: dict[str, np.ndarray], at: pd.DatetimeIndex, judged: np.ndarray, step: pd.Timedelta
    ) -> LevelShift | None:
        """A lasting step still going on (detector.level_shift): alerts keeps its incident open and, once it
        has lasted REBASELINE_AFTER_HOURS, learns it as the new normal. ``at``: the judged periods."""
        values, expected = points["value"][judged], points["expected"][judged]
        if not may_shift(values, expected, step, factor=self.settings.sustained_burn_factor):
            return None  # what find_level_shift finds when the newest day is not shifted
        shift = find_level_shift(
            values,
            expected,
            at,
            step,
            factor=self.settings.sustained_burn_factor,
            floor=self.settings.materiality_floor,
        )
        return None if shift is None else dataclasses.replace(shift, since=_utc(shift.since))

    def _sustained_excess(
        self,
        gran: Granularity,
        points: dict[str, np.ndarray],
        index: pd.DatetimeIndex,
        judged: np.ndarray,
        step: pd.Timedelta,
    ) -> Anomaly | None:
        """A slow drift or a lasting step keeps each period inside its band, yet its excess adds up: when the
        long window burns above ``SUSTAINED_BURN_FACTOR`` by a material amount, it is an event of its own
        (its severity is the burn-rate and money rules': a ticket at 1.5x, or by what it adds a month)."""
        hours = WINDOW_HOURS[gran][-1]
        tail = judged[-periods_in(hours, step) :]
        if bool(points["is_anomaly"][tail].astype(bool).any()):
            return None  # flagged periods in the window are events already; counting them twice inflates $
        actual = nansum(points["value"][tail])
        expected = nansum(np.clip(points["expected"][tail], 0.0, None))
        excess = actual - expected
        factor, floor = self.settings.sustained_burn_factor, self.settings.materiality_floor
        if expected <= 0 or actual < factor * expected or excess < floor:
            return None
        # Scored at the alert threshold and above, by how far past the factor the window burns.
        score = float(min(1.0, 0.5 + 0.5 * (actual / expected - factor) / factor))
        return _up_event(index, tail, points, actual=actual, expected=expected, score=score, kind="sustained")

    def _sustained_run(
        self, points: dict[str, np.ndarray], index: pd.DatetimeIndex, judged: np.ndarray, step: pd.Timedelta
    ) -> Anomaly | None:
        """The newest periods of an intraday series, ``SUSTAINED_RUN_MIN_PERIODS`` in a row at least, that
        each spend above expected with the detector's sustaining evidence at ``SUSTAINED_RUN_SCORE`` and some
        tail evidence, and together burn above ``SUSTAINED_BURN_FACTOR``: an event (kind ``anomaly``).

        An hour is noisy, so the detector opens an event only on a very surprising one; a lasting +30% on a
        cost line is surprising in every hour without any hour being enough. Its sustaining evidence (what
        keeps an open event going) holding hour after hour says what one hour cannot, so the alert policy
        can ticket it by money within the hour (``alerts.burn_rate``) instead of when the day-long burn
        windows cross their factors. Series in cold start never get here (new spend has its own rule).
        """
        value = np.nan_to_num(points["value"][judged])
        expected = np.clip(np.nan_to_num(points["expected"][judged]), 0.0, None)
        threshold = max(SUSTAINED_RUN_SCORE, self.detector.config.threshold)
        holds = (
            (value > expected)
            & (np.nan_to_num(points["sustain_score"][judged]) >= threshold)
            & (np.nan_to_num(points["tail_score"][judged]) > 0.0)
        )
        # The length of the run that ends at the newest judged period.
        breaks = np.flatnonzero(~holds)
        n = len(holds) - (int(breaks[-1]) + 1 if breaks.size else 0)
        if n < SUSTAINED_RUN_MIN_PERIODS:
            return None
        run = judged[-n:]
        actual, baseline = float(value[-n:].sum()), float(expected[-n:].sum())
        if baseline <= 0 or actual < self.settings.sustained_burn_factor * baseline:
            return None
        c = np.nan_to_num(points["completeness"][run], nan=1.0)
        return _up_event(
            index,
            run,
            points,
            actual=actual,
            expected=baseline,
            score=float(np.max(np.nan_to_num(points["sustain_score"][run]))),
            projected=projected_month_impact(index[run], value[-n:], expected[-n:], c, step),
        )

    def _new_spend(
        self, points: dict[str, np.ndarray], index: pd.DatetimeIndex, judged: np.ndarray, step: pd.Timedelta
    ) -> Anomaly | None:
        """A series in cold start that spent at least the materiality floor over its last day, or (an
        intraday series) spends at that rate a day in at least ``NEW_SPEND_MIN_PERIODS`` periods.

        Its monthly run rate (the window's spend per hour over a month) is the event's
        ``projected_month_impact``: a new service spending thousands a day (leaked credentials, a
        forgotten experiment) should not wait out the cold start.
        """
        tail = judged[-periods_in(NEW_SPEND_HOURS, step) :]
        recent = nansum(points["value"][tail])
        day_rate = recent / (len(tail) * (step / pd.Timedelta(days=1))) if len(tail) else 0.0
        spending = int(np.count_nonzero(np.nan_to_num(points["value"][tail]) > 0))
        floor = self.settings.materiality_floor
        at_rate = step < pd.Timedelta(days=1) and spending >= NEW_SPEND_MIN_PERIODS and day_rate >= floor
        if recent < floor and not at_rate:
            return None
        spent = np.flatnonzero(np.nan_to_num(points["value"][judged]) > 0)
        first = judged[int(spent[0])] if spent.size else judged[0]
        actual = nansum(points["value"][first : judged[-1] + 1])
        covered = max(len(tail), 1) * step / pd.Timedelta(hours=1)
        # No expected spend to compare with: the whole spend is the impact (its % capped at 100), and there
        # is no trend / seasonal split of a baseline that does not exist.
        return _up_event(
            index,
            np.array([first, judged[-1]]),
            None,
            actual=actual,
            expected=0.0,
            score=1.0,
            kind="new_spend",
            projected=recent / covered * HOURS_PER_MONTH,
        )

    @staticmethod
    def _windows(
        gran: Granularity, values: np.ndarray, expected: np.ndarray, step: pd.Timedelta
    ) -> list[WindowSpend]:
        out = []
        for hours in WINDOW_HOURS[gran]:
            n = periods_in(hours, step)
            out.append(WindowSpend(hours, nansum(values[-n:]), nansum(expected[-n:])))
        return out

    @staticmethod
    def _projection(mtd: float, expected_rest: float, windows: list[WindowSpend]) -> float:
        # The spend rate of the short window goes on to month end: a spike projects its excess forward.
        rate = min(windows[0].burn_rate, 10.0) if windows and np.isfinite(windows[0].burn_rate) else 1.0
        return mtd + expected_rest * rate

    def _explain(self, jobs: list[_Explain], report: SweepReport) -> dict[int, SeriesEvaluation]:
        """Root causes for every open event of ``jobs``: one fact-store scan per granularity, not one per
        event (each scan reads the Parquet footers and opens a DuckDB connection)."""
        out: dict[int, SeriesEvaluation] = {}
        for gran in Granularity:
            batch = [j for j in jobs if j.key.granularity is gran]
            if not batch:
                continue
            windows = [_cause_window(a, j.step) for j in batch for a in j.evaluation.anomalies]
            plain = [j for j in batch if j.key.scope == DEFAULT_SCOPE]
            start = min(lo for lo, _ in windows).to_pydatetime()
            stop = max(hi for _, hi in windows).to_pydatetime()
            try:
                facts = self.store.leaf_tables(
                    [(j.key.product, j.key.cost_line, j.key.currency) for j in plain],
                    start=start,
                    end=stop,
                    by_period=gran,
                    quantity=True,
                )
                # A monitor's series is ranked over what it does not fix: a product total over its cost
                # lines and the usual dimensions, an account over products, cost lines and the rest.
                monitored = monitor_leaf_tables(
                    self.store,
                    [j.key for j in batch if j.key.scope != DEFAULT_SCOPE],
                    start=start,
                    end=stop,
                    by_period=gran,
                )
            except Exception as exc:  # no causes is better than no verdict; the failure is reported
                log.exception("root-cause facts unavailable")
                report.fallbacks.extend((j.key.id, f"root causes unavailable: {exc}") for j in batch)
                continue
            # Leaf facts coded once for every event of the chunk (detector.leaf_codes); facts the coded
            # path does not take (a missing dimension value, a leaf twice in a period) keep the frames.
            plain_dims = [c for c in facts.columns if c not in (*SERIES_COLUMNS, "t", "actual", "quantity")]
            coded = code_leaf_facts(facts, plain_dims, series=SERIES_COLUMNS, quantity="quantity")
            by_series = (
                dict(iter(facts.groupby(list(SERIES_COLUMNS), sort=False)))
                if coded is None and len(facts)
                else {}
            )
            for job in batch:
                explain: Callable[[Anomaly], Anomaly] | None = None
                if job.key.scope != DEFAULT_SCOPE:
                    leaves = monitored.get(job.key.id)
                    if leaves is not None:
                        dims = [c for c in leaves.columns if c not in ("t", "actual")]
                        ours = code_leaf_facts(leaves, dims)
                        if ours is not None:
                            explain = partial(self._with_coded_causes, codes=ours, series=(), job=job)
                else:
                    series = (job.key.product, job.key.cost_line, job.key.currency)
                    if coded is not None:
                        leaves = None
                        if series in coded.rows:
                            explain = partial(self._with_coded_causes, codes=coded, series=series, job=job)
                    else:
                        leaves = by_series.get(series)
                        if leaves is not None:
                            leaves = leaves.drop(columns=list(SERIES_COLUMNS))
                if explain is None and leaves is not None:
                    explain = partial(self._with_causes, leaves=leaves, job=job)
                if explain is None:
                    continue
                anomalies = [explain(a) for a in job.evaluation.anomalies]
                anomalies = with_culprits(
                    self.settings, (job.key.product, job.key.cost_line, job.key.currency), anomalies, job.step
                )
                anomalies = with_labels(self.settings, anomalies)
                out[id(job.evaluation)] = dataclasses.replace(job.evaluation, anomalies=anomalies)
        return out

    @staticmethod
    def _cause_totals(anomaly: Anomaly, job: _Explain) -> list[tuple[pd.Timestamp, float]]:
        """The event's newest periods (``MAX_CAUSE_PERIODS`` at most) with the series' expected spend."""
        start, end = _naive(anomaly.start), _naive(anomaly.end)
        periods = [p for p in pd.date_range(start, end, freq=job.step)][-MAX_CAUSE_PERIODS:]
        positions = job.index.get_indexer(pd.DatetimeIndex(periods))
        return [(p, float(job.expected[i])) for p, i in zip(periods, positions, strict=True) if i >= 0]

    @staticmethod
    def _with_coded_causes(anomaly: Anomaly, *, codes: LeafCodes, series: Hashable, job: _Explain) -> Anomaly:
        """:meth:`_with_causes` on leaf facts coded once for the chunk: the same causes, without frames."""
        lo, hi = _cause_window(anomaly, job.step)
        rows = codes.window(series, lo.value, hi.value)
        if rows.size == 0:
            return anomaly
        start = _naive(anomaly.start)
        totals = [(p.value, v) for p, v in Sweeper._cause_totals(anomaly, job)]
        try:
            found = explain_coded(codes, rows, totals, shares_before=start.value)
        except NotCoded:
            return Sweeper._with_causes(anomaly, leaves=codes_frame(codes, rows), job=job)
        return dataclasses.replace(anomaly, root_causes=[CauseRef(**c.to_dict()) for c in found])

    @staticmethod
    def _with_causes(anomaly: Anomaly, *, leaves: pd.DataFrame, job: _Explain) -> Anomaly:
        start = _naive(anomaly.start)
        lo, hi = _cause_window(anomaly, job.step)
        facts = leaves[(leaves["t"] >= lo) & (leaves["t"] < hi)]
        if facts.empty:
            return anomaly
        facts = facts.rename(columns={"t": "timestamp", "actual": "value"})
        dims = [c for c in facts.columns if c not in ("timestamp", "value", "quantity")]
        totals = Sweeper._cause_totals(anomaly, job)
        causes = [
            CauseRef(**c.to_dict())
            for c in explain_anomaly(facts, totals, dimensions=dims, shares_before=start)
        ]
        return dataclasses.replace(anomaly, root_causes=causes)


@dataclass(frozen=True)
class _Prepared:
    """A series ready to be scored: its grid, its values (as spent, and as scored), its forecast."""

    key: SeriesKey
    grid: SeriesGrid
    spent: np.ndarray
    scored: np.ndarray
    forecast: dict[str, np.ndarray]
    rest_expected: float
    ready: bool


@dataclass(frozen=True)
class _Explain:
    """An evaluation whose open events still need root causes, with what ranking them needs."""

    evaluation: SeriesEvaluation
    key: SeriesKey
    expected: np.ndarray
    index: pd.DatetimeIndex
    step: pd.Timedelta


def _quiet_decision(points: dict[str, np.ndarray], config: DetectorConfig) -> dict[str, np.ndarray]:
    """What :func:`detector.post_rules.decide` decides for a series no point of which reaches the threshold
    (nine in ten of a sweep's): no candidate, nothing flagged, and periods held back by completeness
    alone. Its alarm score, which the sweep reads only on flagged series, is left out (a read would fail)
    rather than computed sequentially for every quiet series. ``tests/training/test_quiet_decision.py``
    compares it with ``decide``."""
    n = points["tail_score"].size
    sign = np.zeros(n, dtype=np.int8)
    _, held = completeness_masks(
        points["completeness"],
        sign,
        policy=config.completeness_policy,
        min_completeness=config.min_completeness,
    )
    points.pop("anomaly_score", None)
    return {
        "candidate": sign,
        "held_back": held,
        "flagged": np.zeros(n, dtype=bool),
        "is_anomaly": np.zeros(n, dtype=bool),
    }


def _cause_window(anomaly: Anomaly, step: pd.Timedelta) -> tuple[pd.Timestamp, pd.Timestamp]:
    """Facts a root-cause ranking reads: the event and the leaf mix of the weeks before it."""
    history = pd.Timedelta(days=35) if step >= pd.Timedelta(days=1) else pd.Timedelta(days=15)
    return _naive(anomaly.start) - history, _naive(anomaly.end) + step


def evaluate_chunk(
    settings: Settings,
    config: DetectorConfig,
    items: list[tuple[SeriesKey, SeriesInfo]],
    frame: pd.DataFrame,
    entries: dict[str, Any],
    as_of: datetime,
    rebaselined: dict[str, list[Rebaseline]] | None = None,
    planned: dict[str, list[Interval]] | None = None,
    shared: bool = True,
) -> tuple[list[SeriesEvaluation], list[tuple[str, str]], list[tuple[str, str]]]:
    """Evaluate a chunk of series (in this process or a worker): evaluations, fallbacks, skipped."""
    sweeper = Sweeper(settings, None, detector=Detector(config))
    return sweeper.evaluate_items(items, frame, entries, as_of, rebaselined, planned, shared=shared)


def run_sweep(
    settings: Settings,
    engine: Engine,
    clock: Clock,
    *,
    at: datetime | None = None,
    alerting: Any | None = None,
    dispatch: bool = True,
    progress: Progress | None = None,
    detector: Detector | None = None,
    dispatch_timeout: float = 30.0,
) -> SweepReport:
    """One sweep as of ``at`` (now by default): evaluate, update incidents, and deliver notifications."""
    started = time.perf_counter()
    as_of = at or clock.now()
    if as_of.tzinfo is None:
        as_of = as_of.replace(tzinfo=UTC)
    report = SweepReport(as_of=as_of)
    sweeper = Sweeper(settings, engine, detector=detector)
    evaluations = sweeper.evaluate(as_of, report, progress)
    # Unit costs and cost SLOs (issue 10): unchanged spend evaluations without drivers or COVERAGE_SLO.
    # Imported here because training.unit_costs builds on this module.
    from training.unit_costs import with_unit_economics

    evaluations = with_unit_economics(settings, engine, as_of, sweeper, evaluations, report)
    report.evaluations = evaluations
    if alerting is not None:
        outcome = alerting.service.process(evaluations)
        report.incidents = {k: v for k, v in outcome.counts().items() if k != "evaluated"}
        if dispatch:
            # Retries that are due later stay in the outbox: the serve loop or the next sweep sends them.
            done = alerting.dispatcher.run_until_idle(timeout=dispatch_timeout)
            report.delivered = {
                n: int(getattr(done, n)) for n in ("delivered", "retried", "failed", "deferred")
            }
    report.seconds = time.perf_counter() - started
    return report


__all__ = ["Detection", "SweepReport", "Sweeper", "run_sweep"]
