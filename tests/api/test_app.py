"""The HTTP API in-process: health, readiness, OpenAPI, metrics, series and ``POST /v1/spend``."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from core.settings import Settings
from tests.ingestion.focus_rows import hourly_rows, row


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 'state.db'}",
        data_dir=tmp_path / "data",
        max_spend_rows=50,
        max_body_bytes=200_000,
        _env_file=None,  # type: ignore[call-arg]
    )
    with TestClient(create_app(settings)) as c:
        yield c


def test_health_ready_docs(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200 and ready.json()["checks"] == {"database": "ok", "fact_store": "ok"}
    assert "/v1/spend" in client.get("/openapi.json").json()["paths"]
    assert client.get("/docs").status_code == 200


def test_spend_rows_are_ingested_and_listed(client: TestClient) -> None:
    rows = hourly_rows(24, cost=2.0)
    rows[0]["Tags"] = {"product": "checkout"}  # an object is accepted as well as FOCUS's JSON string
    rows.append(row(cost=1.0, ChargePeriodStart="not a time"))
    res = client.post("/v1/spend", json={"rows": rows, "source": "test-batch"})
    assert res.status_code == 200, res.text
    body = res.json()
    assert body["rows_kept"] == 24 and body["usage_spend"] == {"USD": 48.0}
    assert body["rejected"] == [
        {"reason": "ChargePeriodStart: missing or not a timestamp", "rows": 1, "files": ["test-batch"]}
    ]
    listed = client.get("/v1/series").json()
    assert [(s["product"], s["granularity"], s["points"]) for s in listed] == [("checkout", "hour", 24)]
    pts = client.get("/v1/series/points", params={"product": "checkout", "cost_line": "Amazon EC2"}).json()
    assert sum(p["value"] for p in pts["points"]) == pytest.approx(48.0)
    again = client.post("/v1/spend", json={"rows": rows, "source": "test-batch"}).json()
    assert client.get("/v1/series").json()[0]["total_spend"] == pytest.approx(48.0)
    assert again["partitions_written"] + again["partitions_unchanged"] == 1
    metrics = client.get("/metrics").text
    assert 'spendsentry_series{granularity="hour"} 1.0' in metrics
    assert 'spendsentry_attribution_coverage_ratio{currency="USD"} 1.0' in metrics


@pytest.mark.parametrize(
    ("payload", "status", "loc"),
    [
        ({"rows": []}, 422, ["body", "rows"]),
        ({"rows": [{"EffectiveCost": [1, 2]}]}, 422, ["body", "rows", "0", "EffectiveCost"]),
        ({"rows": [{"ServiceName": "x"}]}, 422, ["body", "request"]),
        ({"rows": [row()] * 51}, 413, ["body", "rows"]),
    ],
)
def test_bad_spend_requests_name_the_field(
    client: TestClient, payload: dict[str, object], status: int, loc: list[str]
) -> None:
    res = client.post("/v1/spend", json=payload)
    assert res.status_code == status, res.text
    assert res.json()["detail"][0]["loc"][: len(loc)] == loc
    assert client.get("/v1/series").json() == []


def test_body_over_the_limit_is_413(client: TestClient) -> None:
    res = client.post(
        "/v1/spend",
        content=json.dumps({"rows": [row()] * 40, "pad": "x" * 250_000}),
        headers={"content-type": "application/json"},
    )
    assert res.status_code == 413
    assert "larger than" in res.json()["detail"][0]["msg"]


def test_unknown_series_is_404(client: TestClient) -> None:
    res = client.get("/v1/series/points", params={"product": "nope", "cost_line": "x"})
    assert res.status_code == 404
    assert (
        client.get(
            "/v1/series/points", params={"product": "a", "cost_line": "b", "currency": "US"}
        ).status_code
        == 422
    )


def test_points_window(client: TestClient) -> None:
    client.post("/v1/spend", json={"rows": hourly_rows(48, cost=1.0)})
    pts = client.get(
        "/v1/series/points",
        params={
            "product": "checkout",
            "cost_line": "Amazon EC2",
            "granularity": "day",
            "end": datetime(2026, 9, 2).isoformat(),
        },
    )
    assert [p["value"] for p in pts.json()["points"]] == [24.0]


@pytest.mark.parametrize(("flag", "runs"), [("1", True), ("0", False)])
def test_only_the_marked_serve_process_runs_the_scheduler(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, flag: str, runs: bool
) -> None:
    from api.app import SCHEDULER_ENV, create_serve_app
    from core.settings import get_settings

    monkeypatch.setenv("SPENDSENTRY_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("SPENDSENTRY_DATABASE_URL", f"sqlite:///{tmp_path / 'state.db'}")
    monkeypatch.setenv(SCHEDULER_ENV, flag)
    get_settings.cache_clear()
    try:
        with TestClient(create_serve_app()) as client:
            scheduler = client.app.state.scheduler  # type: ignore[attr-defined]
            assert (scheduler is not None) == runs
            assert client.get("/healthz").status_code == 200
    finally:
        get_settings.cache_clear()


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("post", "/v1/sweeps", {"at": "2999-01-01T00:00:00Z"}),
        ("post", "/v1/trainings", {"at": "2999-01-01T00:00:00"}),
        ("get", "/v1/anomalies?at=2999-01-01T00:00:00Z", None),
    ],
)
def test_times_in_the_future_are_422_naming_at(
    client: TestClient, method: str, path: str, body: object
) -> None:
    res = client.post(path, json=body) if method == "post" else client.get(path)
    assert res.status_code == 422, res.text
    detail = res.json()["detail"][0]
    assert detail["loc"][-1] == "at" and "in the future" in detail["msg"]
