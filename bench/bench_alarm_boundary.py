"""What drawing the alarm boundary costs a page: ``alarm_boundary`` beside the detector run it follows.

A daily series of 365 points and an hourly one of 90 days (2,160 points), each scored with a seasonal
model fitted once (a stored model); the detector run (score and decide) and the boundary are timed in turns,
median of several repeats, so the ratio holds on a shared, noisy machine.
Run: ``.venv/bin/python -m bench.bench_alarm_boundary`` (``make bench`` runs it with the others).
"""

from __future__ import annotations

import statistics
import time
from pathlib import Path

import numpy as np
import pandas as pd

from bench.machine import describe
from bench.publish import publish
from detector.alarm_boundary import alarm_boundary, alerting_ready
from detector.detector import Detector
from models.seasonal import BatchedSeasonalBaseline

RESULTS = Path(__file__).resolve().parent / "results" / "alarm_boundary.md"
REPEATS = 7


def series(granularity: str) -> pd.Series:
    rng = np.random.default_rng(0)
    if granularity == "day":
        index = pd.date_range("2025-01-01", periods=365, freq="D")
        values = 1000.0 + 200.0 * np.asarray(index.day_of_week < 5) + rng.normal(0.0, 40.0, len(index))
    else:
        index = pd.date_range("2025-01-01", periods=90 * 24, freq="h")
        values = (
            50.0 + 20.0 * np.sin(2 * np.pi * np.asarray(index.hour) / 24) + rng.normal(0.0, 3.0, len(index))
        )
    values[len(values) * 2 // 3] *= 2.0
    return pd.Series(values, index=index)


def measure(granularity: str) -> tuple[int, float, float]:
    """Points, and the median ms of a detector run and of the boundary after it."""
    y = series(granularity)
    model = BatchedSeasonalBaseline(granularity=granularity).fit(y)
    detector = Detector()
    runs, bounds = [], []
    for _ in range(REPEATS):
        started = time.perf_counter()
        detection = detector.run(model, y, fit=False)
        runs.append(time.perf_counter() - started)
        started = time.perf_counter()
        alarm_boundary(detection, detector.config, alerting_ready=alerting_ready(model, detection))
        bounds.append(time.perf_counter() - started)
    return len(y), statistics.median(runs) * 1000, statistics.median(bounds) * 1000


def main(write: bool = True) -> None:
    lines = [
        "## Alarm boundary (the band on the dashboard's charts)",
        "",
        f"Machine: {describe()}. Command: `.venv/bin/python -m bench.bench_alarm_boundary` (part of `make bench`).",
        f"Median of {REPEATS} repeats; a stored seasonal model, the default detector configuration.",
        "",
        "| series | points | detector run (ms) | alarm boundary (ms) | boundary per point (ms) |",
        "|---|---:|---:|---:|---:|",
    ]
    for name, granularity in (("daily, 365 days", "day"), ("hourly, 90 days", "hour")):
        points, run_ms, bound_ms = measure(granularity)
        lines.append(f"| {name} | {points} | {run_ms:.1f} | {bound_ms:.1f} | {bound_ms / points:.3f} |")
    publish("\n".join(lines) + "\n", RESULTS, write=write)


if __name__ == "__main__":
    main()
