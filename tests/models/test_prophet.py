"""The Prophet baseline: holidays, multiplicative mode, cold start; few fits, Prophet takes ~0.1-1 s each."""

from __future__ import annotations

import numpy as np
import pandas as pd

from models.prophet_baseline import ProphetBaseline
from tests.models.synthetic import daily


def test_holidays_country_adds_holiday_effects() -> None:
    y = daily(400, start="2023-01-01")
    y[y.index.strftime("%m-%d") == "12-25"] -= 60.0
    model = ProphetBaseline(holidays_country="US", uncertainty_samples=100).fit(y)
    assert "Christmas Day" in set(model.prophet_.train_holiday_names)
    out = model.predict(pd.DatetimeIndex(["2024-12-24", "2024-12-25"]))
    assert out["expected"].iloc[1] < out["expected"].iloc[0] - 30.0


def test_multiplicative_mode_keeps_seasonal_as_yhat_minus_trend() -> None:
    model = ProphetBaseline(seasonality_mode="multiplicative", uncertainty_samples=100).fit(daily(90))
    out = model.predict(pd.date_range("2024-04-01", periods=7, freq="D"))
    np.testing.assert_allclose(out["seasonal"], out["expected"] - out["trend"])
    assert model.record()["regime"] == "prophet"


def test_short_history_falls_back_to_cold_start_without_fitting_prophet() -> None:
    model = ProphetBaseline().fit(daily(10))
    assert model.regime_ == "cold_start" and model.alerting_ready_ is False
    assert not hasattr(model, "prophet_")
    assert model.record()["model_type"] == "prophet"


def test_hourly_series_with_gaps_negative_values() -> None:
    idx = pd.date_range("2024-03-04", periods=24 * 10, freq="h")
    y = pd.Series(-20.0 + 5 * np.sin(2 * np.pi * idx.hour.to_numpy() / 24), index=idx)
    y.iloc[30:50] = np.nan
    model = ProphetBaseline(uncertainty_samples=100).fit(y)
    assert model.record()["granularity"] == "hour" and model.n_obs_ == 220
    out = model.predict(pd.date_range(idx[-1] + pd.Timedelta(hours=1), periods=24, freq="h"))
    assert (out["expected"] < -10).all()
