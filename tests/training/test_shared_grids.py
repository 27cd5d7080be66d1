"""The sweep's shared grids (training.sweep_grid) change its cost, never its verdicts: a sweep that judges
series observed on the same periods on one grid gives the very evaluations (anomalies, scores, windows,
root causes) and the very incidents of one that takes each series alone."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from pydantic import SecretStr
from sqlalchemy import Engine

from alerts.incidents import list_incidents
from alerts.receivers import default_routing
from alerts.service import AlertService
from core.anomaly import SeriesEvaluation
from core.clock import FixedClock
from core.db import make_engine, migrate
from core.settings import Settings
from core.types import DEFAULT_SCOPE, Granularity
from tests.training.sweep_facts import AS_OF, write_sweep_facts
from training import sweep_job
from training.sweep_grid import series_grid, shared_grids
from training.sweep_job import Sweeper, SweepReport, run_sweep
from training.train_job import train_all


def _sweep(settings: Settings, engine: Engine, *, shared: bool) -> list[SeriesEvaluation]:
    # One process: both paths must see the same chunks (workers would only reorder them).
    sweeper = Sweeper(settings, engine, workers=1, shared=shared)
    return sweeper.evaluate(AS_OF.replace(tzinfo=UTC), SweepReport(as_of=AS_OF.replace(tzinfo=UTC)))


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Settings, Engine]]:
    """The generated facts with models trained two days before the sweep (the newest spikes are news)."""
    root = tmp_path_factory.mktemp("shared-grids")
    write_sweep_facts(root / "data" / "facts")
    settings = Settings(
        database_url=f"sqlite:///{root / 'state.db'}",
        data_dir=root / "data",
        _env_file=None,  # type: ignore[call-arg]
    )
    engine = make_engine(settings.database_url)
    migrate(engine)
    clock = FixedClock(AS_OF.replace(tzinfo=UTC))
    train_all(settings, engine, clock, model="seasonal", workers=1, at=AS_OF - pd.Timedelta(days=2))
    yield settings, engine
    engine.dispose()


def test_shared_grids_give_the_evaluations_of_series_taken_alone(
    trained: tuple[Settings, Engine], tmp_path: Path
) -> None:
    settings, engine = trained
    clock = FixedClock(AS_OF.replace(tzinfo=UTC))
    fast = _sweep(settings, engine, shared=True)
    alone = _sweep(settings, engine, shared=False)

    # The set covers what the shared path must get right: both granularities, product totals, series on
    # several grids, anomalies with root causes.
    assert {e.granularity for e in fast} == {Granularity.DAY, Granularity.HOUR}
    assert any(e.scope != DEFAULT_SCOPE for e in fast)
    anomalies = [a for e in fast for a in e.anomalies]
    assert len(anomalies) >= 10 and all(a.root_causes for a in anomalies if a.kind == "anomaly")
    assert any(e.scope != DEFAULT_SCOPE and e.anomalies for e in fast)
    assert any(e.granularity is Granularity.HOUR and e.anomalies for e in fast)
    # repr: floats to the last bit, and NaN equal to NaN.
    assert [repr(e) for e in fast] == [repr(e) for e in alone]

    # Incidents are a function of the evaluations; both sweeps open the same ones.
    opened = []
    for evaluations, name in ((fast, "fast"), (alone, "alone")):
        state = make_engine(f"sqlite:///{tmp_path / name}.db")
        migrate(state)
        routing = default_routing(pagerduty_routing_key=SecretStr("pd"), ticket_kind=None, ticket_url=None)
        AlertService(state, clock, routing).process(evaluations)
        opened.append(sorted((i["fingerprint"], i["severity"], i["impact"]) for i in list_incidents(state)))
        state.dispose()
    assert opened[0] and opened[0] == opened[1]


def test_a_batch_that_cannot_be_scored_is_scored_series_by_series(
    trained: tuple[Settings, Engine], monkeypatch: pytest.MonkeyPatch
) -> None:
    settings, engine = trained
    expected = _sweep(settings, engine, shared=True)

    def broken(*args: object, **kwargs: object) -> None:
        raise FloatingPointError("injected")

    monkeypatch.setattr(sweep_job, "score_rows", broken)
    assert [repr(e) for e in _sweep(settings, engine, shared=True)] == [repr(e) for e in expected]


def test_columns_observed_on_the_same_periods_share_one_grid() -> None:
    index = pd.date_range("2026-08-01", periods=6, freq="D")
    frame = pd.DataFrame(
        {
            "a": [1.0, 2, 3, 4, 5, 6],
            "b": [2.0, 2, 2, 2, 2, 2],
            "late": [np.nan, np.nan, 1, 1, 1, 1],
            "gap": [1.0, np.nan, 1, 1, 1, 1],
        },
        index=index,
    )
    as_of = pd.Timestamp("2026-08-06 12:00", tz="UTC").to_pydatetime()
    out = shared_grids(frame, [Granularity.DAY] * 4, as_of)
    assert out[0][1] is out[1][1] and len({id(g) for _, g in out}) == 3
    for (values, grid), column in zip(out, frame.columns, strict=True):
        y = frame[column].dropna()
        alone = series_grid(pd.DatetimeIndex(y.index), Granularity.DAY, as_of)
        np.testing.assert_array_equal(values, y.to_numpy())
        assert grid.index.equals(alone.index) and grid.horizon.equals(alone.horizon)
        np.testing.assert_array_equal(grid.completeness, alone.completeness)
        np.testing.assert_array_equal(grid.in_month, alone.in_month)
    # The newest day is half over; the month runs on to its last day in the horizon.
    assert out[0][1].completeness[-1] == 0.5 and out[0][1].horizon[-1] == pd.Timestamp("2026-08-31")


def test_a_sweep_over_the_generated_set_opens_incidents(tmp_path: Path, engine: Engine) -> None:
    """The generated set exercises alerting too (on the suite's state database, PostgreSQL in CI)."""
    write_sweep_facts(tmp_path / "data" / "facts", daily=24, hourly=2)
    settings = Settings(data_dir=tmp_path / "data", _env_file=None)  # type: ignore[call-arg]
    clock = FixedClock(AS_OF.replace(tzinfo=UTC))
    train_all(settings, engine, clock, model="seasonal", workers=1, at=AS_OF - pd.Timedelta(days=2))
    from alerts.wiring import alerting_from_settings

    report = run_sweep(
        settings, engine, clock, alerting=alerting_from_settings(settings, engine, clock), dispatch=False
    )
    assert report.anomalies > 0 and report.incidents.get("opened", 0) > 0
    assert list_incidents(engine, status="open")


def test_root_causes_from_coded_facts_are_those_from_frames(
    trained: tuple[Settings, Engine], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The sweep ranks root causes on leaf facts coded once (detector.explain_coded); facts it cannot code
    go the frame-based way (detector.explain). Both give the same evaluations, to the last bit."""
    settings, engine = trained
    coded = _sweep(settings, engine, shared=True)
    assert sum(len(a.root_causes) for e in coded for a in e.anomalies) >= 20
    monkeypatch.setattr(sweep_job, "code_leaf_facts", lambda *args, **kwargs: None)
    assert [repr(e) for e in _sweep(settings, engine, shared=True)] == [repr(e) for e in coded]
