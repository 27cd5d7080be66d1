"""The Numenta Anomaly Benchmark's scorer, re-implemented from NAB's published method (NAB 1.x).

A detector gives every row an ``anomaly_score``; **every row at or above the threshold is a detection**.
NAB reads nothing else (no ``is_anomaly``), so a score that stays high through an event is a burst of
detections, and every one of them outside a window is a false positive.

Per file (NAB's ``Sweeper.calcSweepScore``):

* The first ``min(floor(0.15 n), 750)`` rows are probationary and are not scored.
* A window is entered on the row whose timestamp *equals* its start and left on the row that equals its
  end. Inside it, a row is worth ``tp × σ̃(−(right − i + 1) / width) / σ̃(−1)``: the window's first row
  earns the full TP weight and the value falls towards 0 at its right edge. Only the best (earliest)
  detection of a window counts; a window without one costs ``fn``.
* A row outside every window costs ``fp × σ̃(|i − prev_right| / (prev_width − 1))`` (negative): little
  just after a window, the full weight three widths after it, and the full weight before the first one.
  ``σ̃(x) = 2 / (1 + e^{5x}) − 1``, and −1 from x ≥ 3.

Over a corpus (``Sweeper.calcScoreByThreshold`` and the optimiser): all scorable rows of all files are
swept from the highest score down, so the total at *every* distinct threshold is known in one pass, and
the threshold with the best total is chosen per profile (ties: the highest threshold). Scores are then
normalised (``Runner.normalize``): ``100 × (S − S_null) / (S_perfect − S_null)`` with ``S_null = −fn ×``
the windows that have scorable rows (the null detector never fires) and ``S_perfect = tp ×`` every
labelled window.

``tests/bench/test_nab_scorer.py`` checks this module against NAB's official scores of six published
detectors, per profile and per file.
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
PROBATION_CAP_ROWS = 5000  # NAB caps probation at 15% of 5000 rows
NO_DETECTION = 1.1  # NAB's first threshold: above every score, so nothing is detected
PROBATIONARY = -2  # window id of a probationary row
OUTSIDE = -1  # window id of a row outside every window


@dataclass(frozen=True, slots=True)
class Profile:
    """One of NAB's application profiles: the weights of a TP, an FP and an FN."""

    tp: float
    fp: float
    fn: float


# NAB's profiles.json, for callers without the file at hand.
PROFILES: dict[str, Profile] = {
    "standard": Profile(tp=1.0, fp=0.11, fn=1.0),
    "reward_low_FP_rate": Profile(tp=1.0, fp=0.22, fn=1.0),
    "reward_low_FN_rate": Profile(tp=1.0, fp=0.11, fn=2.0),
}


def load_profiles(path: Path) -> dict[str, Profile]:
    """Read NAB's ``profiles.json`` (``{"name": {"CostMatrix": {"tpWeight": ...}}}``)."""
    raw = json.loads(Path(path).read_text())
    return {
        name: Profile(
            tp=float(p["CostMatrix"]["tpWeight"]),
            fp=float(p["CostMatrix"]["fpWeight"]),
            fn=float(p["CostMatrix"]["fnWeight"]),
        )
        for name, p in raw.items()
    }


def scaled_sigmoid(position: float) -> float:
    """NAB's σ̃: 0.9866 at a window's left edge (−1), 0 at its right edge, −1 from 3 widths past it."""
    if position >= 3.0:
        return -1.0
    return 2.0 / (1.0 + math.exp(5.0 * position)) - 1.0


MAX_TP = scaled_sigmoid(-1.0)


def probation_rows(n: int, share: float = PROBATION_SHARE) -> float:
    """Rows before this index are probationary (NAB compares the row index against this float)."""
    return min(math.floor(share * n), share * PROBATION_CAP_ROWS)


@dataclass(frozen=True)
class SweptFile:
    """One file as NAB's sweep sees it, before any profile's weights: per row, its window and σ̃.

    ``window`` is the window's index in the file (``OUTSIDE``, or ``PROBATIONARY``); ``sigma`` is σ̃ of the
    row's position (inside a window already divided by σ̃(−1), so a window's first row is 1.0).
    """

    name: str
    scores: np.ndarray
    window: np.ndarray
    sigma: np.ndarray
    labelled_windows: int  # windows in the labels (the perfect detector's count)

    @property
    def scorable(self) -> np.ndarray:
        return np.asarray(self.window != PROBATIONARY)

    @property
    def scorable_windows(self) -> int:
        """Windows with at least one scorable row (what the null detector is charged for)."""
        return int(np.unique(self.window[self.window >= 0]).size)

    def weights(self, profile: Profile) -> np.ndarray:
        """Each row's value if detected under ``profile`` (positive in windows, negative outside)."""
        inside = self.window >= 0
        return np.where(inside, self.sigma * profile.tp, self.sigma * profile.fp)


def _as_ns(values: Iterable[object]) -> np.ndarray:
    return np.asarray(pd.DatetimeIndex(pd.to_datetime(list(values))).as_unit("ns").asi8, dtype=np.int64)


def sweep_file(
    name: str,
    timestamps: Sequence[object] | pd.DatetimeIndex,
    scores: Sequence[float] | np.ndarray,
    windows: Sequence[Sequence[str]],
    *,
    probation: float = PROBATION_SHARE,
) -> SweptFile:
    """Assign every row its window and σ̃, exactly as NAB's sweep walks a file."""
    ts = _as_ns(timestamps)
    values = np.asarray(scores, dtype=np.float64)
    if ts.size != values.size:
        raise ValueError(f"{name}: {ts.size} timestamps but {values.size} scores")
    if np.isnan(values).any():
        raise ValueError(f"{name}: anomaly_score has NaN at row {int(np.flatnonzero(np.isnan(values))[0])}")
    if (values >= NO_DETECTION).any():
        # NAB's sweep starts at 1.1 as "nothing detected": higher scores cannot be scored faithfully.
        raise ValueError(f"{name}: anomaly_score must be below {NO_DETECTION} (NAB expects [0, 1])")
    starts, ends = _as_ns(w[0] for w in windows), _as_ns(w[1] for w in windows)
    limits = [(int(a), int(b)) for a, b in zip(starts, ends, strict=True)]
    first_row = {int(t): i for i, t in reversed(list(enumerate(ts)))}  # NAB's list.index(): first match
    n = ts.size
    window = np.full(n, OUTSIDE, dtype=np.int64)
    sigma = np.empty(n)
    start_scoring = probation_rows(n, probation)
    pending = 0  # NAB pops windows in order, and only ever compares against the next one
    current: int | None = None
    right = width = 0.0
    prev_right: float | None = None
    prev_width = 0.0
    for i in range(n):
        t = int(ts[i])
        if pending < len(limits) and t == limits[pending][0]:
            current = pending
            pending += 1
            right = float(first_row[limits[current][1]]) if limits[current][1] in first_row else float("nan")
            width = right - first_row[limits[current][0]] + 1.0
        if current is not None:
            sigma[i] = scaled_sigmoid(-(right - i + 1.0) / width) / MAX_TP
            window[i] = current
        elif prev_right is None:
            sigma[i] = -1.0  # before any window: a full-weight false positive
        else:
            sigma[i] = scaled_sigmoid(abs(prev_right - i) / max(prev_width - 1.0, 1e-12))
        if i < start_scoring:
            window[i] = PROBATIONARY
        if current is not None and t == limits[current][1]:
            prev_right, prev_width = float(i), width
            current = None
    return SweptFile(name, values, window, sigma, labelled_windows=len(windows))


@dataclass(frozen=True)
class ThresholdTable:
    """The corpus total at every distinct threshold, highest first (NAB's ``scoresByThreshold``)."""

    threshold: np.ndarray
    score: np.ndarray
    tp: np.ndarray
    fp: np.ndarray

    def best(self) -> tuple[float, float]:
        """``(threshold, score)`` of the best total; on a tie the highest threshold, as NAB's sort keeps."""
        k = int(np.argmax(self.score))
        return float(self.threshold[k]), float(self.score[k])


def threshold_table(files: Sequence[SweptFile], profile: Profile) -> ThresholdTable:
    """Sweep every scorable row of ``files`` from the highest score down (vectorised, exact)."""
    scores, windows, weights = [], [], []
    offset = 0
    null = 0.0
    for f in files:
        keep = f.scorable
        w = f.window[keep]
        scores.append(f.scores[keep])
        windows.append(np.where(w >= 0, w + offset, OUTSIDE))
        weights.append(f.weights(profile)[keep])
        offset += int(f.window.max(initial=0)) + 1
        null -= profile.fn * f.scorable_windows
    s = np.concatenate(scores) if scores else np.empty(0)
    win = np.concatenate(windows) if windows else np.empty(0, dtype=np.int64)
    w = np.concatenate(weights) if weights else np.empty(0)
    order = np.argsort(-s, kind="stable")
    s, win, w = s[order], win[order], w[order]
    inside = win >= 0
    fp_part = np.cumsum(np.where(inside, 0.0, w))
    # Each window is worth its best detected row so far (−fn before any): a running max per window,
    # computed for all windows at once by lifting each window's values above every earlier window's.
    gain = np.zeros(s.size)
    idx = np.flatnonzero(inside)
    if idx.size:
        by_window = idx[np.lexsort((idx, win[idx]))]
        group = np.cumsum(np.r_[True, np.diff(win[by_window]) != 0]) - 1
        lift = 4.0 * (max(profile.tp, profile.fn) + 1.0)
        best = np.maximum.accumulate(w[by_window] + group * lift) - group * lift
        before = np.r_[-profile.fn, best[:-1]]
        before[np.r_[True, group[1:] != group[:-1]]] = -profile.fn
        gain[by_window] = np.maximum(best, -profile.fn) - np.maximum(before, -profile.fn)
    total = null + np.cumsum(gain) + fp_part
    tp = np.cumsum(inside)
    fp = np.cumsum(~inside)
    ends = np.flatnonzero(np.r_[s[1:] != s[:-1], True]) if s.size else np.empty(0, dtype=np.int64)
    thresholds, values, tps, fps = s[ends], total[ends], tp[ends], fp[ends]
    if not s.size or s[0] != NO_DETECTION:
        thresholds = np.r_[NO_DETECTION, thresholds]
        values, tps, fps = np.r_[null, values], np.r_[0, tps], np.r_[0, fps]
    return ThresholdTable(thresholds, values, tps, fps)


@dataclass(frozen=True, slots=True)
class FileResult:
    """One file at one threshold under one profile: NAB's per-file row (counts are rows, as NAB's)."""

    name: str
    threshold: float
    score: float
    tp: int
    tn: int
    fp: int
    fn: int

    @property
    def total(self) -> int:
        return self.tp + self.tn + self.fp + self.fn


def score_file(swept: SweptFile, profile: Profile, threshold: float) -> FileResult:
    """``swept`` with every scorable row scoring at or above ``threshold`` detected."""
    keep = swept.scorable
    win = swept.window[keep]
    w = swept.weights(profile)[keep]
    hit = swept.scores[keep] >= threshold
    inside = win >= 0
    total = float(w[hit & ~inside].sum())
    for k in np.unique(win[inside]):
        got = hit & (win == k)
        total += float(w[got].max()) if got.any() else -profile.fn
    return FileResult(
        swept.name,
        threshold,
        total,
        tp=int((hit & inside).sum()),
        tn=int((~hit & ~inside).sum()),
        fp=int((hit & ~inside).sum()),
        fn=int((~hit & inside).sum()),
    )


@dataclass(frozen=True)
class CorpusResult:
    """A detector on a corpus under one profile, at one threshold: the files and the normalised score.

    ``references`` holds each file's null and perfect totals, so any group of files (a category) can be
    normalised on its own, as NAB's per-category tables are.
    """

    profile: str
    threshold: float
    files: list[FileResult]
    references: dict[str, tuple[float, float]]

    @property
    def raw(self) -> float:
        return sum(f.score for f in self.files)

    @property
    def normalized(self) -> float:
        return self.subset(f.name for f in self.files)

    def subset(self, names: Iterable[str]) -> float:
        """The normalised score over some of the files only, against their own null and perfect totals."""
        wanted = set(names)
        raw = sum(f.score for f in self.files if f.name in wanted)
        null = sum(v[0] for k, v in self.references.items() if k in wanted)
        perfect = sum(v[1] for k, v in self.references.items() if k in wanted)
        return normalize(raw, null, perfect)


def normalize(raw: float, null: float, perfect: float) -> float:
    """NAB's normalisation: the null detector 0, the perfect one 100 (NaN when there is no window)."""
    if perfect - null <= 0:
        return float("nan")
    return 100.0 * (raw - null) / (perfect - null)


def score_corpus(
    files: Sequence[SweptFile], profile_name: str, profile: Profile, *, threshold: float | None = None
) -> CorpusResult:
    """Score ``files`` at ``threshold``, or at the threshold NAB's optimiser picks for them (the best)."""
    if threshold is None:
        threshold, _ = threshold_table(files, profile).best()
    return CorpusResult(
        profile_name,
        threshold,
        [score_file(f, profile, threshold) for f in files],
        {f.name: (-profile.fn * f.scorable_windows, profile.tp * f.labelled_windows) for f in files},
    )


def evaluate(
    files: Sequence[SweptFile],
    profiles: Mapping[str, Profile] = PROFILES,
    *,
    thresholds: Mapping[str, float] | None = None,
) -> dict[str, CorpusResult]:
    """Every profile, each at its optimised threshold (or at the one given for it)."""
    return {
        name: score_corpus(files, name, p, threshold=None if thresholds is None else thresholds.get(name))
        for name, p in profiles.items()
    }
