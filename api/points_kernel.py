"""The byte work of :func:`api.score_points.points_json`, compiled: the points' objects assembled from the
JSON text of their columns.

pydantic-core writes every value's text (``to_json``: the timestamps in one call, every float column in
another); what is left is to cut those arrays into their items and zip them into one object per point,
keys and ``true``/``false`` in between. In Python that is 630 short strings and an f-string per point,
half the cost of the points' JSON; here it is one pass over the bytes. No item of these arrays holds a
comma or a bracket (numbers, ``null``, ISO timestamps in quotes), so the items are the runs between
them. Imported on first use (numba costs a command that never scores its start-up).
"""

from __future__ import annotations

import numba  # type: ignore[import-untyped]
import numpy as np

_COMMA, _OPEN, _CLOSE, _BRACE_CLOSE = 44, 91, 93, 125


@numba.njit(cache=True)  # type: ignore[misc]
def _items(text: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Where each item of a (nested) JSON array of commaless scalars starts and ends, in order."""
    n = text.size
    starts = np.empty(n // 2 + 1, np.int64)  # an item and its delimiter take two bytes at least
    ends = np.empty(n // 2 + 1, np.int64)
    k = 0
    start = -1
    for i in range(n):
        c = text[i]
        if c == _COMMA or c == _OPEN or c == _CLOSE:  # noqa: SIM109 (three compares, compiled as such)
            if start >= 0:
                starts[k] = start
                ends[k] = i
                k += 1
                start = -1
        elif start < 0:
            start = i
    if start >= 0:
        starts[k] = start
        ends[k] = n
        k += 1
    return starts[:k], ends[:k]


@numba.njit(cache=True)  # type: ignore[misc]
def assemble(
    times: np.ndarray,
    floats: np.ndarray,
    flags: np.ndarray,
    keys: np.ndarray,
    key_ends: np.ndarray,
    words: np.ndarray,
    word_ends: np.ndarray,
) -> np.ndarray:
    """The points' objects, comma-separated (no brackets), as bytes.

    ``times``: the JSON array of the timestamps; ``floats``: the JSON array of the float columns' rows
    (``value, expected, lower, upper, anomaly_score, tail_score, completeness``); ``flags``: 2 × points,
    ``is_anomaly`` then ``held_back``; ``keys``: the ten field prefixes (``{"timestamp":``,
    ``,"value":`` ...) end to end, ``key_ends`` where each ends; ``words``: ``false`` then ``true``."""
    t_start, t_end = _items(times)
    f_start, f_end = _items(floats)
    points = t_start.size
    size = 0
    for i in range(points):
        size += t_end[i] - t_start[i]
    for i in range(f_start.size):
        size += f_end[i] - f_start[i]
    longest = max(word_ends[0], word_ends[1] - word_ends[0])
    size += points * (key_ends[9] + 2 * longest + 2)
    out = np.empty(size, np.uint8)
    key_starts = np.empty(10, np.int64)
    key_starts[0] = 0
    key_starts[1:] = key_ends[:9]
    word_starts = np.array([0, word_ends[0]])
    o = 0
    # Output field -> its source: the timestamp, a float row (0-6), or a flag row (0-1).
    for i in range(points):
        if i > 0:
            out[o] = _COMMA
            o += 1
        for field in range(10):
            for j in range(key_starts[field], key_ends[field]):
                out[o] = keys[j]
                o += 1
            if field == 0:
                for j in range(t_start[i], t_end[i]):
                    out[o] = times[j]
                    o += 1
            elif field == 6 or field == 9:
                w = 1 if flags[0 if field == 6 else 1, i] else 0
                for j in range(word_starts[w], word_ends[w]):
                    out[o] = words[j]
                    o += 1
            else:
                k = (field - 1 if field < 6 else field - 2) * points + i
                for j in range(f_start[k], f_end[k]):
                    out[o] = floats[j]
                    o += 1
        out[o] = _BRACE_CLOSE
        o += 1
    return out[:o]
