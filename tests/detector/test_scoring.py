"""The anomaly score: in [0, 1], calibrated across scales, causal, direction-aware."""

from __future__ import annotations

import numpy as np
import pytest

from detector.scoring import ScoreConfig, anomaly_scores, default_window


def noise(n: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).normal(0.0, 1.0, n)


def test_scores_are_in_unit_interval_and_spike_scores_high() -> None:
    y = noise(2000)
    y[1500] += 12.0
    score, z = anomaly_scores(y, np.zeros_like(y), points_per_day=24)
    assert score.min() >= 0.0 and score.max() <= 1.0
    assert score[1500] >= 0.5
    assert z[1500] > 8


def test_gaussian_noise_false_alarm_rate_matches_the_calibration() -> None:
    # 0.5 is calibrated to about one point in 10^4 (after the correction for three time scales).
    flagged = sum(
        int((anomaly_scores(noise(3000, seed), np.zeros(3000), points_per_day=24)[0] >= 0.5).sum())
        for seed in range(4)
    )
    assert flagged <= 3


def test_score_does_not_depend_on_the_series_unit() -> None:
    y = noise(800) + 50.0
    y[600] += 9.0
    f = np.full_like(y, 50.0)
    a, _ = anomaly_scores(y, f, points_per_day=24)
    b, _ = anomaly_scores(y * 1000.0, f * 1000.0, points_per_day=24)
    np.testing.assert_allclose(a, b, atol=1e-9)


def test_score_is_causal() -> None:
    y = noise(600)
    changed = y.copy()
    changed[400:] += 25.0
    a, _ = anomaly_scores(y, np.zeros(600), points_per_day=24)
    b, _ = anomaly_scores(changed, np.zeros(600), points_per_day=24)
    np.testing.assert_array_equal(a[:400], b[:400])
    assert b[400] > a[400]


@pytest.mark.parametrize(("direction", "flagged"), [("up", False), ("down", True), ("both", True)])
def test_direction_decides_which_side_scores(direction: str, flagged: bool) -> None:
    y = noise(500)
    y[450] -= 15.0
    score, _ = anomaly_scores(y, np.zeros(500), direction=direction, points_per_day=24)
    assert bool(score[450] >= 0.5) is flagged


def test_noise_free_series_tolerates_rounding_but_not_a_real_change() -> None:
    y = np.full(400, 45.0) + 1e-12 * noise(400)
    score, _ = anomaly_scores(y, np.full(400, 45.0), points_per_day=24)
    assert score.max() < 0.5
    y[300] = 60.0
    score, _ = anomaly_scores(y, np.full(400, 45.0), points_per_day=24)
    assert score[300] >= 0.5


def test_a_recurring_spike_stops_being_anomalous() -> None:
    # A nightly job: the same spike every 24 points. Seen before in the window, it is not news.
    y = 0.1 * noise(24 * 10)
    y[5::24] += 10.0
    score, _ = anomaly_scores(y, np.zeros_like(y), points_per_day=24)
    assert score[5 + 24 * 9] < 0.5


def test_first_points_score_zero_until_history_exists() -> None:
    y = noise(100)
    y[3] = 100.0
    score, _ = anomaly_scores(y, np.zeros(100), points_per_day=1, config=ScoreConfig(min_history=14))
    assert score[:14].max() == 0.0


def test_completeness_projects_a_partial_period() -> None:
    y = 100.0 + noise(200)
    f = np.full(200, 100.0)
    y[-1] = 90.0  # 90 already spent in the first 30% of the period: a spike, not a drop
    c = np.ones(200)
    c[-1] = 0.3
    score, z = anomaly_scores(y, f, completeness=c, direction="up", points_per_day=1)
    assert z[-1] >= 50 and score[-1] >= 0.5


def test_default_window_by_granularity() -> None:
    assert default_window(1) == 28 and default_window(24) == 168 and default_window(288) == 576
