"""Where the twin view alarms: the lowest value, from a given one up, that is novel at its phase.

The twin view of :mod:`detector.scoring` measures a point's distance to its nearest earlier value at the same
phase (:func:`detector.views.same_phase_twins`) and calls it routine when it repeats, within ``repeat_share``
of its residual against the trailing median, values of ``repeat_min`` earlier periods. Unlike the other
views it does not grow with the value: between two earlier same-phase values the distance rises, then falls
again towards the upper one. A week after a spike on a Monday, a Monday at the usual level plus a bit is
novel, one at the spike's level is a repeat of it, one above the spike novel again.

So the set of values it alarms on is a union of intervals. Each one starts at one of a few points: an
earlier same-phase value plus the alarm distance, a value where a repeat ends (where ``|x − c|`` equals
``repeat_share·|x − level|`` for a same-phase value ``c``), or the lowest value asked about itself. The
view is evaluated just above each of those points, and the lowest one where it alarms is the answer.
Values higher up in a repeat of an earlier same-phase value stay quiet although they lie beyond it: the
alarm boundary is where alarms *start*.
"""

from __future__ import annotations

import numpy as np

_NUDGE = 1e-9  # relative: each starting point is judged just above itself (intervals are open on the left)


def same_phase_candidates(
    x: np.ndarray, times: np.ndarray, *, period_ns: int, tolerance_ns: int, periods: int
) -> np.ndarray:
    """Per point, the earlier values within ``±tolerance`` of ``t − k·period`` for ``k = 1..periods``,
    as an ``(n, periods, width)`` array padded with NaN: what :func:`detector.views.same_phase_twins`
    searches, found the same way (by time, only earlier rows)."""
    n = x.size
    position = np.arange(n)
    columns: list[np.ndarray] = []
    for k in range(1, periods + 1):
        lo = np.searchsorted(times, times - k * period_ns - tolerance_ns, side="left")
        hi = np.minimum(np.searchsorted(times, times - k * period_ns + tolerance_ns, side="right"), position)
        width = max(int(np.max(hi - lo, initial=0)), 1)
        idx = lo[:, None] + np.arange(width)[None, :]
        columns.append(np.where(idx < hi[:, None], x[np.minimum(idx, max(n - 1, 0))], np.nan))
    width = max((c.shape[1] for c in columns), default=1)
    out = np.full((n, max(periods, 1), width), np.nan)
    for k, column in enumerate(columns):
        out[:, k, : column.shape[1]] = column
    return out


def twin_alarms(
    trial: np.ndarray,
    candidates: np.ndarray,
    level: np.ndarray,
    threshold: np.ndarray,
    *,
    mode: str,
    repeat_share: float,
    repeat_min: int,
) -> np.ndarray:
    """Whether the twin view's magnitude at value ``trial`` (one per point) reaches ``threshold``."""
    diff = trial[:, None, None] - candidates
    with np.errstate(invalid="ignore"):
        distance = np.where(np.isnan(diff), np.inf, np.abs(diff))
    flat_distance = distance.reshape(len(trial), -1)
    pick = np.argmin(flat_distance, axis=1)
    nearest = diff.reshape(len(trial), -1)[np.arange(len(trial)), pick]
    within = repeat_share * np.nan_to_num(np.abs(trial - level))
    repeats = np.count_nonzero(distance.min(axis=2) <= within[:, None], axis=1)
    magnitude = np.abs(nearest) if mode == "both" else np.maximum(nearest, 0.0)
    with np.errstate(invalid="ignore"):
        novel = np.isfinite(nearest) & (repeats < repeat_min) & (magnitude >= threshold)
    return np.asarray(novel)


def twin_threshold(
    candidates: np.ndarray,
    level: np.ndarray,
    threshold: np.ndarray,
    lowest: np.ndarray,
    *,
    mode: str,
    repeat_share: float,
    repeat_min: int,
) -> np.ndarray:
    """Per point, the lowest value at or above ``lowest`` from which on the twin view alarms (+∞: none).

    ``candidates`` come from :func:`same_phase_candidates`, ``level`` is the trailing median the repeats are
    measured against and ``threshold`` the magnitude at which the view's tail reaches the alarm.
    """
    n = lowest.size
    flat = candidates.reshape(n, -1)
    starts = [lowest[:, None], flat + threshold[:, None]]
    lv = level[:, None]
    # A repeat of c holds while |x − c| ≤ share·|x − level|; it begins or ends where both sides are equal.
    starts.append((flat + repeat_share * lv) / (1.0 + repeat_share))
    if repeat_share < 1.0:
        starts.append((flat - repeat_share * lv) / (1.0 - repeat_share))
    points = np.concatenate(starts, axis=1)
    with np.errstate(invalid="ignore"):
        points = np.where(points >= lowest[:, None], points, np.nan)
    best = np.full(n, np.inf)
    for column in points.T:
        todo = np.isfinite(column) & (column < best)
        if not todo.any():
            continue
        trial = column + _NUDGE * (np.abs(column) + np.abs(np.nan_to_num(threshold)) + 1.0)
        alarms = np.zeros(n, dtype=bool)
        alarms[todo] = twin_alarms(
            trial[todo],
            candidates[todo],
            level[todo],
            threshold[todo],
            mode=mode,
            repeat_share=repeat_share,
            repeat_min=repeat_min,
        )
        best = np.where(alarms, column, best)
    return best
