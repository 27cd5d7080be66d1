"""The detector: baseline forecast → anomaly score → post-rules → events, each step a separate call.

``score()`` only measures how unusual each point is (:mod:`detector.scoring`); ``detect()`` only decides
(:mod:`detector.post_rules`) and groups (:mod:`detector.events`). Keeping them apart (as Merlion keeps
models and post-processing apart) lets a replay score once and try several rule sets, and lets the API
show the score of every point even where no rule fires.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd

from core.anomaly import Anomaly
from detector.events import build_events
from detector.post_rules import DetectorConfig, apply_post_rules, min_alert_span, period_completeness
from detector.scoring import anomaly_scores
from models.base import Baseline

POINT_COLUMNS: tuple[str, ...] = (
    "value",
    "expected",
    "lower",
    "upper",
    "trend",
    "seasonal",
    "completeness",
    "z",
    "anomaly_score",
)


@dataclass(frozen=True)
class Detection:
    """The verdict on one series: every point (scored and decided) and the anomaly events."""

    points: pd.DataFrame  # POINT_COLUMNS + candidate, held_back, flagged, is_anomaly
    anomalies: list[Anomaly]
    completeness_policy: str
    held_back: int  # periods held back as too incomplete to judge

    def completeness_note(self) -> dict[str, Any]:
        partial = int((self.points["completeness"].fillna(1.0) < 1.0).sum())
        return {"policy": self.completeness_policy, "partial_periods": partial, "held_back": self.held_back}


def infer_step(index: pd.DatetimeIndex) -> pd.Timedelta:
    """The series' period: the most common spacing (one day when there is a single point)."""
    if len(index) < 2:
        return pd.Timedelta(days=1)
    diffs = pd.Series(np.diff(index.asi8)).mode()
    return pd.Timedelta(int(diffs.iloc[0]), unit=index.unit)


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
        step = step or infer_step(index)
        # Positional when the forecast is already on y's rows (a replay keeps repeated timestamps).
        same = len(forecast) == len(index) and bool((pd.DatetimeIndex(forecast.index) == index).all())
        frame = forecast.copy() if same else forecast.reindex(index)
        frame.insert(0, "value", np.asarray(y, dtype=np.float64))
        c = (
            np.ones(len(index))
            if completeness is None
            else np.nan_to_num(np.asarray(completeness, dtype=np.float64), nan=1.0)
        )
        frame["completeness"] = c
        score, z = anomaly_scores(
            frame["value"].to_numpy(),
            frame["expected"].to_numpy(dtype=np.float64),
            direction=self.config.direction,
            completeness=c,
            points_per_day=pd.Timedelta(days=1) / step,
            config=self.config.score,
        )
        frame["z"] = z
        frame["anomaly_score"] = score
        return frame[list(POINT_COLUMNS)]

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
        return Detection(
            points=decided,
            anomalies=events,
            completeness_policy=self.config.completeness_policy,
            held_back=int(decided["held_back"].sum()),
        )

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
        index = pd.DatetimeIndex(y.index)
        step = infer_step(index)
        if completeness is None:
            completeness = period_completeness(index, step, as_of)
        c = np.nan_to_num(np.asarray(completeness, dtype=np.float64), nan=1.0)
        if fit:
            baseline.fit(y.where(c >= 1.0))
        forecast = baseline.predict(index)
        scored = self.score(y, forecast, completeness=c, step=step)
        seen = pd.DatetimeIndex(y.index[c >= 1.0])
        mature = len(seen) > 1 and (seen[-1] - seen[0]) >= min_alert_span(step)
        ready = mature and bool(getattr(baseline, "alerting_ready_", True))
        return self.detect(scored, alerting_ready=ready, step=step)
