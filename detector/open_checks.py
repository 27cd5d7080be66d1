"""Cheap tests a sweep runs before the costly readings of a series, each sure to find nothing when it fails.

A sweep reads every series for events still open and for a level shift, yet few series have either:
of 105,000 series, a quarter have flagged periods but two thousand an event still open, and a level shift
needs its newest day shifted. These tests look only at what the full reading would stop at, so a series
that fails them gets exactly what the full reading gives it (nothing), and one that passes is read in full
(``tests/detector/test_open_checks.py`` compares both on random series).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from detector.level_shift import BUCKET


def may_have_open_event(flagged: np.ndarray, candidate: np.ndarray, first_open: int) -> bool:
    """Whether :func:`detector.events.events_from_arrays` may give an event ending at period
    ``first_open`` or later: an event ends where a run of its side's candidates ends, so one needs a
    candidate there (or a flagged period without a side, whose run any period continues)."""
    if not flagged.any():
        return False
    side = np.asarray(candidate)
    return bool(side[first_open:].any()) or bool((np.asarray(flagged, dtype=bool) & (side == 0)).any())


def may_shift(values: np.ndarray, expected: np.ndarray, step: pd.Timedelta, *, factor: float) -> bool:
    """Whether :func:`detector.level_shift.find_level_shift` may find a shift: only when the newest whole
    day-bucket spends at least half the sustained factor's excess over its expected spend. Sums may round
    otherwise than the full reading's, so a bucket within rounding of the bar counts as reaching it."""
    size = max(int(BUCKET / step), 1)
    if len(values) < size:
        return False
    v = float(np.nan_to_num(np.asarray(values[-size:], dtype=np.float64)).sum())
    x = float(np.nan_to_num(np.clip(np.asarray(expected[-size:], dtype=np.float64), 0.0, None)).sum())
    if not x > 0:  # a sum of non-negative terms: zero however it is added up
        return False
    bar = (1.0 + 0.5 * (factor - 1.0)) * x
    if not (np.isfinite(v) and np.isfinite(bar)):
        return True  # an overflowing sum: no margin to reason with, so the full reading decides
    return v >= bar - 1e-9 * (abs(v) + abs(bar))
