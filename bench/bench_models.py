"""Benchmark of the baselines: training throughput, scaling, and held-out accuracy vs Prophet.

``.venv/bin/python -m bench.bench_models`` writes ``bench/results/models.md``. In one run: fit time of
10,000 daily series of 365 points with ``BatchedSeasonalBaseline.fit_many`` against Prophet fitted per
series (on a sample, scaled); growth of the batched fit time with the number of series and with history
length; MASE and 95%-interval coverage on held-out horizons for both models on the NAB series (resampled
to hourly), on synthetic daily spend, and on the demo billing export when ``ingestion.demo_data`` exists.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import clone

from bench.machine import describe
from bench.publish import publish
from models.backtest import SEASON_LENGTH, mase
from models.base import Baseline
from models.fourier import infer_granularity
from models.prophet_baseline import ProphetBaseline
from models.seasonal import BatchedSeasonalBaseline

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "bench" / "results" / "models.md"
PROPHET_SAMPLE = 20


def shared_data() -> Path:
    return Path(os.environ.get("SPENDSENTRY_SHARED_DATA", ROOT.parent / "shared" / "data"))


def synthetic_spend(n_series: int, n_points: int, *, freq: str = "D", seed: int = 0) -> pd.DataFrame:
    """Spend-like series: lognormal levels, broken trends, weekend dips, month-start fees, AR(1) noise,
    1% spikes (not in the last 10%), 5% of series net of credits (negative)."""
    rng = np.random.default_rng(seed)
    idx = pd.date_range("2023-01-02", periods=n_points, freq=freq)
    t = np.arange(n_points) / n_points
    level = rng.lognormal(4, 1.5, n_series)[:, None]
    brk = rng.uniform(0.3, 0.9, n_series)[:, None]
    trend = (
        1
        + rng.normal(0.1, 0.3, (n_series, 1)) * t
        + rng.normal(0, 0.3, (n_series, 1)) * np.maximum(t - brk, 0)
    )
    season = 1 - rng.uniform(0, 0.4, (n_series, 1)) * (idx.day_of_week.to_numpy() >= 5)[None]
    if freq == "h":
        amp = rng.uniform(0, 0.5, (n_series, 1))
        season = season * (1 + amp * np.sin(2 * np.pi * (idx.hour.to_numpy() - 6) / 24)[None])
    fees = rng.uniform(0, 1, (n_series, 1)) * (rng.random((n_series, 1)) < 0.3) * (idx.day == 1)[None]
    sigma = rng.uniform(0.02, 0.12, (n_series, 1))
    phi = rng.uniform(0, 0.7, n_series)
    e = rng.standard_normal((n_series, n_points))
    ar = np.empty_like(e)
    ar[:, 0] = e[:, 0]
    for i in range(1, n_points):
        ar[:, i] = phi * ar[:, i - 1] + np.sqrt(1 - phi**2) * e[:, i]
    V = level * (trend * season + fees) * (1 + sigma * ar)
    spikes = (rng.random(V.shape) < 0.01) & (np.arange(n_points) < 0.9 * n_points)[None]
    V = np.where(spikes, V * rng.uniform(1.5, 4, V.shape), V)
    credits = rng.random(n_series) < 0.05
    V[credits] -= level[credits] * 0.3
    return pd.DataFrame(V.T, index=idx, columns=[f"s{i}" for i in range(n_series)])


def _timed(fn: Callable[[], Any]) -> float:
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


def throughput(lines: list[str]) -> None:
    Y = synthetic_spend(10_000, 365, seed=1)
    model = BatchedSeasonalBaseline()
    model.fit_many(Y.iloc[:, :200])  # warm-up: imports, BLAS threads
    batched = min(_timed(lambda: model.fit_many(Y)) for _ in range(2))
    sample = Y.iloc[:, :PROPHET_SAMPLE]
    prophet = _timed(lambda: [ProphetBaseline().fit(sample[c]) for c in sample.columns]) / PROPHET_SAMPLE
    rate = 10_000 / batched
    lines += [
        "### Training throughput: 10,000 daily series x 365 points",
        "",
        "| model | time for 10,000 series | series/s |",
        "|---|---:|---:|",
        f"| batched seasonal (`fit_many`, best of 2) | {batched:.2f} s | {rate:,.0f} |",
        f"| Prophet per series (mean of {PROPHET_SAMPLE}, scaled) "
        f"| {prophet * 10_000:,.0f} s | {1 / prophet:,.1f} |",
        "",
        f"Batched vs Prophet: **{rate * prophet:,.0f}x** (targets: >= 1,000 series/s and >= 50x).",
        "",
    ]


def scaling(lines: list[str]) -> None:
    lines += ["### Batched fit time vs number of series (daily, 365 points)", ""]
    lines += ["| series | time | series/s |", "|---:|---:|---:|"]
    for n in (1_000, 10_000, 100_000):
        parts = [synthetic_spend(min(n, 10_000), 365, seed=2 + i) for i in range(max(1, n // 10_000))]
        Y = pd.concat(parts, axis=1, ignore_index=True) if len(parts) > 1 else parts[0]
        dt = _timed(lambda Y=Y: BatchedSeasonalBaseline().fit_many(Y))
        lines.append(f"| {n:,} | {dt:.2f} s | {n / dt:,.0f} |")
    lines += ["", "### Batched fit time vs history length (10,000 daily series; 1,000 hourly)", ""]
    lines += ["| granularity | points | series | time | series/s |", "|---|---:|---:|---:|---:|"]
    for freq, n, points in [("D", 10_000, p) for p in (90, 180, 365, 730, 1095)] + [
        ("h", 1_000, p) for p in (24 * 28, 24 * 90)
    ]:
        Y = synthetic_spend(n, points, freq=freq, seed=5)
        dt = _timed(lambda Y=Y: BatchedSeasonalBaseline().fit_many(Y))
        lines.append(
            f"| {'day' if freq == 'D' else 'hour'} | {points:,} | {n:,} | {dt:.2f} s | {n / dt:,.0f} |"
        )
    lines.append("")


def evaluate(
    models: dict[str, Baseline],
    series: dict[str, pd.Series],
    *,
    n_origins: int,
    horizon: int,
    abnormal: dict[str, np.ndarray] | None = None,
) -> dict[str, dict[str, float]]:
    """Rolling-origin MASE (per series, mean over origins) and pooled coverage, per model."""
    out: dict[str, dict[str, float]] = {}
    for name, est in models.items():
        scores: list[float] = []
        hit = tot = hit_n = tot_n = 0
        for key, y in series.items():
            season = SEASON_LENGTH[infer_granularity(pd.DatetimeIndex(y.index))]
            bad = abnormal.get(key) if abnormal else None
            per_origin = []
            for k in range(n_origins, 0, -1):
                cut = len(y) - k * horizon
                fc = clone(est).fit(y.iloc[:cut]).predict(pd.DatetimeIndex(y.index[cut : cut + horizon]))
                truth = y.iloc[cut : cut + horizon].to_numpy()
                ok = np.isfinite(truth)
                inside = (truth >= fc["lower"].to_numpy()) & (truth <= fc["upper"].to_numpy())
                hit, tot = hit + int(inside[ok].sum()), tot + int(ok.sum())
                normal = ok if bad is None else ok & ~bad[cut : cut + horizon]
                hit_n, tot_n = hit_n + int(inside[normal].sum()), tot_n + int(normal.sum())
                per_origin.append(mase(truth, fc["expected"].to_numpy(), y.to_numpy()[:cut], season))
            finite = [s for s in per_origin if np.isfinite(s)]
            if finite:
                scores.append(float(np.mean(finite)))
        arr = np.asarray(scores)
        out[name] = {
            "series": float(arr.size),
            "mase_mean": float(arr.mean()),
            "mase_median": float(np.median(arr)),
            "mase_gmean": float(np.exp(np.log(np.maximum(arr, 1e-12)).mean())),
            "coverage": hit / tot,
            "coverage_normal": hit_n / tot_n if tot_n else float("nan"),
        }
    return out


def _accuracy_table(title: str, res: dict[str, dict[str, float]], note: str) -> list[str]:
    s, p = res["batched seasonal"], res["Prophet"]
    lines = [f"### {title}", "", note, ""]
    lines += [
        "| model | series | MASE mean | MASE median | MASE geo-mean | coverage (all) | coverage (normal) |"
    ]
    lines += ["|---|---:|---:|---:|---:|---:|---:|"]
    for name, r in res.items():
        lines.append(
            f"| {name} | {r['series']:.0f} | {r['mase_mean']:.3f} | {r['mase_median']:.3f} | "
            f"{r['mase_gmean']:.3f} | {r['coverage']:.1%} | {r['coverage_normal']:.1%} |"
        )
    ratio = s["mase_mean"] / p["mase_mean"]
    median_ratio = s["mase_median"] / p["mase_median"]
    lines += [
        "",
        f"Batched MASE / Prophet MASE: mean **{ratio:.3f}**, median {median_ratio:.3f} (target <= 1.10).",
        "",
    ]
    return lines


def _models() -> dict[str, Baseline]:
    return {"batched seasonal": BatchedSeasonalBaseline(), "Prophet": ProphetBaseline()}


def nab_accuracy(lines: list[str]) -> None:
    root = shared_data() / "nab"
    labels = json.loads((root / "labels.json").read_text())
    series: dict[str, pd.Series] = {}
    abnormal: dict[str, np.ndarray] = {}
    for path in sorted((root / "data").glob("*/*.csv")):
        key = f"{path.parent.name}/{path.name}"
        raw = pd.read_csv(path, parse_dates=["timestamp"]).set_index("timestamp")["value"]
        y = raw.resample("1h").mean()  # NAB is 5-minute data; spend series are hourly or daily
        bad = np.zeros(len(y), dtype=bool)
        for start, end in labels.get(key, []):
            bad |= (y.index >= pd.Timestamp(start).floor("h")) & (y.index <= pd.Timestamp(end).ceil("h"))
        series[key], abnormal[key] = y, bad
    res = evaluate(_models(), series, n_origins=4, horizon=24, abnormal=abnormal)
    note = (
        f"{len(series)} NAB series (`nab/data/*/*.csv`) resampled to hourly means; 4 rolling origins, "
        "24 h ahead each, at the end of each series; MASE against the in-sample seasonal naive (lag 24); "
        "'normal' coverage leaves out the hours inside NAB's labelled anomaly windows. Series whose MASE is "
        "undefined (constant history) are left out of the MASE columns."
    )
    lines += _accuracy_table("Accuracy on NAB (hourly)", res, note)


def synthetic_accuracy(lines: list[str]) -> None:
    Y = synthetic_spend(60, 365, seed=11)
    res = evaluate(_models(), {c: Y[c] for c in Y.columns}, n_origins=3, horizon=7)
    note = "60 synthetic daily spend series (as for throughput); 3 rolling origins, 7 days ahead each."
    lines += _accuracy_table("Accuracy on synthetic daily spend", res, note)


def demo_series(*, days: int = 180, granularity: str = "day", seed: int = 7) -> pd.DataFrame | None:
    """Per (product, cost line, currency) EffectiveCost series of the demo export, or None without it."""
    try:
        from ingestion.demo_data import write_demo_export
    except ImportError:
        return None
    import duckdb

    with tempfile.TemporaryDirectory() as tmp:
        write_demo_export(Path(tmp), days=days, granularity=granularity, seed=seed, incidents=False)  # type: ignore[arg-type]
        frame = duckdb.sql(
            f"""SELECT ChargePeriodStart AS ts,
                       coalesce(json_extract_string(Tags, '$.product'), 'unattributed') || '|' || ServiceName
                         || '|' || BillingCurrency AS series,
                       sum(EffectiveCost) AS cost
                FROM read_csv('{tmp}/focus_*.csv', nullstr='NULL', union_by_name=true)
                WHERE ChargeCategory = 'Usage' GROUP BY ALL"""
        ).df()
    wide = frame.pivot_table(index="ts", columns="series", values="cost", aggfunc="sum")
    result: pd.DataFrame = wide.sort_index().asfreq("D" if granularity == "day" else "h")
    return result


def demo_accuracy(lines: list[str], frame: pd.DataFrame | None = None) -> None:
    """Accuracy on the demo export's series (no injected incidents); the lead can call it on any frame."""
    frame = demo_series() if frame is None else frame
    if frame is None:
        lines += [
            "### Accuracy on the demo billing export",
            "",
            "Not run: `ingestion.demo_data` missing.",
            "",
        ]
        return
    series = {str(c): frame[c] for c in frame.columns if frame[c].notna().sum() >= 60}
    res = evaluate(_models(), series, n_origins=3, horizon=7)
    note = (
        f"{len(series)} daily (product, cost line, currency) EffectiveCost series from "
        "`ingestion.demo_data.write_demo_export(days=180, incidents=False)`; 3 rolling origins, 7 days each."
    )
    lines += _accuracy_table("Accuracy on the demo billing export (daily)", res, note)


def main() -> None:
    warnings.simplefilter("ignore", category=RuntimeWarning)
    started = time.perf_counter()
    lines = [
        "## Models: batched seasonal baseline vs Prophet",
        "",
        f"Machine: {describe()}; os.sched_getaffinity: {len(os.sched_getaffinity(0))} CPUs.",
        "Command: `.venv/bin/python -m bench.bench_models`.",
        "",
    ]
    throughput(lines)
    scaling(lines)
    nab_accuracy(lines)
    synthetic_accuracy(lines)
    demo_accuracy(lines)
    lines += [f"Whole benchmark: {time.perf_counter() - started:.0f} s.", ""]
    publish("\n".join(lines), OUT)


if __name__ == "__main__":
    main()
