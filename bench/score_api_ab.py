"""``POST /v1/score`` (stored model) of this checkout against another revision's, side by side in one run.

``bench.bench_score_api`` measures one server against the framework's floor; comparing two of its runs
compares two moments of a shared machine as much as two versions. Here the floor, this checkout's
``spendsentry serve`` and the other revision's (checked out into a temporary git worktree, run with its
own code) all run at once on one trained state, and the same ``wrk`` load measures each in turn, round by
round: the figures of one round were taken within seconds of each other.

``.venv/bin/python -m bench.score_api_ab --base REV [--rounds R] [--seconds S]``; needs ``wrk`` and git.
Prints one line per server and round (requests a second, p50, p90, p99 in ms, and the ratios to the floor
of the round) and the means; writes nothing (the round's notes quote it).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import httpx

from bench.bench_score_api import (
    HEADERS,
    REPO,
    TOKEN,
    WRK_SCRIPT,
    body,
    free_port,
    prepare,
    serve_floor,
    wait_ready,
)
from bench.machine import describe

# wrk's own summary, in a line this script reads back: the latency percentiles in ms and the rate.
_REPORT = """
done = function(summary, latency, requests)
  io.write(string.format("p50=%.3f p90=%.3f p99=%.3f rps=%.1f\\n", latency:percentile(50) / 1000.0,
    latency:percentile(90) / 1000.0, latency:percentile(99) / 1000.0,
    summary.requests / (summary.duration / 1e6)))
end
"""


def _serve(state: Path, port: int, tree: Path) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "SPENDSENTRY_DATA_DIR": str(state),
        "SPENDSENTRY_DATABASE_URL": f"sqlite:///{state / 'state.db'}",
        "SPENDSENTRY_API_TOKENS": f"bench:{TOKEN}:score+read",
        "SPENDSENTRY_RATE_LIMIT_PER_MINUTE": "0",
        "PYTHONPATH": str(tree),  # the revision's own code, not the installed checkout's
    }
    cmd = [sys.executable, "-m", "api.cli", "serve", "--port", str(port)]
    return subprocess.Popen(cmd, cwd=tree, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _wrk(url: str, body_file: Path, script: Path, seconds: float) -> dict[str, float]:
    env = {**os.environ, "BENCH_BODY": str(body_file), "BENCH_TOKEN": TOKEN}
    cmd = ["wrk", "-t1", "-c8", f"-d{seconds:.0f}s", "-s", str(script), url]
    last = (
        subprocess.run(cmd, env=env, capture_output=True, text=True, check=True)
        .stdout.strip()
        .splitlines()[-1]
    )
    return {key: float(value) for key, value in (part.split("=") for part in last.split())}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--base", required=True, help="the revision to compare with (a commit, tag or branch)"
    )
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=8.0)
    args = parser.parse_args(argv)
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is needed (Debian package wrk)")
    print(f"machine: {describe()}", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        base_tree = root / "base"
        subprocess.run(
            ["git", "-C", str(REPO), "worktree", "add", "-q", "--detach", str(base_tree), args.base],
            check=True,
        )
        procs: list[subprocess.Popen[bytes]] = []
        try:
            state = root / "state"
            state.mkdir()
            prepare(state)
            script = root / "post.lua"
            script.write_text(WRK_SCRIPT + _REPORT)
            stored = {**body(), "product": "checkout", "cost_line": "Amazon Elastic Compute Cloud"}
            body_file = root / "body.json"
            body_file.write_text(json.dumps(stored))
            floor_port = free_port()
            procs.append(serve_floor(floor_port))
            wait_ready(f"http://127.0.0.1:{floor_port}", procs[-1], path="/docs")
            servers: dict[str, str] = {}
            for name, tree in ((f"base {args.base}", base_tree), ("head", REPO)):
                port = free_port()
                procs.append(_serve(state, port, tree))
                wait_ready(f"http://127.0.0.1:{port}", procs[-1])
                servers[name] = f"http://127.0.0.1:{port}/v1/score"
                httpx.post(servers[name], json=stored, headers=HEADERS, timeout=60).raise_for_status()
            floor = f"http://127.0.0.1:{floor_port}/v1/score"
            seen: dict[str, list[dict[str, float]]] = {name: [] for name in servers}
            for k in range(args.rounds):
                _wrk(floor, body_file, script, 2)
                ref = _wrk(floor, body_file, script, args.seconds)
                for name, url in servers.items():
                    _wrk(url, body_file, script, 2)
                    got = _wrk(url, body_file, script, args.seconds)
                    got["share"] = 100.0 * got["rps"] / ref["rps"]
                    got["ratio"] = got["p99"] / ref["p99"]
                    seen[name].append(got)
                    print(
                        f"round {k + 1} {name:>20}: {got['rps']:6.0f} req/s, p50 {got['p50']:.2f}, "
                        f"p90 {got['p90']:.2f}, p99 {got['p99']:.2f} ms | floor {ref['rps']:.0f} req/s, "
                        f"p99 {ref['p99']:.2f} ms | {got['share']:.1f}% of the floor, p99 {got['ratio']:.1f}x",
                        flush=True,
                    )
            for name, rounds in seen.items():
                ratios = [r["ratio"] for r in rounds]
                print(
                    f"{name:>20}: mean {statistics.mean(r['rps'] for r in rounds):.0f} req/s, "
                    f"mean p99 {statistics.mean(r['p99'] for r in rounds):.2f} ms, p99 ratio median "
                    f"{statistics.median(ratios):.1f}x ({min(ratios):.1f}–{max(ratios):.1f}x)"
                )
        finally:
            for proc in procs:
                proc.terminate()
                proc.wait(timeout=30)
            subprocess.run(
                ["git", "-C", str(REPO), "worktree", "remove", "--force", str(base_tree)], check=False
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
