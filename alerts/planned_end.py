"""An incident muted by an expected-change window closes when its window ends.

The window said the spend was planned: what it muted was planned, and must not be told once the window
is over (the first sweep after it would otherwise see an unmuted incident at the severity the plan
reached, and open a ticket for spend already back in band). The incident resolves with the resolution
``expected_change``; receivers hear the resolve only if they heard about it before the window (the
renotify rules). Excess that goes on after the window is news: the sweep judges it without the window's
periods (``training.planned_periods``) and it opens an incident of its own, with only its own $.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from alerts.lifecycle import IncidentState

PLANNED = "expected_change"


def close_planned(state: IncidentState, now: datetime) -> IncidentState:
    """``state`` resolved at ``now`` because the window that muted it has ended (it stays ``muted_by`` it,
    for the record)."""
    return replace(state, status="resolved", resolved_at=now, in_band_since=None, resolution=PLANNED)
