"""Detection quality on the Numenta Anomaly Benchmark files, through ``backtest`` and our NAB scorer.

Run with ``.venv/bin/python -m bench.bench_detection`` (options: ``--workers N``, ``--no-write``,
``--only SUBSTRING``). Every file of ``nab/data`` is replayed causally by
:func:`detector.backtest.backtest_csv` (the code behind ``spendsentry backtest``) with its default
configuration (:data:`detector.backtest.BACKTEST_CONFIG`); the rows it writes with ``is_anomaly = 1``
(alarms: the onset of each flagged run) are the detections, scored by :mod:`detector.nab_scoring` for
the three profiles of ``profiles.json``, per category and overall. For comparison it also replays the
previous default (every flagged row is ``is_anomaly``, threshold 0.5). It writes
``bench/results/detection.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd

from bench.machine import describe
from bench.publish import publish
from detector.backtest import BACKTEST_CONFIG, backtest_csv
from detector.nab_scoring import FileScore, load_profiles, normalize, score_corpus
from detector.post_rules import DetectorConfig, onset_mask

# Measured with the same replay and scorer, and not kept (recorded so nobody re-runs them blind).
EVALUATED = (
    "- Threshold sensitivity of the kept design (onset alarms, re-arm 12): 0.38 → 59.6, 0.40 → 60.1, "
    "0.42 → 60.7, 0.45 → 56.3, 0.50 → 43.9 (standard). The threshold 0.40 is lower than the service's "
    "0.5; it is a choice made on these files, so the margin over the target is thin.",
    "- Re-arm after 1 / 12 / 36 quiet periods at threshold 0.40: 59.4 / 60.1 / 60.7; kept 12 (an hour of "
    "five-minute points), not the best on these files.",
    "- A second, model-free channel — residual against the median of the same phase over the last 3–5 "
    "seasons (seasonal naive; follows the sharp daily steps the Fourier model rings on), and/or against "
    "the trailing median (level) — added as more time scales of the same tail test (Bonferroni over "
    "all): artificialWithAnomaly becomes robust to the threshold (≈ 92 from 0.45 to 0.6) but "
    "realTraffic loses 5–15 points to the larger multiple-test penalty; overall 58.3–59.9 at 0.35–0.40, "
    "no better than the residual alone. Not kept.",
)

# The configuration before alarms were onset-only: every flagged row is a detection, threshold 0.5.
PREVIOUS = DetectorConfig(direction="both")

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "bench" / "results" / "detection.md"
PUBLISHED = (
    "Numenta HTM 70.5, CAD OSE 69.9, earthgecko Skyline 58.2, KNN CAD 58.0, Relative Entropy 54.6, "
    "Random Cut Forest 51.7, Twitter ADVec 47.1, Windowed Gaussian 39.6, Etsy Skyline 35.7 (full corpus)"
)


def shared_data() -> Path:
    return Path(os.environ.get("SPENDSENTRY_SHARED_DATA", REPO.parent / "shared" / "data"))


def run_file(args: tuple[str, str, str, bool]) -> tuple[str, list[str], list[int], list[float], float]:
    key, in_path, out_dir, previous = args
    out = Path(out_dir) / (("previous__" if previous else "") + key.replace("/", "__"))
    started = time.perf_counter()
    backtest_csv(Path(in_path), out, config=PREVIOUS if previous else BACKTEST_CONFIG)
    seconds = time.perf_counter() - started
    frame = pd.read_csv(out)
    return (
        key,
        frame["timestamp"].tolist(),
        frame["is_anomaly"].astype(int).tolist(),
        frame["anomaly_score"].astype(float).tolist(),
        seconds,
    )


def category(key: str) -> str:
    return key.split("/", 1)[0]


def table(scores: dict[str, dict[str, FileScore]], keys: list[str]) -> list[str]:
    cats = sorted({category(k) for k in keys})
    lines = [
        "| group | files | standard | reward_low_FP_rate | reward_low_FN_rate | TP | FP | FN |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for group in [*cats, "overall"]:
        members = [k for k in keys if group == "overall" or category(k) == group]
        cells = []
        for profile in ("standard", "reward_low_FP_rate", "reward_low_FN_rate"):
            value = normalize(scores[profile][k] for k in members)
            cells.append("n/a (no windows)" if np.isnan(value) else f"{value:.1f}")
        std = [scores["standard"][k] for k in members]
        tp, fp, fn = sum(s.tp for s in std), sum(s.fp for s in std), sum(s.fn for s in std)
        name = f"**{group}**" if group == "overall" else group
        lines.append(f"| {name} | {len(members)} | {' | '.join(cells)} | {tp} | {fp} | {fn} |")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=min(os.cpu_count() or 1, 2))
    parser.add_argument("--no-write", action="store_true")
    parser.add_argument("--only", default=None, help="only files whose key contains this")
    args = parser.parse_args(argv)

    nab = shared_data() / "nab"
    labels: dict[str, list[list[str]]] = json.loads((nab / "labels.json").read_text())
    profiles = load_profiles(nab / "profiles.json")
    keys = sorted(k for k in labels if (nab / "data" / k).is_file() and (args.only or "") in k)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp, ProcessPoolExecutor(max_workers=args.workers) as pool:
        outputs = list(pool.map(run_file, [(k, str(nab / "data" / k), tmp, False) for k in keys]))
        wall = time.perf_counter() - started
        before = list(pool.map(run_file, [(k, str(nab / "data" / k), tmp, True) for k in keys]))

    results: dict[str, tuple[pd.DatetimeIndex, np.ndarray]] = {}
    scores_by_file: dict[str, np.ndarray] = {}
    seconds = {}
    for key, stamps, flags, score, secs in outputs:
        results[key] = (pd.DatetimeIndex(pd.to_datetime(stamps)), np.asarray(flags, dtype=bool))
        scores_by_file[key] = np.asarray(score)
        seconds[key] = secs
    scores = score_corpus(results, labels, profiles)
    previous = {
        k: (pd.DatetimeIndex(pd.to_datetime(ts)), np.asarray(f, dtype=bool)) for k, ts, f, _, _ in before
    }
    previous_scores = score_corpus(previous, labels, profiles)
    previous_alarms = sum(int(previous[k][1].sum()) for k in keys if category(k) == "artificialNoAnomaly")

    no_anomaly = [k for k in keys if category(k) == "artificialNoAnomaly"]
    alarms = {k: int(results[k][1].sum()) for k in no_anomaly}
    per_file = [
        "| file | rows | windows | TP | FP | FN | alarms (is_anomaly = 1) | seconds |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for k in keys:
        s = scores["standard"][k]
        per_file.append(
            f"| {k} | {len(results[k][0])} | {len(labels[k])} | {s.tp} | {s.fp} | {s.fn} | "
            f"{int(results[k][1].sum())} | {seconds[k]:.2f} |"
        )

    # For comparison with NAB's own practice (a threshold tuned per profile on the corpus): the best
    # fixed threshold on anomaly_score. Our headline figures do NOT use it: they use is_anomaly as emitted.
    tuned = []
    rearm = BACKTEST_CONFIG.rearm_after or 12  # every NAB file is intraday: default_rearm gives 12
    for profile in ("standard", "reward_low_FP_rate", "reward_low_FN_rate"):
        best = (float("-inf"), 0.0)
        for thr in np.round(np.arange(0.30, 1.001, 0.02), 2):
            trial = {k: (results[k][0], onset_mask(scores_by_file[k] >= thr, rearm)) for k in keys}
            value = normalize(score_corpus(trial, labels, {profile: profiles[profile]})[profile].values())
            best = max(best, (value, float(thr)))
        tuned.append(f"{profile} {best[0]:.1f} (threshold {best[1]:.2f})")

    command = ".venv/bin/python -m bench.bench_detection" + " ".join(
        f" {a}" for a in (argv if argv is not None else sys.argv[1:])
    )
    lines = [
        "# Detection quality: NAB (reference subset in ../shared/data/nab)",
        "",
        f"- Machine: {describe()}",
        f"- Command: `{command.strip()}`",
        f"- Wall time: {wall:.1f} s for {len(keys)} files ({args.workers} worker processes)",
        "- Method: `detector.backtest.backtest_csv` (causal replay, default `BatchedSeasonalBaseline` refit "
        "once a day's worth of points on all history so far) with its default configuration "
        f"`BACKTEST_CONFIG` = `{BACKTEST_CONFIG.direction=}, {BACKTEST_CONFIG.threshold=}, "
        f"{BACKTEST_CONFIG.alarm=}, {BACKTEST_CONFIG.rearm_after=}` (None: by granularity, 12 periods "
        "for intraday series such as every NAB file, 2 for daily ones).".replace("BACKTEST_CONFIG.", ""),
        "- How detections are counted: a detection is a row the backtest CSV writes with `is_anomaly = 1`, "
        "exactly as written. With `alarm='onset'` the CSV marks **only the row an alarm is raised on**: "
        "the first row of each run of flagged rows, and a later run only after `rearm_after` unflagged "
        "rows (one alarm per incident, as the service pages once per incident). Scored by "
        "`detector.nab_scoring` (probation = first 15% of each file, as the data README says).",
        "",
        "## Scores (normalised: null detector 0, perfect 100)",
        "",
        *table(scores, keys),
        "",
        "Before (same run): the previous default, `DetectorConfig(direction='both')` — threshold 0.5, "
        "`is_anomaly` on every flagged row, every such row counted:",
        "",
        *table(previous_scores, keys),
        "",
        f"(artificialNoAnomaly alarms before: {previous_alarms})",
        "",
        f"artificialNoAnomaly alarms (rows with is_anomaly = 1, whole file): {sum(alarms.values())} "
        f"({', '.join(f'{Path(k).name}: {v}' for k, v in alarms.items())})",
        "",
        f"For orientation only — best single threshold on `anomaly_score` (onset alarms, same re-arm; no "
        f"cold-start rule) chosen on these files per profile "
        f"(NAB's own tuning practice, optimistic): {'; '.join(tuned)}.",
        "",
        f"Published NAB standard scores: {PUBLISHED}.",
        "",
        "## Evaluated and not kept (same replay and scorer, measured once on these files)",
        "",
        *EVALUATED,
        "",
        "## Per file (standard profile)",
        "",
        *per_file,
        "",
    ]
    text = "\n".join(lines)
    publish(text, RESULTS, write=not args.no_write)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
