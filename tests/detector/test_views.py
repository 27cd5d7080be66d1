"""The model-free views on hand-made series."""

from __future__ import annotations

import numpy as np
import pandas as pd

from detector.views import (
    range_excess,
    robust_z,
    same_phase_distance,
    same_phase_level,
    same_phase_twins,
    trailing_median,
)

HOUR_NS = int(pd.Timedelta(hours=1).value)


def test_robust_z_ignores_past_spikes_and_survives_a_constant_series() -> None:
    x = np.full(100, 10.0) + np.tile([0.1, -0.1], 50)
    x[40] = 1000.0  # a past spike does not inflate the scale
    x[90] = 11.0
    z = robust_z(x, 50)
    assert 6 < z[90] < 7  # 1 / (1.4826 × 0.1)
    flat = np.full(60, 5.0)
    flat[59] = 6.0  # MAD 0: the mean-deviation fallback and the floor keep z finite
    assert np.isfinite(robust_z(flat, 30)).all() and robust_z(flat, 30)[59] > 0


def test_same_phase_distance_finds_yesterdays_twin_by_time() -> None:
    t = np.arange(24 * 5, dtype=np.int64) * HOUR_NS
    x = np.zeros(t.size)
    x[5::24] = 10.0  # a job at 05:00 every day
    x[24 * 4 + 9] = 10.0  # the same value at 09:00 once
    d = same_phase_distance(x, t, period_ns=24 * HOUR_NS, tolerance_ns=0, periods=3)
    assert np.isnan(d[:24]).all()
    assert d[24 * 4 + 5] == 0.0 and d[24 * 4 + 9] == 10.0
    # Irregular sampling: rows found by time within the tolerance.
    jitter = t + np.where(np.arange(t.size) % 24 == 5, 20 * 60 * 10**9, 0)
    d = same_phase_distance(x, jitter, period_ns=24 * HOUR_NS, tolerance_ns=30 * 60 * 10**9, periods=3)
    assert d[24 * 4 + 5] == 0.0


def test_same_phase_twins_count_the_periods_that_held_the_same_excursion() -> None:
    t = np.arange(24 * 5, dtype=np.int64) * HOUR_NS
    x = np.zeros(t.size)
    x[5::24] = [10.0, 9.0, 30.0, 10.5, 10.0]  # a job at 05:00; the third day ran three times as high
    within = 0.25 * np.abs(x)
    d, repeats = same_phase_twins(x, t, period_ns=24 * HOUR_NS, tolerance_ns=0, periods=4, within=within)
    assert list(repeats[5::24]) == [0, 1, 0, 2, 3]  # 10.0 on day 5 matches 10.0, 9.0 and 10.5, not 30.0
    assert d[24 * 4 + 5] == 0.0
    assert np.array_equal(
        d, same_phase_distance(x, t, period_ns=24 * HOUR_NS, tolerance_ns=0, periods=4), equal_nan=True
    )
    # A zero bound counts exact repeats only (the calm hours repeat exactly).
    _, exact = same_phase_twins(
        x, t, period_ns=24 * HOUR_NS, tolerance_ns=0, periods=4, within=np.zeros(t.size)
    )
    assert exact[24 * 4 + 5] == 1 and exact[24 * 4 + 6] == 4


def test_range_excess_in_widths_of_the_range_so_far() -> None:
    x = np.array([0.0, 10.0, 5.0, 15.0, -20.0, 7.0])
    e = range_excess(x, min_history=2)
    np.testing.assert_allclose(e, [0, 0, 0, 0.5, -20 / 15, 0])
    assert (range_excess(x, min_history=10) == 0).all()


def test_trailing_median_looks_only_backwards() -> None:
    m = trailing_median(np.array([1.0, 3.0, 100.0, 5.0]), 2)
    assert np.isnan(m[0])
    np.testing.assert_allclose(m[1:], [1.0, 2.0, 51.5])


def test_same_phase_level_is_the_median_of_earlier_periods_found_by_time() -> None:
    hour = int(pd.Timedelta(hours=1).value)
    t = np.arange(24 * 5, dtype=np.int64) * hour
    x = np.tile(np.arange(24, dtype=np.float64), 5) + np.repeat([0.0, 10.0, 20.0, 30.0, 40.0], 24)
    level, found = same_phase_level(x, t, period_ns=24 * hour, tolerance_ns=0, periods=3)
    assert np.isnan(level[:24]).all() and (found[:24] == 0).all()  # no earlier day yet
    assert level[24 * 4 + 5] == 5.0 + 20.0 and found[24 * 4 + 5] == 3  # median of days 1-3 at 05:00
    # A missing row is looked up by time: within the tolerance the nearest row stands in, beyond it none.
    gap = np.delete(np.arange(t.size), 24 * 3 + 5)
    level, found = same_phase_level(x[gap], t[gap], period_ns=24 * hour, tolerance_ns=hour, periods=1)
    assert found[24 * 4 + 4] == 1 and level[24 * 4 + 4] in (x[24 * 3 + 4], x[24 * 3 + 6])
    level, found = same_phase_level(x[gap], t[gap], period_ns=24 * hour, tolerance_ns=0, periods=1)
    assert found[24 * 4 + 4] == 0
    # A clock reset never makes a later row a "previous period".
    back = t.copy()
    back[50] = back[20]
    _, found = same_phase_level(
        x, np.maximum.accumulate(back), period_ns=24 * hour, tolerance_ns=0, periods=1
    )
    assert (found[:24] == 0).all()


def test_robust_z_of_stacked_series_equals_one_call_per_series() -> None:
    rng = np.random.default_rng(9)
    rows = rng.normal(100.0, 5.0, (3, 400))
    rows[1, :300] = 50.0  # sits on one value: the mean-deviation fallback
    rows[2, rng.integers(0, 400, 8)] = np.nan
    stacked = robust_z(rows, 288)
    alone = np.stack([robust_z(r, 288) for r in rows])
    assert np.array_equal(stacked, alone, equal_nan=True)
    assert np.isfinite(stacked[0, 10:]).all()
