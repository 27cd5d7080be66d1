"""Latency and throughput of ``POST /v1/score`` against a real uvicorn server on 127.0.0.1.

Run with ``.venv/bin/python -m bench.bench_score_api`` (options: ``--requests N``, ``--concurrency C``,
``--seconds S``, ``--no-write``). The server runs in its own process (uvicorn, one worker); this process
is the load generator (httpx, C concurrent connections), bounded by a number of requests and a time.
The body is a 90-day daily series, scored with the stored model of a trained series (the demo export is
ingested and trained first) and, for comparison, with a baseline fitted on each request (a series no model
knows). It writes ``bench/results/score_api.md``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import numpy as np
import pandas as pd
from fastapi import FastAPI

from bench.machine import describe

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "bench" / "results" / "score_api.md"


def app_factory() -> FastAPI:
    """The service app, settings from the environment."""
    from api.app import create_app

    return create_app()


def prepare(tmp: Path) -> None:
    """A trained state: the demo export ingested and a batched model per series."""
    from datetime import UTC, datetime

    from core.clock import FixedClock
    from core.db import make_engine, migrate
    from core.settings import Settings
    from ingestion.demo_data import write_demo_export
    from ingestion.ingest import Ingestor
    from training.train_job import train_all

    settings = Settings(database_url=f"sqlite:///{tmp / 'state.db'}", data_dir=tmp, _env_file=None)  # type: ignore[call-arg]
    engine = make_engine(settings.database_url)
    migrate(engine)
    clock = FixedClock(datetime(2026, 10, 1, tzinfo=UTC))
    write_demo_export(tmp / "export", days=120)
    Ingestor(settings, engine, clock).ingest_paths([tmp / "export"])
    train_all(settings, engine, clock, model="seasonal", workers=1)
    engine.dispose()


def body(days: int = 90) -> dict[str, object]:
    rng = np.random.default_rng(7)
    idx = pd.date_range("2024-01-01", periods=days, freq="D")
    v = 1000 + 120 * np.sin(np.arange(days) * 2 * np.pi / 7) + rng.normal(0, 25, days)
    v[-3:] += 600
    return {
        "series": [{"timestamp": t.isoformat(), "value": float(x)} for t, x in zip(idx, v, strict=True)],
        "product": "bench",
        "cost_line": "compute",
    }


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def load(
    url: str, payload: dict[str, object], n: int, concurrency: int, seconds: float
) -> tuple[list[float], int, float]:
    latencies: list[float] = []
    errors = 0
    sent = 0
    deadline = time.perf_counter() + seconds

    async def worker(client: httpx.AsyncClient) -> None:
        nonlocal errors, sent
        while sent < n and time.perf_counter() < deadline:
            sent += 1
            t0 = time.perf_counter()
            res = await client.post(url, json=payload)
            latencies.append(time.perf_counter() - t0)
            if res.status_code != 200:
                errors += 1

    limits = httpx.Limits(max_connections=concurrency)
    async with httpx.AsyncClient(timeout=30.0, limits=limits) as client:
        started = time.perf_counter()
        await asyncio.gather(*(worker(client) for _ in range(concurrency)))
        wall = time.perf_counter() - started
    return latencies, errors, wall


def wait_ready(base: str, proc: subprocess.Popen[bytes], timeout: float = 60.0) -> None:
    deadline = time.perf_counter() + timeout
    while time.perf_counter() < deadline:
        if proc.poll() is not None:
            raise RuntimeError("the server exited before it was ready")
        try:
            if httpx.get(f"{base}/healthz", timeout=1.0).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError("the server did not become ready")


def pct(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values) * 1000.0, q))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=600)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--workers", type=int, default=1, help="uvicorn worker processes")
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args(argv)

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    fitted = body()
    stored = {**body(), "product": "checkout", "cost_line": "Amazon Elastic Compute Cloud"}
    with tempfile.TemporaryDirectory() as tmp:
        prepare(Path(tmp))
        env = {
            **os.environ,
            "SPENDSENTRY_DATA_DIR": tmp,
            "SPENDSENTRY_DATABASE_URL": f"sqlite:///{Path(tmp) / 'state.db'}",
        }
        cmd = [
            sys.executable, "-m", "uvicorn", "--factory", "bench.bench_score_api:app_factory",
            "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning", "--no-access-log",
            "--workers", str(args.workers),
        ]  # fmt: skip
        proc = subprocess.Popen(cmd, cwd=REPO, env=env)
        try:
            wait_ready(base, proc)
            results: dict[str, tuple[list[float], int, float, list[float]]] = {}
            anomalies = 0
            for name, payload in (("stored model", stored), ("fit on request", fitted)):
                check = httpx.post(f"{base}/v1/score", json=payload, timeout=30.0)
                check.raise_for_status()
                source = check.json()["model"]["source"]
                if (name == "stored model") != (source == "stored"):
                    raise SystemExit(f"{name}: the server answered with model source {source!r}")
                anomalies = len(check.json()["anomalies"])
                asyncio.run(load(f"{base}/v1/score", payload, 40, 2, 30.0))  # warm-up, every worker
                lat, errors, wall = asyncio.run(
                    load(f"{base}/v1/score", payload, args.requests, args.concurrency, args.seconds)
                )
                serial, _, _ = asyncio.run(load(f"{base}/v1/score", payload, 100, 1, 30.0))
                results[name] = (lat, errors, wall, serial)
        finally:
            proc.terminate()
            proc.wait(timeout=30)

    command = ".venv/bin/python -m bench.bench_score_api" + "".join(
        f" {a}" for a in (argv if argv is not None else sys.argv[1:])
    )
    lines = [
        "## `POST /v1/score` latency and throughput",
        "",
        f"- Machine: {describe()}",
        f"- Command: `{command}`",
        f"- Server: uvicorn, {args.workers} worker process(es), on 127.0.0.1; load generator: this process "
        "(httpx), a separate process from the server.",
        f"- Body: 90-day daily series (the last 3 days spiked: {anomalies} anomaly event(s) in the answer).",
        "",
        "| scenario | requests | errors | p50 ms | p99 ms | mean ms | throughput req/s |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for name, (lat, errors, wall, serial) in results.items():
        lines.append(
            f"| {name}, {args.concurrency} concurrent | {len(lat)} | {errors} | {pct(lat, 50):.1f} | "
            f"{pct(lat, 99):.1f} | {statistics.mean(lat) * 1000:.1f} | {len(lat) / wall:.1f} |"
        )
        lines.append(
            f"| {name}, 1 at a time | {len(serial)} | 0 | {pct(serial, 50):.1f} | {pct(serial, 99):.1f} | "
            f"{statistics.mean(serial) * 1000:.1f} | {len(serial) / sum(serial):.1f} |"
        )
    lines += ["", "Target with a stored model: p99 < 25 ms and ≥ 300 requests/s on this 2-core machine.", ""]
    text = "\n".join(lines)
    print(text)
    if not args.no_write:
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        RESULTS.write_text(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
