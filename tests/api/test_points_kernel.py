"""The compiled assembly of the points' JSON (``api.points_kernel``) gives the reference's bytes.

``points_json_bytes`` with the kernels on against ``points_json`` (the Python zip, itself checked against
the response model's own serialisation in ``tests/api/test_score_answer.py``), on random columns: NaN
and infinities (null), scores outside [0, 1] (clipped), huge and tiny floats, negative zeros, naive and
aware timestamps with and without microseconds, series with gaps (some rows not sent), one point to
several hundred.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone

import numpy as np
import pytest

from api.score_points import points_json, points_json_bytes, warm
from api.score_schemas import ScoredPointOut, ScorePointIn
from detector.compiled import use_compiled

_FLOATS = ("value", "expected", "lower", "upper", "anomaly_score", "tail_score", "completeness")


def _column(rng: np.random.Generator, n: int) -> np.ndarray:
    kind = int(rng.integers(0, 4))
    if kind == 0:
        x = rng.normal(1000, 300, n)
    elif kind == 1:
        x = rng.normal(0, 1, n) * 10.0 ** rng.integers(-30, 30, n)
    elif kind == 2:
        x = rng.random(n) * 1.6 - 0.3
    else:
        x = np.round(rng.normal(0, 5, n))
    for special in (np.nan, np.inf, -np.inf, -0.0, 0.0, 1e308, 5e-324):
        x[rng.random(n) < 0.03] = special
    return x


def _case(seed: int) -> tuple[dict[str, np.ndarray], list[ScorePointIn], np.ndarray]:
    rng = np.random.default_rng(seed)
    rows = int(rng.integers(1, 400))
    columns = {name: _column(rng, rows) for name in _FLOATS}
    columns["is_anomaly"] = rng.random(rows) < 0.2
    columns["held_back"] = rng.random(rows) < 0.1
    # Some rows are gaps in the grid (not sent): the points are the rows ``at``.
    at = np.flatnonzero(rng.random(rows) < 0.8) if seed % 3 == 0 else np.arange(rows)
    if at.size == 0:
        at = np.arange(rows)
    start = datetime(2024, 1, 1) + timedelta(hours=int(rng.integers(0, 10_000)))
    if seed % 4 == 1:
        start = start.replace(tzinfo=UTC)
    elif seed % 4 == 2:
        start = start.replace(tzinfo=timezone(timedelta(hours=-5, minutes=-30)))
    step = timedelta(hours=1, microseconds=int(rng.integers(0, 2)) * 250_000)
    sent: list[ScorePointIn] = [
        {"timestamp": start + step * int(i), "value": float(columns["value"][i])} for i in at
    ]
    return columns, sent, at


@pytest.mark.parametrize("seed", range(60))
def test_the_kernel_writes_the_references_bytes(seed: int) -> None:
    columns, sent, at = _case(seed)
    want = points_json(columns, sent, at).encode()
    with use_compiled(True):
        got = points_json_bytes(columns, sent, at)
    assert got == want
    points = json.loads(b"[" + got + b"]")
    assert len(points) == len(sent)
    assert list(points[0]) == list(ScoredPointOut.model_fields)


def test_without_the_kernels_the_reference_answers() -> None:
    columns, sent, at = _case(7)
    with use_compiled(False):
        assert points_json_bytes(columns, sent, at) == points_json(columns, sent, at).encode()


def test_warming_up_compiles_the_kernel() -> None:
    with use_compiled(True):
        warm()
        from api.points_kernel import assemble

        assert assemble.signatures  # compiled (or loaded from the cache) for the types a request passes
