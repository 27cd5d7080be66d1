"""The anomaly score: in [0, 1], scale-free, causal, direction-aware; one alarm per event."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from detector.compiled import use_compiled
from detector.post_rules import DetectorConfig
from detector.scoring import ScoreConfig, Scores, alarm_horizon, anomaly_scores, escalation

HOUR = pd.Timedelta(hours=1)
DAY = pd.Timedelta(days=1)
# The score at which the service alarms: "no alarm" means below it, whatever it is set to.
ALARM = DetectorConfig().threshold


def noise(n: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).normal(0.0, 1.0, n)


def times(n: int, step: pd.Timedelta = HOUR) -> np.ndarray:
    return np.asarray(pd.date_range("2024-01-01", periods=n, freq=step).as_unit("ns").asi8)


def score(
    y: np.ndarray, expected: np.ndarray | None = None, step: pd.Timedelta = HOUR, **kw: object
) -> Scores:
    f = np.zeros_like(y) if expected is None else expected
    return anomaly_scores(y, f, times_ns=times(y.size, step), step=step, **kw)  # type: ignore[arg-type]


def test_scores_are_in_unit_interval_and_a_spike_raises_one_alarm() -> None:
    y = 50.0 + noise(2000)
    y[1500] += 12.0
    s = score(y)
    for a in (s.tail, s.alarm, s.sustain):
        assert a.min() >= 0.0 and a.max() < 1.0
    assert s.tail[1500] >= 0.5 and s.alarm[1500] == s.tail[1500]
    assert s.z[1500] > 8
    assert s.decades[1500] >= ScoreConfig().scale


def test_gaussian_noise_raises_few_alarms() -> None:
    # The threshold (1.23 decades) was chosen on the shared benchmarks, which pay a missed anomaly ~9x a
    # false alarm; on pure noise that leaves about one alarm per 1,200 points (10 in 12,000; 7 at 0.5), mostly early records.
    alarms = sum(int((score(50.0 + noise(3000, seed)).alarm >= ALARM).sum()) for seed in range(4))
    assert alarms <= 12


def test_score_does_not_depend_on_the_series_unit() -> None:
    y = noise(800) + 50.0
    y[600] += 9.0
    f = np.full_like(y, 50.0)
    a, b = score(y, f), score(y * 1000.0, f * 1000.0)
    np.testing.assert_allclose(a.tail, b.tail, atol=1e-9)
    np.testing.assert_allclose(a.alarm, b.alarm, atol=1e-9)


def test_score_is_causal() -> None:
    y = 20.0 + noise(600)
    changed = y.copy()
    changed[400:] += 25.0
    a, b = score(y), score(changed)
    np.testing.assert_array_equal(a.tail[:400], b.tail[:400])
    np.testing.assert_array_equal(a.alarm[:400], b.alarm[:400])
    assert b.tail[400] > a.tail[400]


@pytest.mark.parametrize(("direction", "flagged"), [("up", False), ("down", True), ("both", True)])
def test_direction_decides_which_side_scores(direction: str, flagged: bool) -> None:
    y = 30.0 + noise(500)
    y[450] -= 15.0
    assert bool(score(y, np.full(500, 30.0), direction=direction).tail[450] >= 0.5) is flagged


def test_noise_free_series_tolerates_rounding_but_not_a_real_change() -> None:
    y = np.full(400, 45.0) + 1e-12 * noise(400)
    assert score(y, np.full(400, 45.0)).tail.max() < ALARM
    y[300] = 60.0
    assert score(y, np.full(400, 45.0)).tail[300] >= 0.5


def test_a_daily_job_spike_has_a_twin_and_is_not_news() -> None:
    # The same spike every 24 hours: after a few days it is what this hour looks like.
    y = 5.0 + 0.1 * noise(24 * 20)
    y[5::24] += 10.0
    s = score(y)
    assert s.tail[5 + 24 * 19] < ALARM
    # A spike twice as large at an hour it never happened is news.
    y[24 * 19 + 15] += 20.0
    assert score(y).tail[24 * 19 + 15] >= 0.5


def test_a_daily_job_that_repeats_at_its_hour_is_routine_on_a_calm_quantised_series() -> None:
    # A CPU metric every 5 minutes sits on two quantised values; a nightly job spikes it 20x, a few
    # minutes early or late and ±10% high. Yesterday's twin is a noise step away, which is large against
    # the calm twin distances: only counting the earlier nights with the same excursion calls it routine.
    rng = np.random.default_rng(3)
    step = pd.Timedelta(minutes=5)
    per_day = 288
    y = rng.choice([0.07, 0.13], size=per_day * 14, p=[0.8, 0.2])
    nights = [d * per_day + 40 + int(rng.integers(-2, 3)) for d in range(14)]
    for i in nights:
        y[i] = 1.4 * (1.0 + rng.uniform(-0.1, 0.1))
    last = nights[-1]
    routine = score(y, step=step).tail[last]
    judged_by_twin_distance = score(y, step=step, config=ScoreConfig(repeat_min=99)).tail[last]
    assert routine < 0.05 and judged_by_twin_distance > 0.3  # near the alarm threshold without the count
    # Twice the job's height at an hour it never came is news.
    y[13 * per_day + 200] = 3.0
    assert score(y, step=step).tail[13 * per_day + 200] >= 0.5


def test_a_lasting_step_alarms_once_and_is_sustained() -> None:
    y = 100.0 + noise(24 * 30)
    y[24 * 20 :] += 30.0
    s = score(y, np.full(y.size, 100.0))
    start = 24 * 20
    assert s.alarm[start] >= 0.5
    # One alarm for the step: nothing new while it goes on ...
    assert (s.alarm[start + 1 : start + alarm_horizon(HOUR, 12.0)] >= 0.5).sum() <= 1
    # ... and the deviation from the forecast keeps the event going after the twins learnt the level.
    assert (s.sustain[start : start + 24 * 5] >= 0.5).all()


def test_a_new_extreme_alarms_even_in_a_noisy_series() -> None:
    y = np.abs(noise(2000, 4)) * 10.0
    y[1800] = y[:1800].max() * 3.0
    assert score(y).tail[1800] >= 0.5


def test_completeness_projects_a_partial_period() -> None:
    y = 100.0 + noise(200)
    f = np.full(200, 100.0)
    y[-1] = 90.0  # 90 already spent in the first 30% of the period: a spike, not a drop
    c = np.ones(200)
    c[-1] = 0.3
    s = score(y, f, step=DAY, completeness=c, direction="up")
    assert s.z[-1] >= 50 and s.tail[-1] >= 0.5


def test_rows_out_of_time_order_are_scored_in_file_order() -> None:
    t = times(300)
    t[200] = t[150]  # a clock reset: one row steps back
    y = 10.0 + noise(300)
    s = anomaly_scores(y, np.full(300, 10.0), times_ns=t, step=HOUR)
    assert s.tail.shape == (300,) and np.isfinite(s.tail).all()


def test_escalation_keeps_only_new_highs_within_the_horizon() -> None:
    s = np.array([0.1, 0.6, 0.7, 0.65, 0.2, 0.1, 0.1, 0.1, 0.5])
    np.testing.assert_array_equal(escalation(s, 3), [0.1, 0.6, 0.7, 0, 0, 0, 0, 0, 0.5])
    # With a ratio, creeping evidence (odds +8%) does not re-alarm; a real escalation (odds x2) does.
    creeping = np.array([0.0, 0.563, 0.581, 0.595, 0.75])
    np.testing.assert_array_equal(escalation(creeping, 2, 0.15), [0, 0.563, 0, 0, 0.75])
    assert alarm_horizon(pd.Timedelta(minutes=5), 12.0) == 144 and alarm_horizon(DAY, 12.0) == 2


@pytest.mark.parametrize(
    ("excursion", "expected"),
    [
        # The same spike scoring higher as the tail's history moves: one alarm, not three.
        ([0, 50, 50, 50, 0], [0, 0.6, 0, 0, 0]),
        # A spike that grows escalates on every new high.
        ([0, 50, 60, 70, 0], [0, 0.6, 0.7, 0.8, 0]),
        # Compared with the excursion of the horizon's highest score (the first of them on a tie), which
        # need not have alarmed itself: 45 tops the 40 that scored 0.7, though not the 50 that alarmed.
        ([0, 50, 40, 45, 0], [0, 0.6, 0, 0.8, 0]),
        ([0, 50, 40, 40, 0], [0, 0.6, 0, 0, 0]),
        # A negative excursion (a drop) counts by its size; NaN (no forecast) counts as none.
        ([0, -50, 60, np.nan, 0], [0, 0.6, 0.7, 0, 0]),
    ],
)
def test_escalation_within_the_horizon_needs_the_excursion_to_grow(
    excursion: list[float], expected: list[float]
) -> None:
    s = np.array([0.1, 0.6, 0.7, 0.8, 0.1])
    got = escalation(s, 3, 0.0, np.array(excursion, dtype=np.float64))
    # The first point has no score before it, the last tops nothing: both as without an excursion.
    np.testing.assert_array_equal(got, [0.1, *expected[1:4], 0])


@pytest.mark.parametrize(
    ("excursion", "expected"),
    [
        # A new burst (the series came back across its forecast first) must top every burst of the horizon
        # before it, not only the highest score's: 45 does not top the 50 that scored 0.6 but less than 0.7.
        ([0, 40, 50, -1, 45], [0, 0.6, 0, 0, 0]),
        ([0, 40, 50, -1, 55], [0, 0.6, 0, 0, 0.9]),
        # A point on the forecast ends a run too; a run below it is a burst like one above.
        ([0, 40, 50, 0, 45], [0, 0.6, 0, 0, 0]),
        ([0, 40, 50, 1, -45], [0, 0.6, 0, 0, 0]),
        # Within one run the excursion grows past the highest score's, whatever a lower-scored point of the
        # run reached (a drop that deepens while its evidence builds up).
        ([0, 40, 50, 30, 45], [0, 0.6, 0, 0, 0.9]),
    ],
)
def test_a_new_burst_within_the_horizon_must_top_the_earlier_ones(
    excursion: list[float], expected: list[float]
) -> None:
    s = np.array([0.1, 0.6, 0.5, 0.1, 0.9])
    got = escalation(s, 4, 0.0, np.array(excursion, dtype=np.float64))
    np.testing.assert_array_equal(got, [0.1, *expected[1:]])
    with use_compiled(False):
        np.testing.assert_array_equal(escalation(s, 4, 0.0, np.array(excursion, dtype=np.float64)), got)


def test_unremarkable_points_score_a_plain_zero_not_minus_zero() -> None:
    s = score(np.full(200, 10.0), np.full(200, 10.0))
    assert (s.tail == 0.0).all() and not np.signbit(s.tail).any() and not np.signbit(s.alarm).any()


def test_hourly_series_alarm_again_for_an_incident_seven_hours_after_the_last() -> None:
    # Two crash bursts seven hours apart are two incidents at an hourly step; 5-minute series keep 12 h.
    assert alarm_horizon(HOUR, 12.0, 6.0) == 6 and alarm_horizon(DAY, 12.0, 6.0) == 2
    assert alarm_horizon(pd.Timedelta(minutes=5), 12.0, 6.0) == 144
    y = 10.0 + noise(24 * 20)
    first, second = 24 * 15, 24 * 15 + 7
    y[first] += 80.0
    y[second] += 60.0  # smaller than the first: within 12 h it would not top it
    s = score(y, np.full(y.size, 10.0))
    assert s.alarm[first] >= 0.5 and s.alarm[second] >= 0.5
    twelve = score(y, np.full(y.size, 10.0), config=ScoreConfig(alarm_hours_coarse=12.0))
    assert twelve.alarm[second] == 0.0


def test_a_plateau_at_half_height_for_its_hour_is_news() -> None:
    # A daily square wave (20 at night, 80 by day) whose day-time plateau comes at 40 on day 12: every
    # value is inside the day's range, so the plain robust z explains it away; the seasonal z does not.
    step = pd.Timedelta(minutes=30)
    per_day = 48
    day = np.where((np.arange(per_day) >= 16) & (np.arange(per_day) < 40), 80.0, 20.0)
    y = np.tile(day, 14) + noise(per_day * 14)
    anomalous = slice(per_day * 12 + 20, per_day * 12 + 36)
    y[anomalous] = 40.0 + noise(16, 3)
    expected = np.tile(day, 14)
    seasonal = score(y, expected, step=step)
    assert seasonal.tail[anomalous].max() >= 0.5
    plain = score(y, expected, step=step, config=ScoreConfig(seasonal_z_per_decade=1e9))
    assert plain.tail[anomalous].max() < 0.5
    # Ordinary days do not alarm.
    assert (seasonal.alarm[per_day * 3 : per_day * 12] < 0.5).all()
