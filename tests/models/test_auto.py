"""Auto selection: the backtest picks the model that forecasts better and records every error."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from models.auto import AutoBaseline, select_baseline
from models.backtest import mase, mase_scale, rolling_origin_backtest
from models.cold_start import ColdStartBaseline
from models.seasonal import BatchedSeasonalBaseline
from tests.models.synthetic import daily

WEEKLY = ("weekly", BatchedSeasonalBaseline())
NO_WEEKLY = ("no_weekly", BatchedSeasonalBaseline(weekly_order=0, monthly_order=0))


@pytest.mark.parametrize("candidates", [[NO_WEEKLY, WEEKLY], [WEEKLY, NO_WEEKLY]])
def test_auto_picks_the_model_that_knows_the_weekly_pattern(candidates: list) -> None:
    model = AutoBaseline(candidates=candidates, n_origins=3).fit(daily(200))
    assert model.selected_ == "weekly"
    errors = model.record()["backtest"]
    assert errors["weekly"]["mase"] < 0.5 * errors["no_weekly"]["mase"]
    assert model.record()["selected"] == "weekly" and model.record()["selected_model_type"] == "seasonal"


def test_auto_with_default_candidates_backtests_prophet_too() -> None:
    model = AutoBaseline(n_origins=1).fit(daily(60))
    assert set(model.backtest_) == {"seasonal", "prophet"}
    assert all(r is not None and math.isfinite(r["mase"]) for r in model.backtest_.values())
    assert model.selected_ in {"seasonal", "prophet"}


def test_short_history_skips_the_backtest_and_says_so() -> None:
    name, results, reason = select_baseline(daily(30), [WEEKLY, NO_WEEKLY])
    assert name == "weekly" and all(r is None for r in results.values())
    assert "too short" in reason
    model = AutoBaseline(candidates=[WEEKLY, ("flat", ColdStartBaseline())]).fit(daily(20))
    assert model.alerting_ready_ is False


class _Broken(BatchedSeasonalBaseline):
    def fit(self, y: pd.Series) -> _Broken:
        raise RuntimeError("boom")


def test_a_failing_candidate_is_recorded_and_loses() -> None:
    name, results, _ = select_baseline(daily(120), [("broken", _Broken()), WEEKLY])
    assert name == "weekly" and results["broken"] is None


def test_mase_is_zero_for_a_perfect_forecast_and_one_for_seasonal_naive() -> None:
    y = daily(70, noise=2.0).to_numpy()
    assert mase(y[56:], y[56:], y[:56], 7) == 0.0
    naive = y[49:56].copy()
    scale = mase_scale(y[:56], 7)
    assert mase(y[56:63], naive, y[:56], 7) == pytest.approx(abs(y[56:63] - naive).mean() / scale)
    assert math.isnan(mase_scale(pd.Series(5.0, index=range(30)).to_numpy(), 7))


def test_rolling_origin_uses_the_requested_origins() -> None:
    result = rolling_origin_backtest(BatchedSeasonalBaseline(), daily(120), n_origins=4, horizon=5)
    assert len(result.origins) == 4 and result.n_points == 20
    assert [o["origin"][:10] for o in result.origins] == [
        "2024-04-10",
        "2024-04-15",
        "2024-04-20",
        "2024-04-25",
    ]
