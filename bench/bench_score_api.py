"""Throughput and latency of ``POST /v1/score`` side by side with the framework's floor, in one run.

Run with ``.venv/bin/python -m bench.bench_score_api`` (options: ``--seconds S``, ``--connections C``,
``--rounds R``, ``--no-write``). Two servers run at once, each one process: ``spendsentry serve`` (the real
command, scheduler and token check included) and ``bench.floor_app`` (a FastAPI route on the same uvicorn,
httptools and uvloop that returns a fixed JSON body: the floor). One load generator drives both with the
same settings, one after the other, round by round: ``wrk`` when it is installed (Debian package ``wrk``),
else this process on raw keep-alive sockets. Scenarios: a 90-day daily series scored with the stored model
of a trained series, the same series fitted on the request (a series no model knows), and a batch of 10
stored-model series in one request. Each is reported as a ratio to the floor measured in the same round,
because the machine is shared: absolute figures move with its load, ratios much less. It writes
``bench/results/score_api.md``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
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


def wait_ready(
    base: str, proc: subprocess.Popen[bytes], timeout: float = 60.0, path: str = "/healthz"
) -> None:
    deadline = time.perf_counter() + timeout
    while time.perf_counter() < deadline:
        if proc.poll() is not None:
            raise RuntimeError("the server exited before it was ready")
        try:
            if httpx.get(f"{base}{path}", timeout=1.0).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError("the server did not become ready")


def pct(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values) * 1000.0, q))


def serve(tmp: Path, port: int) -> subprocess.Popen[bytes]:
    """``spendsentry serve`` itself (scheduler included, as deployed), one process."""
    env = {
        **os.environ,
        "SPENDSENTRY_DATA_DIR": str(tmp),
        "SPENDSENTRY_DATABASE_URL": f"sqlite:///{tmp / 'state.db'}",
        "SPENDSENTRY_API_TOKENS": f"bench:{TOKEN}:score+read",
        # Fair use off: the load generator is one client asking as fast as it can, and with the per-token
        # bucket on most answers would be 429s (cheap refusals, not scoring).
        "SPENDSENTRY_RATE_LIMIT_PER_MINUTE": "0",
    }
    cmd = [sys.executable, "-m", "api.cli", "serve", "--port", str(port)]
    return subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def serve_floor(port: int, answer: Path | None = None) -> subprocess.Popen[bytes]:
    """The floor: a fixed JSON body from a FastAPI route, on the same uvicorn stack, one process (and the
    I/O floor, answering ``answer``'s bytes once the bench has written them)."""
    cmd = [sys.executable, "-m", "uvicorn", "bench.floor_app:app", "--port", str(port)]
    cmd += ["--loop", "uvloop", "--http", "httptools", "--log-level", "warning"]
    env = {**os.environ, "BENCH_FLOOR_ANSWER": str(answer or "")}
    return subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


@dataclass(frozen=True)
class Figures:
    """One scenario's run: requests per second, latency percentiles (ms) and failed requests."""

    rps: float
    p50: float
    p99: float
    errors: int


WRK_SCRIPT = """
local f = io.open(os.getenv("BENCH_BODY"), "rb")
wrk.method = "POST"
wrk.body = f:read("*a")
f:close()
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. os.getenv("BENCH_TOKEN")
"""


def _ms(text: str) -> float:
    value, unit = re.fullmatch(r"([\d.]+)(us|ms|s)", text.strip()).groups()  # type: ignore[union-attr]
    return float(value) * {"us": 1e-3, "ms": 1.0, "s": 1e3}[unit]


def run_wrk(url: str, body_file: Path, script: Path, seconds: float, connections: int) -> Figures:
    """``wrk`` with one thread and ``connections`` keep-alive connections (a closed loop), for ``seconds``."""
    env = {**os.environ, "BENCH_BODY": str(body_file), "BENCH_TOKEN": TOKEN}
    cmd = ["wrk", "-t1", f"-c{connections}", f"-d{seconds:.0f}s", "--latency", "-s", str(script), url]
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    p50 = _ms(re.search(r"\s50%\s+(\S+)", out).group(1))  # type: ignore[union-attr]
    p99 = _ms(re.search(r"\s99%\s+(\S+)", out).group(1))  # type: ignore[union-attr]
    bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    failed = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    errors = (int(bad.group(1)) if bad else 0) + (sum(map(int, failed.groups())) if failed else 0)
    return Figures(rps, p50, p99, errors)


def run_sockets(url: str, payload: dict[str, object], seconds: float, connections: int) -> Figures:
    """The fallback generator (no ``wrk``): this process on raw keep-alive sockets."""
    lat, errors, wall = asyncio.run(load(url, payload, 10**9, connections, seconds))
    return Figures(len(lat) / wall, pct(lat, 50), pct(lat, 99), errors)


IO_FLOOR = "I/O floor: body validated, the stored model's answer sent"


def batch_body(items: int = 10) -> dict[str, object]:
    stored = {**body(), "product": "checkout", "cost_line": "Amazon Elastic Compute Cloud"}
    return {"items": [stored] * items}


def check(url: str, payload: dict[str, object], want: str | None) -> int:
    """One request before measuring: a 200 with the expected model source; returns the anomaly count."""
    answer = httpx.post(url, json=payload, headers=HEADERS, timeout=60.0)
    answer.raise_for_status()
    found = answer.json()
    if want is not None and found["model"]["source"] != want:
        raise SystemExit(f"{url}: model source {found['model']['source']!r}, expected {want!r}")
    return len(found.get("anomalies", []))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="per scenario and round")
    parser.add_argument("--connections", type=int, default=8, help="concurrent keep-alive connections")
    parser.add_argument("--rounds", type=int, default=3, help="floor and scenarios measured this many times")
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args(argv)
    wrk = shutil.which("wrk")
    stored = {**body(), "product": "checkout", "cost_line": "Amazon Elastic Compute Cloud"}
    scenarios: list[tuple[str, dict[str, object], str, str | None]] = [
        ("floor: fixed JSON body", stored, "floor", None),
        (IO_FLOOR, stored, "floor-io", None),
        ("stored model", stored, "/v1/score", "stored"),
        ("fit on request", body(), "/v1/score", "fitted_on_request"),
        ("batch of 10, stored model", batch_body(), "/v1/score/batch", None),
    ]
    results: dict[str, list[Figures]] = {name: [] for name, *_ in scenarios}
    anomalies = 0
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        prepare(root)
        script = root / "post.lua"
        script.write_text(WRK_SCRIPT)
        port, floor_port = free_port(), free_port()
        base, floor = f"http://127.0.0.1:{port}", f"http://127.0.0.1:{floor_port}"
        answer = root / "answer.json"
        procs = [serve(root, port), serve_floor(floor_port, answer)]
        floors = {"floor": f"{floor}/v1/score", "floor-io": f"{floor}/v1/score/io"}
        try:
            wait_ready(base, procs[0])
            wait_ready(floor, procs[1], path="/docs")
            # The I/O floor sends back the stored-model scenario's own answer.
            answer.write_bytes(
                httpx.post(f"{base}/v1/score", json=stored, headers=HEADERS, timeout=60).content
            )
            files: dict[str, Path] = {}
            for i, (name, payload, path, want) in enumerate(scenarios):
                url = floors.get(path, f"{base}{path}")
                found = check(url, payload, want)
                anomalies = found if name == "stored model" else anomalies
                files[name] = root / f"body{i}.json"
                files[name].write_text(json.dumps(payload))
            for _ in range(args.rounds):
                for name, payload, path, _want in scenarios:
                    url = floors.get(path, f"{base}{path}")
                    if wrk:
                        run_wrk(url, files[name], script, 2, args.connections)  # warm-up
                        found_fig = run_wrk(url, files[name], script, args.seconds, args.connections)
                    else:
                        run_sockets(url, payload, 2, args.connections)
                        found_fig = run_sockets(url, payload, args.seconds, args.connections)
                    results[name].append(found_fig)
                    print(f"score bench: {name}: {found_fig}", file=sys.stderr, flush=True)
        finally:
            for proc in procs:
                proc.terminate()
                proc.wait(timeout=30)
    write(args, argv, results, anomalies, generator="wrk" if wrk else "this process on raw sockets")
    return 0


def write(
    args: argparse.Namespace,
    argv: list[str] | None,
    results: dict[str, list[Figures]],
    anomalies: int,
    *,
    generator: str,
) -> None:
    command = ".venv/bin/python -m bench.bench_score_api" + "".join(
        f" {a}" for a in (argv if argv is not None else sys.argv[1:])
    )
    floor = results["floor: fixed JSON body"]
    lines = [
        "## `POST /v1/score` against the framework's floor",
        "",
        f"- Machine: {describe()}",
        f"- Command: `{command}` (part of `make bench`)",
        "- Servers, both running at once, one process each, on 127.0.0.1: `spendsentry serve` (uvicorn with "
        "httptools and uvloop, scheduler running, a configured API token checked on every request) and the "
        "floor, `bench/floor_app.py` (a FastAPI route on the same uvicorn stack returning a fixed JSON body).",
        f"- Load generator: {generator}, one thread, {args.connections} keep-alive connections (closed loop), "
        f"{args.seconds:.0f} s per scenario after a 2 s warm-up; the floor and every scenario are measured "
        f"in turn, {args.rounds} rounds. Ratios are to the floor of the same round; the table gives the "
        "median round (by ratio) and, in brackets, the range of the ratios over the rounds.",
        f"- Body: a 90-day daily series (the last 3 days spiked: {anomalies} anomaly event(s) in the answer); "
        "stored model: a trained series' model from the registry (cached); fit on request: a series no "
        "model knows; batch: 10 such stored-model series in one `POST /v1/score/batch` (req/s counts "
        "requests: ×10 for series/s). The I/O floor is the floor's server doing only what no scoring can "
        "avoid: the body validated by the service's own request model and the stored-model scenario's "
        "answer (the same bytes) sent back.",
        "",
        "| scenario | req/s | p50 ms | p99 ms | errors | throughput / floor | p99 / floor p99 |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for name, figures in results.items():
        ratios = [f.rps / fl.rps for f, fl in zip(figures, floor, strict=True)]
        tails = [f.p99 / fl.p99 for f, fl in zip(figures, floor, strict=True)]
        order = sorted(range(len(ratios)), key=lambda i: ratios[i])
        mid = order[len(order) // 2]
        f = figures[mid]
        spread = f" ({min(ratios):.1%}–{max(ratios):.1%})" if len(ratios) > 1 else ""
        tail_spread = f" ({min(tails):.1f}–{max(tails):.1f}x)" if len(tails) > 1 else ""
        lines.append(
            f"| {name} | {f.rps:,.0f} | {f.p50:.1f} | {f.p99:.1f} | {sum(x.errors for x in figures)} | "
            f"{ratios[mid]:.1%}{spread} | {tails[mid]:.1f}x{tail_spread} |"
        )
    lines += [
        "",
        "Targets (stored model): throughput at least 10% of the floor's and p99 within 5x the floor's, "
        "measured side by side. The machine was shared with other jobs while this ran (see the load average "
        "below): absolute figures are poor and move between runs; the ratios, measured within one round, are "
        "the figures to compare.",
        "",
        f"Load average (1, 5, 15 min) at the end: {', '.join(f'{x:.1f}' for x in os.getloadavg())}.",
        "",
    ]
    publish("\n".join(lines), RESULTS, write=not args.no_write)


if __name__ == "__main__":
    raise SystemExit(main())
