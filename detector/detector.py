"""The detector: baseline forecast → anomaly score → post-rules → events, each step a separate call.

``score()`` only measures how unusual each point is (:mod:`detector.scoring`); ``detect()`` only decides
(:mod:`detector.post_rules`) and groups (:mod:`detector.events`). Keeping them apart (as Merlion keeps
models and post-processing apart) lets a replay score once and try several rule sets, and lets the API
show the score of every point even where no rule fires.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd

from core.anomaly import Anomaly
from detector.events import build_events, events_from_arrays
from detector.nan_arrays import nan_to_num
from detector.post_rules import (
    DetectorConfig,
    apply_post_rules,
    decide,
    min_alert_span,
    period_completeness,
)
from detector.scoring import anomaly_scores
from detector.views import grid_step
from models.base import FORECAST_COLUMNS, Baseline, forecast_arrays

POINT_COLUMNS: tuple[str, ...] = (
    "value",
    "expected",
    "lower",
    "upper",
    "trend",
    "seasonal",
    "completeness",
    "z",
    "tail_score",
    "sustain_score",
    "anomaly_score",
)


@dataclass(frozen=True)
class Detection:
    """The verdict on one series: every point (scored and decided) and the anomaly events.

    The points are kept as arrays (``columns``: ``POINT_COLUMNS`` + candidate, held_back, flagged,
    is_anomaly, on ``index``); :attr:`points` is the same as a frame, built on first use — the scoring
    API answers from the arrays, and building a frame costs more than the scoring of a short series.
    """

    columns: Mapping[str, np.ndarray]
    index: pd.DatetimeIndex
    anomalies: list[Anomaly]
    completeness_policy: str
    held_back: int  # periods held back as too incomplete to judge

    @cached_property
    def points(self) -> pd.DataFrame:
        return pd.DataFrame(dict(self.columns), index=self.index, copy=False)

    @classmethod
    def of_frame(cls, points: pd.DataFrame, anomalies: list[Anomaly], completeness_policy: str) -> Detection:
        columns = {str(c): points[c].to_numpy() for c in points.columns}
        held_back = int(columns["held_back"].sum())
        made = cls(columns, pd.DatetimeIndex(points.index), anomalies, completeness_policy, held_back)
        made.__dict__["points"] = points  # the frame is at hand: no need to build it again
        return made

    def completeness_note(self) -> dict[str, Any]:
        # NaN counts as complete: it compares false, as nan_to_num's 1.0 would.
        partial = int(np.count_nonzero(np.asarray(self.columns["completeness"], dtype=np.float64) < 1.0))
        return {"policy": self.completeness_policy, "partial_periods": partial, "held_back": self.held_back}


def infer_step(index: pd.DatetimeIndex) -> pd.Timedelta:
    """The series' period: the most common spacing, the shortest on a tie (one day for a single point)."""
    if len(index) < 2:
        return pd.Timedelta(days=1)
    ticks = index.asi8
    gaps = ticks[1:] - ticks[:-1]
    if gaps.min() == gaps.max():  # a regular grid (what a request's series is): no sort needed
        return pd.Timedelta(int(gaps[0]), unit=index.unit)
    spacings, counts = np.unique(gaps, return_counts=True)
    return pd.Timedelta(int(spacings[int(np.argmax(counts))]), unit=index.unit)


_NS_PER_TICK = {"s": 1_000_000_000, "ms": 1_000_000, "us": 1_000, "ns": 1}
_NS_SAFE = {u: np.iinfo(np.int64).max // k for u, k in _NS_PER_TICK.items()}


def _nanoseconds(
    index: pd.DatetimeIndex, ticks: np.ndarray | None = None, unit: str | None = None
) -> np.ndarray:
    """``index.as_unit("ns").asi8`` (a new index per call) as one multiplication, where it cannot
    overflow; ``as_unit`` otherwise, which raises for times nanoseconds cannot hold. ``ticks`` and
    ``unit``: the index's ``asi8`` and ``unit`` when already at hand (pandas' properties cost)."""
    ticks = np.asarray(index.asi8 if ticks is None else ticks, dtype=np.int64)
    unit = str(index.unit) if unit is None else unit
    if unit == "ns":
        return ticks
    if ticks.size and int(np.abs(ticks).max()) >= _NS_SAFE[unit]:
        return np.asarray(index.as_unit("ns").asi8, dtype=np.int64)
    return ticks * _NS_PER_TICK[unit]


class Detector:
    """Score and decide on one series given a baseline's forecast for it."""

    def __init__(self, config: DetectorConfig | None = None) -> None:
        self.config = config or DetectorConfig()

    def with_direction(self, direction: str) -> Detector:
        return Detector(replace(self.config, direction=direction))  # type: ignore[arg-type]

    def score(
        self,
        y: pd.Series,
        forecast: pd.DataFrame,
        *,
        completeness: np.ndarray | pd.Series | None = None,
        step: pd.Timedelta | None = None,
    ) -> pd.DataFrame:
        """Per-point frame of ``POINT_COLUMNS``; the score is direction-aware, causal and in [0, 1]."""
        index = pd.DatetimeIndex(y.index)
        # Positional when the forecast is already on y's rows (a replay keeps repeated timestamps).
        same = len(forecast) == len(index) and pd.DatetimeIndex(forecast.index).equals(index)
        rows = forecast if same else forecast.reindex(index)
        columns = {c: rows[c].to_numpy(dtype=np.float64) for c in FORECAST_COLUMNS}
        points = self.score_arrays(
            np.asarray(y, dtype=np.float64),
            columns,
            completeness=completeness,
            step=step or infer_step(index),
            index=index,
        )
        return pd.DataFrame(points, index=index, columns=list(POINT_COLUMNS), copy=False)

    def score_arrays(
        self,
        value: np.ndarray,
        forecast: dict[str, np.ndarray],
        *,
        completeness: np.ndarray | pd.Series | None,
        step: pd.Timedelta,
        index: pd.DatetimeIndex,
    ) -> dict[str, np.ndarray]:
        """:meth:`score` on plain arrays (``forecast`` holds ``FORECAST_COLUMNS``), for the sweep's hot path.

        ``anomaly_score`` is the alarm score before the post-rules; :meth:`decide` replaces it with the
        score of the alarms the rules let through.
        """
        c = (
            np.ones(value.size)
            if completeness is None
            else nan_to_num(np.asarray(completeness, dtype=np.float64), nan=1.0)
        )
        return self._score_clean(value, forecast, c, step, _nanoseconds(index))

    def _score_clean(
        self,
        value: np.ndarray,
        forecast: dict[str, np.ndarray],
        c: np.ndarray,
        step: pd.Timedelta,
        times_ns: np.ndarray,
    ) -> dict[str, np.ndarray]:
        """:meth:`score_arrays` with its completeness already without NaN and its times in nanoseconds."""
        scores = anomaly_scores(
            value,
            forecast["expected"],
            times_ns=times_ns,
            step=step,
            direction=self.config.direction,
            completeness=c,
            config=self.config.score,
        )
        return {
            "value": value,
            **forecast,
            "completeness": c,
            "z": scores.z,
            "tail_score": scores.tail,
            "sustain_score": scores.sustain,
            "anomaly_score": scores.alarm,
        }

    def decide(
        self,
        points: dict[str, np.ndarray],
        *,
        alerting_ready: bool | np.ndarray = True,
        index: pd.DatetimeIndex | None = None,
        step: pd.Timedelta | None = None,
    ) -> dict[str, np.ndarray]:
        """The post-rules' columns for scored arrays (see :func:`detector.post_rules.decide`)."""
        return decide(
            points["value"],
            points["expected"],
            points["completeness"],
            points["tail_score"],
            self.config,
            alerting_ready=alerting_ready,
            index=index,
            sustain=points["sustain_score"],
            step=step,
        )

    def detect(
        self,
        scored: pd.DataFrame,
        *,
        alerting_ready: bool | np.ndarray = True,
        step: pd.Timedelta | None = None,
    ) -> Detection:
        """Apply the post-rules to a scored frame and group the anomalous points into events."""
        index = pd.DatetimeIndex(scored.index)
        decided = apply_post_rules(scored, self.config, alerting_ready=alerting_ready)
        events = build_events(decided, step or infer_step(index), merge_gap=self.config.merge_gap)
        return Detection.of_frame(decided, events, self.config.completeness_policy)

    def run(
        self,
        baseline: Baseline,
        y: pd.Series,
        *,
        completeness: np.ndarray | pd.Series | None = None,
        as_of: pd.Timestamp | None = None,
        fit: bool = True,
    ) -> Detection:
        """Fit ``baseline`` on ``y`` (unless ``fit=False``: a stored model), forecast ``y``'s index, decide.

        Without an explicit ``completeness``, the newest period's is what the clock implies at ``as_of``.
        Partial periods are left out of the fit so they cannot drag the baseline down.
        """
        index = y.index if isinstance(y.index, pd.DatetimeIndex) else pd.DatetimeIndex(y.index)
        step = infer_step(index)
        if completeness is None:
            completeness = period_completeness(index, step, as_of)
        c = nan_to_num(np.asarray(completeness, dtype=np.float64), nan=1.0)
        if fit:
            baseline.fit(y.where(c >= 1.0))  # the caller's Series itself (its name and dtype)
        return self.run_arrays(
            baseline, np.asarray(y, dtype=np.float64), index, completeness=c, fit=False, step=step
        )

    def run_arrays(
        self,
        baseline: Baseline,
        values: np.ndarray,
        index: pd.DatetimeIndex,
        *,
        completeness: np.ndarray | pd.Series,
        fit: bool = True,
        step: pd.Timedelta | None = None,
    ) -> Detection:
        """:meth:`run` on a float array on ``index`` (``step``: its spacing, inferred when not given), for
        the scoring API: a request's series never needs to be a pandas Series unless it is fitted."""
        step = step if step is not None else infer_step(index)
        c = nan_to_num(np.asarray(completeness, dtype=np.float64), nan=1.0)
        if fit:
            baseline.fit(pd.Series(values, index=index).where(c >= 1.0))
        ticks = index.asi8
        unit = index.unit
        points = self._score_clean(
            values, forecast_arrays(baseline, index), c, step, _nanoseconds(index, ticks, str(unit))
        )
        # On the index's integers: indexing a DatetimeIndex by a mask builds a new index.
        seen = ticks[c >= 1.0]
        # The span seen, compared in nanoseconds as Timedelta compares (building one costs more).
        span_ns = int(seen[-1] - seen[0]) * _NS_PER_TICK[str(unit)] if len(seen) > 1 else None
        mature = span_ns is not None and span_ns >= min_alert_span(step).value
        ready = mature and bool(getattr(baseline, "alerting_ready_", True))
        # The alarm horizon's step: ``step`` itself on a regular grid of it (what the post-rules would
        # work out from the index again, at a cost), else theirs.
        spacing = grid_step(ticks)
        regular = spacing is not None and spacing * _NS_PER_TICK[str(unit)] == step.value
        points.update(self.decide(points, alerting_ready=ready, index=index, step=step if regular else None))
        return Detection(
            columns=points,
            index=index,
            anomalies=events_from_arrays(points, index, step, merge_gap=self.config.merge_gap),
            completeness_policy=self.config.completeness_policy,
            held_back=int(points["held_back"].sum()),
        )
