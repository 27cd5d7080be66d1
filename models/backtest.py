"""Rolling-origin backtests: MASE and interval coverage of a baseline on horizons it has not seen.

Each origin cuts the series, fits a clone of the estimator on everything before the cut and forecasts
the next ``horizon`` points; origins step back from the end by one horizon each, so the held-out windows
tile the most recent history. MASE divides the forecast's mean absolute error by the in-sample mean
absolute error of the seasonal naive forecast (lag one season), so it is comparable across series of any
scale: below 1 beats "same as last week / yesterday".
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import clone

from core.types import Granularity
from models.base import Baseline
from models.fourier import infer_granularity, to_utc_naive

SEASON_LENGTH: dict[Granularity, int] = {Granularity.HOUR: 24, Granularity.DAY: 7}
# One day of hours, one week of days: what a model forecasts between two daily / weekly retrainings.
DEFAULT_HORIZON: dict[Granularity, int] = {Granularity.HOUR: 24, Granularity.DAY: 7}


def mase_scale(y_train: np.ndarray, season: int) -> float:
    """In-sample MAE of the seasonal naive forecast (lag-1 naive when under two seasons); NaN if zero."""
    y = np.asarray(y_train, dtype=np.float64)
    lag = season if np.isfinite(y).sum() > 2 * season else 1
    diffs = np.abs(y[lag:] - y[:-lag])
    diffs = diffs[np.isfinite(diffs)]
    scale = float(diffs.mean()) if diffs.size else float("nan")
    return scale if scale > 0 else float("nan")


def mase(y_true: np.ndarray, y_pred: np.ndarray, y_train: np.ndarray, season: int) -> float:
    ok = np.isfinite(y_true) & np.isfinite(y_pred)
    if not ok.any():
        return float("nan")
    return float(np.mean(np.abs(y_true[ok] - y_pred[ok]))) / mase_scale(y_train, season)


@dataclass(frozen=True, slots=True)
class BacktestResult:
    """Mean MASE and pooled coverage over the origins, and the figures of each origin."""

    mase: float
    coverage: float
    n_points: int
    origins: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "mase": self.mase,
            "coverage": self.coverage,
            "n_points": self.n_points,
            "origins": self.origins,
        }


def rolling_origin_backtest(
    estimator: Baseline,
    y: pd.Series,
    *,
    n_origins: int = 3,
    horizon: int | None = None,
    granularity: str | None = None,
) -> BacktestResult:
    """Backtest a clone of ``estimator`` on the last ``n_origins`` horizons of ``y`` (by position)."""
    y = pd.Series(np.asarray(y, dtype=np.float64), index=to_utc_naive(pd.DatetimeIndex(y.index))).sort_index()
    gran = infer_granularity(pd.DatetimeIndex(y.index), granularity)
    h = horizon or DEFAULT_HORIZON[gran]
    season = SEASON_LENGTH[gran]
    values = y.to_numpy()
    origins: list[dict[str, Any]] = []
    hits = total = 0
    for k in range(n_origins, 0, -1):
        cut = len(y) - k * h
        if cut < 2:
            continue
        test = y.iloc[cut : cut + h]
        model = clone(estimator).fit(y.iloc[:cut])
        forecast = model.predict(pd.DatetimeIndex(test.index))
        truth = test.to_numpy()
        ok = np.isfinite(truth)
        inside = (truth >= forecast["lower"].to_numpy()) & (truth <= forecast["upper"].to_numpy())
        hits += int(inside[ok].sum())
        total += int(ok.sum())
        score = mase(truth, forecast["expected"].to_numpy(), values[:cut], season)
        origins.append({"origin": y.index[cut].isoformat(), "mase": score, "n": int(ok.sum())})
    scores = [o["mase"] for o in origins if np.isfinite(o["mase"])]
    mean = float(np.mean(scores)) if scores else float("nan")
    return BacktestResult(mean, hits / total if total else float("nan"), total, origins)
