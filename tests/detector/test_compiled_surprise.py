"""The compiled score (detector.compiled_surprise) against numpy's definition (detector.scoring), to the bit.

Random series of the kinds the detector sees: daily and hourly, NaN gaps, ties, constant stretches (the
robust z's fallbacks), zeros and negative series (signed zeros in numpy's maxima), spikes the tail keeps
out of its history, partial periods, every direction, and the settings the kernel covers (both twin
exclusions, no exclusion at all, one or two time scales, an escalation ratio).
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from detector import compiled_surprise
from detector.compiled import use_compiled
from detector.scoring import ScoreConfig, Scores, anomaly_scores, escalation

TRIALS = 120
FIELDS = ("tail", "alarm", "z", "decades", "sustain")


def _case(rng: np.random.Generator, trial: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, pd.Timedelta]:
    hourly = trial % 3 == 0
    n = int(rng.choice([3, 20, 90, 200, 400]))
    step = pd.Timedelta(hours=1) if hourly else pd.Timedelta(days=1)
    period = 24 if hourly else 7
    cycle = 100 * np.sin(np.arange(n) * 2 * np.pi / period)
    x = 1000 + cycle + rng.normal(0, 30, n)
    if trial % 4 == 0:
        x = np.round(x, -2)  # ties
    if trial % 7 == 0:
        x[:] = 7.0  # constant but for a few points: the MAD is 0
        x[rng.random(n) < 0.1] = 9.0
    if trial % 11 == 0:
        x = -x
    if trial % 13 == 0:
        x[:] = 0.0
    k = int(rng.integers(0, n))
    x[k : k + 3] *= float(rng.choice([0.1, 3.0, 10.0]))
    x[rng.random(n) < 0.05] = np.nan
    expected = 1000 + cycle
    completeness = np.ones(n)
    if trial % 2:
        completeness[-1] = float(rng.choice([0.0, 0.4]))
    return x, expected, completeness, step


def _config(trial: int) -> ScoreConfig:
    return replace(
        ScoreConfig(),
        short_window=(6, 1, 3)[trial % 3],
        twin_exclusion="two-pass" if trial % 5 == 0 else "sequential",
        exclude=None if trial % 17 == 0 else 3.0,
        escalate_ratio=0.2 if trial % 8 == 0 else 0.0,
    )


def _times(n: int, step: pd.Timedelta) -> np.ndarray:
    return np.asarray(pd.date_range("2026-01-01", periods=n, freq=step).as_unit("ns").asi8)


def _scores(
    x: np.ndarray, e: np.ndarray, c: np.ndarray, step: pd.Timedelta, d: str, cfg: ScoreConfig
) -> Scores:
    return anomaly_scores(
        x, e, times_ns=_times(x.shape[-1], step), step=step, direction=d, completeness=c, config=cfg
    )


def _differences(got: Scores, want: Scores) -> list[str]:
    return [f for f in FIELDS if getattr(got, f).tobytes() != getattr(want, f).tobytes()]


@pytest.mark.parametrize("direction", ["up", "down", "both"])
def test_the_compiled_score_is_numpys(direction: str, monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(len(direction))
    calls = []
    real = compiled_surprise.score_rows

    def counted(*args: object, **kw: object) -> object:
        found = real(*args, **kw)  # type: ignore[arg-type]
        calls.append(found is not None)
        return found

    monkeypatch.setattr(compiled_surprise, "score_rows", counted)
    differ = []
    for trial in range(TRIALS):
        x, e, c, step = _case(rng, trial)
        cfg = _config(trial)
        got = _scores(x, e, c, step, direction, cfg)
        with use_compiled(False):
            want = _scores(x, e, c, step, direction, cfg)
        if found := _differences(got, want):
            differ.append((trial, found))
    assert differ == []
    assert len(calls) == TRIALS and all(calls)  # every case went through the kernel, none fell back


def test_rows_are_scored_as_each_series_alone() -> None:
    rng = np.random.default_rng(5)
    step = pd.Timedelta(hours=1)
    n = 200
    rows = [_case(rng, 3 * k)[:3] for k in range(12)]
    x = np.stack([np.resize(r[0], n) for r in rows])
    e = np.stack([np.resize(r[1], n) for r in rows])
    c = np.ones(n)
    together = _scores(x, e, c, step, "up", ScoreConfig())
    for r in range(len(x)):
        with use_compiled(False):
            alone = _scores(x[r], e[r], c, step, "up", ScoreConfig())
        for f in FIELDS:
            assert getattr(together, f)[r].tobytes() == getattr(alone, f).tobytes(), (r, f)


def test_infinite_values_are_left_to_numpy(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(9)
    x, e, c, step = _case(rng, 1)
    x = np.resize(x, 90)
    x[40] = np.inf
    x[60] = -1e305
    e, c = np.resize(e, 90), np.ones(90)
    direct = compiled_surprise.score_rows
    seen = []

    def recorded(*args: object, **kw: object) -> object:
        seen.append(direct(*args, **kw))  # type: ignore[arg-type]
        return seen[-1]

    monkeypatch.setattr(compiled_surprise, "score_rows", recorded)
    got = _scores(x, e, c, step, "both", ScoreConfig())
    with use_compiled(False):
        want = _scores(x, e, c, step, "both", ScoreConfig())
    assert seen == [None]  # the kernel declined ...
    assert _differences(got, want) == []  # ... and numpy's answer came back


def test_an_irregular_grid_or_a_tail_memory_is_left_to_numpy(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(compiled_surprise, "score_rows", lambda *a, **k: pytest.fail("not for the kernel"))
    rng = np.random.default_rng(2)
    x = 1000 + rng.normal(0, 30, 120)
    step = pd.Timedelta(days=1)
    times = _times(121, step)
    irregular = np.delete(times, 50)
    memory = replace(ScoreConfig(), exclude_days=3.0)
    for cfg, t in ((ScoreConfig(), irregular), (memory, times[:120])):
        got = anomaly_scores(x, np.full(120, 1000.0), times_ns=t, step=step, direction="up", config=cfg)
        assert got.tail.shape == (120,)


def test_the_compiled_escalation_is_numpys() -> None:
    rng = np.random.default_rng(4)
    for trial in range(300):
        n = int(rng.integers(0, 60))
        score = np.round(rng.random(n), int(rng.integers(1, 4)))  # ties
        score[rng.random(n) < 0.1] = np.nan
        score[rng.random(n) < 0.05] = 1.0  # infinite odds
        horizon, ratio = int(rng.integers(1, 14)), float(rng.choice([0.0, 0.15, 1.0]))
        # Excursions with ties and NaN, or none at all.
        excursion = np.round(rng.normal(0, 1, n), 1) if trial % 3 else None
        if excursion is not None:
            excursion[rng.random(n) < 0.1] = np.nan
        got = escalation(score, horizon, ratio, excursion)
        with use_compiled(False):
            want = escalation(score, horizon, ratio, excursion)
        assert got.tobytes() == want.tobytes(), (trial, score, horizon, ratio, excursion)
