"""The sweep's shortcut for a series no point of which reaches the threshold decides what the post-rules
decide: no candidate, nothing flagged or anomalous, the same periods held back (every policy)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from detector.post_rules import DetectorConfig, decide
from training.sweep_job import _quiet_decision

CONFIGS = [
    DetectorConfig(),
    DetectorConfig(completeness_policy="hold"),
    DetectorConfig(min_completeness=0.9, direction="both", alarm="onset"),
    DetectorConfig(threshold=0.3, min_persistence=2, cold_start_points=3, direction="down"),
]


@pytest.mark.parametrize("seed", range(40))
def test_quiet_series_are_decided_as_the_post_rules_decide(seed: int) -> None:
    rng = np.random.default_rng(seed)
    config = CONFIGS[seed % len(CONFIGS)]
    n = int(rng.integers(2, 80))
    value = rng.gamma(2.0, 50.0, n)
    expected = value * rng.uniform(0.2, 3.0, n)
    completeness = np.ones(n)
    completeness[-int(rng.integers(1, 4)) :] = rng.uniform(0.0, 1.0)  # the newest periods still filling in
    tail = rng.uniform(0.0, config.threshold, n) * (rng.random(n) > 0.2)
    tail[rng.random(n) < 0.1] = np.nan
    sustain = rng.uniform(0.0, 1.0, n)
    index = pd.date_range("2026-08-01", periods=n, freq="D")
    want = decide(value, expected, completeness, tail, config, index=index, sustain=sustain)
    points = {"tail_score": tail, "completeness": completeness, "anomaly_score": tail}
    got = _quiet_decision(points, config)
    assert "anomaly_score" not in points  # not computed: a read would fail rather than be wrong
    for column in ("candidate", "held_back", "flagged", "is_anomaly"):
        assert got[column].dtype == want[column].dtype
        np.testing.assert_array_equal(got[column], want[column])
    assert want["held_back"].any() or completeness.min() >= config.min_completeness
