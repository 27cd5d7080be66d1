"""Labelled corpora in NAB's layout: ``data/<category>/<file>.csv`` and windows keyed by ``<category>/<file>``.

Two are shared with the project (``../shared/data``): NAB's part (``nab/``, with ``labels.json`` and the
published detectors' results) and half of Microsoft's Cloud Monitoring Dataset (``ms-cloud-monitoring/``,
with ``labels/combined_windows.json``). Both are scored the same way, by :mod:`bench.evaluation.nab_scorer`.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from bench.evaluation.nab_scorer import PROFILES, Profile, SweptFile, load_profiles, sweep_file

REPO = Path(__file__).resolve().parents[2]


def shared_data() -> Path:
    """The shared reference data: ``SPENDSENTRY_SHARED_DATA``, else ``../shared/data`` beside the checkout."""
    return Path(os.environ.get("SPENDSENTRY_SHARED_DATA", REPO.parent / "shared" / "data"))


@dataclass(frozen=True)
class Corpus:
    """A set of labelled files: where they are and their windows."""

    name: str
    root: Path
    windows: dict[str, list[list[str]]]
    profiles: dict[str, Profile]

    @property
    def keys(self) -> list[str]:
        """Files that are both labelled and present, in a stable order."""
        return sorted(k for k in self.windows if (self.root / "data" / k).is_file())

    def path(self, key: str) -> Path:
        return self.root / "data" / key

    def read(self, key: str) -> pd.DataFrame:
        """``timestamp`` (datetime) and ``value`` columns, rows in file order."""
        frame = pd.read_csv(self.path(key))
        frame["timestamp"] = pd.to_datetime(frame["timestamp"])
        return frame

    def categories(self) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        for key in self.keys:
            out.setdefault(key.split("/", 1)[0], []).append(key)
        return out

    def sweep(self, key: str, scores: object) -> SweptFile:
        """``key``'s rows with a detector's per-row scores, ready for the scorer."""
        frame = self.read(key)
        return sweep_file(key, frame["timestamp"], scores, self.windows.get(key, []))  # type: ignore[arg-type]


def nab_corpus(root: Path | None = None) -> Corpus:
    base = root or shared_data() / "nab"
    return Corpus(
        "NAB",
        base,
        json.loads((base / "labels.json").read_text()),
        load_profiles(base / "profiles.json"),
    )


def ms_corpus(root: Path | None = None) -> Corpus:
    base = root or shared_data() / "ms-cloud-monitoring"
    return Corpus(
        "Microsoft Cloud Monitoring",
        base,
        json.loads((base / "labels" / "combined_windows.json").read_text()),
        dict(PROFILES),
    )


REFERENCE_DETECTORS = ("numenta", "ARTime", "contextOSE", "knncad", "randomCutForest", "windowedGaussian")


def reference_results(corpus: Corpus, detector: str) -> Iterator[tuple[str, pd.DataFrame]]:
    """A published detector's per-row output for each file of ``corpus`` (``results/<det>/<cat>/<det>_<f>``)."""
    base = corpus.root / "reference" / "results" / detector
    for key in corpus.keys:
        category, name = key.split("/", 1)
        yield key, pd.read_csv(base / category / f"{detector}_{name}.gz")


def reference_file_scores(corpus: Corpus, detector: str, profile: str) -> pd.DataFrame:
    """NAB's per-file scores for a published detector (``results/<det>/<det>_<profile>_scores.csv``)."""
    frame = pd.read_csv(corpus.root / "reference" / "results" / detector / f"{detector}_{profile}_scores.csv")
    return frame[frame["File"].isin(corpus.keys)].set_index("File")


def official_scores(corpus: Corpus) -> dict[str, dict[str, dict[str, float]]]:
    """``{"normalised_scores": {det: {profile: x}}, "thresholds": {det: {profile: {"threshold", "score"}}}}``."""
    data: dict[str, dict[str, dict[str, float]]] = json.loads(
        (corpus.root / "reference" / "official_scores.json").read_text()
    )
    return data
