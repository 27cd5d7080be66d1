"""Periods of ended expected-change windows are excused when a sweep judges a series: only excess after a
window counts.

A muting window (``alerts.expected_changes``) silences the incidents it matches while it is active. Once it
has ended, the planned spend inside it is still in the trailing burn windows, in the detector's events
(an event stays open for ``merge_gap`` periods after its last one) and in any sustained excess: judged as
it is, the plan would be ticketed on the first sweep after the window, although the spend is back in band.
So the sweep scores every period of an ended window as if it had spent its expected value. What it really
spent still counts where money is counted as money (month to date, the budget's projection).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

import numpy as np
import pandas as pd
from sqlalchemy import Engine

from alerts.expected_changes import ExpectedChange, list_expected_changes
from core.types import SeriesKey

Interval = tuple[datetime, datetime]


def ended_windows(engine: Engine, at: datetime, lookback: timedelta) -> list[ExpectedChange]:
    """Muting windows that had ended by ``at`` (and not before the sweep's ``lookback``): what a sweep as of
    ``at`` excuses. Windows still active are the alert service's to mute."""
    oldest = at - lookback
    return [
        c for c in list_expected_changes(engine) if c.mute and c.starts_at <= at and oldest < c.ends_at <= at
    ]


def planned_spans(windows: Sequence[ExpectedChange], key: SeriesKey) -> list[Interval]:
    """The ``[start, end)`` spans of ``windows`` whose matchers match the series (its product, cost line
    and currency: the labels a series has before it is an incident)."""
    labels = {"product": key.product, "cost_line": key.cost_line, "currency": key.currency}
    return [(c.starts_at, c.ends_at) for c in windows if c.matches(labels)]


def _naive(at: datetime) -> pd.Timestamp:
    ts = pd.Timestamp(at)
    return ts.tz_convert("UTC").tz_localize(None) if ts.tzinfo else ts


def planned_mask(index: pd.DatetimeIndex, spans: Sequence[Interval]) -> np.ndarray:
    """Which periods start inside one of ``spans`` (facts are on a naive UTC index)."""
    mask = np.zeros(len(index), dtype=bool)
    for start, end in spans:
        mask |= np.asarray((index >= _naive(start)) & (index < _naive(end)))
    return mask


def excused_values(
    value: np.ndarray, expected: np.ndarray, index: pd.DatetimeIndex, spans: Sequence[Interval]
) -> np.ndarray:
    """``value`` with the periods of ``spans`` at their ``expected`` value: what the detector scores, so the
    plan is neither an event nor in the history the scorer compares the periods after it with."""
    mask = planned_mask(index, spans)
    return np.where(mask, expected, value) if mask.any() else value
