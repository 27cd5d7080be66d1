"""``POST /v1/score`` with a stored model: the series is trained from facts, the request uses that model."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import insert

from alerts.tables import rebaselines
from api.app import create_app
from core.clock import FixedClock
from core.db import make_engine, migrate
from core.settings import Settings
from ingestion.demo_data import write_demo_export
from ingestion.ingest import Ingestor
from training.train_job import train_all

CLOCK = FixedClock(datetime(2026, 10, 1, tzinfo=UTC))


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    root = tmp_path_factory.mktemp("stored")
    settings = Settings(database_url=f"sqlite:///{root / 'state.db'}", data_dir=root / "data", _env_file=None)  # type: ignore[call-arg]
    engine = make_engine(settings.database_url)
    migrate(engine)
    write_demo_export(root / "export", days=70)
    Ingestor(settings, engine, CLOCK).ingest_paths([root / "export"])
    train_all(settings, engine, CLOCK, model="seasonal", workers=1)
    with TestClient(create_app(settings, clock=CLOCK)) as c:
        yield c


def series(days: int = 60, spike: float = 1.0) -> list[dict[str, object]]:
    points = []
    for d in range(days):
        t = (
            datetime(2026, 6, 1, tzinfo=UTC).replace(day=1)
            + (datetime(2026, 6, 2) - datetime(2026, 6, 1)) * d
        )
        points.append({"timestamp": t.isoformat(), "value": 1000.0 * (spike if d == days - 1 else 1.0)})
    return points


def test_known_series_uses_the_stored_model(client: TestClient) -> None:
    body = {"series": series(), "product": "checkout", "cost_line": "Amazon Elastic Compute Cloud"}
    res = client.post("/v1/score", json=body)
    assert res.status_code == 200, res.text
    model = res.json()["model"]
    assert model["source"] == "stored" and model["model_type"] == "seasonal"


def test_unknown_series_is_fitted_on_the_request(client: TestClient) -> None:
    res = client.post("/v1/score", json={"series": series(), "product": "nope", "cost_line": "x"})
    assert res.status_code == 200 and res.json()["model"]["source"] == "fitted_on_request"


def test_a_new_normal_scales_the_stored_model_as_the_sweep_does(
    client: TestClient, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """A rebaseline recorded after the model was trained scales its forecast from ``since`` on, as the
    sweep does (``alerts.rebaseline.forecast_factors``): /v1/score must not judge the new level against
    the old one."""
    body = {"series": series(), "product": "checkout", "cost_line": "Amazon Elastic Compute Cloud"}
    before = client.post("/v1/score", json=body).json()["points"]
    settings: Settings = client.app.state.settings  # type: ignore[attr-defined]
    engine = make_engine(settings.database_url)
    since = datetime(2026, 7, 1, tzinfo=UTC)
    with engine.begin() as conn:
        conn.execute(
            insert(rebaselines).values(
                product="checkout",
                cost_line="Amazon Elastic Compute Cloud",
                currency="USD",
                scope="default",
                since=since,
                ratio=2.0,
                month_impact=1000.0,
                incident_id="inc-test",
                reason="feedback",
                created_at=CLOCK.now(),
                applied_at=None,
            )
        )
    # A new app: the running one remembers its registry look-ups (and rebaselines) for 30 s.
    with TestClient(create_app(settings, clock=CLOCK)) as fresh:
        after = fresh.post("/v1/score", json=body).json()["points"]
    assert len(before) == len(after) == 60
    for old, new in zip(before, after, strict=True):
        stamp = datetime.fromisoformat(old["timestamp"])
        want = old["expected"] * (2.0 if stamp >= since else 1.0)
        assert new["expected"] == pytest.approx(want, rel=1e-9), stamp


def test_only_work_without_io_is_scored_on_the_event_loop(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Registry look-ups and long series go to a worker thread; a short series with a cached model, or
    fitted on the request with nothing to look up, is scored on the loop (no hop, no GIL contention)."""
    from api.routes import score as route

    hops: list[str] = []
    real = route.run_in_threadpool

    async def counted(func, *args, **kwargs):  # type: ignore[no-untyped-def]
        hops.append("hop")
        return await real(func, *args, **kwargs)

    monkeypatch.setattr(route, "run_in_threadpool", counted)

    def hopped(body: dict[str, object]) -> int:
        hops.clear()
        res = client.post("/v1/score", json=body)
        assert res.status_code == 200, res.text
        return len(hops)

    assert hopped({"series": series()}) == 0  # nothing to look up: fitted on the loop
    never_seen = {"series": series(), "product": "never", "cost_line": "seen"}
    assert hopped(never_seen) == 1  # the registry is asked, off the loop
    assert hopped(never_seen) == 0  # its answer (no model) is remembered
    known = {"series": series(), "product": "checkout", "cost_line": "Amazon Elastic Compute Cloud"}
    hopped(known)  # loads the model, wherever
    assert hopped(known) == 0
    assert hopped({"series": series(days=route.INLINE_MAX_POINTS + 1)}) == 1  # a long series

    def batch_hopped(items: list[Any]) -> int:
        hops.clear()
        res = client.post("/v1/score/batch", json={"items": items})
        assert res.status_code == 200, res.text
        return len(hops)

    assert batch_hopped([known, never_seen, {"series": series()}]) == 0
    assert batch_hopped([known, {"series": series(), "product": "also", "cost_line": "new"}]) == 1
    assert batch_hopped([known] * (route.INLINE_MAX_BATCH_POINTS // 60 + 1)) == 1  # many points in all
