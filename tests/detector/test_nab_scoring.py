"""The NAB scorer on hand-made cases: perfect 100, null 0, FP costs, earliness, probation."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from detector.nab_scoring import PROFILES, load_profiles, normalize, scaled_sigmoid, score_corpus, score_file

TS = pd.date_range("2024-01-01", periods=1000, freq="5min")
WINDOWS = [[str(TS[400]), str(TS[449])], [str(TS[700]), str(TS[749])]]
STD = PROFILES["standard"]


def flags(*rows: int) -> np.ndarray:
    out = np.zeros(len(TS), dtype=bool)
    out[list(rows)] = True
    return out


def test_perfect_detector_scores_100_and_null_scores_0() -> None:
    assert score_file(TS, flags(400, 700), WINDOWS, STD).normalized == pytest.approx(100.0)
    assert score_file(TS, flags(), WINDOWS, STD).normalized == pytest.approx(0.0)


def test_only_the_first_detection_in_a_window_counts() -> None:
    one = score_file(TS, flags(400), WINDOWS, STD)
    many = score_file(TS, flags(400, 410, 420), WINDOWS, STD)
    assert one.raw == many.raw and many.tp == 1 and many.fn == 1


def test_later_detection_scores_less() -> None:
    early = score_file(TS, flags(400), WINDOWS, STD).raw
    late = score_file(TS, flags(440), WINDOWS, STD).raw
    assert early > late
    assert score_file(TS, flags(449), WINDOWS, STD).raw == pytest.approx(-1.0 + scaled_sigmoid(-1 / 50))


def test_false_positive_costs_the_profile_weight() -> None:
    base = score_file(TS, flags(400, 700), WINDOWS, STD).raw
    before_any_window = score_file(TS, flags(200, 400, 700), WINDOWS, STD)
    assert before_any_window.raw == pytest.approx(base - 0.11) and before_any_window.fp == 1
    low_fp = score_file(TS, flags(200, 400, 700), WINDOWS, PROFILES["reward_low_FP_rate"]).raw
    assert low_fp == pytest.approx(base - 0.22)
    # Just after a window a detection costs little; far after it, the full weight.
    near = score_file(TS, flags(400, 451, 700), WINDOWS, STD).raw
    far = score_file(TS, flags(400, 650, 700), WINDOWS, STD).raw
    assert base - near < 0.02 and far == pytest.approx(base - 0.11)


def test_fn_weight_of_low_fn_profile() -> None:
    s = score_file(TS, flags(400), WINDOWS, PROFILES["reward_low_FN_rate"])
    assert s.raw == pytest.approx(scaled_sigmoid(-1.0) - 2.0) and s.null == -4.0


def test_probation_rows_are_not_scored() -> None:
    assert score_file(TS, flags(10, 400, 700), WINDOWS, STD).fp == 0  # row 10 < 15% of 1000
    assert score_file(TS, flags(160, 400, 700), WINDOWS, STD).fp == 1


def test_corpus_normalisation_sums_files() -> None:
    results = {"a.csv": (TS, flags(400, 700)), "b.csv": (TS, flags())}
    scores = score_corpus(results, {"a.csv": WINDOWS, "b.csv": WINDOWS}, {"standard": STD})["standard"]
    assert normalize(scores.values()) == pytest.approx(50.0)
    assert math.isnan(normalize([score_file(TS, flags(), [], STD)]))


def test_scaled_sigmoid_shape() -> None:
    assert scaled_sigmoid(-1.0) == pytest.approx(0.9866, abs=1e-4)
    assert scaled_sigmoid(0.0) == pytest.approx(0.0)
    assert scaled_sigmoid(3.5) == -1.0


def test_profiles_file_matches_the_built_in_weights(shared_data: Path) -> None:
    assert load_profiles(shared_data / "nab" / "profiles.json") == PROFILES
