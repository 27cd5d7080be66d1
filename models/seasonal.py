"""The batched robust seasonal baseline: piecewise-linear trend plus Fourier seasonality, Huber-fitted.

``BatchedSeasonalBaseline.fit(y)`` fits one series; ``fit_many(Y)`` fits every column of a frame at once
and returns a :class:`SeasonalBatch` that hands out per-series fitted estimators. Both take the same
path: series are grouped by their first and last observed point, each group shares one design matrix
(:mod:`models.fourier`), and the Huber fit runs on the whole group in a few matrix products
(:mod:`models.robust_fit`). A series fitted alone therefore gets the very model it gets in a batch.

Regressors by granularity: hourly data get daily and weekly seasonality; daily data get weekly,
calendar-monthly and, from two years of history, yearly. From one month of history (32 days: one first and
one last day of a month seen) both get billing's calendar effects: the first of the month (where monthly
charges land) and the last (month-end closing jobs), a lift of the whole day (hour by hour for hourly data). Below ``min_history`` observed points a series is handed to
:class:`~models.cold_start.ColdStartBaseline` and is not ready for alerting.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Self

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted

from core.types import Granularity
from models.backtest import DEFAULT_HORIZON
from models.base import FORECAST_COLUMNS, forecast_arrays
from models.cold_start import ColdStartBaseline, default_min_history
from models.fourier import DesignSpec, build_design, infer_granularity, make_spec, to_utc_naive
from models.robust_fit import fit_complete, fit_masked

# Ridge on seasonal coefficients only keeps barely identified blocks (a month seen twice) finite.
_SEASONAL_PENALTY = 1e-4
# Hour-by-hour calendar columns each hold one point a month: under the Huber loss a single point cannot
# pull its coefficient further than about c·s/λ, so the seasonal ridge would cap a month-start batch job
# at a few noise widths. A token ridge keeps a column with no observed point finite, nothing more.
_CALENDAR_HOUR_PENALTY = 1e-9


class BatchedSeasonalBaseline(BaseEstimator):  # type: ignore[misc]
    """Robust trend + seasonality baseline, fitted one series at a time or thousands at once.

    Parameters
    ----------
    granularity : "hour", "day", or None to infer from the index spacing.
    interval_width : central share of normal values inside ``[lower, upper]``.
    n_changepoints, changepoint_range : trend hinges, evenly spaced over the first share of history.
    trend_penalty : ridge weight per observation on each change of slope (larger = stiffer trend).
    daily_order, weekly_order, monthly_order, yearly_order : Fourier pairs per seasonality (0 = off).
    month_start : add a first-of-the-month effect (from one month of history; intraday data hour by hour).
    month_end : add a last-day-of-the-month effect (month-end closing jobs, reports), as ``month_start``.
    huber_c : Huber threshold in robust standard deviations; residuals beyond it count linearly.
    min_history : observed points below which the cold-start model is used (None: by granularity).
    max_iter, tol : robust iterations; stop when fitted values move less than ``tol`` × scale.
    cv_block : points per left-out block when estimating the interval (None: one forecast horizon).
    interval_scale : widening of the block residual quantiles. Blocks left out inside the history are
        interpolated from both sides, a forecast only from the past; 1.1 brought 95% intervals to
        95% coverage in backtests on synthetic spend with autocorrelated noise (1.0 gave 92-93%).
    chunk_size : series per vectorised block in ``fit_many`` (memory only; results do not depend on it).
    """

    def __init__(
        self,
        *,
        granularity: str | None = None,
        interval_width: float = 0.95,
        n_changepoints: int = 10,
        changepoint_range: float = 0.8,
        trend_penalty: float = 0.01,
        daily_order: int = 6,
        weekly_order: int = 3,
        monthly_order: int = 3,
        yearly_order: int = 6,
        month_start: bool = True,
        month_end: bool = True,
        huber_c: float = 1.345,
        min_history: int | None = None,
        max_iter: int = 100,
        tol: float = 1e-6,
        cv_block: int | None = None,
        interval_scale: float = 1.1,
        chunk_size: int = 4096,
    ) -> None:
        self.granularity = granularity
        self.interval_width = interval_width
        self.n_changepoints = n_changepoints
        self.changepoint_range = changepoint_range
        self.trend_penalty = trend_penalty
        self.daily_order = daily_order
        self.weekly_order = weekly_order
        self.monthly_order = monthly_order
        self.yearly_order = yearly_order
        self.month_start = month_start
        self.month_end = month_end
        self.huber_c = huber_c
        self.min_history = min_history
        self.max_iter = max_iter
        self.tol = tol
        self.cv_block = cv_block
        self.interval_scale = interval_scale
        self.chunk_size = chunk_size

    def fit(self, y: pd.Series) -> Self:
        batch = self.fit_many(pd.DataFrame({0: pd.Series(y, copy=False)}))
        batch.fill(0, self)
        return self

    def fit_many(self, Y: pd.DataFrame) -> SeasonalBatch:
        """Fit every column of ``Y`` (rows: a DatetimeIndex; NaN = missing) in shared-design blocks."""
        index = to_utc_naive(pd.DatetimeIndex(Y.index))
        order = np.argsort(index.asi8, kind="stable")
        index = index[order]
        V = np.ascontiguousarray(Y.to_numpy(dtype=np.float64, na_value=np.nan)[order].T)
        granularity = infer_granularity(index, self.granularity)
        min_history = max(self.min_history or default_min_history(granularity), 2)
        obs = ~np.isnan(V)
        n_obs = obs.sum(axis=1)
        first = np.argmax(obs, axis=1)
        last = V.shape[1] - 1 - np.argmax(obs[:, ::-1], axis=1)
        batch = SeasonalBatch(self.get_params(deep=False), granularity)
        for j in np.flatnonzero(n_obs < min_history):
            cold = ColdStartBaseline(granularity=granularity.value, interval_width=self.interval_width)
            batch.add_cold(Y.columns[int(j)], cold.fit(pd.Series(V[j], index=index)))
        warm = np.flatnonzero(n_obs >= min_history)
        spans, group_of = np.unique(np.stack([first[warm], last[warm]], axis=1), axis=0, return_inverse=True)
        for g, (lo, hi) in enumerate(spans):
            rows = warm[group_of.ravel() == g]
            self._fit_group(batch, Y.columns, index[lo : hi + 1], V[rows, lo : hi + 1], rows, granularity)
        return batch

    def _fit_group(
        self,
        batch: SeasonalBatch,
        columns: pd.Index,
        index: pd.DatetimeIndex,
        V: np.ndarray,
        rows: np.ndarray,
        granularity: Granularity,
    ) -> None:
        spec = make_spec(
            index,
            granularity,
            n_changepoints=self.n_changepoints,
            changepoint_range=self.changepoint_range,
            daily_order=self.daily_order,
            weekly_order=self.weekly_order,
            monthly_order=self.monthly_order,
            yearly_order=self.yearly_order,
            month_start=self.month_start,
            month_end=self.month_end,
        )
        X = build_design(index, spec)
        per_obs = np.full(spec.n_columns, _SEASONAL_PENALTY)
        per_obs[:2] = 0.0
        per_obs[2 : spec.n_trend] = self.trend_penalty
        if spec.calendar_by_hour:  # the calendar columns come last
            per_obs[spec.n_columns - (int(spec.month_start) + int(spec.month_end)) * 24 :] = (
                _CALENDAR_HOUR_PENALTY
            )
        alpha = 1.0 - self.interval_width
        options: dict[str, Any] = {
            "huber_c": self.huber_c,
            "quantiles": (alpha / 2.0, 1.0 - alpha / 2.0),
            "block": self.cv_block or DEFAULT_HORIZON[granularity],
            "tol": self.tol,
            "max_iter": self.max_iter,
        }
        complete = ~np.isnan(V).any(axis=1)
        for part in (np.flatnonzero(complete), np.flatnonzero(~complete)):
            for start in range(0, part.size, self.chunk_size):
                chunk = part[start : start + self.chunk_size]
                if complete[chunk[0]]:
                    fit = fit_complete(X, V[chunk], per_obs * len(index), **options)
                else:
                    fit = fit_masked(X, V[chunk], per_obs, **options)
                n_obs = (~np.isnan(V[chunk])).sum(axis=1)
                names: list[Hashable] = [columns[int(r)] for r in rows[chunk]]
                lower = fit.resid_lower * self.interval_scale
                upper = fit.resid_upper * self.interval_scale
                group = _GroupFit(
                    spec, names, fit.coef, fit.scale, lower, upper, n_obs, fit.n_iter, index[0], index[-1]
                )
                batch.add_group(group)

    def predict(self, index: pd.DatetimeIndex) -> pd.DataFrame:
        check_is_fitted(self, "regime_")
        if self.regime_ == "cold_start":
            cold: pd.DataFrame = self.cold_start_.predict(index)
            return cold
        frame = self.predict_arrays(index)
        return pd.DataFrame(frame, index=pd.DatetimeIndex(index), columns=list(FORECAST_COLUMNS), copy=False)

    def predict_arrays(self, index: pd.DatetimeIndex) -> dict[str, np.ndarray]:
        """:meth:`predict` as plain arrays (see :func:`models.base.forecast_arrays`)."""
        if not hasattr(self, "regime_"):  # check_is_fitted's own test, without its cost on every request
            check_is_fitted(self, "regime_")  # raises NotFittedError, worded as everywhere else
        if self.regime_ == "cold_start":
            return forecast_arrays(self.cold_start_, index)
        # A sweep passes a DatetimeIndex already; wrapping it again costs more than the forecast itself.
        times = index if isinstance(index, pd.DatetimeIndex) else pd.DatetimeIndex(index)
        X = build_design(to_utc_naive(times), self.spec_)
        k = self.spec_.n_trend
        trend = X[:, :k] @ self.coef_[:k]
        seasonal = X[:, k:] @ self.coef_[k:]
        expected = trend + seasonal
        return {
            "expected": expected,
            "lower": expected + self.resid_lower_,
            "upper": expected + self.resid_upper_,
            "trend": trend,
            "seasonal": seasonal,
        }

    def record(self) -> dict[str, Any]:
        """What the model registry and ``/v1/score`` say about this fit."""
        check_is_fitted(self, "regime_")
        if self.regime_ == "cold_start":
            return {**self.cold_start_.record(), "model_type": "seasonal"}
        return {
            "model_type": "seasonal",
            "regime": self.regime_,
            "alerting_ready": self.alerting_ready_,
            "granularity": self.granularity_.value,
            "n_obs": self.n_obs_,
            "first_observed": self.first_observed_.isoformat(),
            "last_observed": self.last_observed_.isoformat(),
            "seasonalities": [s.name for s in self.spec_.seasonalities],
            "n_changepoints": len(self.spec_.changepoints),
            "robust_iterations": self.n_iter_,
        }


@dataclass(frozen=True, slots=True)
class _GroupFit:
    spec: DesignSpec
    names: list[Hashable]
    coef: np.ndarray
    scale: np.ndarray
    resid_lower: np.ndarray
    resid_upper: np.ndarray
    n_obs: np.ndarray
    n_iter: np.ndarray
    first: pd.Timestamp
    last: pd.Timestamp


class SeasonalBatch(Mapping[Hashable, BatchedSeasonalBaseline]):
    """The result of ``fit_many``: a mapping from column name to its fitted estimator, built on access.

    Estimators are materialised lazily because a fleet fit keeps its state as a few arrays per design
    group; ``predict_many`` forecasts every warm series per group with one matrix product.
    """

    def __init__(self, params: dict[str, Any], granularity: Granularity) -> None:
        self.params = params
        self.granularity = granularity
        self.groups: list[_GroupFit] = []
        self.cold: dict[Hashable, ColdStartBaseline] = {}
        self._where: dict[Hashable, tuple[int, int]] = {}

    def add_group(self, group: _GroupFit) -> None:
        for row, name in enumerate(group.names):
            self._where[name] = (len(self.groups), row)
        self.groups.append(group)

    def add_cold(self, name: Hashable, model: ColdStartBaseline) -> None:
        self.cold[name] = model

    def fill(self, name: Hashable, est: BatchedSeasonalBaseline) -> BatchedSeasonalBaseline:
        """Give ``est`` the fitted state of series ``name``."""
        est.granularity_ = self.granularity
        if name in self.cold:
            cold = self.cold[name]
            est.regime_ = "cold_start"
            est.cold_start_ = cold
            est.alerting_ready_ = False
            est.n_obs_ = cold.n_obs_
            est.first_observed_, est.last_observed_ = cold.first_observed_, cold.last_observed_
            return est
        g, row = self._where[name]
        group = self.groups[g]
        est.regime_ = "seasonal"
        est.alerting_ready_ = True
        est.spec_ = group.spec
        est.coef_ = group.coef[row].copy()
        est.scale_ = float(group.scale[row])
        est.resid_lower_ = float(group.resid_lower[row])
        est.resid_upper_ = float(group.resid_upper[row])
        est.n_obs_ = int(group.n_obs[row])
        est.n_iter_ = int(group.n_iter[row])
        est.first_observed_, est.last_observed_ = group.first, group.last
        return est

    def __getitem__(self, name: Hashable) -> BatchedSeasonalBaseline:
        if name not in self.cold and name not in self._where:
            raise KeyError(name)
        return self.fill(name, BatchedSeasonalBaseline(**self.params))

    def __iter__(self) -> Iterator[Hashable]:
        yield from self._where
        yield from self.cold

    def __len__(self) -> int:
        return len(self._where) + len(self.cold)

    def predict_many(self, index: pd.DatetimeIndex) -> dict[str, pd.DataFrame]:
        """Forecast every series at ``index``: one frame per forecast column, one column per series."""
        idx = to_utc_naive(pd.DatetimeIndex(index))
        out: dict[str, list[pd.DataFrame]] = {c: [] for c in FORECAST_COLUMNS}
        for group in self.groups:
            X = build_design(idx, group.spec)
            k = group.spec.n_trend
            trend = X[:, :k] @ group.coef[:, :k].T
            seasonal = X[:, k:] @ group.coef[:, k:].T
            expected = trend + seasonal
            parts = {
                "expected": expected,
                "lower": expected + group.resid_lower[None, :],
                "upper": expected + group.resid_upper[None, :],
                "trend": trend,
                "seasonal": seasonal,
            }
            for c in FORECAST_COLUMNS:
                out[c].append(pd.DataFrame(parts[c], index=pd.DatetimeIndex(index), columns=group.names))
        for name, cold in self.cold.items():
            frame = cold.predict(pd.DatetimeIndex(index))
            for c in FORECAST_COLUMNS:
                out[c].append(frame[[c]].rename(columns={c: name}))
        return {c: pd.concat(out[c], axis=1) for c in FORECAST_COLUMNS}
