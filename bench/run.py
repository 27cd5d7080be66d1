"""``make bench``: run every benchmark (or those named in ``BENCH=a,b``) and write BENCHMARKS.md.

Each benchmark writes its own section to ``bench/results/<name>.md``; BENCHMARKS.md is their concatenation,
so re-running one benchmark keeps the others' last figures.
"""

from __future__ import annotations

import importlib
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ORDER = ["ingest", "models", "rca", "detection", "score_api", "cli", "sweep", "incidents"]


def available() -> list[str]:
    found = {p.stem.removeprefix("bench_") for p in (ROOT / "bench").glob("bench_*.py")}
    return [n for n in ORDER if n in found] + sorted(found - set(ORDER))


def compose() -> None:
    parts = [
        "# Benchmarks",
        "",
        "Written by `make bench` (`.venv/bin/python -m bench.run`; `BENCH=ingest,rca make bench` runs a subset).",
        "Each section names the machine and the command that produced it. Comparisons are made side by side in",
        "one run, as ratios against a reference, because these machines are shared and noisy.",
        "",
    ]
    for name in available():
        section = ROOT / "bench" / "results" / f"{name}.md"
        if section.exists():
            parts += [section.read_text().rstrip(), ""]
    (ROOT / "BENCHMARKS.md").write_text("\n".join(parts))


def main() -> None:
    wanted = [w for w in os.environ.get("BENCH", "").split(",") if w] or available()
    for name in wanted:
        started = time.perf_counter()
        print(f"== bench {name}", file=sys.stderr, flush=True)
        importlib.import_module(f"bench.bench_{name}").main()
        print(f"== bench {name}: {time.perf_counter() - started:.0f} s", file=sys.stderr, flush=True)
        compose()
    compose()


if __name__ == "__main__":
    main()
