"""Sustained load on ``POST /v1/score`` against a real uvicorn server on 127.0.0.1, with auth on.

Run with ``.venv/bin/python -m bench.bench_load`` (default 5 minutes; ``--seconds 60`` for a shorter run,
``--rate R`` target requests per second, ``--concurrency C``, ``--no-write``). The server is its own
process (uvicorn, one worker, a bearer token with the ``score`` scope required); this process is the load
generator (httpx + asyncio), loopback only and bounded by ``--seconds``. Before the run the demo export is
ingested and trained, so the body (a 90-day daily series) names a stored model. The server's RSS is
sampled every ``--sample-every`` seconds: the report shows it over time, to see that memory stays flat.
Writes ``bench/results/load.md``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pandas as pd
import psutil

from bench.bench_score_api import free_port, wait_ready
from bench.machine import describe
from bench.publish import publish

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "bench" / "results" / "load.md"
TOKEN = "bench-score-token-" + "0" * 24
SERIES = ("checkout", "Amazon Elastic Compute Cloud")


@dataclass
class Run:
    latencies: list[float] = field(default_factory=list)  # seconds, successful or not
    finished_at: list[float] = field(default_factory=list)  # seconds since start, per request
    errors: dict[str, int] = field(default_factory=dict)  # status code or exception name -> count
    rss: list[tuple[float, float]] = field(default_factory=list)  # (seconds since start, MiB)
    wall: float = 0.0
    # The machine's 1-minute load average at start and end: other work on it shows in the latencies.
    load_avg: tuple[float, float] = (float("nan"), float("nan"))

    @property
    def requests(self) -> int:
        return len(self.latencies)

    @property
    def error_count(self) -> int:
        return sum(self.errors.values())


def prepare(root: Path) -> dict[str, Any]:
    """Ingest and train the demo export into ``root``; return a score body naming a stored series."""
    from core.clock import FixedClock
    from core.db import make_engine, migrate
    from core.settings import Settings
    from core.types import Granularity
    from ingestion.demo_data import write_demo_export
    from ingestion.ingest import Ingestor
    from training.train_job import train_all

    write_demo_export(root / "demo", days=120)
    settings = Settings(data_dir=root / "data", database_url=f"sqlite:///{root / 'state.db'}", _env_file=None)  # type: ignore[call-arg]
    engine = make_engine(settings.database_url)
    migrate(engine)
    clock = FixedClock(datetime(2026, 12, 1, tzinfo=UTC))
    Ingestor(settings, engine, clock).ingest_paths([root / "demo"])
    train_all(settings, engine, clock, model="seasonal", workers=1)
    product, cost_line = SERIES
    series = Ingestor(settings, engine, clock).store.series(product, cost_line, "USD", Granularity.DAY)
    engine.dispose()
    tail = series.tail(90)
    values = tail.to_numpy().copy()
    values[-3:] *= 1.8  # a spike, so the answer carries an anomaly as a real one would
    return {
        "series": [
            {"timestamp": pd.Timestamp(t).isoformat(), "value": float(v)}
            for t, v in zip(tail.index, values, strict=True)
        ],
        "product": product,
        "cost_line": cost_line,
    }


async def sample_rss(pid: int, started: float, every: float, stop: asyncio.Event, run: Run) -> None:
    proc = psutil.Process(pid)
    while not stop.is_set():
        run.rss.append((time.perf_counter() - started, proc.memory_info().rss / 2**20))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=every)


async def load(
    url: str, body: dict[str, Any], *, rate: float, concurrency: int, seconds: float, pid: int, every: float
) -> Run:
    """Open-loop at ``rate`` (request i is due at i / rate), at most ``concurrency`` in flight."""
    run = Run(load_avg=(os.getloadavg()[0], float("nan")))
    next_index = 0
    headers = {"Authorization": f"Bearer {TOKEN}"}
    started = time.perf_counter()
    deadline = started + seconds

    async def worker(client: httpx.AsyncClient) -> None:
        nonlocal next_index
        while True:
            due = started + next_index / rate
            next_index += 1
            if due >= deadline:
                return
            await asyncio.sleep(max(0.0, due - time.perf_counter()))
            t0 = time.perf_counter()
            if t0 >= deadline:  # behind schedule at the end: the run stays bounded by --seconds
                return
            try:
                res = await client.post(url, json=body, headers=headers)
                if res.status_code != 200:
                    run.errors[str(res.status_code)] = run.errors.get(str(res.status_code), 0) + 1
            except httpx.HTTPError as exc:
                run.errors[type(exc).__name__] = run.errors.get(type(exc).__name__, 0) + 1
            done = time.perf_counter()
            run.latencies.append(done - t0)
            run.finished_at.append(done - started)

    stop = asyncio.Event()
    sampler = asyncio.create_task(sample_rss(pid, started, every, stop, run))
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(timeout=30.0, limits=limits) as client:
        await asyncio.gather(*(worker(client) for _ in range(concurrency)))
    run.wall = time.perf_counter() - started
    run.load_avg = (run.load_avg[0], os.getloadavg()[0])
    stop.set()
    await sampler
    run.rss.append((run.wall, psutil.Process(pid).memory_info().rss / 2**20))
    return run


def ms(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values) * 1000.0, q)) if values else float("nan")


def report(run: Run, args: argparse.Namespace, source: str, command: str) -> str:
    lat = run.latencies
    rate_error = run.error_count / run.requests if run.requests else float("nan")
    warm = [m for t, m in run.rss if t >= 0.2 * run.wall] or [m for _, m in run.rss]
    growth = warm[-1] - warm[0]
    lines = [
        "# Sustained load on `POST /v1/score`",
        "",
        f"- Machine: {describe()}",
        f"- Command: `{command}`",
        f"- Date: {datetime.now(UTC).strftime('%Y-%m-%d %H:%M UTC')}",
        "- Server: uvicorn, one worker process, on 127.0.0.1, bearer token with the `score` scope required;",
        "  load generator: a separate process (httpx + asyncio), open loop at a target rate.",
        f"- Body: 90-day daily series of a trained series (model source in the answer: `{source}`).",
        f"- Target: {args.rate:g} requests/s for {args.seconds:g} s, at most {args.concurrency} in flight.",
        f"- Machine load average (1 min) at start / end: {run.load_avg[0]:.2f} / {run.load_avg[1]:.2f}.",
        "",
        "| requests | errors | error rate | p50 ms | p90 ms | p99 ms | max ms | throughput req/s |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|",
        f"| {run.requests} | {run.error_count} | {rate_error:.4%} | {ms(lat, 50):.1f} | {ms(lat, 90):.1f} | "
        f"{ms(lat, 99):.1f} | {ms(lat, 100):.1f} | {run.requests / run.wall:.1f} |",
        "",
    ]
    if run.errors:
        lines += ["Errors by kind: " + ", ".join(f"{k}: {v}" for k, v in sorted(run.errors.items())), ""]
    lines += [
        "## Latency and server memory over time",
        "",
        "| from s | to s | requests | p50 ms | p99 ms | RSS MiB at end |",
        "|---:|---:|---:|---:|---:|---:|",
    ]
    edges = np.linspace(0.0, run.wall, 11)
    finished = np.asarray(run.finished_at)
    latencies = np.asarray(lat)
    for lo, hi in itertools.pairwise(edges):
        window = list(latencies[(finished >= lo) & (finished < hi)])
        rss_then = [m for t, m in run.rss if t <= hi]
        lines.append(
            f"| {lo:.0f} | {hi:.0f} | {len(window)} | {ms(window, 50):.1f} | {ms(window, 99):.1f} | "
            f"{rss_then[-1] if rss_then else float('nan'):.1f} |"
        )
    lines += [
        "",
        f"RSS after warm-up (from 20% of the run): {warm[0]:.1f} MiB → {warm[-1]:.1f} MiB at the end "
        f"({growth:+.1f} MiB, {100 * growth / warm[0]:+.1f}%); max {max(m for _, m in run.rss):.1f} MiB "
        f"over {len(run.rss)} samples every {args.sample_every:g} s.",
        "",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=300.0, help="length of the run (default 5 minutes)")
    parser.add_argument("--rate", type=float, default=20.0, help="target requests per second")
    parser.add_argument("--concurrency", type=int, default=8, help="requests in flight at most")
    parser.add_argument("--sample-every", type=float, default=5.0, help="seconds between RSS samples")
    parser.add_argument("--no-write", action="store_true", help="print the report instead of writing it")
    args = parser.parse_args(argv)
    if not (0 < args.seconds <= 3600 and 0 < args.rate <= 5000 and 0 < args.concurrency <= 256):
        parser.error("--seconds in (0, 3600], --rate in (0, 5000], --concurrency in (0, 256]")

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        body = prepare(root)
        env = {
            **os.environ,
            "SPENDSENTRY_DATA_DIR": str(root / "data"),
            "SPENDSENTRY_DATABASE_URL": f"sqlite:///{root / 'state.db'}",
            "SPENDSENTRY_API_TOKENS": f"bench:{TOKEN}:score",
        }
        cmd = [
            sys.executable, "-m", "uvicorn", "--factory", "api.app:create_default_app",
            "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning", "--no-access-log",
        ]  # fmt: skip
        proc = subprocess.Popen(cmd, cwd=root, env=env)  # cwd: no stray .env file is read
        try:
            wait_ready(base, proc)
            headers = {"Authorization": f"Bearer {TOKEN}"}
            assert httpx.post(f"{base}/v1/score", json=body, timeout=30.0).status_code == 401
            check = httpx.post(f"{base}/v1/score", json=body, headers=headers, timeout=30.0)
            check.raise_for_status()
            source = str(check.json()["model"].get("source"))
            run = asyncio.run(
                load(f"{base}/v1/score", body, rate=args.rate, concurrency=args.concurrency,
                     seconds=args.seconds, pid=proc.pid, every=args.sample_every)
            )  # fmt: skip
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
    command = ".venv/bin/python -m bench.bench_load " + " ".join(argv if argv is not None else sys.argv[1:])
    text = report(run, args, source, command.strip())
    publish(text, RESULTS, write=not args.no_write)
    if not args.no_write:
        print(f"written to {RESULTS.relative_to(REPO)}")
    return 0 if run.error_count == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
