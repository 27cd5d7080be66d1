"""Latency and throughput of ``POST /v1/score`` against ``spendsentry serve`` on 127.0.0.1.

Run with ``.venv/bin/python -m bench.bench_score_api`` (options: ``--workers 1,2``, ``--concurrency 4,8``,
``--requests N``, ``--seconds S``, ``--no-write``). The server is the real command in its own process(es);
this process is the load generator: keep-alive connections on raw sockets (pre-encoded requests), so that
the generator's own CPU, on the two cores the server also uses, stays small. The body is a 90-day daily
series, scored with the stored model of a trained series (the demo export is ingested and trained first)
and, for comparison, with a baseline fitted on each request (a series no model knows). It writes
``bench/results/score_api.md``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
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

from bench.machine import describe
from bench.publish import publish

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "bench" / "results" / "score_api.md"


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


TOKEN = "bench-token-0123456789abcdef"  # a configured token, as a deployment has (not a secret)
HEADERS = {"Authorization": f"Bearer {TOKEN}"}


def encode_request(url: str, payload: dict[str, object]) -> bytes:
    """One pre-encoded HTTP/1.1 keep-alive POST: the load generator only writes bytes and reads answers."""
    parts = httpx.URL(url)
    body = json.dumps(payload).encode()
    head = (
        f"POST {parts.raw_path.decode()} HTTP/1.1\r\nHost: {parts.host}:{parts.port}\r\n"
        f"Authorization: Bearer {TOKEN}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


async def load(
    url: str, payload: dict[str, object], n: int, concurrency: int, seconds: float
) -> tuple[list[float], int, float]:
    """``concurrency`` keep-alive connections, each sending the next request when its answer is in.

    Raw sockets rather than an HTTP client library: the server and this process share two cores, and a
    full client spends about as much CPU per request as the server does, which would measure the client.
    """
    parts = httpx.URL(url)
    request = encode_request(url, payload)
    latencies: list[float] = []
    errors = 0
    sent = 0
    deadline = time.perf_counter() + seconds

    async def worker() -> None:
        nonlocal errors, sent
        reader, writer = await asyncio.open_connection(parts.host, parts.port)
        try:
            while sent < n and time.perf_counter() < deadline:
                sent += 1
                t0 = time.perf_counter()
                writer.write(request)
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n"):
                    if line[:15].lower() == b"content-length:":
                        length = int(line[15:])
                await reader.readexactly(length)
                latencies.append(time.perf_counter() - t0)
                if head[9:12] != b"200":
                    errors += 1
        finally:
            writer.close()

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return latencies, errors, time.perf_counter() - started


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


Row = tuple[str, int, int, list[float], int, float]  # scenario, workers, concurrency, latencies, errors, wall


def serve(tmp: Path, port: int, workers: int) -> subprocess.Popen[bytes]:
    """``spendsentry serve`` itself (scheduler included, as deployed), with ``workers`` processes."""
    env = {
        **os.environ,
        "SPENDSENTRY_DATA_DIR": str(tmp),
        "SPENDSENTRY_DATABASE_URL": f"sqlite:///{tmp / 'state.db'}",
        "SPENDSENTRY_API_TOKENS": f"bench:{TOKEN}:score+read",
    }
    cmd = [sys.executable, "-m", "api.cli", "serve", "--port", str(port), "--workers", str(workers)]
    return subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def measure(
    base: str, workers: int, concurrency: list[int], requests: int, seconds: float
) -> tuple[list[Row], int]:
    stored = {**body(), "product": "checkout", "cost_line": "Amazon Elastic Compute Cloud"}
    rows: list[Row] = []
    anomalies = 0
    for name, payload, levels in (
        ("stored model", stored, concurrency),
        ("fit on request", body(), [max(concurrency)]),
    ):
        check = httpx.post(f"{base}/v1/score", json=payload, headers=HEADERS, timeout=30.0)
        check.raise_for_status()
        source = check.json()["model"]["source"]
        if (name == "stored model") != (source == "stored"):
            raise SystemExit(f"{name}: the server answered with model source {source!r}")
        anomalies = len(check.json()["anomalies"])
        url = f"{base}/v1/score"
        asyncio.run(load(url, payload, 100 * workers, 2 * workers, 30.0))  # warm-up, every worker
        serial, errors, wall = asyncio.run(load(url, payload, 200, 1, 30.0))
        rows.append((name, workers, 1, serial, errors, wall))
        for level in levels:
            lat, errors, wall = asyncio.run(load(url, payload, requests, level, seconds))
            rows.append((name, workers, level, lat, errors, wall))
    return rows, anomalies


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=3000, help="per scenario (bounded by --seconds)")
    parser.add_argument("--concurrency", default="4,8", help="concurrent connections, comma-separated")
    parser.add_argument("--seconds", type=float, default=20.0, help="per scenario at most")
    parser.add_argument("--workers", default="1,2", help="server processes to try, comma-separated")
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args(argv)
    levels = [int(c) for c in args.concurrency.split(",")]
    rows: list[Row] = []
    anomalies = 0
    with tempfile.TemporaryDirectory() as tmp:
        prepare(Path(tmp))
        for workers in (int(w) for w in args.workers.split(",")):
            port = free_port()
            base = f"http://127.0.0.1:{port}"
            proc = serve(Path(tmp), port, workers)
            try:
                wait_ready(base, proc)
                found, anomalies = measure(base, workers, levels, args.requests, args.seconds)
                rows += found
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
        "- Server: `spendsentry serve --workers N` (uvicorn with httptools and uvloop, scheduler running, a "
        "configured API token checked on every request) on 127.0.0.1. Load generator: this process, separate "
        "from the server, C keep-alive connections on raw sockets, each sending its next request when the "
        "answer is in (closed loop), for at most the requests or seconds given.",
        f"- Body: 90-day daily series (the last 3 days spiked: {anomalies} anomaly event(s) in the answer), "
        "scored with the stored model of a trained series, or (fit on request) a series no model knows.",
        "",
        "| scenario | server processes | concurrent | requests | errors | p50 ms | p99 ms | mean ms | req/s |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, workers, level, lat, errors, wall in rows:
        lines.append(
            f"| {name} | {workers} | {level} | {len(lat)} | {errors} | {pct(lat, 50):.1f} | {pct(lat, 99):.1f} | "
            f"{statistics.mean(lat) * 1000:.1f} | {len(lat) / wall:.0f} |"
        )
    lines += [
        "",
        "Target with a stored model: p99 < 25 ms and ≥ 300 requests/s on this 2-core machine. In a closed loop",
        "the mean latency is the concurrency over the throughput, so at 8 connections p99 < 25 ms needs well",
        "over 320 req/s; the server shares the two cores with the load generator. With several processes each",
        "has its own socket on the port (SO_REUSEPORT) and the kernel places each new connection by a hash:",
        "with only 4-8 connections the split is not always even, and a run where most connections land on one",
        "process shows the one-process figures (seen: 392 req/s, p99 18 ms at 4 connections, 2 processes).",
        "",
    ]
    text = "\n".join(lines)
    publish(text, RESULTS, write=not args.no_write)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
