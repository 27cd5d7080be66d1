"""The output points of a ``/v1/score`` answer as JSON text, written column by column.

A 90-point answer's points are 900 values; as 90 dicts serialised by pydantic-core they cost more than
a third of the answer's whole scoring. Here the columns are serialised as JSON arrays by the same
serialiser (``pydantic_core.to_json``: the same numbers, ``null`` for NaN and infinities, the same
datetime text; the timestamps in one call, every float column in another), split at their commas (none
of these values contains one), and the columns are zipped into
the points' objects in :class:`api.score_schemas.ScoredPointOut`'s field order. The text is what
``to_json`` writes for the dicts of ``api.routes.score._points_out``: ``tests/api/test_score_answer.py``
compares the two answers byte for byte.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from pydantic_core import to_json

from api.score_schemas import ScorePointIn
from detector.nan_arrays import nan_to_num

_BOOLS = ("false", "true")


def _items(array_json: bytes) -> list[str]:
    """The items of a flat JSON array of numbers, nulls or strings without commas, as their text."""
    return array_json.decode()[1:-1].split(",")


def _rows(block: np.ndarray) -> list[list[str]]:
    """The items of each row of a 2-D float block (NaN and infinities as null)."""
    text = to_json(block.tolist(), inf_nan_mode="null").decode()[2:-2]
    return [row.split(",") for row in text.split("],[")]


def points_json(columns: Mapping[str, np.ndarray], sent: Sequence[ScorePointIn], at: np.ndarray) -> str:
    """The points array's JSON text: one object per point sent, ``at`` its row in ``columns``."""
    every = len(at) == len(columns["value"])  # a series without gaps: every row is a sent point

    def block(*names: str) -> np.ndarray:
        stacked = np.stack([np.asarray(columns[n], dtype=np.float64) for n in names])
        return stacked if every else stacked[:, at]

    def flags(name: str) -> list[str]:
        values = np.asarray(columns[name], dtype=bool)
        return [_BOOLS[v] for v in (values if every else values[at]).tolist()]

    times = _items(to_json([p["timestamp"] for p in sent]))
    # Every float column in one block, serialised by one call: the values sent are the ``value`` column's
    # rows ``at`` (the same floats), and the scores are clipped to the response model's bounds, as the
    # dicts are.
    floats = block("value", "expected", "lower", "upper", "anomaly_score", "tail_score", "completeness")
    floats[4:6] = np.clip(nan_to_num(floats[4:6]), 0.0, 1.0)
    values, expected, lower, upper, scores, tails, complete = _rows(floats)
    return ",".join(
        [
            f'{{"timestamp":{t},"value":{v},"expected":{e},"lower":{lo},"upper":{hi},"anomaly_score":{s},'
            f'"is_anomaly":{f},"tail_score":{tl},"completeness":{c},"held_back":{h}}}'
            for t, v, e, lo, hi, s, f, tl, c, h in zip(
                times,
                values,
                expected,
                lower,
                upper,
                scores,
                flags("is_anomaly"),
                tails,
                complete,
                flags("held_back"),
                strict=True,
            )
        ]
    )
