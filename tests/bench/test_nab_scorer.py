"""The NAB scorer: hand-made cases, then NAB's official scores of six published detectors reproduced."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bench.evaluation.corpora import (
    REFERENCE_DETECTORS,
    nab_corpus,
    official_scores,
    reference_file_scores,
    reference_results,
)
from bench.evaluation.nab_scorer import (
    PROFILES,
    SweptFile,
    load_profiles,
    probation_rows,
    scaled_sigmoid,
    score_corpus,
    score_file,
    sweep_file,
    threshold_table,
)

TS = pd.date_range("2024-01-01", periods=1000, freq="5min")
WINDOWS = [[str(TS[400]), str(TS[449])], [str(TS[700]), str(TS[749])]]
STD = PROFILES["standard"]


def swept(*rows: int, windows: list[list[str]] = WINDOWS, name: str = "a.csv") -> SweptFile:
    scores = np.zeros(len(TS))
    scores[list(rows)] = 1.0
    return sweep_file(name, TS, scores, windows)


def raw(*rows: int, profile: str = "standard") -> float:
    return score_file(swept(*rows), PROFILES[profile], 0.5).score


def test_perfect_detector_scores_100_and_null_scores_0() -> None:
    assert score_corpus([swept(400, 700)], "standard", STD, threshold=0.5).normalized == pytest.approx(100.0)
    assert score_corpus([swept()], "standard", STD, threshold=0.5).normalized == pytest.approx(0.0)


def test_only_the_earliest_detection_in_a_window_counts() -> None:
    assert raw(400) == raw(400, 410, 420) == pytest.approx(1.0 - 1.0)  # one TP (1.0), one FN (-1)
    many = score_file(swept(400, 410, 420), STD, 0.5)
    assert (many.tp, many.fp) == (3, 0)  # NAB counts rows, not windows


def test_later_detection_scores_less() -> None:
    assert raw(400) > raw(425) > raw(449)
    # The last row of a window: position -(1/50), divided by σ̃(-1) as NAB's sweep does.
    assert raw(449) == pytest.approx(-1.0 + scaled_sigmoid(-1 / 50) / scaled_sigmoid(-1.0))


def test_false_positive_costs_the_profile_weight() -> None:
    base = raw(400, 700)
    assert raw(200, 400, 700) == pytest.approx(base - 0.11)  # before any window: the full weight
    assert raw(200, 400, 700, profile="reward_low_FP_rate") == pytest.approx(base - 0.22)
    # Just after a window a detection costs little; three widths after it, the full weight.
    assert base - raw(400, 451, 700) < 0.02
    assert raw(400, 449 + 3 * 49, 700) == pytest.approx(base - 0.11)


def test_fn_weight_of_low_fn_profile() -> None:
    result = score_file(swept(400), PROFILES["reward_low_FN_rate"], 0.5)
    assert result.score == pytest.approx(1.0 - 2.0)
    assert score_corpus([swept(400)], "x", PROFILES["reward_low_FN_rate"], threshold=0.5).normalized == (
        pytest.approx(100 * (-1.0 + 4.0) / (2.0 + 4.0))
    )


def test_probation_is_15_percent_capped_at_750_rows() -> None:
    assert probation_rows(1000) == 150 and probation_rows(20000) == 750
    assert score_file(swept(10, 400, 700), STD, 0.5).fp == 0
    assert score_file(swept(160, 400, 700), STD, 0.5).fp == 1


def test_a_window_starting_between_rows_is_never_entered() -> None:
    # NAB enters a window only on the row whose timestamp equals its start.
    off_grid = [[str(TS[400] + pd.Timedelta("1min")), str(TS[449])]]
    s = swept(400, windows=off_grid)
    assert s.labelled_windows == 1 and s.scorable_windows == 0 and score_file(s, STD, 0.5).fp == 1


def test_threshold_table_matches_scoring_each_threshold() -> None:
    rng = np.random.default_rng(3)
    files = [sweep_file(f"f{i}", TS, rng.random(len(TS)).round(2), WINDOWS) for i in range(3)]
    table = threshold_table(files, STD)
    assert table.threshold[0] == 1.1 and table.score[0] == pytest.approx(-6.0)
    for thr, total in zip(table.threshold[1::7], table.score[1::7], strict=False):
        assert sum(score_file(f, STD, thr).score for f in files) == pytest.approx(total)
    best_thr, best = table.best()
    assert best == pytest.approx(
        max(sum(score_file(f, STD, t).score for f in files) for t in table.threshold)
    )
    assert score_corpus(files, "standard", STD).threshold == best_thr


def test_category_normalisation_uses_its_own_references() -> None:
    result = score_corpus([swept(400, 700, name="a"), swept(name="b")], "standard", STD, threshold=0.5)
    assert result.normalized == pytest.approx(50.0)
    assert result.subset(["a"]) == pytest.approx(100.0) and result.subset(["b"]) == pytest.approx(0.0)
    assert math.isnan(score_corpus([swept(windows=[])], "standard", STD, threshold=0.5).normalized)


def test_scaled_sigmoid_shape() -> None:
    assert scaled_sigmoid(-1.0) == pytest.approx(0.98661, abs=1e-5)
    assert scaled_sigmoid(0.0) == pytest.approx(0.0)
    assert scaled_sigmoid(3.0) == -1.0


def test_profiles_file_matches_the_built_in_weights(shared_data: Path) -> None:
    assert load_profiles(shared_data / "nab" / "profiles.json") == PROFILES


@pytest.mark.parametrize("detector", REFERENCE_DETECTORS)
def test_reproduces_nabs_official_scores(shared_data: Path, detector: str) -> None:
    corpus = nab_corpus(shared_data / "nab")
    official = official_scores(corpus)
    files = [
        sweep_file(key, frame["timestamp"], frame["anomaly_score"], corpus.windows[key])
        for key, frame in reference_results(corpus, detector)
    ]
    assert len(files) == 35
    for name, profile in corpus.profiles.items():
        chosen = official["thresholds"][detector][name]
        at_nabs = score_corpus(files, name, profile, threshold=chosen["threshold"])
        assert at_nabs.normalized == pytest.approx(official["normalised_scores"][detector][name], abs=0.1)
        assert at_nabs.raw == pytest.approx(chosen["score"], abs=1e-6)
        per_file = reference_file_scores(corpus, detector, name)
        for result in at_nabs.files:
            row = per_file.loc[result.name]
            assert result.score == pytest.approx(row["Score"], abs=1e-6), result.name
            assert [result.tp, result.tn, result.fp, result.fn] == row[["TP", "TN", "FP", "FN"]].tolist()
            assert result.total == row["Total_Count"]
        # The exhaustive optimiser finds no better total than NAB's own choice on these files.
        assert score_corpus(files, name, profile).raw == pytest.approx(chosen["score"], abs=1e-9)


def test_per_row_sweep_values_match_nabs(shared_data: Path) -> None:
    # ARTime's published rows carry NAB's per-row sweep value S(t) for each profile.
    corpus = nab_corpus(shared_data / "nab")
    for key, frame in reference_results(corpus, "ARTime"):
        s = sweep_file(key, frame["timestamp"], frame["anomaly_score"], corpus.windows[key])
        for name, profile in corpus.profiles.items():
            np.testing.assert_allclose(s.weights(profile), frame[f"S(t)_{name}"], atol=1e-6, err_msg=key)
