"""``/v1/score``'s answers, built without validating them again and with the detector's compiled kernels,
are byte for byte what the validated response model and the numpy reference give.

Random series of the kinds clients send (daily and hourly, gaps, partial periods, spikes and drops, every
direction, a breakdown), scored both with a stored model and fitted on the request.
"""

from __future__ import annotations

from datetime import UTC
from typing import Any

import numpy as np
import pandas as pd
import pytest

from api.routes.score import answer_json, score_answer, score_answer_json
from api.score_schemas import ScoreRequest, ScoreResponse
from core.clock import FixedClock
from detector.compiled import use_compiled
from models.seasonal import BatchedSeasonalBaseline

CASES = 24


def _request(rng: np.random.Generator, case: int) -> tuple[dict[str, Any], FixedClock]:
    hourly = case % 4 == 3
    n = int(rng.choice([20, 60, 90, 150])) if not hourly else int(rng.choice([72, 200, 400]))
    idx = pd.date_range("2026-01-05", periods=n, freq="h" if hourly else "D", tz="UTC" if case % 2 else None)
    cycle = np.sin(np.arange(n) * 2 * np.pi / (24 if hourly else 7))
    v = 1000 + 150 * cycle + rng.normal(0, 20 + 30 * (case % 3), n)
    if case % 3 == 0:
        v = np.round(v, -1)  # ties
    if case % 7 == 4:
        v[:] = 1000.0  # flat: the robust z's spread is 0 and its fallbacks decide
        v[rng.random(n) < 0.1] = 1100.0
    k = int(rng.integers(n // 2, n))
    v[k : k + int(rng.integers(1, 4))] *= float(rng.choice([0.2, 1.8, 3.0]))
    keep = np.ones(n, dtype=bool)
    if case % 5 == 0:
        keep[rng.choice(np.arange(1, n - 1), size=n // 10, replace=False)] = False  # gaps
    points: list[dict[str, Any]] = [
        {"timestamp": t.isoformat(), "value": float(x)}
        for t, x, kept in zip(idx, v, keep, strict=True)
        if kept
    ]
    if case % 6 == 1:
        points[-1]["completeness"] = 0.5
    body: dict[str, Any] = {"series": points, "direction": ["up", "down", "both"][case % 3]}
    if case % 8 == 2:
        body["breakdown"] = [
            {"timestamp": p["timestamp"], "dimensions": {"region": r}, "value": p["value"] * share}
            for p in points[-10:]
            for r, share in (("eu", 0.7), ("us", 0.3))
        ]
    # Half the cases end "now": the newest period is still running by the clock.
    end = idx[-1].to_pydatetime().replace(tzinfo=UTC)
    clock = FixedClock(end + (idx[1] - idx[0]) * (0.5 if case % 2 else 3.0))
    return body, clock


Answers = list[tuple[dict[str, Any], bytes, bytes, bytes]]


def _answers(stored: bool) -> Answers:
    rng = np.random.default_rng(20 + stored)
    out = []
    for case in range(CASES):
        body, clock = _request(rng, case)
        req = ScoreRequest.model_validate(body)
        lookup = None
        if stored:
            # A model trained on another stretch of a similar series, as the registry would hand out.
            gran = "hour" if case % 4 == 3 else "day"
            history = pd.Series(
                [p["value"] for p in body["series"]],
                index=pd.DatetimeIndex([p["timestamp"] for p in body["series"]]).tz_localize(None)
                if case % 2 == 0
                else pd.DatetimeIndex([p["timestamp"] for p in body["series"]]).tz_convert(None),
            )
            model = BatchedSeasonalBaseline(granularity=gran).fit(history * 0.9)

            def lookup(product: object, cost_line: object, granularity: object, m: Any = model) -> Any:
                return m

        def run(lookup: Any = lookup, req: ScoreRequest = req, clock: FixedClock = clock) -> dict[str, Any]:
            return score_answer(req, clock=clock, max_points=20_000, stored_lookup=lookup)

        answer = run()
        with use_compiled(False):
            reference = answer_json(run())
        sent = score_answer_json(req, clock=clock, max_points=20_000, stored_lookup=lookup)
        out.append((answer, answer_json(answer), reference, sent))
    return out


@pytest.fixture(scope="module", params=[True, False], ids=["stored", "fitted"])
def answers(request: pytest.FixtureRequest) -> Answers:
    return _answers(request.param)


def test_the_answer_is_the_validated_models_json(answers: Answers) -> None:
    for answer, sent, _, _ in answers:
        assert sent == ScoreResponse.model_validate(answer).model_dump_json().encode()


def test_the_points_written_column_by_column_are_the_answers_json(answers: Answers) -> None:
    """What the routes send (score_answer_json) is the answer's JSON to the byte: gaps (rows picked),
    partial periods, aware timestamps, NaN expected values before the model's first forecast."""
    assert [fast for *_, fast in answers] == [sent for _, sent, _, _ in answers]


def test_the_compiled_detector_answers_as_numpy_does(answers: Answers) -> None:
    assert [sent for _, sent, _, _ in answers] == [reference for _, _, reference, _ in answers]
    # The cases do reach the detector's decisions: some answers hold anomalies, some none.
    found = [len(answer["anomalies"]) for answer, *_ in answers]
    assert any(found) and not all(found)
