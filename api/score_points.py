"""The output points of a ``/v1/score`` answer as JSON text, written column by column.

A 90-point answer's points are 900 values; as 90 dicts serialised by pydantic-core they cost more than
a third of the answer's whole scoring. Here the columns are serialised as JSON arrays by the same
serialiser (``pydantic_core.to_json``: the same numbers, ``null`` for NaN and infinities, the same
datetime text; the timestamps in one call, every float column in another), split at their commas (none
of these values contains one), and the columns are zipped into
the points' objects in :class:`api.score_schemas.ScoredPointOut`'s field order. The text is what
``to_json`` writes for the dicts of ``api.routes.score._points_out``: ``tests/api/test_score_answer.py``
compares the two answers byte for byte.

With the compiled kernels on (:mod:`detector.compiled`), the cutting and zipping is one compiled pass over
the bytes (:mod:`api.points_kernel`), a third of the points' cost less; the Python zip stays the
reference, and ``tests/api/test_points_kernel.py`` compares both byte for byte.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from functools import lru_cache

import numpy as np
from pydantic_core import to_json

from api.score_schemas import ScoredPointOut, ScorePointIn
from detector import compiled
from detector.nan_arrays import nan_to_num

_BOOLS = ("false", "true")


def _items(array_json: bytes) -> list[str]:
    """The items of a flat JSON array of numbers, nulls or strings without commas, as their text."""
    return array_json.decode()[1:-1].split(",")


def _rows(block: np.ndarray) -> list[list[str]]:
    """The items of each row of a 2-D float block (NaN and infinities as null)."""
    text = to_json(block.tolist(), inf_nan_mode="null").decode()[2:-2]
    return [row.split(",") for row in text.split("],[")]


# The points' fields, in the response model's order (the kernel writes them in this order).
_FIELDS = tuple(ScoredPointOut.model_fields)
_FLOATS = ("value", "expected", "lower", "upper", "anomaly_score", "tail_score", "completeness")


@lru_cache(maxsize=1)
def _byte_tables() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The field prefixes (``{"timestamp":``, ``,"value":`` ...) and ``false``/``true``, end to end as
    bytes, with where each ends: the kernel's constants."""
    prefixes = [("{" if i == 0 else ",") + f'"{name}":' for i, name in enumerate(_FIELDS)]

    def table(parts: list[str]) -> tuple[np.ndarray, np.ndarray]:
        joined = np.frombuffer("".join(parts).encode(), dtype=np.uint8).copy()
        return joined, np.cumsum([len(p) for p in parts]).astype(np.int64)

    return (*table(prefixes), *table(list(_BOOLS)))


def _float_block(columns: Mapping[str, np.ndarray], at: np.ndarray, every: bool) -> np.ndarray:
    """Every float column in one block (rows ``at``): the values sent are the ``value`` column's rows
    ``at`` (the same floats), and the scores are clipped to the response model's bounds, as the dicts
    are."""
    stacked = np.stack([np.asarray(columns[n], dtype=np.float64) for n in _FLOATS])
    floats = stacked if every else stacked[:, at]
    floats[4:6] = np.clip(nan_to_num(floats[4:6]), 0.0, 1.0)
    return floats


def points_json_bytes(
    columns: Mapping[str, np.ndarray], sent: Sequence[ScorePointIn], at: np.ndarray
) -> bytes:
    """:func:`points_json` as UTF-8 bytes (what the answer is made of): by the compiled kernel when the
    kernels are on, else the reference."""
    if not compiled.active():
        return points_json(columns, sent, at).encode()
    from api.points_kernel import assemble  # numba loads on first use

    every = len(at) == len(columns["value"])
    flags = np.stack([np.asarray(columns[n], dtype=bool) for n in ("is_anomaly", "held_back")])
    keys, key_ends, words, word_ends = _byte_tables()
    out: np.ndarray = assemble(
        np.frombuffer(to_json([p["timestamp"] for p in sent]), dtype=np.uint8),
        np.frombuffer(
            to_json(_float_block(columns, at, every).tolist(), inf_nan_mode="null"), dtype=np.uint8
        ),
        flags if every else flags[:, at],
        keys,
        key_ends,
        words,
        word_ends,
    )
    return out.tobytes()


def warm() -> None:
    """Compile (or load from numba's cache) the kernel, as the server does at start."""
    if compiled.active():
        when = datetime(2024, 1, 1)
        columns = {n: np.zeros(2) for n in (*_FLOATS, "is_anomaly", "held_back")}
        sent: list[ScorePointIn] = [{"timestamp": when, "value": 0.0}, {"timestamp": when, "value": 0.0}]
        points_json_bytes(columns, sent, np.arange(2))


def points_json(columns: Mapping[str, np.ndarray], sent: Sequence[ScorePointIn], at: np.ndarray) -> str:
    """The points array's JSON text: one object per point sent, ``at`` its row in ``columns``."""
    every = len(at) == len(columns["value"])  # a series without gaps: every row is a sent point

    def flags(name: str) -> list[str]:
        values = np.asarray(columns[name], dtype=bool)
        return [_BOOLS[v] for v in (values if every else values[at]).tolist()]

    times = _items(to_json([p["timestamp"] for p in sent]))
    # Every float column in one block, serialised by one call.
    values, expected, lower, upper, scores, tails, complete = _rows(_float_block(columns, at, every))
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
