"""The sweep's sustained run: the newest intraday periods the detector sustains without opening on them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from core.settings import Settings
from training.sweep_job import SUSTAINED_RUN_SCORE, Sweeper

HOUR = pd.Timedelta(hours=1)
N = 48


def points(
    ratios: list[float], sustain: list[float], tail: list[float] | None = None
) -> tuple[dict[str, np.ndarray], pd.DatetimeIndex]:
    """48 hours at $30 expected; the newest ones at ``ratios`` x with the given scores (older ones quiet)."""
    k = len(ratios)
    expected = np.full(N, 30.0)
    value = expected.copy()
    value[N - k :] *= np.asarray(ratios)
    sustain_score, tail_score = np.zeros(N), np.zeros(N)
    sustain_score[N - k :] = sustain
    tail_score[N - k :] = tail if tail is not None else [0.2] * k
    cols = {
        "value": value,
        "expected": expected,
        "sustain_score": sustain_score,
        "tail_score": tail_score,
        "completeness": np.ones(N),
        "trend": expected,
        "seasonal": np.zeros(N),
    }
    return cols, pd.date_range("2026-09-01", periods=N, freq="h")


S = SUSTAINED_RUN_SCORE + 0.1  # sustaining evidence enough to open on
WEAK = SUSTAINED_RUN_SCORE - 0.05  # above the detector's threshold, not enough to open on alone


@pytest.mark.parametrize(
    ("case", "shape", "periods"),
    [
        # a +40% step in its second hour, sustained in both: an event over the two hours
        ("two hours", dict(ratios=[1.4, 1.4], sustain=[S, S]), 2),
        # three hours of it: the event covers the run
        ("three hours", dict(ratios=[1.4, 1.4, 1.4], sustain=[S, S, S]), 3),
        # one hour is not a run
        ("one hour", dict(ratios=[1.4], sustain=[S]), None),
        # the newest hour broke the run (back under expected): nothing going on
        ("broken", dict(ratios=[1.4, 1.4, 0.9], sustain=[S, S, 0.0]), None),
        # the sustaining evidence is under the score a run opens on
        ("weak evidence", dict(ratios=[1.4, 1.4], sustain=[WEAK, S]), None),
        # no tail evidence at all in one hour: not surprising in itself
        ("no tail", dict(ratios=[1.4, 1.4], sustain=[S, S], tail=[0.0, 0.2]), None),
        # +10% together is under SUSTAINED_BURN_FACTOR (1.2), however sustained
        ("small", dict(ratios=[1.1, 1.1], sustain=[S, S]), None),
    ],
)
def test_sustained_run(tmp_path: Path, case: str, shape: dict[str, Any], periods: int | None) -> None:
    sweeper = Sweeper(Settings(data_dir=tmp_path, _env_file=None), None)  # type: ignore[call-arg]
    cols, index = points(**shape)
    event = sweeper._sustained_run(cols, index, np.arange(N), HOUR)
    if periods is None:
        assert event is None, case
        return
    assert event is not None, case
    assert event.kind == "anomaly" and event.direction == "up"
    assert event.end == index[-1] and event.start == index[-periods]
    excess = float(cols["value"][-periods:].sum() - cols["expected"][-periods:].sum())
    assert event.impact == pytest.approx(excess)
    assert event.projected_month_impact > event.impact  # the rate goes on to the month's end
