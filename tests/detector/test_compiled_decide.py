"""The compiled post-rules (detector.compiled_decide) against numpy's (detector.post_rules.decide), to the bit.

Random scores, values and forecasts with NaN, ±inf, zeros, partial and missing periods, and every knob of
:class:`DetectorConfig` the rules read: direction, completeness policy, cold start, $ and % impact rules
joined by "and" or "or", persistence, onset alarms, an escalation ratio, the sustaining evidence or none,
one alerting flag or one per point.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from detector.compiled import use_compiled
from detector.post_rules import DetectorConfig, decide
from detector.scoring import ScoreConfig

TRIALS = 400


def _config(rng: np.random.Generator) -> DetectorConfig:
    return replace(
        DetectorConfig(),
        direction=str(rng.choice(["up", "down", "both"])),  # type: ignore[arg-type]
        completeness_policy=str(rng.choice(["scale", "hold"])),  # type: ignore[arg-type]
        min_completeness=float(rng.choice([0.0, 0.5])),
        cold_start_points=None if rng.random() < 0.5 else int(rng.integers(0, 20)),
        min_impact=None if rng.random() < 0.5 else float(rng.choice([0.0, 5.0, 50.0])),
        min_impact_pct=None if rng.random() < 0.5 else float(rng.choice([0.0, 10.0, 200.0])),
        impact_rule=str(rng.choice(["and", "or"])),  # type: ignore[arg-type]
        min_persistence=int(rng.integers(1, 4)),
        alarm=str(rng.choice(["run", "onset"])),  # type: ignore[arg-type]
        rearm_after=None if rng.random() < 0.5 else int(rng.integers(0, 5)),
        threshold=float(rng.choice([0.3, 0.5])),
        score=replace(ScoreConfig(), escalate_ratio=float(rng.choice([0.0, 0.3]))),
    )


def _inputs(rng: np.random.Generator, n: int) -> tuple[np.ndarray, ...]:
    expected = rng.normal(100, 30, n)
    value = expected + rng.normal(0, 40, n)
    if rng.random() < 0.4:
        value, expected = np.round(value, -1), np.round(expected, -1)  # impacts on the $ and % bounds
    value[rng.random(n) < 0.05] = np.nan
    expected[rng.random(n) < 0.05] = np.nan
    expected[rng.random(n) < 0.03] = 0.0
    value[rng.random(n) < 0.02] = np.inf
    completeness = np.where(rng.random(n) < 0.1, rng.choice([0.0, 0.3, 0.7, np.nan], n), 1.0)
    score = np.round(rng.random(n), 1)  # ties with the threshold
    score[rng.random(n) < 0.05] = np.nan
    sustain = np.round(rng.random(n), 1)
    return value, expected, completeness, score, sustain


def test_the_compiled_rules_decide_as_numpys() -> None:
    rng = np.random.default_rng(11)
    for trial in range(TRIALS):
        n = int(rng.integers(0, 80))
        value, expected, completeness, score, sustain = _inputs(rng, n)
        config = _config(rng)
        freq = "h" if trial % 2 else "D"
        index = pd.date_range("2026-03-01", periods=n, freq=freq)
        ready: bool | np.ndarray = bool(rng.random() < 0.8) if trial % 3 else rng.random(n) < 0.8
        kw = {"alerting_ready": ready, "index": index, "sustain": None if trial % 4 == 0 else sustain}
        got = decide(value, expected, completeness, score, config, **kw)  # type: ignore[arg-type]
        with use_compiled(False):
            want = decide(value, expected, completeness, score, config, **kw)  # type: ignore[arg-type]
        assert list(got) == list(want)
        for name in want:
            assert got[name].dtype == want[name].dtype, (trial, name)
            assert got[name].tobytes() == want[name].tobytes(), (trial, name, config)


@pytest.mark.parametrize("alarm", ["run", "onset"])
def test_the_cases_reach_the_rules(alarm: str) -> None:
    """The random cases flag points, hold some back and alarm: the comparison above is not of empty
    answers."""
    rng = np.random.default_rng(3)
    n = 60
    value, expected, completeness, score, sustain = _inputs(rng, n)
    config = replace(DetectorConfig(), alarm=alarm, direction="both")  # type: ignore[arg-type]
    index = pd.date_range("2026-01-01", periods=n)
    got = decide(value, expected, completeness, score, config, index=index, sustain=sustain)
    assert got["flagged"].any() and got["held_back"].any() and (got["anomaly_score"] > 0).any()
