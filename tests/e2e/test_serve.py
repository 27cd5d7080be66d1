"""``make run``'s path for real: bootstrap on the demo export, then the HTTP server in a subprocess."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from tests.e2e.helpers import free_port, run_cli, start_cli, wait_http


@pytest.mark.slow
def test_bootstrap_then_serve_answers_health_docs_and_series(tmp_path: Path) -> None:
    boot = run_cli(tmp_path, "bootstrap", SPENDSENTRY_DEMO_DAYS="60")
    assert boot.returncode == 0, boot.stderr
    assert "rows kept" in boot.stdout
    port = free_port()
    proc = start_cli(tmp_path, "serve", "--port", str(port), SPENDSENTRY_DEMO_DAYS="60")
    try:
        base = f"http://127.0.0.1:{port}"
        wait_http(f"{base}/healthz", proc)
        assert httpx.get(f"{base}/readyz").json()["status"] == "ok"
        assert httpx.get(f"{base}/docs").status_code == 200
        series = httpx.get(f"{base}/v1/series").json()
        assert {s["product"] for s in series} >= {"checkout", "search", "unattributed"}
        assert "spendsentry_attribution_coverage_ratio" in httpx.get(f"{base}/metrics").text
        again = run_cli(tmp_path, "bootstrap")
        assert "skipping the demo export" in again.stdout
    finally:
        proc.terminate()
        proc.wait(timeout=20)


@pytest.mark.slow
def test_serve_with_several_worker_processes_scores_and_stops(tmp_path: Path) -> None:
    import psutil

    port = free_port()
    proc = start_cli(tmp_path, "serve", "--port", str(port), "--workers", "2")
    try:
        base = f"http://127.0.0.1:{port}"
        wait_http(f"{base}/healthz", proc)
        workers = [
            c for c in psutil.Process(proc.pid).children(recursive=True) if "spawn" in " ".join(c.cmdline())
        ]
        assert len(workers) == 2
        series = [{"timestamp": f"2026-01-{d:02d}", "value": 100.0 + (d % 7)} for d in range(1, 29)]
        for _ in range(6):  # several requests, so both processes are likely to answer one
            res = httpx.post(f"{base}/v1/score", json={"series": series}, timeout=30)
            assert res.status_code == 200, res.text
            assert len(res.json()["points"]) == 28
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    assert proc.returncode == 0


def test_serve_rejects_zero_workers(tmp_path: Path) -> None:
    done = run_cli(tmp_path, "serve", "--workers", "0")
    assert done.returncode == 2
    assert "--workers" in done.stderr


def test_serve_workers_on_a_taken_port_exit_2_naming_it(tmp_path: Path) -> None:
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        done = run_cli(tmp_path, "serve", "--port", str(port), "--workers", "2", timeout=60)
    assert done.returncode == 2
    assert "--port" in done.stderr and str(port) in done.stderr
