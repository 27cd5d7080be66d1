"""The Numenta Anomaly Benchmark scorer, written from its published description.

Per file: the first ``probation`` share of rows is not scored. Inside a labelled window only the first
detection counts, as ``tp_weight × σ̃(position)`` where ``position`` runs from −1 (the window's first row)
to 0 (its last) and ``σ̃(x) = 2 / (1 + e^{5x}) − 1`` is NAB's scaled sigmoid, so earlier is better. A
window without a detection costs ``fn_weight``. A detection outside every window costs
``fp_weight × σ̃(d)`` (negative), where ``d`` is its distance past the end of the preceding window in
window widths (so a detection just after a window costs little and one far from it the full weight), or
``fp_weight`` in full before the first window; beyond three widths the cost is the full weight too.

Raw scores are summed over the files of a group and normalised so that the null detector (never fires)
scores 0 and the perfect one (fires on the first row of every window) 100.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

PROBATION_SHARE = 0.15


@dataclass(frozen=True, slots=True)
class CostProfile:
    tp: float
    fp: float
    fn: float


# NAB's profiles.json, for callers without the file at hand.
PROFILES: dict[str, CostProfile] = {
    "standard": CostProfile(tp=1.0, fp=0.11, fn=1.0),
    "reward_low_FP_rate": CostProfile(tp=1.0, fp=0.22, fn=1.0),
    "reward_low_FN_rate": CostProfile(tp=1.0, fp=0.11, fn=2.0),
}


def load_profiles(path: Path) -> dict[str, CostProfile]:
    """Read NAB's ``profiles.json`` (``{"name": {"CostMatrix": {"tpWeight": ...}}}``)."""
    raw = json.loads(Path(path).read_text())
    return {
        name: CostProfile(
            tp=float(p["CostMatrix"]["tpWeight"]),
            fp=float(p["CostMatrix"]["fpWeight"]),
            fn=float(p["CostMatrix"]["fnWeight"]),
        )
        for name, p in raw.items()
    }


def scaled_sigmoid(position: float) -> float:
    """NAB's σ̃: ≈ +1 at the start of a window (position −1), 0 at its end, → −1 well after it."""
    if position > 3.0:
        return -1.0
    return 2.0 / (1.0 + math.exp(5.0 * position)) - 1.0


@dataclass(frozen=True, slots=True)
class FileScore:
    """One file under one profile: raw score, the null and perfect references, and the counts."""

    raw: float
    null: float
    perfect: float
    tp: int
    fp: int
    fn: int

    @property
    def normalized(self) -> float:
        return normalize([self])


def normalize(scores: Iterable[FileScore]) -> float:
    """100 × (Σraw − Σnull) / (Σperfect − Σnull); NaN for a group without any window (undefined)."""
    items = list(scores)
    raw = sum(s.raw for s in items)
    null = sum(s.null for s in items)
    perfect = sum(s.perfect for s in items)
    if perfect - null <= 0:
        # No window at all (e.g. the no-anomaly files): the ratio is undefined; count their alarms instead.
        return float("nan")
    return 100.0 * (raw - null) / (perfect - null)


def window_indices(timestamps: pd.DatetimeIndex, windows: Sequence[Sequence[str]]) -> list[tuple[int, int]]:
    """Row positions ``(first, last)`` of each labelled window (inclusive); empty windows are dropped."""
    out: list[tuple[int, int]] = []
    for start, end in windows:
        lo = int(timestamps.searchsorted(pd.Timestamp(start), side="left"))
        hi = int(timestamps.searchsorted(pd.Timestamp(end), side="right")) - 1
        if hi >= lo:
            out.append((lo, hi))
    return out


def score_file(
    timestamps: pd.DatetimeIndex,
    detections: np.ndarray,
    windows: Sequence[Sequence[str]],
    profile: CostProfile,
    *,
    probation: float = PROBATION_SHARE,
) -> FileScore:
    """Score one file's detections (a boolean per row) against its labelled windows."""
    flags = np.asarray(detections, dtype=bool)
    n = flags.size
    if len(timestamps) != n:
        raise ValueError("one detection flag per timestamp is needed")
    spans = window_indices(pd.DatetimeIndex(timestamps), windows)
    start_scoring = math.floor(probation * n)
    in_window = np.full(n, -1, dtype=np.int64)
    for k, (lo, hi) in enumerate(spans):
        in_window[lo : hi + 1] = k
    best: dict[int, float] = {}
    fp_total = 0.0
    fp_count = 0
    prev_end: int | None = None
    prev_width = 0
    for i in range(n):
        k = int(in_window[i])
        if k >= 0:
            prev_end, prev_width = spans[k][1], spans[k][1] - spans[k][0] + 1
        if i < start_scoring or not flags[i]:
            continue
        if k >= 0:
            lo, hi = spans[k]
            position = -(hi - i + 1) / (hi - lo + 1)
            best.setdefault(k, profile.tp * scaled_sigmoid(position))  # the first detection is the best
        else:
            cost = -1.0 if prev_end is None else scaled_sigmoid(abs(i - prev_end) / max(prev_width - 1, 1))
            fp_total += profile.fp * cost
            fp_count += 1
    missed = len(spans) - len(best)
    raw = sum(best.values()) + fp_total - profile.fn * missed
    return FileScore(
        raw=raw,
        null=-profile.fn * len(spans),
        perfect=profile.tp * scaled_sigmoid(-1.0) * len(spans),
        tp=len(best),
        fp=fp_count,
        fn=missed,
    )


def score_corpus(
    results: Mapping[str, tuple[pd.DatetimeIndex, np.ndarray]],
    labels: Mapping[str, Sequence[Sequence[str]]],
    profiles: Mapping[str, CostProfile] = PROFILES,
    *,
    probation: float = PROBATION_SHARE,
) -> dict[str, dict[str, FileScore]]:
    """``{profile: {file: FileScore}}`` for every file in ``results`` (keys as in ``labels.json``)."""
    return {
        name: {
            key: score_file(ts, det, labels.get(key, []), profile, probation=probation)
            for key, (ts, det) in results.items()
        }
        for name, profile in profiles.items()
    }
