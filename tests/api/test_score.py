"""``POST /v1/score`` and ``/v1/score/batch``: the contract's shape, anomalies, root causes, validation."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.routes import score
from core.clock import FixedClock
from core.settings import Settings
from detector.post_rules import DetectorConfig

CLOCK = FixedClock(datetime(2030, 1, 1, tzinfo=UTC))


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 'state.db'}", data_dir=tmp_path / "data", _env_file=None
    )
    app = create_app(settings, clock=CLOCK)
    if not any(getattr(r, "path", "") == "/v1/score" for r in app.routes):
        app.include_router(score.router)  # until the lead wires it in api/app.py
    with TestClient(app) as c:
        yield c


def series(
    n: int = 90, spike: tuple[int, ...] = (80, 81, 82), start: str = "2024-01-01"
) -> list[dict[str, Any]]:
    rng = np.random.default_rng(1)
    idx = pd.date_range(start, periods=n, freq="D")
    v = 100 + 10 * np.sin(np.arange(n) * 2 * np.pi / 7) + rng.normal(0, 2, n)
    v[list(spike)] += 60
    return [{"timestamp": t.isoformat(), "value": float(x)} for t, x in zip(idx, v, strict=True)]


def test_score_answers_the_contract(client: TestClient) -> None:
    res = client.post("/v1/score", json={"series": series(), "product": "checkout", "cost_line": "EC2"})
    assert res.status_code == 200, res.text
    body = res.json()
    assert len(body["points"]) == 90
    p = body["points"][0]
    assert {"timestamp", "value", "expected", "lower", "upper", "anomaly_score", "is_anomaly"} <= set(p)
    assert all(0.0 <= q["anomaly_score"] <= q["tail_score"] + 1e-9 <= 1.0 + 1e-9 for q in body["points"])
    assert body["points"][80]["is_anomaly"]
    # The alarm signal is high where the alarm is raised; the tail score says how unusual each point is.
    assert body["points"][80]["anomaly_score"] >= 0.5 and body["points"][80]["tail_score"] >= 0.5
    assert max(q["anomaly_score"] for q in body["points"][:70]) < DetectorConfig().threshold
    spike = next(a for a in body["anomalies"] if a["start"].startswith("2024-03-21"))
    assert {
        "start",
        "end",
        "actual",
        "expected",
        "impact",
        "impact_pct",
        "anomaly_score",
        "root_causes",
    } <= set(spike)
    assert spike["impact"] == pytest.approx(spike["actual"] - spike["expected"])
    assert spike["impact"] > 40 and spike["root_causes"] == []
    # The decomposition adds up to the expected spend.
    assert spike["expected_trend"] + spike["expected_seasonal"] == pytest.approx(spike["expected"])
    assert body["model"]["source"] == "fitted_on_request" and body["model"]["granularity"] == "day"


def test_direction_down_ignores_spikes(client: TestClient) -> None:
    body = client.post("/v1/score", json={"series": series(), "direction": "down"}).json()
    assert not any(a["start"].startswith("2024-03-21") for a in body["anomalies"])


def test_breakdown_gives_root_causes(client: TestClient) -> None:
    pts = series()
    breakdown = []
    for i, p in enumerate(pts):
        extra = 60.0 if i in (80, 81, 82) else 0.0
        base = (p["value"] - extra) / 2
        breakdown.append({"timestamp": p["timestamp"], "dimensions": {"region": "eu"}, "value": base})
        breakdown.append({"timestamp": p["timestamp"], "dimensions": {"region": "us"}, "value": base + extra})
    body = client.post("/v1/score", json={"series": pts, "breakdown": breakdown}).json()
    spike = next(a for a in body["anomalies"] if a["start"].startswith("2024-03-21"))
    assert spike["root_causes"][0]["dimensions"] == {"region": "us"}
    assert spike["root_causes"][0]["contribution"] > 40


def test_partial_newest_day_is_not_a_drop(tmp_path: Path) -> None:
    pts = series(spike=())
    pts[-1]["value"] = 25.0  # a quarter of a normal day so far
    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 's.db'}", data_dir=tmp_path / "d", _env_file=None
    )
    last = pd.Timestamp(pts[-1]["timestamp"])
    app = create_app(
        settings, clock=FixedClock((last + pd.Timedelta(hours=6)).to_pydatetime().replace(tzinfo=UTC))
    )
    app.include_router(score.router)
    with TestClient(app) as c:
        body = c.post("/v1/score", json={"series": pts, "direction": "both"}).json()
        # The same point, explicitly complete, is a drop.
        pts[-1]["completeness"] = 1.0
        complete = c.post("/v1/score", json={"series": pts, "direction": "both"}).json()
    assert body["points"][-1]["completeness"] == pytest.approx(0.25)
    assert not body["points"][-1]["is_anomaly"]
    assert body["completeness"]["partial_periods"] == 1
    assert complete["points"][-1]["is_anomaly"]


def test_hourly_series_is_inferred(client: TestClient) -> None:
    idx = pd.date_range("2024-01-01", periods=24 * 10, freq="h")
    v = 5 + np.sin(np.arange(len(idx)) * 2 * np.pi / 24)
    pts = [{"timestamp": t.isoformat() + "Z", "value": float(x)} for t, x in zip(idx, v, strict=True)]
    body = client.post("/v1/score", json={"series": pts}).json()
    assert body["model"]["granularity"] == "hour"


def post_raw(client: TestClient, url: str, body: Any) -> Any:
    # Clients written in JavaScript or Python send NaN / Infinity literals; httpx's json= refuses them.
    return client.post(url, content=json.dumps(body), headers={"content-type": "application/json"})


def loc_of(res: Any) -> list[Any]:
    loc: list[Any] = res.json()["detail"][0]["loc"]
    return loc


@pytest.mark.parametrize(
    ("mutate", "loc"),
    [
        (lambda s: s[3].update(value=float("nan")), ["body", "series", "3", "value"]),
        (lambda s: s[3].update(value=float("inf")), ["body", "series", "3", "value"]),
        (lambda s: s[5].update(timestamp=s[4]["timestamp"]), ["body", "series", "5", "timestamp"]),
        (lambda s: s.insert(6, s.pop(2)), ["body", "series", "6", "timestamp"]),
        (lambda s: s[7].update(timestamp="2024-01-08T12:00:00"), ["body", "series", "7", "timestamp"]),
    ],
    ids=["nan", "inf", "duplicate", "unsorted", "mixed-granularity"],
)
def test_invalid_points_are_422_naming_the_point(client: TestClient, mutate: Any, loc: list[str]) -> None:
    pts = series()
    mutate(pts)
    res = post_raw(client, "/v1/score", {"series": pts, "granularity": "day"})
    assert res.status_code == 422, res.text
    assert loc_of(res) == loc


def test_hourly_points_mixed_with_daily_ones_are_422(client: TestClient) -> None:
    days = pd.date_range("2024-01-01", periods=20, freq="D")
    hours = pd.date_range("2024-01-21", periods=20, freq="h")
    pts = [{"timestamp": t.isoformat(), "value": 1.0} for t in days.append(hours)]
    res = client.post("/v1/score", json={"series": pts})
    assert res.status_code == 422 and loc_of(res) == ["body", "series"]
    assert "mixed granularity" in res.json()["detail"][0]["msg"]


def test_sub_hourly_series_is_422(client: TestClient) -> None:
    idx = pd.date_range("2024-01-01", periods=30, freq="5min")
    res = client.post("/v1/score", json={"series": [{"timestamp": t.isoformat(), "value": 1.0} for t in idx]})
    assert res.status_code == 422 and loc_of(res) == ["body", "series"]


def test_schema_errors_are_422(client: TestClient) -> None:
    assert client.post("/v1/score", json={"series": []}).status_code == 422
    assert client.post("/v1/score", json={"series": series(), "direction": "sideways"}).status_code == 422
    res = client.post("/v1/score", json={"series": series()[:2]})
    assert res.status_code == 422 and loc_of(res) == ["body", "series"]


def test_too_many_points_is_413(client: TestClient) -> None:
    idx = pd.date_range("2000-01-01", periods=score.DEFAULT_MAX_POINTS + 1, freq="h")
    pts = [{"timestamp": t.isoformat(), "value": 1.0} for t in idx]
    res = client.post("/v1/score", json={"series": pts})
    assert res.status_code == 413 and loc_of(res) == ["body", "series"]
    # A few points spread over too many periods are too large as well.
    far = [
        {"timestamp": "2000-01-01T00:00:00", "value": 1.0},
        {"timestamp": "2001-01-01T00:00:00", "value": 1.0},
        {"timestamp": "2010-01-01T00:00:00", "value": 1.0},
    ]
    assert client.post("/v1/score", json={"series": far, "granularity": "hour"}).status_code == 413


def test_batch_scores_each_series_and_names_the_bad_item(client: TestClient) -> None:
    ok = client.post("/v1/score/batch", json={"items": [{"series": series()}, {"series": series(spike=())}]})
    assert ok.status_code == 200 and len(ok.json()["results"]) == 2
    bad = series()
    bad[4]["value"] = float("nan")
    res = post_raw(client, "/v1/score/batch", {"items": [{"series": series()}, {"series": bad}]})
    assert res.status_code == 422 and loc_of(res) == ["body", "items", "1", "series", "4", "value"]
