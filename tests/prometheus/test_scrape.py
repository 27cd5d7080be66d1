"""End to end with Debian's real Prometheus: it scrapes ``spendsentry serve``'s ``/metrics`` with a bearer
token, and its query API gives back the series the server exposed; the shipped alerting rules load and
evaluate against them (the coverage SLO burning, as the data makes it)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.e2e.helpers import free_port, start_cli, wait_http
from tests.ingestion.focus_rows import hourly_rows
from tests.prometheus.programs import Program, prometheus

pytestmark = pytest.mark.slow

RULES = Path(__file__).resolve().parents[2] / "deploy" / "prometheus" / "rules.yml"
READ_TOKEN = "prometheus-scrape-token-0123456789"
WRITE_TOKEN = "loader-write-token-0123456789abcd"
COMPARED = (
    "spendsentry_series",
    "spendsentry_attribution_coverage_ratio",
    "spendsentry_attribution_coverage_objective_ratio",
    "spendsentry_incidents_open",
    "spendsentry_notifications",
    "spendsentry_ingest_runs",
)
CONFIG = """
global:
  scrape_interval: 1s
  evaluation_interval: 1s
rule_files: ["{rules}"]
scrape_configs:
  - job_name: spendsentry
    authorization:
      type: Bearer
      credentials_file: {token_file}
    static_configs: [{{targets: ["{target}"]}}]
  - job_name: spendsentry-without-token
    static_configs: [{{targets: ["{target}"]}}]
"""


@pytest.fixture
def server(tmp_path: Path) -> Iterator[str]:
    port = free_port()
    proc = start_cli(
        tmp_path,
        "serve",
        "--port",
        str(port),
        SPENDSENTRY_API_TOKENS=f"prometheus:{READ_TOKEN}:read,loader:{WRITE_TOKEN}:write",
        SPENDSENTRY_COVERAGE_SLO="95",
    )
    try:
        base = f"http://127.0.0.1:{port}"
        wait_http(f"{base}/healthz", proc)
        yield base
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def query(prom: Program, expr: str) -> list[dict[str, Any]]:
    res = httpx.get(f"{prom.url}/api/v1/query", params={"query": expr}, timeout=5).json()
    assert res["status"] == "success", res
    result: list[dict[str, Any]] = res["data"]["result"]
    return result


def eventually(check: Callable[[], Any], what: str, timeout: float = 30.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout} s: {what}")
        time.sleep(0.3)


def exposed(base: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    res = httpx.get(f"{base}/metrics", headers={"Authorization": f"Bearer {READ_TOKEN}"}, timeout=10)
    assert res.status_code == 200, res.text
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(res.text)
        for s in family.samples
        if s.name in COMPARED
    }


def test_prometheus_scrapes_metrics_with_a_bearer_token(tmp_path: Path, server: str) -> None:
    write = {"Authorization": f"Bearer {WRITE_TOKEN}"}
    # 24 attributed hours at 2 USD and 24 unattributed at 1 USD: coverage 2/3, under the 95% SLO.
    rows = hourly_rows(24, cost=2.0) + hourly_rows(24, cost=1.0, product=None, service="Amazon S3")
    assert httpx.post(f"{server}/v1/spend", json={"rows": rows}, headers=write, timeout=60).status_code == 200
    assert httpx.post(f"{server}/v1/sweeps", json={}, headers=write, timeout=120).status_code == 200
    assert httpx.get(f"{server}/metrics", timeout=5).status_code == 401  # closed without the token
    token_file = tmp_path / "scrape.token"
    token_file.write_text(READ_TOKEN)
    token_file.chmod(0o600)
    config = CONFIG.format(rules=RULES, token_file=token_file, target=server.removeprefix("http://"))

    with prometheus(config, tmp_path / "prometheus") as prom:
        eventually(lambda: query(prom, 'spendsentry_series{job="spendsentry"} > 0'), "a scraped series")
        [up] = query(prom, 'up{job="spendsentry"}')
        assert up["value"][1] == "1"
        # Each job keeps its own scrape clock: the one without a token may not have been scraped yet.
        [refused] = eventually(
            lambda: query(prom, 'up{job="spendsentry-without-token"}'), "the refused scrape"
        )
        assert refused["value"][1] == "0"
        targets = httpx.get(f"{prom.url}/api/v1/targets", timeout=5).json()["data"]["activeTargets"]
        errors = {t["labels"]["job"]: t["lastError"] for t in targets}
        assert "401" in errors["spendsentry-without-token"] and errors["spendsentry"] == ""

        want = exposed(server)
        assert len(want) >= 10, want
        for (name, labels), value in want.items():
            selector = ",".join(f'{k}="{v}"' for k, v in sorted(labels))
            [got] = query(prom, f'{name}{{job="spendsentry",{selector}}}' if selector else name)
            assert float(got["value"][1]) == pytest.approx(value), (name, labels)
        [coverage] = query(prom, 'spendsentry_attribution_coverage_ratio{currency="USD"}')
        assert float(coverage["value"][1]) == pytest.approx(2 / 3)
        # The sweep's `job` label comes back as `exported_job`, as the rules expect.
        assert query(
            prom, 'spendsentry_job_last_finished_timestamp_seconds{exported_job="sweep",status="done"}'
        )

        def evaluated() -> list[dict[str, Any]]:
            groups = httpx.get(f"{prom.url}/api/v1/rules", timeout=5).json()["data"]["groups"]
            rules = [r for g in groups for r in g["rules"]]
            return rules if all(not r["lastEvaluation"].startswith("0001") for r in rules) else []

        rules = eventually(evaluated, "every rule evaluated once")
        assert {r["name"] for r in rules} >= {
            "SpendSentrySweepsStale",
            "SpendSentryDeliveriesFailing",
            "SpendSentryCoverageSLOBurning",
            "SpendSentryModelsStale",
        }
        assert all(r["health"] == "ok" for r in rules), [r.get("lastError") for r in rules]

        def burning() -> list[dict[str, Any]]:
            alerts = httpx.get(f"{prom.url}/api/v1/alerts", timeout=5).json()["data"]["alerts"]
            return [a for a in alerts if a["labels"]["alertname"] == "SpendSentryCoverageSLOBurning"]

        [alert] = eventually(burning, "the coverage SLO alert pending")
        assert alert["labels"]["currency"] == "USD" and alert["state"] == "pending"
        assert float(alert["value"]) == pytest.approx((1 / 3) / 0.05, rel=1e-6)
