"""The batched seasonal baseline on every data shape spend series take, alone and in batches."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from core.types import Granularity
from models.fourier import DesignSpec, make_spec
from models.seasonal import BatchedSeasonalBaseline
from tests.models.synthetic import daily, hourly


def _truth_daily(index: pd.DatetimeIndex, start: str = "2024-01-01") -> np.ndarray:
    t = np.asarray((index - pd.Timestamp(start)) / pd.Timedelta(days=1))
    return 100.0 + 0.05 * t + np.where(index.day_of_week >= 5, -20.0, 5.0)


def test_daily_series_recovers_weekly_pattern_and_records_its_seasonalities() -> None:
    y = daily(200)
    model = BatchedSeasonalBaseline().fit(y)
    future = pd.date_range(y.index[-1] + pd.Timedelta(days=1), periods=14, freq="D")
    out = model.predict(future)
    assert np.abs(out["expected"] - _truth_daily(future)).max() < 2.0
    record = model.record()
    assert record["seasonalities"] == ["weekly", "monthly"]
    assert record["alerting_ready"] is True and record["regime"] == "seasonal"


def test_hourly_series_gets_daily_and_weekly_seasonality() -> None:
    y = hourly(21)
    model = BatchedSeasonalBaseline().fit(y)
    assert model.record()["granularity"] == "hour"
    assert model.record()["seasonalities"] == ["daily", "weekly"]
    future = pd.date_range(y.index[-1] + pd.Timedelta(hours=1), periods=24, freq="h")
    truth = hourly(22).reindex(future)  # same seed: the first 21 days coincide, the noise differs after
    assert np.abs(model.predict(future)["expected"] - truth).mean() < 2.5


def test_month_start_charges_are_learned_for_daily_series() -> None:
    y = daily(240)
    y[y.index.day == 1] += 300.0  # marketplace / support fees billed on the 1st
    out = BatchedSeasonalBaseline().fit(y).predict(pd.date_range("2024-08-30", periods=4, freq="D"))
    first = out.loc["2024-09-01", "expected"]
    assert first - out.loc["2024-08-31", "expected"] > 200.0


@pytest.mark.parametrize("n_days", [45, 25])
def test_a_daily_month_start_batch_is_learned_from_one_month(n_days: int) -> None:
    """A batch on the 1st (from 2024-01-01: 2024-02-01 is in a 45-day history): one month seen is enough
    for the next 1st to expect it; under a month, nothing is learned."""
    y = daily(n_days)
    y[y.index.day == 1] += 300.0
    out = BatchedSeasonalBaseline().fit(y).predict(pd.date_range("2024-02-28", periods=5, freq="D"))
    lift = out.loc["2024-03-01", "expected"] - out.loc["2024-02-29", "expected"]
    assert bool(lift > 200.0) is (n_days >= 32), lift


@pytest.mark.parametrize("month_end, learned", [(True, True), (False, False)])
def test_month_end_closing_jobs_are_learned_for_daily_series(month_end: bool, learned: bool) -> None:
    y = daily(240)
    y[y.index.is_month_end] += 300.0  # month-end closing queries and reports
    model = BatchedSeasonalBaseline(month_end=month_end).fit(y)
    out = model.predict(pd.date_range("2024-08-29", periods=4, freq="D"))
    lift = out.loc["2024-08-31", "expected"] - out.loc["2024-08-30", "expected"]
    assert bool(lift > 200.0) is learned


@pytest.mark.parametrize("n_days", [40, 20])
def test_an_hourly_month_start_batch_is_learned_hour_by_hour_from_one_month(n_days: int) -> None:
    """A batch job on the 1st from 00:00 to 03:59 (20x the hour's spend): with one month seen, the next
    1st expects it at those hours and no others; with under a month seen, nothing is learned."""
    y = hourly(n_days)  # from 2024-03-04: holds 2024-04-01 when 40 days long
    batch = (y.index.day == 1) & (y.index.hour < 4)
    y[batch] += 1000.0
    model = BatchedSeasonalBaseline().fit(y)
    first = pd.date_range("2024-05-01", periods=24, freq="h")
    lift = (
        model.predict(first)["expected"].to_numpy()
        - model.predict(first - pd.Timedelta(days=1))["expected"].to_numpy()
    )
    if n_days < 32:
        assert np.abs(lift).max() < 50.0
        return
    assert (lift[:4] > 800.0).all(), lift[:4]
    assert np.abs(lift[4:]).max() < 50.0, lift[4:]


def test_a_design_spec_written_before_the_month_end_effect_has_none() -> None:
    spec = make_spec(
        pd.date_range("2024-01-01", periods=120, freq="D"),
        Granularity.DAY,
        n_changepoints=3,
        changepoint_range=0.8,
        daily_order=0,
        weekly_order=3,
        monthly_order=3,
        yearly_order=0,
        month_start=True,
        month_end=True,
    )
    assert spec.month_end and DesignSpec.from_dict(spec.to_dict()) == spec
    old = {k: v for k, v in spec.to_dict().items() if k not in ("month_end", "calendar_by_hour")}
    assert DesignSpec.from_dict(old).n_columns == spec.n_columns - 1


def test_spikes_in_history_do_not_bend_the_baseline() -> None:
    clean = daily(200, noise=0.5)
    dirty = clean.copy()
    dirty.iloc[150:156] *= 5.0  # a past incident: six days at 5x spend
    future = pd.date_range("2024-07-19", periods=7, freq="D")
    robust = BatchedSeasonalBaseline().fit(dirty).predict(future)["expected"]
    assert np.abs(robust - _truth_daily(future)).max() < 3.0


@pytest.mark.parametrize("n_points, ready", [(27, False), (28, True)])
def test_cold_start_below_min_history_is_not_alerting_ready(n_points: int, ready: bool) -> None:
    model = BatchedSeasonalBaseline().fit(daily(n_points))
    assert model.alerting_ready_ is ready
    assert model.record()["regime"] == ("seasonal" if ready else "cold_start")
    out = model.predict(pd.date_range("2024-03-01", periods=3, freq="D"))
    assert out.notna().all().all()


def test_cold_start_with_a_single_point_and_with_none() -> None:
    one = BatchedSeasonalBaseline().fit(daily(1))
    assert one.predict(pd.DatetimeIndex(["2024-01-05"]))["expected"].iloc[0] == pytest.approx(
        daily(1).iloc[0]
    )
    empty = pd.Series([np.nan] * 10, index=pd.date_range("2024-01-01", periods=10, freq="D"))
    nothing = BatchedSeasonalBaseline().fit(empty)
    assert nothing.alerting_ready_ is False
    assert nothing.predict(pd.DatetimeIndex(["2024-01-20"]))["expected"].isna().all()


def test_gaps_are_skipped_not_read_as_zero() -> None:
    y = daily(200)
    gappy = y.copy()
    gappy.iloc[40:60] = np.nan
    gappy.iloc[::9] = np.nan
    future = pd.date_range("2024-07-19", periods=7, freq="D")
    with_nan = BatchedSeasonalBaseline().fit(gappy)
    without_rows = BatchedSeasonalBaseline().fit(gappy.dropna())
    assert with_nan.n_obs_ == gappy.notna().sum()
    assert np.abs(with_nan.predict(future)["expected"] - _truth_daily(future)).max() < 2.0
    # NaN rows and absent rows are the same information: same robust fit (within solver tolerance).
    np.testing.assert_allclose(
        with_nan.predict(future)["expected"], without_rows.predict(future)["expected"], rtol=1e-4
    )


def test_all_zero_and_mostly_zero_series() -> None:
    idx = pd.date_range("2024-01-01", periods=120, freq="D")
    zeros = BatchedSeasonalBaseline().fit(pd.Series(0.0, index=idx))
    out = zeros.predict(pd.date_range("2024-05-01", periods=3, freq="D"))
    assert np.allclose(out[["expected", "lower", "upper"]], 0.0)
    sparse = pd.Series(0.0, index=idx)
    sparse.iloc[::30] = 500.0  # an occasional charge on a mostly idle line
    out = BatchedSeasonalBaseline(month_start=False).fit(sparse).predict(idx[-5:])
    assert np.isfinite(out.to_numpy()).all() and np.abs(out["expected"]).max() < 50.0


def test_negative_values_from_credits() -> None:
    y = daily(150) - 150.0  # credits exceed usage: net spend around -50
    out = BatchedSeasonalBaseline().fit(y).predict(pd.date_range("2024-06-01", periods=7, freq="D"))
    assert (out["expected"] < 0).all()
    assert np.abs(out["expected"] - (_truth_daily(out.index) - 150.0)).max() < 2.0


def test_late_start_and_stopped_series_use_their_own_span() -> None:
    idx = pd.date_range("2024-01-01", periods=200, freq="D")
    late = daily(200).where(idx >= "2024-03-01")
    stopped = daily(200).where(idx < "2024-06-01")
    m_late = BatchedSeasonalBaseline().fit(late)
    assert m_late.first_observed_ == pd.Timestamp("2024-03-01")
    trimmed = BatchedSeasonalBaseline().fit(late.dropna())
    future = pd.date_range("2024-07-19", periods=3, freq="D")
    np.testing.assert_allclose(m_late.predict(future), trimmed.predict(future), rtol=1e-9)
    m_stop = BatchedSeasonalBaseline().fit(stopped)
    assert m_stop.last_observed_ == pd.Timestamp("2024-05-31")
    assert np.isfinite(m_stop.predict(future).to_numpy()).all()


def test_timezone_aware_index_is_read_as_utc() -> None:
    y = daily(100)
    aware = y.tz_localize("UTC")
    a = BatchedSeasonalBaseline().fit(y).predict(pd.date_range("2024-05-01", periods=3, freq="D"))
    b = BatchedSeasonalBaseline().fit(aware).predict(pd.date_range("2024-05-01", periods=3, freq="D"))
    np.testing.assert_allclose(a, b)


def _mixed_frame() -> pd.DataFrame:
    idx = pd.date_range("2024-01-01", periods=150, freq="D")
    cols = {f"plain{i}": daily(150, seed=i) * (i + 1) for i in range(5)}
    cols["gappy"] = daily(150, seed=9).where(np.arange(150) % 7 != 3)
    cols["late"] = daily(150, seed=10).where(idx >= "2024-02-15")
    cols["stopped"] = daily(150, seed=11).where(idx < "2024-04-20")
    cols["short"] = daily(150, seed=12).where(idx >= "2024-05-20")  # 10 points: cold start
    cols["credits"] = daily(150, seed=13) - 130.0
    cols["zeros"] = pd.Series(0.0, index=idx)
    return pd.DataFrame(cols, index=idx)


def test_batched_fit_equals_single_fits_for_every_shape() -> None:
    frame = _mixed_frame()
    batch = BatchedSeasonalBaseline().fit_many(frame)
    assert set(batch) == set(frame.columns)
    future = pd.date_range("2024-05-30", periods=10, freq="D")
    for name in frame.columns:
        single = BatchedSeasonalBaseline().fit(frame[name]).predict(future)
        pd.testing.assert_frame_equal(batch[name].predict(future), single, rtol=1e-9, atol=1e-9)
    assert batch["short"].alerting_ready_ is False and batch["plain0"].alerting_ready_ is True


def test_batch_result_does_not_depend_on_chunking_and_predict_many_matches() -> None:
    frame = _mixed_frame()
    future = pd.date_range("2024-05-30", periods=5, freq="D")
    whole = BatchedSeasonalBaseline().fit_many(frame)
    chunked = BatchedSeasonalBaseline(chunk_size=2).fit_many(frame)
    many = whole.predict_many(future)
    for name in frame.columns:
        expected = whole[name].predict(future)
        pd.testing.assert_frame_equal(chunked[name].predict(future), expected, rtol=1e-9, atol=1e-9)
        for col in expected.columns:
            np.testing.assert_allclose(many[col][name].to_numpy(), expected[col].to_numpy(), rtol=1e-12)


def test_unknown_series_name_raises_key_error() -> None:
    batch = BatchedSeasonalBaseline().fit_many(_mixed_frame())
    with pytest.raises(KeyError):
        batch["nope"]


def test_intervals_cover_about_95_percent_of_normal_future_points() -> None:
    rng = np.random.default_rng(3)
    idx = pd.date_range("2024-01-01", periods=300, freq="D")
    frame = pd.DataFrame(
        {
            i: 100 + np.where(idx.day_of_week >= 5, -15.0, 4.0) + rng.standard_t(5, 300) * 3
            for i in range(300)
        },
        index=idx,
    )
    batch = BatchedSeasonalBaseline().fit_many(frame.iloc[:286])
    bands = batch.predict_many(idx[286:])
    truth = frame.iloc[286:]
    coverage = (
        ((truth >= bands["lower"][truth.columns]) & (truth <= bands["upper"][truth.columns]))
        .to_numpy()
        .mean()
    )
    assert 0.93 <= coverage <= 0.985
