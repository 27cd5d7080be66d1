"""Periods of ended expected-change windows are excused by the sweep: only excess after a window counts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import Engine

from alerts.expected_changes import create_expected_change
from core.clock import FixedClock
from core.settings import Settings
from core.types import DEFAULT_SCOPE, Granularity
from ingestion.ingest import Ingestor
from tests.ingestion.focus_rows import row, write_csv
from training.planned_periods import excused_values
from training.sweep_job import LOOKBACK, run_sweep
from training.train_job import train_all

INDEX = pd.date_range("2026-05-01", periods=6, freq="h")
T = [t.to_pydatetime().replace(tzinfo=UTC) for t in INDEX]


@pytest.mark.parametrize(
    ("spans", "excused"),
    [
        ([], []),
        ([(T[1], T[3])], [1, 2]),  # [start, end): the period starting at the end is not in it
        ([(T[0], T[1]), (T[4], T[5] + timedelta(hours=1))], [0, 4, 5]),
        ([(T[2] + timedelta(minutes=30), T[4])], [3]),  # a period starting before the window is not planned
    ],
)
def test_excused_values(spans, excused) -> None:
    value = np.array([10.0, 30.0, 30.0, 30.0, 12.0, 11.0])
    expected = np.array([10.0, 10.0, 11.0, 10.0, 10.0, 9.0])
    out = excused_values(value, expected, INDEX, spans)
    mask = np.isin(np.arange(6), excused)
    assert np.array_equal(out, np.where(mask, expected, value))
    assert np.array_equal(value, [10.0, 30.0, 30.0, 30.0, 12.0, 11.0])  # the caller's array is left as it was


START = datetime(2026, 9, 1)
DAYS = 21
PLAN = (START + timedelta(days=20, hours=4), START + timedelta(days=20, hours=16))  # 2x for 12 hours


def sweep_after_plan(engine: Engine, tmp_path: Path, *, announced: bool) -> object:
    settings = Settings(data_dir=tmp_path / "data", _env_file=None)  # type: ignore[call-arg]
    rng = np.random.default_rng(3)
    rows = []
    for h in range(24 * DAYS):
        at = START + timedelta(hours=h)
        cost = 10.0 * float(np.exp(rng.normal(0, 0.03))) * (2.0 if PLAN[0] <= at < PLAN[1] else 1.0)
        rows.append(row(start=at, hours=1, cost=cost, product="shop", service="Amazon EC2"))
    write_csv(tmp_path / "export.csv", rows)
    clock = FixedClock(PLAN[0].replace(tzinfo=UTC))
    Ingestor(settings, engine, clock).ingest_paths([tmp_path / "export.csv"])
    train_all(settings, engine, clock, model="seasonal", workers=1, at=PLAN[0].replace(tzinfo=UTC))
    if announced:
        create_expected_change(
            engine,
            clock,
            name="planned load test",
            matchers=['product="shop"'],
            starts_at=PLAN[0].replace(tzinfo=UTC),
            ends_at=PLAN[1].replace(tzinfo=UTC),
        )
    at = (PLAN[1] + timedelta(hours=2)).replace(tzinfo=UTC)  # two hours after the window
    report = run_sweep(settings, engine, clock, at=at)
    # The product × cost line series (the product total, watched by default, sums the same spend).
    [ev] = [e for e in report.evaluations if e.scope == DEFAULT_SCOPE]
    return ev


@pytest.mark.parametrize("announced", [False, True])
def test_a_sweep_after_a_window_counts_only_the_excess_after_it(
    engine: Engine, tmp_path: Path, announced: bool
) -> None:
    ev = sweep_after_plan(engine, tmp_path, announced=announced)
    short, long = ev.windows[0], ev.windows[1]  # 6 h and 24 h
    if announced:
        # As if the plan had spent what was expected: no event, nothing burning, in band.
        assert ev.anomalies == [] and ev.in_band
        assert short.burn_rate < 1.2 and long.burn_rate < 1.2, ev.windows
        # The month to date is money all the same: it still counts the planned spend (the $120 extra of
        # the plan, over the hours the sweep reads).
        hours = LOOKBACK[Granularity.HOUR] / timedelta(hours=1)
        assert ev.month_to_date_actual > 10.0 * hours + 12 * 10.0 * 0.8
    else:
        # Unannounced, the same spend is still in the windows and in an open event.
        assert ev.anomalies and short.burn_rate > 1.5 and long.burn_rate > 1.2, ev.windows
