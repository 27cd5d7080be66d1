"""How fast ``spendsentry`` starts: ``--help`` and ``series`` beside a bare interpreter, in one run.

Run with ``.venv/bin/python -m bench.bench_cli`` (part of ``make bench``). ``hyperfine`` (Debian package
``hyperfine``) runs the three commands in one session, alternating warm-ups, so each command's time can be
read as a ratio to the interpreter's own start on the same machine at the same moment; without hyperfine
this process times them itself. ``series`` lists a trained demo state (ingested and trained first): as
users mostly meet it, on the series catalog the ingest wrote, and once more with the catalog removed
before each run (the facts scanned with DuckDB and the catalog rewritten: the first listing after facts
changed other than by ingesting files). It writes ``bench/results/cli.md`` (``--no-write``: prints only).
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
import time
from pathlib import Path

from bench.bench_score_api import prepare
from bench.machine import describe
from bench.publish import publish
from core.settings import Settings
from ingestion.series_catalog import catalog_path, refresh_catalog

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "bench" / "results" / "cli.md"
RUNS = 20


def commands(root: Path) -> list[tuple[str, list[str], Path | None]]:
    """Each command's name, argv and a file to remove before each of its runs."""
    cli = [sys.executable, "-m", "api.cli"]
    return [
        ("interpreter: `python -c pass`", [sys.executable, "-c", "pass"], None),
        ("`spendsentry --help`", [*cli, "--help"], None),
        ("`spendsentry series`", [*cli, "series"], None),
        (
            "`spendsentry series`, no catalog (facts scanned, catalog rewritten)",
            [*cli, "series"],
            catalog_path(root / "facts"),
        ),
    ]


def timed(root: Path, env: dict[str, str]) -> dict[str, tuple[float, float]]:
    """Mean wall and user+system CPU seconds of each command."""
    out: dict[str, tuple[float, float]] = {}
    hyperfine = shutil.which("hyperfine")
    with tempfile.TemporaryDirectory() as tmp:
        if hyperfine:
            export = Path(tmp) / "runs.json"
            cmd = [hyperfine, "-N", "-w", "3", "-r", str(RUNS), "--export-json", str(export)]
            for _, _, remove in commands(root):  # one --prepare per command, in the commands' order
                cmd += ["--prepare", f"rm -f {remove}" if remove else "true"]
            cmd += [" ".join(argv) for _, argv, _ in commands(root)]
            subprocess.run(cmd, env=env, cwd=REPO, check=True, capture_output=True)
            found = json.loads(export.read_text())["results"]
            for (name, _, _), result in zip(commands(root), found, strict=True):
                out[name] = (result["mean"], result["user"] + result["system"])
            return out
    for name, argv, remove in commands(root):
        walls = []
        for _ in range(RUNS):
            if remove is not None:
                remove.unlink(missing_ok=True)
            t0 = time.perf_counter()
            subprocess.run(argv, env=env, cwd=REPO, check=True, capture_output=True)
            walls.append(time.perf_counter() - t0)
        out[name] = (statistics.mean(walls), float("nan"))
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-write", action="store_true", help="print the figures without recording them")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        prepare(root)
        # As `spendsentry ingest` leaves it: the catalog written after the ingest (prepare uses the library).
        refresh_catalog(
            Settings(database_url=f"sqlite:///{root / 'state.db'}", data_dir=root, _env_file=None)  # type: ignore[call-arg]
        )
        env = {
            **os.environ,
            "SPENDSENTRY_DATA_DIR": str(root),
            "SPENDSENTRY_DATABASE_URL": f"sqlite:///{root / 'state.db'}",
        }
        figures = timed(root, env)
    base_wall, base_cpu = next(iter(figures.values()))
    lines = [
        "## CLI start",
        "",
        f"- Machine: {describe()}",
        "- Command: `.venv/bin/python -m bench.bench_cli` (part of `make bench`); "
        f"{'hyperfine' if shutil.which('hyperfine') else 'this process'}, {RUNS} runs each after 3 warm-ups, "
        "the commands in one session.",
        "- `series` lists a demo state (33 series: 26 product × cost line, 7 product totals; trained), on the series catalog the ingest wrote; the last "
        "row removes the catalog before each run (the listing is then computed from the facts with DuckDB, "
        "as before the catalog, and the catalog rewritten). `--help` parses nothing else.",
        "",
        "| command | mean wall s | CPU s (user + system) | wall / interpreter | CPU / interpreter |",
        "|---|---:|---:|---:|---:|",
    ]
    for name, (wall, cpu) in figures.items():
        lines.append(f"| {name} | {wall:.3f} | {cpu:.3f} | {wall / base_wall:.1f}x | {cpu / base_cpu:.1f}x |")
    lines += [
        "",
        "Target: `--help` and `series` under 0.3 s. Each command imports what it uses (`api/cli.py`); "
        "`tests/api/test_cli_imports.py` fails if `--help` loads pandas, SQLAlchemy, DuckDB or Alembic, or "
        "`series` on a fresh catalog loads SQLAlchemy, DuckDB, pandas, numpy or pydantic-settings (it reads "
        "the catalog, the registry over `sqlite3`, and its few settings without pydantic-settings: "
        "`api/series_listing.py`). The machine was shared while this ran (load "
        f"average at the end: {', '.join(f'{x:.1f}' for x in os.getloadavg())}): wall times are inflated; "
        "CPU time and the ratios to the interpreter's start are the steadier figures.",
        "",
    ]
    publish("\n".join(lines), RESULTS, write=not args.no_write)


if __name__ == "__main__":
    main()
