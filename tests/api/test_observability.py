"""Observability: job metrics after a sweep and a training, request ids, and JSON log lines with the job id."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from core.clock import FixedClock
from core.logs import JsonFormatter, job_context, request_id
from core.settings import Settings
from ingestion.demo_data import write_demo_export


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    root = tmp_path_factory.mktemp("obs")
    settings = Settings(database_url=f"sqlite:///{root / 'state.db'}", data_dir=root / "data", _env_file=None)  # type: ignore[call-arg]
    write_demo_export(root / "export", days=60)
    from core.db import make_engine, migrate
    from ingestion.ingest import Ingestor

    engine = make_engine(settings.database_url)
    migrate(engine)
    Ingestor(settings, engine, FixedClock(datetime(2026, 8, 1, tzinfo=UTC))).ingest_paths([root / "export"])
    with TestClient(create_app(settings, clock=FixedClock(datetime(2026, 8, 1, tzinfo=UTC)))) as c:
        yield c


def test_sweep_and_training_show_in_metrics(client: TestClient) -> None:
    assert client.post("/v1/trainings", json={"model": "seasonal"}).status_code == 200
    res = client.post("/v1/sweeps", json={"at": "2026-07-25T00:00:00Z"})
    assert res.status_code == 200, res.text
    assert res.json()["evaluated"] > 10
    text = client.get("/metrics").text
    for needle in (
        'spendsentry_job_last_duration_seconds{job="sweep"}',
        'spendsentry_job_last_duration_seconds{job="train"}',
        "spendsentry_sweep_series_evaluated",
        'spendsentry_incidents_open{severity="page"}',
        'spendsentry_notifications{status="pending"}',
        'spendsentry_model_age_seconds{which="newest"}',
        "spendsentry_attribution_coverage_ratio",
    ):
        assert needle in text, needle
    evaluated = next(
        line for line in text.splitlines() if line.startswith("spendsentry_sweep_series_evaluated")
    )
    assert float(evaluated.split()[-1]) == res.json()["evaluated"]


def test_request_id_is_echoed_or_made_up(client: TestClient) -> None:
    assert client.get("/healthz", headers={"X-Request-ID": "abc-123"}).headers["x-request-id"] == "abc-123"
    made = client.get("/healthz", headers={"X-Request-ID": "bad id\nwith newline"}).headers["x-request-id"]
    assert made != "bad id\nwith newline" and len(made) == 32


def test_each_request_writes_one_access_line_with_its_id_and_status(client: TestClient) -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    access = logging.getLogger("spendsentry.access")
    access.addHandler(handler)
    level = access.level
    access.setLevel(logging.INFO)
    try:
        client.get("/healthz?probe=1", headers={"X-Request-ID": "acc-1"})
        client.get("/v1/no-such-route", headers={"X-Request-ID": "acc-2"})
    finally:
        access.removeHandler(handler)
        access.setLevel(level)
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert [line["request_id"] for line in lines] == ["acc-1", "acc-2"]
    assert '"GET /healthz?probe=1 HTTP/1.1" 200 ' in lines[0]["message"]
    assert '"GET /v1/no-such-route HTTP/1.1" 404 ' in lines[1]["message"]
    assert lines[0]["message"].endswith(" ms") and lines[0]["logger"] == "spendsentry.access"


def test_json_log_lines_carry_the_job_and_request_ids() -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("spendsentry.test.json")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    with job_context("sweep") as jid:
        logger.info("sweep done", extra={"series": 3})
    token = request_id.set("req-1")
    logger.info("served")
    request_id.reset(token)
    first, second = (json.loads(line) for line in stream.getvalue().splitlines())
    assert first["job_id"] == jid and jid.startswith("sweep-") and first["series"] == 3
    assert second["request_id"] == "req-1" and "job_id" not in second


def test_dashboard_shows_the_last_recorded_sweep(client: TestClient) -> None:
    res = client.post("/v1/sweeps", json={"at": "2026-07-26T00:00:00Z"})
    assert res.status_code == 200, res.text
    evaluated = res.json()["evaluated"]
    page = client.get("/ui")
    assert page.status_code == 200
    status = page.text[page.text.index('data-role="status"') :]
    line = status[status.index("Last sweep") : status.index("</dd>", status.index("Last sweep"))]
    assert "done" in line and f"{evaluated} series" in line
