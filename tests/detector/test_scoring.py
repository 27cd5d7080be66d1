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


def _reference_tail(
    mags: list[np.ndarray],
    *,
    window: int,
    min_history: int,
    tail_share: float,
    beta_floor: np.ndarray,
    usable: np.ndarray,
    flag_p: float,
    memory: int,
    exclude: bool,
) -> np.ndarray:
    """The definition, point by point (the scorer's first version): the fast path must equal it."""
    n = mags[0].size
    best = np.ones(n)
    flagged = np.zeros(n, dtype=bool)
    for t in range(n):
        if not usable[t]:
            continue
        lo = max(0, t - window)
        recent = flagged[lo:t].copy() if exclude else np.zeros(t - lo, dtype=bool)
        recent[: max(0, (t - memory) - lo)] = False
        p_t = 1.0
        for m in mags:
            a = m[t]
            if not np.isfinite(a):
                continue
            hist = m[lo:t][np.isfinite(m[lo:t]) & ~recent]
            if hist.size < min_history:
                continue
            u = float(np.quantile(hist, 1.0 - tail_share))
            over = hist[hist > u]
            beta = max(float(over.mean() - u) if over.size else 0.0, float(beta_floor[t]))
            p = tail_share * np.exp(-(a - u) / beta) if a > u else 1.0
            older = m[lo : max(lo, t - memory)]
            older = older[np.isfinite(older)]
            if older.size:
                p = max(p, float(np.count_nonzero(older >= a)) / hist.size)
            p_t = min(p_t, p)
        best[t] = p_t
        flagged[t] = p_t <= flag_p
    return best


@pytest.mark.parametrize("exclude", [False, True])
def test_vectorised_tail_equals_the_point_by_point_definition(exclude: bool) -> None:
    from detector.scoring import sequential_tail

    rng = np.random.default_rng(11)
    for trial in range(60):
        n = int(rng.integers(20, 300))
        base = rng.gamma(2.0, 1.0, n)
        for _ in range(int(rng.integers(0, 5))):  # spikes and plateaus, so exclusions happen
            i = int(rng.integers(0, n))
            base[i : i + int(rng.integers(1, 10))] += rng.uniform(5, 40)
        base[rng.integers(0, n, 2)] = np.nan
        mags = [base, np.convolve(np.nan_to_num(base), np.ones(3) / 3, mode="same")]
        kwargs = dict(
            window=int(rng.choice([12, 28, 60])),
            min_history=8,
            tail_share=0.1,
            beta_floor=np.full(n, 1e-6),
            usable=rng.random(n) > 0.05,
            flag_p=1e-4,
            memory=int(rng.choice([1, 3, 6])),
            exclude=exclude,
        )
        fast = sequential_tail(mags, **kwargs)  # type: ignore[arg-type]
        slow = _reference_tail(mags, **kwargs)  # type: ignore[arg-type]
        np.testing.assert_allclose(fast, slow, rtol=1e-9, atol=1e-300, err_msg=f"trial {trial}")


def test_unremarkable_points_score_a_plain_zero_not_minus_zero() -> None:
    score, _ = anomaly_scores(np.full(200, 10.0), np.full(200, 10.0), points_per_day=24)
    assert (score == 0.0).all()
    assert not np.signbit(score).any()
