"""The Prophet baseline: changepoints, country holidays, additive or multiplicative seasonality.

A thin scikit-learn-style wrapper around ``prophet.Prophet`` for the series where its Bayesian trend
and holiday effects beat the batched model (``models.auto`` decides per series). It forecasts the same
columns as every baseline; ``seasonal`` is ``yhat − trend`` (holidays included), in currency units even
in multiplicative mode. Prediction intervals are sampled, so sampling is seeded by ``random_state``
(and the global NumPy state restored afterwards) to make a reloaded artifact predict exactly the same.
Prophet is imported on first fit, not when this module is imported: it is slow to load.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Literal, Self

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted

from core.types import Granularity
from models.base import FORECAST_COLUMNS
from models.cold_start import ColdStartBaseline, default_min_history, iso, observed
from models.fourier import infer_granularity, to_utc_naive


def quiet_prophet_logs() -> None:
    """Silence cmdstanpy's per-fit INFO lines and Prophet's notes; a fleet fit would print thousands."""
    for name in ("cmdstanpy", "prophet", "prophet.plot"):
        logger = logging.getLogger(name)
        # prophet.plot reports a missing optional plotly at ERROR level on import; plots are unused here.
        logger.setLevel(logging.CRITICAL if name == "prophet.plot" else logging.ERROR)
        if name == "cmdstanpy" and not logger.handlers:
            # cmdstanpy installs its own INFO handler (and level) on first use unless one is there.
            logger.addHandler(logging.NullHandler())


@contextmanager
def prophet_quiet() -> Iterator[None]:
    """Around calls into Prophet: no per-fit log lines, no deprecation noise from its pandas use."""
    quiet_prophet_logs()
    with warnings.catch_warnings():
        # Prophet 1.5 still uses pandas APIs that pandas 3 deprecates; the warnings are its to fix.
        warnings.filterwarnings("ignore", category=DeprecationWarning, module=r"prophet\.")
        warnings.filterwarnings("ignore", category=FutureWarning, module=r"prophet\.")
        yield


class ProphetBaseline(BaseEstimator):  # type: ignore[misc]
    """Prophet, with the cold-start fallback and output columns of every spendsentry baseline.

    Parameters
    ----------
    granularity : "hour", "day", or None to infer from the index spacing.
    interval_width : central share of normal values inside ``[lower, upper]``.
    growth, n_changepoints, changepoint_range, changepoint_prior_scale : Prophet's trend settings.
    seasonality_mode : "additive" or "multiplicative".
    seasonality_prior_scale, holidays_prior_scale : Prophet's priors.
    holidays_country : ISO country code whose public holidays enter the model (None: no holidays).
    monthly_seasonality : add a monthly Fourier term (order 3) to daily series with two months of history.
    uncertainty_samples : posterior draws for the intervals.
    random_state : seed of the interval sampling (None: unseeded, predictions vary run to run).
    min_history : observed points below which the cold-start model is used (None: by granularity).
    """

    def __init__(
        self,
        *,
        granularity: str | None = None,
        interval_width: float = 0.95,
        growth: Literal["linear", "logistic", "flat"] = "linear",
        n_changepoints: int = 25,
        changepoint_range: float = 0.8,
        changepoint_prior_scale: float = 0.05,
        seasonality_mode: Literal["additive", "multiplicative"] = "additive",
        seasonality_prior_scale: float = 10.0,
        holidays_country: str | None = None,
        holidays_prior_scale: float = 10.0,
        monthly_seasonality: bool = True,
        uncertainty_samples: int = 1000,
        random_state: int | None = 0,
        min_history: int | None = None,
    ) -> None:
        self.granularity = granularity
        self.interval_width = interval_width
        self.growth = growth
        self.n_changepoints = n_changepoints
        self.changepoint_range = changepoint_range
        self.changepoint_prior_scale = changepoint_prior_scale
        self.seasonality_mode = seasonality_mode
        self.seasonality_prior_scale = seasonality_prior_scale
        self.holidays_country = holidays_country
        self.holidays_prior_scale = holidays_prior_scale
        self.monthly_seasonality = monthly_seasonality
        self.uncertainty_samples = uncertainty_samples
        self.random_state = random_state
        self.min_history = min_history

    def fit(self, y: pd.Series) -> Self:
        obs = observed(y)
        index = pd.DatetimeIndex(obs.index)
        self.granularity_ = infer_granularity(index, self.granularity)
        self.n_obs_ = len(obs)
        self.first_observed_ = index[0] if len(obs) else None
        self.last_observed_ = index[-1] if len(obs) else None
        if self.n_obs_ < max(self.min_history or default_min_history(self.granularity_), 2):
            cold = ColdStartBaseline(granularity=self.granularity_.value, interval_width=self.interval_width)
            self.cold_start_ = cold.fit(obs)
            self.regime_ = "cold_start"
            self.alerting_ready_ = False
            return self
        with prophet_quiet():
            self.prophet_ = self._fit_prophet(obs, index)
        self.regime_ = "prophet"
        self.alerting_ready_ = True
        return self

    def _fit_prophet(self, obs: pd.Series, index: pd.DatetimeIndex) -> Any:
        from prophet import Prophet

        model = Prophet(
            growth=self.growth,
            n_changepoints=self.n_changepoints,
            changepoint_range=self.changepoint_range,
            changepoint_prior_scale=self.changepoint_prior_scale,
            seasonality_mode=self.seasonality_mode,
            seasonality_prior_scale=self.seasonality_prior_scale,
            holidays_prior_scale=self.holidays_prior_scale,
            interval_width=self.interval_width,
            uncertainty_samples=self.uncertainty_samples,
        )
        if self.holidays_country:
            model.add_country_holidays(country_name=self.holidays_country)
        span_days = (index[-1] - index[0]) / pd.Timedelta(days=1)
        if self.monthly_seasonality and self.granularity_ is Granularity.DAY and span_days >= 60:
            model.add_seasonality(name="monthly", period=30.5, fourier_order=3)
        model.fit(pd.DataFrame({"ds": index, "y": obs.to_numpy()}))
        return model

    def predict(self, index: pd.DatetimeIndex) -> pd.DataFrame:
        check_is_fitted(self, "regime_")
        if self.regime_ == "cold_start":
            return self.cold_start_.predict(index)
        future = pd.DataFrame({"ds": to_utc_naive(pd.DatetimeIndex(index))})
        saved = np.random.get_state()
        if self.random_state is not None:
            np.random.seed(self.random_state)
        try:
            with prophet_quiet():
                fc = self.prophet_.predict(future)
        finally:
            np.random.set_state(saved)
        expected = fc["yhat"].to_numpy()
        trend = fc["trend"].to_numpy()
        frame = {
            "expected": expected,
            "lower": fc["yhat_lower"].to_numpy(),
            "upper": fc["yhat_upper"].to_numpy(),
            "trend": trend,
            "seasonal": expected - trend,
        }
        return pd.DataFrame(frame, index=pd.DatetimeIndex(index), columns=list(FORECAST_COLUMNS))

    def record(self) -> dict[str, Any]:
        """What the model registry and ``/v1/score`` say about this fit."""
        check_is_fitted(self, "regime_")
        if self.regime_ == "cold_start":
            return {**self.cold_start_.record(), "model_type": "prophet"}
        return {
            "model_type": "prophet",
            "regime": self.regime_,
            "alerting_ready": self.alerting_ready_,
            "granularity": self.granularity_.value,
            "n_obs": self.n_obs_,
            "first_observed": iso(self.first_observed_),
            "last_observed": iso(self.last_observed_),
            "seasonalities": sorted(self.prophet_.seasonalities),
            "holidays_country": self.holidays_country,
        }
