"""The cold-start baseline: a robust level plus an hour-of-day or day-of-week profile.

Series younger than a minimum history (a new product, a new cost line) cannot support a trend and
several seasonalities, so the other baselines hand them to this one and say so in their record; its
``alerting_ready_`` is always false, so the detector scores these series but does not alert on them.
"""

from __future__ import annotations

from typing import Any, Self

import numpy as np
import pandas as pd
from scipy.stats import norm
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted

from core.types import Granularity
from models.base import FORECAST_COLUMNS
from models.fourier import infer_granularity, to_utc_naive

# Below these many observed points a baseline is in cold start: a week of hours, four weeks of days.
MIN_HISTORY: dict[Granularity, int] = {Granularity.HOUR: 7 * 24, Granularity.DAY: 28}


def default_min_history(granularity: Granularity) -> int:
    return MIN_HISTORY[granularity]


def iso(t: pd.Timestamp | None) -> str | None:
    return None if t is None else t.isoformat()


def observed(y: pd.Series) -> pd.Series:
    """The series on a tz-naive UTC index, sorted, without missing points."""
    values = pd.Series(np.asarray(y, dtype=np.float64), index=to_utc_naive(pd.DatetimeIndex(y.index)))
    return values.sort_index().dropna()


def _profile_key(index: pd.DatetimeIndex, granularity: Granularity) -> np.ndarray:
    if granularity is Granularity.HOUR:
        return np.asarray(index.hour, dtype=np.int64)
    return np.asarray(index.day_of_week, dtype=np.int64)


class ColdStartBaseline(BaseEstimator):  # type: ignore[misc]
    """Median level of the recent ``window`` points plus a median profile once two cycles are seen.

    Parameters
    ----------
    granularity : "hour", "day" or None to infer it from the index spacing.
    interval_width : central share of normal values inside ``[lower, upper]``.
    window : recent observed points the level is the median of (None: a week of hours, four weeks of days).
    """

    def __init__(
        self, *, granularity: str | None = None, interval_width: float = 0.95, window: int | None = None
    ) -> None:
        self.granularity = granularity
        self.interval_width = interval_width
        self.window = window

    def fit(self, y: pd.Series) -> Self:
        obs = observed(y)
        self.granularity_ = infer_granularity(pd.DatetimeIndex(obs.index), self.granularity)
        self.n_obs_ = len(obs)
        self.first_observed_ = obs.index[0] if len(obs) else None
        self.last_observed_ = obs.index[-1] if len(obs) else None
        self.alerting_ready_ = False
        n_keys = 24 if self.granularity_ is Granularity.HOUR else 7
        self.profile_ = np.zeros(n_keys)
        if len(obs) == 0:
            # Nothing observed: no basis for any expectation, and NaN says so rather than inventing 0.
            self.level_ = float("nan")
            self.resid_lower_ = self.resid_upper_ = float("nan")
            return self
        window = self.window or default_min_history(self.granularity_)
        values = obs.to_numpy()
        level = float(np.median(values[-window:]))
        index = pd.DatetimeIndex(obs.index)
        keys = _profile_key(index, self.granularity_)
        span_days = (index[-1] - index[0]) / pd.Timedelta(days=1)
        if span_days >= (2.0 if self.granularity_ is Granularity.HOUR else 14.0):
            dev = values - level
            for k in np.unique(keys):
                self.profile_[k] = float(np.median(dev[keys == k]))
            # Centre the profile so that the level carries the mean and the profile only the shape.
            shift = float(self.profile_[np.unique(keys)].mean())
            self.profile_[np.unique(keys)] -= shift
            level += shift
        self.level_ = level
        resid = values - (level + self.profile_[keys])
        z = float(norm.ppf(0.5 + self.interval_width / 2.0))
        # Few points make empirical tail quantiles unreliable: take the wider of those and a normal band
        # on the robust scale, inflated for the uncertainty of the level itself.
        sigma = 1.4826 * float(np.median(np.abs(resid))) * float(np.sqrt(1.0 + 1.0 / len(values)))
        alpha = 1.0 - self.interval_width
        self.resid_lower_ = min(float(np.quantile(resid, alpha / 2.0)), -z * sigma)
        self.resid_upper_ = max(float(np.quantile(resid, 1.0 - alpha / 2.0)), z * sigma)
        return self

    def predict(self, index: pd.DatetimeIndex) -> pd.DataFrame:
        check_is_fitted(self, "level_")
        idx = to_utc_naive(pd.DatetimeIndex(index))
        seasonal = self.profile_[_profile_key(idx, self.granularity_)]
        trend = np.full(len(idx), self.level_)
        expected = trend + seasonal
        frame = {
            "expected": expected,
            "lower": expected + self.resid_lower_,
            "upper": expected + self.resid_upper_,
            "trend": trend,
            "seasonal": seasonal,
        }
        return pd.DataFrame(frame, index=pd.DatetimeIndex(index), columns=list(FORECAST_COLUMNS))

    def record(self) -> dict[str, Any]:
        """What the model registry and ``/v1/score`` say about this fit."""
        check_is_fitted(self, "level_")
        return {
            "model_type": "cold_start",
            "regime": "cold_start",
            "alerting_ready": self.alerting_ready_,
            "granularity": self.granularity_.value,
            "n_obs": self.n_obs_,
            "first_observed": iso(self.first_observed_),
            "last_observed": iso(self.last_observed_),
        }
