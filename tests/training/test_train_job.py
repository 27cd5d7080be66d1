"""Training every series end to end: real facts, real models, the registry on both databases, Dask."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import Engine

from core.clock import FixedClock
from core.errors import InputError, StoreError
from core.settings import Settings
from core.types import SeriesKey
from ingestion.demo_data import write_demo_export
from ingestion.ingest import Ingestor
from models.registry import ModelRegistry
from models.seasonal import BatchedSeasonalBaseline
from training import train_job
from training.scheduler import build_scheduler, cron_trigger
from training.train_job import fit_seasonal_chunk, train_all

CLOCK = FixedClock(datetime(2026, 11, 1, tzinfo=UTC))


@pytest.fixture(scope="module")
def demo_export(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("demo")
    write_demo_export(out, days=70)
    return out


@pytest.fixture
def settings(tmp_path: Path, demo_export: Path, engine: Engine) -> Settings:
    s = Settings(data_dir=tmp_path / "data", _env_file=None)  # type: ignore[call-arg]
    Ingestor(s, engine, CLOCK).ingest_paths([demo_export])
    return s


def test_every_series_gets_a_registered_model_that_reloads_identically(
    settings: Settings, engine: Engine
) -> None:
    report = train_all(settings, engine, CLOCK, model="seasonal", workers=1)
    registry = ModelRegistry(engine, settings.models_path)
    current = registry.current()
    assert report.series == len(current) == report.trained > 10 and not report.failed
    entry = next(iter(current.values()))
    assert entry.model_type == "seasonal" and entry.points and entry.train_end is not None
    model = registry.load(entry)
    index = pd.date_range("2026-08-10", periods=7, freq="D")
    again = registry.load(entry).predict(index)
    pd.testing.assert_frame_equal(model.predict(index), again)
    assert np.all(again["lower"] <= again["expected"]) and np.all(again["expected"] <= again["upper"])
    # A second training adds a version; the newest is current and the old one stays in history.
    train_all(settings, engine, CLOCK, model="seasonal", workers=1)
    assert len(registry.history(entry.key)) == 2
    assert registry.current()[entry.key.id].version > entry.version


def test_at_trains_only_on_facts_known_then(settings: Settings, engine: Engine) -> None:
    at = datetime(2026, 7, 20, tzinfo=UTC)
    train_all(settings, engine, CLOCK, model="seasonal", workers=1, at=at)
    for entry in ModelRegistry(engine, settings.models_path).current().values():
        assert entry.train_end is not None and entry.train_end < at


def test_exclusion_windows_are_left_out_of_training(settings: Settings, engine: Engine) -> None:
    window = (datetime(2026, 6, 10), datetime(2026, 6, 20))
    train_all(settings, engine, CLOCK, model="seasonal", workers=1)
    before = {k: e.points for k, e in ModelRegistry(engine, settings.models_path).current().items()}
    train_all(settings, engine, CLOCK, model="seasonal", workers=1, exclusions=lambda key: [window])
    after = {k: e.points for k, e in ModelRegistry(engine, settings.models_path).current().items()}
    assert all(after[k] == before[k] - 10 for k in before)


def test_one_failing_series_never_stops_the_rest(monkeypatch: pytest.MonkeyPatch) -> None:
    index = pd.date_range("2026-01-01", periods=90, freq="D")
    rng = np.random.default_rng(1)
    frame = pd.DataFrame({f"s{i}": 100 + rng.normal(0, 5, 90) for i in range(4)}, index=index)
    frame["s2"] = 777.0  # the marker of the series that breaks the fit
    real_fit_many = BatchedSeasonalBaseline.fit_many

    def fit_many(self: BatchedSeasonalBaseline, Y: pd.DataFrame) -> object:
        # A series that breaks the maths breaks its whole batch, and itself alone.
        if bool((Y == 777.0).any().any()):
            raise FloatingPointError("singular design")
        return real_fit_many(self, Y)

    monkeypatch.setattr(BatchedSeasonalBaseline, "fit_many", fit_many)
    results = {name: (model, err) for name, model, err in fit_seasonal_chunk(frame, {"granularity": "day"})}
    assert results["s2"][0] is None and "singular design" in str(results["s2"][1])
    assert all(results[n][0] is not None and results[n][1] is None for n in ("s0", "s1", "s3"))


def test_failures_are_registered_and_reported(
    settings: Settings, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    def failing_chunk(frame: pd.DataFrame, params: dict[str, object]) -> list[tuple[str, None, str]]:
        return [(str(n), None, "ValueError: bad") for n in frame.columns]

    monkeypatch.setattr(train_job, "fit_seasonal_chunk", failing_chunk)
    report = train_all(settings, engine, CLOCK, model="seasonal", workers=1)
    assert report.trained == 0 and len(report.failed) == report.series
    key = SeriesKey("checkout", "Amazon Elastic Compute Cloud", "USD")
    history = ModelRegistry(engine, settings.models_path).history(key)
    assert history[0].status == "failed" and history[0].error == "ValueError: bad"


def test_a_corrupt_artifact_is_a_store_error(settings: Settings, engine: Engine) -> None:
    train_all(settings, engine, CLOCK, model="seasonal", workers=1)
    registry = ModelRegistry(engine, settings.models_path)
    entry = next(iter(registry.current().values()))
    assert entry.artifact is not None
    (settings.models_path / entry.artifact).write_text("{not json")
    with pytest.raises(StoreError):
        registry.load(entry)


@pytest.mark.slow
def test_dask_fan_out_gives_the_same_models(settings: Settings, engine: Engine) -> None:
    from distributed import LocalCluster

    local = train_all(settings, engine, CLOCK, model="seasonal", workers=1, chunk_series=5)
    registry = ModelRegistry(engine, settings.models_path)
    first = {k: e.points for k, e in registry.current().items()}
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        remote = train_all(
            settings, engine, CLOCK, model="seasonal", dask_address=cluster.scheduler_address, chunk_series=5
        )
    assert remote.trained == local.trained and not remote.failed
    second = registry.current()
    assert {k: e.points for k, e in second.items()} == first
    assert all(e.trained_at == CLOCK.now() for e in second.values())


def test_scheduler_jobs_never_overlap_and_bad_cron_names_the_setting() -> None:
    scheduler = build_scheduler({"train": ("0 3 * * *", lambda: None), "sweep": ("15 * * * *", lambda: None)})
    jobs = {job.id: job for job in scheduler.get_jobs()}
    assert set(jobs) == {"train", "sweep"} and all(j.max_instances == 1 and j.coalesce for j in jobs.values())
    with pytest.raises(InputError) as err:
        cron_trigger("every day", "SPENDSENTRY_TRAIN_CRON")
    assert err.value.field == "SPENDSENTRY_TRAIN_CRON"
