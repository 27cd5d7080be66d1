"""Scoring many series at once (detector.batch_scores) gives every series the very scores, to the bit,
that ``Detector.score_arrays`` gives it alone: daily and hourly, every direction, partial periods, gaps,
spikes, steps and flat series, and a tail memory (the second pass's other branch)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from detector.batch_scores import score_rows
from detector.detector import Detector
from detector.post_rules import DetectorConfig
from detector.scoring import ScoreConfig
from models.base import FORECAST_COLUMNS


def _rows(n: int, period: int, seed: int) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    base = 100 + 30 * np.sin(2 * np.pi * t / period)
    rows = [base + rng.normal(0, s, n) for s in (1.0, 5.0, 20.0)]
    spike = base + rng.normal(0, 2, n)
    spike[-3:] *= 4  # an event at the newest periods
    spike[n // 2] *= 6  # and one in the middle, kept out of the tail history
    step = base + rng.normal(0, 2, n)
    step[n - 10 :] += 60
    drop = base + rng.normal(0, 2, n)
    drop[-2:] = 0.0
    flat = np.full(n, 5.0)
    gaps = base + rng.normal(0, 3, n)
    gaps[[3, 10, n - 5]] = np.nan
    values = np.stack([*rows, spike, step, drop, flat, gaps])
    expected = np.stack([base] * len(values))
    expected[-2] = 5.0
    spread = 10.0
    forecast = {
        "expected": expected,
        "lower": expected - spread,
        "upper": expected + spread,
        "trend": np.full(values.shape, 100.0),
        "seasonal": expected - 100.0,
    }
    return values, forecast


@pytest.mark.parametrize("direction", ["up", "down", "both"])
@pytest.mark.parametrize(("freq", "n", "period"), [("D", 63, 7), ("h", 336, 24)], ids=["daily", "hourly"])
@pytest.mark.parametrize("memory", [None, 3.0], ids=["no-memory", "memory"])
def test_rows_score_as_each_series_alone(
    direction: str, freq: str, n: int, period: int, memory: float | None
) -> None:
    index = pd.date_range("2026-07-01", periods=n, freq=freq)
    step = pd.Timedelta(days=1) if freq == "D" else pd.Timedelta(hours=1)
    values, forecast = _rows(n, period, seed=n)
    completeness = np.ones(n)
    completeness[-1] = 0.4  # the newest period is still filling
    config = replace(DetectorConfig(), direction=direction, score=ScoreConfig(exclude_days=memory))
    detector = Detector(config)
    batched = score_rows(values, forecast, completeness=completeness, step=step, index=index, config=config)
    assert len(batched) == len(values)
    flagged = 0
    for r, got in enumerate(batched):
        alone = detector.score_arrays(
            values[r],
            {c: forecast[c][r] for c in FORECAST_COLUMNS},
            completeness=completeness,
            step=step,
            index=index,
        )
        assert list(got) == list(alone)
        for name, expected_column in alone.items():
            np.testing.assert_array_equal(got[name], expected_column, err_msg=f"row {r}, {name}")
        flagged += int((alone["tail_score"] >= 0.5).any())
    assert flagged >= 1  # the set has events to score in every direction, not only calm series


def test_blocks_of_rows_give_the_same_scores_as_one() -> None:
    """Rows are scored in blocks that bound memory; where a block ends changes nothing."""
    n = 336
    index = pd.date_range("2026-07-01", periods=n, freq="h")
    values, forecast = _rows(n, 24, seed=3)
    values = np.concatenate([values] * 6)  # more rows than one block holds at this length
    forecast = {c: np.concatenate([v] * 6) for c, v in forecast.items()}
    config = DetectorConfig()
    batched = score_rows(
        values, forecast, completeness=None, step=pd.Timedelta(hours=1), index=index, config=config
    )
    first = len(values) // 6
    for r in range(first, len(values)):
        np.testing.assert_array_equal(batched[r]["tail_score"], batched[r % first]["tail_score"])
        np.testing.assert_array_equal(batched[r]["anomaly_score"], batched[r % first]["anomaly_score"])
