"""Each post-rule on its own (table-driven), then their composition on a scored frame."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from detector.compiled import use_compiled
from detector.post_rules import (
    DetectorConfig,
    apply_post_rules,
    cold_start_mask,
    completeness_masks,
    decide,
    default_rearm,
    direction_sign,
    impact_mask,
    min_alert_span,
    onset_mask,
    period_completeness,
    persistence_mask,
    threshold_mask,
)


def test_threshold() -> None:
    assert threshold_mask(np.array([0.2, 0.5, np.nan, 0.9]), 0.5).tolist() == [False, True, False, True]


@pytest.mark.parametrize(
    ("direction", "expected"),
    [("up", [1, 0, 0]), ("down", [0, -1, 0]), ("both", [1, -1, 0])],
)
def test_direction(direction: str, expected: list[int]) -> None:
    assert direction_sign(np.array([5.0, -5.0, 0.0]), direction).tolist() == expected


@pytest.mark.parametrize(
    ("min_impact", "min_pct", "rule", "expected"),
    [
        (None, None, "and", [True, True, True]),
        (50.0, None, "and", [False, True, True]),  # $ only
        (None, 20.0, "and", [True, False, True]),  # % only
        (50.0, 20.0, "and", [False, False, True]),  # both must pass
        (50.0, 20.0, "or", [True, True, True]),  # either passes
        (500.0, 90.0, "or", [False, False, False]),
    ],
)
def test_impact_rules(min_impact, min_pct, rule, expected) -> None:
    impact = np.array([10.0, 100.0, 200.0])
    expected_spend = np.array([20.0, 1000.0, 400.0])  # 50%, 10%, 50%
    got = impact_mask(impact, expected_spend, min_impact=min_impact, min_impact_pct=min_pct, rule=rule)
    assert got.tolist() == expected


def test_impact_pct_on_zero_expected_counts_as_infinite() -> None:
    got = impact_mask(
        np.array([5.0, 0.0]), np.array([0.0, 0.0]), min_impact=None, min_impact_pct=10, rule="and"
    )
    assert got.tolist() == [True, False]


@pytest.mark.parametrize(
    ("policy", "allowed", "held"),
    [
        # completeness 1.0 up, 0.8 down, 0.8 up, 0.3 up
        ("scale", [True, False, True, False], [False, False, False, True]),
        ("hold", [True, False, False, False], [False, True, True, True]),
    ],
)
def test_completeness(policy, allowed, held) -> None:
    c = np.array([1.0, 0.8, 0.8, 0.3])
    sign = np.array([1, -1, 1, 1], dtype=np.int8)
    a, h = completeness_masks(c, sign, policy=policy, min_completeness=0.5)
    assert a.tolist() == allowed and h.tolist() == held


@pytest.mark.parametrize(
    ("ready", "first", "warmup", "expected"),
    [
        (True, 0, 0, [True] * 5),
        (True, 1, 2, [False, False, False, True, True]),
        (False, 0, 0, [False] * 5),
        (np.array([False, False, True, True, True]), 0, 0, [False, False, True, True, True]),
    ],
)
def test_cold_start(ready, first, warmup, expected) -> None:
    assert cold_start_mask(5, first_scored=first, warmup=warmup, alerting_ready=ready).tolist() == expected


@pytest.mark.parametrize(
    ("signs", "k", "expected"),
    [
        ([1, 1, 1, 0, 1], 1, [True, True, True, False, True]),
        ([1, 1, 1, 0, 1], 2, [False, True, True, False, False]),
        ([1, 1, 1, 0, 1], 3, [False, False, True, False, False]),
        ([1, -1, 1, -1, 0], 2, [False] * 5),  # sides alternate: no run
    ],
)
def test_persistence(signs, k, expected) -> None:
    assert persistence_mask(np.array(signs, dtype=np.int8), k).tolist() == expected


def test_period_completeness_from_clock() -> None:
    index = pd.date_range("2024-05-01", periods=3, freq="D")
    got = period_completeness(index, pd.Timedelta(days=1), pd.Timestamp("2024-05-03 06:00"))
    assert got.tolist() == [1.0, 1.0, 0.25]
    assert period_completeness(index, pd.Timedelta(days=1), None).tolist() == [1.0, 1.0, 1.0]


def test_min_alert_span() -> None:
    assert min_alert_span(pd.Timedelta(hours=1)) == pd.Timedelta(days=2)
    assert min_alert_span(pd.Timedelta(days=1)) == pd.Timedelta(days=14)


def scored(values, expected, scores, completeness=None) -> pd.DataFrame:
    n = len(values)
    return pd.DataFrame(
        {
            "value": values,
            "expected": expected,
            "tail_score": scores,
            "completeness": completeness if completeness is not None else [1.0] * n,
        },
        index=pd.date_range("2024-01-01", periods=n, freq="D"),
    )


def test_partial_newest_period_never_raises_a_drop() -> None:
    frame = scored([100, 100, 20], [100, 100, 100], [0.0, 0.0, 1.0], [1.0, 1.0, 0.6])
    out = apply_post_rules(frame, DetectorConfig(direction="both"))
    assert not out["is_anomaly"].iloc[-1]
    # The same shortfall on a complete period is a drop.
    frame["completeness"] = 1.0
    assert apply_post_rules(frame, DetectorConfig(direction="both"))["is_anomaly"].iloc[-1]


def test_partial_spike_alerts_under_scale_and_is_held_under_hold() -> None:
    frame = scored([100, 100, 90], [100, 100, 100], [0.0, 0.0, 1.0], [1.0, 1.0, 0.6])
    out = apply_post_rules(frame, DetectorConfig(completeness_policy="scale"))
    assert out["is_anomaly"].iloc[-1] and not out["held_back"].iloc[-1]
    held = apply_post_rules(frame, DetectorConfig(completeness_policy="hold"))
    assert not held["is_anomaly"].iloc[-1] and held["held_back"].iloc[-1]


def test_impact_rule_applies_to_partial_share_of_expected() -> None:
    # 90 spent at 60% complete vs 60 expected so far: +30 impact (50%).
    frame = scored([100, 100, 90], [100, 100, 100], [0.0, 0.0, 1.0], [1.0, 1.0, 0.6])
    assert apply_post_rules(frame, DetectorConfig(min_impact=25))["is_anomaly"].iloc[-1]
    assert not apply_post_rules(frame, DetectorConfig(min_impact=35))["is_anomaly"].iloc[-1]


def test_model_not_ready_never_alerts() -> None:
    frame = scored([100, 100, 500], [100, 100, 100], [0.0, 0.0, 1.0])
    assert not apply_post_rules(frame, DetectorConfig(), alerting_ready=False)["is_anomaly"].any()


@pytest.mark.parametrize(
    ("flags", "rearm", "expected"),
    [
        ([0, 1, 1, 1, 0], 3, [0, 1, 0, 0, 0]),  # one alarm for a whole run
        ([1, 1, 0, 1, 1], 3, [1, 0, 0, 0, 0]),  # a flicker inside the quiet period is the same incident
        ([1, 0, 0, 0, 1], 3, [1, 0, 0, 0, 1]),  # quiet long enough: re-armed
        ([1, 0, 0, 1, 0], 3, [1, 0, 0, 0, 0]),
        ([1, 0, 1, 0, 1], 1, [1, 0, 1, 0, 1]),  # re-arm after one quiet period = every run's first row
        ([0, 0, 0], 2, [0, 0, 0]),
    ],
)
def test_onset_alarms(flags: list[int], rearm: int, expected: list[int]) -> None:
    assert onset_mask(np.array(flags, dtype=bool), rearm).astype(int).tolist() == expected


def test_onset_is_causal() -> None:
    rng = np.random.default_rng(3)
    flags = rng.random(200) < 0.2
    base = onset_mask(flags, 5)
    changed = flags.copy()
    changed[120:] = ~changed[120:]
    assert (onset_mask(changed, 5)[:120] == base[:120]).all()


def test_onset_mode_keeps_every_flagged_period_in_flagged() -> None:
    idx = pd.date_range("2024-01-01", periods=8, freq="D")
    points = pd.DataFrame(
        {
            "value": [10.0, 50, 50, 50, 10, 50, 10, 10],
            "expected": 10.0,
            "tail_score": [0.0, 0.9, 0.9, 0.9, 0.0, 0.9, 0.0, 0.0],
            "completeness": 1.0,
        },
        index=idx,
    )
    run = apply_post_rules(points, DetectorConfig())
    onset = apply_post_rules(points, DetectorConfig(alarm="onset", rearm_after=2))
    assert run["is_anomaly"].tolist() == run["flagged"].tolist() == onset["flagged"].tolist()
    assert onset["is_anomaly"].astype(int).tolist() == [0, 1, 0, 0, 0, 0, 0, 0]


@pytest.mark.parametrize("compiled", [True, False])
def test_a_spike_of_the_same_size_rescored_higher_raises_no_second_alarm(compiled: bool) -> None:
    # Bursty series: hours after a spike, one of the same size scores higher (the first was kept out of
    # the tail history), though nothing grew: no new alarm within the horizon. A larger one is.
    idx = pd.date_range("2024-01-01", periods=8, freq="h")
    points = pd.DataFrame(
        {
            "value": [10.0, 60, 10, 60, 10, 80, 10, 10],
            "expected": 10.0,
            "tail_score": [0.0, 0.6, 0.0, 0.8, 0.0, 0.9, 0.0, 0.0],
            "completeness": 1.0,
        },
        index=idx,
    )
    with use_compiled(compiled):
        decided = apply_post_rules(points, DetectorConfig(alarm="onset", rearm_after=12))
    assert decided["anomaly_score"].tolist() == [0.0, 0.6, 0.0, 0.0, 0.0, 0.9, 0.0, 0.0]
    assert decided["is_anomaly"].astype(int).tolist() == [0, 1, 0, 0, 0, 1, 0, 0]


def test_default_rearm_by_granularity() -> None:
    assert default_rearm(pd.date_range("2024-01-01", periods=10, freq="5min")) == 12
    assert default_rearm(pd.date_range("2024-01-01", periods=10, freq="D")) == 2


@pytest.mark.parametrize("compiled", [True, False])
def test_the_alarm_horizon_reads_a_step_given_as_the_index_gives_it(compiled: bool) -> None:
    # Spikes 3 hours apart on 5-minute points: within the 12-hour horizon (36 points) the second
    # re-alarms only by growing; told a daily step (2 periods), the horizon is too short to hold it.
    idx = pd.date_range("2024-01-01", periods=80, freq="5min")
    value = np.full(80, 10.0)
    value[[20, 56]] = 60.0
    tail = np.where(value > 10, 0.9, 0.0)
    tail[56] = 0.95
    args = (value, np.full(80, 10.0), np.ones(80), tail, DetectorConfig())
    with use_compiled(compiled):
        from_index = decide(*args, index=idx)
        told = decide(*args, index=idx, step=pd.Timedelta(minutes=5))
        told_daily = decide(*args, index=idx, step=pd.Timedelta(days=1))
    for name in from_index:
        assert from_index[name].tolist() == told[name].tolist(), name
    assert from_index["anomaly_score"][56] == 0.0  # no growth, within the horizon: no second alarm
    assert told_daily["anomaly_score"][56] == 0.95  # a daily step's horizon has long passed
