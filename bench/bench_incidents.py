"""The incident loop, end to end, on a generated year of billing data (issue 16's "done when").

For each granularity (a year of daily data, 90 days of hourly data): generate the export and its manifest
(``bench.billing_year``), ingest it into a fresh state, and replay every period after the training months
with ``spendsentry replay`` into local PagerDuty and ticket-webhook receivers (``bench.replay_run``); then
score the pages, tickets and incidents against the manifest (``bench.incident_score``).

Run: ``.venv/bin/python -m bench.bench_incidents`` (part of ``make bench``; ``--granularity daily`` for
one, ``--no-write`` to leave ``bench/results/incidents.md`` alone, ``--keep DIR`` to keep the exports and
state). On a terminal the replay shows its progress bar.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from bench.billing_year import Granularity, write_billing_year
from bench.incident_report import criteria_rows, noticed, outcome_rows, trap_rows, unexplained_rows
from bench.incident_score import Scorecard, score
from bench.machine import describe
from bench.publish import publish
from bench.replay_run import Observed, replay_export

RESULTS = Path(__file__).resolve().parent / "results" / "incidents.md"


def run(granularity: Granularity, seed: int, work: Path) -> tuple[Scorecard, Observed]:
    print(f"incidents bench: generating {granularity} data (seed {seed})...", file=sys.stderr, flush=True)
    manifest = write_billing_year(work / "export", granularity=granularity, seed=seed)
    print(
        f"incidents bench: {manifest.rows:,} rows; replaying {manifest.replay_start:%Y-%m-%d} → "
        f"{manifest.replay_end:%Y-%m-%d} every {manifest.period_hours} h...",
        file=sys.stderr,
        flush=True,
    )
    observed = replay_export(work / "export", manifest, work / "state")
    return score(manifest, observed), observed


def section(card: Scorecard, observed: Observed) -> list[str]:
    m = card.manifest
    title = (
        "A year of daily data" if m.period_hours == 24 else f"{(m.end - m.start).days} days of hourly data"
    )
    return [
        f"### {title}: {m.start:%Y-%m-%d} → {m.end:%Y-%m-%d}, replayed from {m.replay_start:%Y-%m-%d}",
        "",
        f"{m.rows:,} FOCUS rows (seed {m.seed}); {observed.sweeps} sweeps in {observed.seconds:.0f} s "
        f"(retraining daily on `TRAIN_CRON`); {len(observed.pages)} PagerDuty events and "
        f"{len(observed.tickets)} ticket webhooks received; {noticed(card.outcomes)} changes noticed.",
        "",
        *outcome_rows(card),
        "",
        "Traps (must raise nothing):",
        "",
        *trap_rows(card),
        "",
        "Alerts on no injected change:",
        "",
        *unexplained_rows(card),
        "",
        *criteria_rows(card),
        "",
    ]


HEADER = [
    "## Incident loop on a generated year (issue 16)",
    "",
    "Machine: {machine}. Command: `.venv/bin/python -m bench.bench_incidents` (part of `make bench`).",
    "",
    "`bench/billing_year.py` generates a FOCUS export of the demo's six products (weekly and daily cycles,",
    "growth, noise, month-start batch jobs) with injected changes and a manifest of them (`python -m",
    "bench.billing_year --out DIR --granularity daily|hourly --seed N`); `bench/replay_run.py` ingests it",
    "into a fresh SQLite state and runs `spendsentry replay` over every period after the training months,",
    "with PagerDuty and ticket-webhook receivers on 127.0.0.1; `bench/incident_score.py` scores what arrived.",
    "An alert belongs to a change when it is on the change's product and cost line and open during the",
    "change (or up to the resolve time and two periods after). *Noticed* counts periods after the first",
    "affected period closed (0: the first sweep that could see it). *Alerts*: distinct incidents that paged",
    "or ticketed for the change (one is right). *Cause named*: the injected account, region or SKU is the",
    "top root cause (or in the top 3) of the first notification. *Resolved*: every such incident resolved",
    "and its resolve delivered, counted from the change's end. *New normal*: resolved with a mark that the",
    "level became the baseline. Cells in bold miss the expectation.",
    "",
]


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench.bench_incidents", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--granularity", choices=("daily", "hourly", "both"), default="both")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--no-write", action="store_true", help="print only; keep bench/results as it is")
    parser.add_argument("--keep", type=Path, metavar="DIR", help="keep exports and state under DIR")
    args = parser.parse_args(argv)
    kinds: list[Granularity] = ["daily", "hourly"] if args.granularity == "both" else [args.granularity]
    lines = [h.format(machine=describe()) for h in HEADER]
    for kind in kinds:
        with tempfile.TemporaryDirectory(prefix="ss-incidents-") as tmp:
            work = (args.keep / kind) if args.keep else Path(tmp)
            shutil.rmtree(work, ignore_errors=True)  # a replay starts from an empty state
            card, observed = run(kind, args.seed, work)
            lines += section(card, observed)
    publish("\n".join(lines), RESULTS, write=not args.no_write and args.granularity == "both")


if __name__ == "__main__":
    main()
