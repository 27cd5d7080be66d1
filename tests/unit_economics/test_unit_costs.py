"""Unit-cost monitoring in-process: spend reconciled with volume, per-cost-line unit costs, the no-driver
sweep left untouched, the coverage SLO's error-budget windows, and ``GET /v1/unit-costs`` / ``/v1/slos``."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from api.app import create_app
from core.anomaly import SeriesEvaluation
from core.clock import FixedClock
from core.db import make_engine, migrate
from core.settings import Settings
from ingestion.drivers import DriverStore, read_driver_csv
from ingestion.fact_store import FactStore
from ingestion.ingest import Ingestor
from tests.unit_economics.scenario import Change, change_at, write_scenario
from training.slo import evaluate_coverage
from training.sweep_job import Sweeper, SweepReport
from training.train_job import train_all
from training.unit_costs import REGRESSION, WITH_VOLUME, with_unit_economics

AS_OF = (change_at() + timedelta(days=3)).replace(tzinfo=UTC)


def _prepare(
    folder: Path, change: Change, *, drivers: bool = True, **extra: object
) -> tuple[Settings, Engine]:
    settings = Settings(
        database_url=f"sqlite:///{folder / 'state.db'}",
        data_dir=folder / "data",
        _env_file=None,  # type: ignore[call-arg]
        **extra,  # type: ignore[arg-type]
    )
    engine = make_engine(settings.database_url)
    migrate(engine)
    export, driver_csv = write_scenario(folder, change)
    clock = FixedClock(AS_OF)
    Ingestor(settings, engine, clock).ingest_paths([export])
    if drivers:
        DriverStore(engine).upsert(read_driver_csv(driver_csv), clock)
    train_all(settings, engine, clock, model="seasonal", at=change_at(), workers=1)
    return settings, engine


def _sweep(settings: Settings, engine: Engine) -> tuple[list[SeriesEvaluation], list[SeriesEvaluation]]:
    sweeper = Sweeper(settings, engine)
    spend = sweeper.evaluate(AS_OF, SweepReport(as_of=AS_OF))
    return spend, with_unit_economics(settings, engine, AS_OF, sweeper, spend)


def _shop(evaluations: list[SeriesEvaluation], scope: str = "default") -> dict[str, SeriesEvaluation]:
    return {e.cost_line: e for e in evaluations if e.product == "shop" and e.scope == scope}


@pytest.fixture(scope="module")
def doubled(tmp_path_factory: pytest.TempPathFactory) -> tuple[Settings, Engine]:
    return _prepare(tmp_path_factory.mktemp("doubled"), "traffic_doubles")


def test_spend_that_grew_with_volume_is_explained(doubled: tuple[Settings, Engine]) -> None:
    raw, reconciled = _sweep(*doubled)
    # Without the drivers the spend monitor sees the doubling ...
    assert _shop(raw)["Amazon EC2"].anomalies
    # ... with them it is volume: no anomaly, windows judged against the volume-adjusted expectation.
    ec2 = _shop(reconciled)["Amazon EC2"]
    assert ec2.anomalies == [] and ec2.in_band and ec2.labels["verdict"] == WITH_VOLUME
    assert all(w.burn_rate < 1.2 for w in ec2.windows), ec2.windows
    (unit,) = _shop(reconciled, "unit:requests").values()
    assert unit.anomalies == [] and unit.labels["verdict"] == "efficiency intact"
    assert unit.month_projection == 0.0  # budgets sum projections: the spend evaluations carry the money
    # The other product has no drivers: its evaluations are the very same objects.
    assert [e for e in reconciled if e.product == "search"] == [e for e in raw if e.product == "search"]


def test_unit_costs_api_shows_unit_cost_next_to_spend(doubled: tuple[Settings, Engine]) -> None:
    settings, _ = doubled
    with TestClient(create_app(settings, clock=FixedClock(AS_OF))) as client:
        res = client.get("/v1/unit-costs", params={"product": "shop"})
        assert res.status_code == 200, res.text
        (series,) = res.json()
        assert (series["driver"], series["unit"], series["cost_line"], series["scope"]) == (
            "requests",
            "request",
            "(all)",
            "unit:requests",
        )
        assert series["model_trained"] is True
        last = series["points"][-1]
        assert last["timestamp"].startswith((AS_OF - timedelta(days=1)).date().isoformat())
        assert last["unit_cost"] == pytest.approx(last["spend"] / last["volume"])
        assert last["expected_unit_cost"] > 0 and last["lower"] < last["upper"]
        assert client.get("/v1/unit-costs", params={"product": "search"}).status_code == 404
        slos = client.get("/v1/slos").json()
        assert slos["coverage_slo"] is None and slos["coverage"][-1]["coverage_pct"] == pytest.approx(100.0)


def test_regression_labels_spend_and_unit_cost_per_cost_line(tmp_path: Path) -> None:
    settings, engine = _prepare(tmp_path, "rds_regression", unit_cost_lines=["shop:Amazon RDS"])
    _, reconciled = _sweep(settings, engine)
    units = _shop(reconciled, "unit:requests")
    assert set(units) == {"(all)", "Amazon RDS"}
    for unit in units.values():
        assert unit.anomalies and unit.labels["verdict"] == REGRESSION
    top = units["(all)"].anomalies[-1].root_causes[0]
    assert top.dimensions == {"cost_line": "Amazon RDS"} and top.contribution > 1000
    assert _shop(reconciled)["Amazon RDS"].labels["verdict"] == REGRESSION
    # Error-budget windows: 40% over a 20% allowance burns the budget about twice as fast.
    assert 1.6 < units["(all)"].windows[0].burn_rate < 2.4


def test_no_drivers_no_slo_leaves_the_sweep_alone(tmp_path: Path) -> None:
    settings, engine = _prepare(tmp_path, "rds_regression", drivers=False)
    sweeper = Sweeper(settings, engine)
    spend = sweeper.evaluate(AS_OF, SweepReport(as_of=AS_OF))
    assert with_unit_economics(settings, engine, AS_OF, sweeper, spend) is spend


def test_coverage_slo_windows_burn_the_error_budget(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data", coverage_slo=95, _env_file=None)  # type: ignore[call-arg]
    engine = make_engine(f"sqlite:///{tmp_path / 'state.db'}")
    migrate(engine)
    export, _ = write_scenario(tmp_path, "untagged_s3")
    Ingestor(settings, engine, FixedClock(AS_OF)).ingest_paths([export])
    store = FactStore(settings.facts_dir)
    (before,) = evaluate_coverage(settings, store, change_at().replace(tzinfo=UTC))
    assert before.anomalies == [] and before.in_band and before.labels["verdict"] == "coverage within SLO"
    (after,) = evaluate_coverage(settings, store, AS_OF)
    assert not after.in_band and after.scope == "slo:coverage"
    (event,) = after.anomalies
    assert event.start == change_at().replace(tzinfo=UTC) and event.root_causes
    # 250 of 2,050 a day untagged against a 5% allowance: the budget burns ~2.4x on both windows.
    assert all(2.2 < w.burn_rate < 2.7 for w in after.windows), after.windows
    assert 85 < float(after.labels["coverage_pct"]) < 90
    off = Settings(data_dir=tmp_path / "data", _env_file=None)  # type: ignore[call-arg]
    assert evaluate_coverage(off, store, AS_OF) == []


def test_unit_cost_lines_setting_reads_a_comma_list(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SPENDSENTRY_UNIT_COST_LINES", "shop:Amazon RDS,search:*")
    monkeypatch.setenv("SPENDSENTRY_COVERAGE_SLO", "95")
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    assert settings.unit_cost_lines == ["shop:Amazon RDS", "search:*"] and settings.coverage_slo == 95


@pytest.fixture(autouse=True)
def _no_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in ("SPENDSENTRY_COVERAGE_SLO", "SPENDSENTRY_UNIT_COST_LINES"):
        monkeypatch.delenv(name, raising=False)
    yield
