"""A notified incident holds while its long window still burns above the hold factor (no resolve/open flap)."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from alerts.burn_rate import BurnRatePolicy, classify_severity
from alerts.lifecycle import IncidentPolicy, IncidentState, advance
from alerts.severity import Severity
from tests.alerts.factories import T0, evaluation

H = timedelta(hours=1)
HOLD = IncidentPolicy(resolve_after=timedelta(hours=3), hold_factor=1.2, hold_hours=24.0)


def opened(notified: bool) -> IncidentState:
    ev = evaluation(T0, burn=(2.0, 2.0), impact=800.0)
    state = advance(
        None, ev, classify_severity(ev, BurnRatePolicy()), fingerprint="fp", new_id="i", policy=HOLD
    ).state
    assert state is not None
    return replace(state, notified_severity=Severity.TICKET if notified else None)


def after_quiet_hours(state: IncidentState, long_burn: float, policy: IncidentPolicy) -> IncidentState:
    """Five quiet sweeps, every hour in its band, the 24 h window burning at ``long_burn``."""
    for i in range(1, 6):
        ev = evaluation(T0 + i * H, burn=(1.0, long_burn))
        decision = classify_severity(ev, BurnRatePolicy())
        step = advance(state, ev, decision, fingerprint="fp", new_id="x", policy=policy)
        assert step.state is not None
        state = step.state
        if not state.is_open:
            break
    return state


@pytest.mark.parametrize(
    ("notified", "long_burn", "policy", "resolved"),
    [
        # told about, and the day still burns at 1.3x: the problem goes on, no resolve
        (True, 1.3, HOLD, False),
        # the day is back under the hold factor: resolves after the usual time in band
        (True, 1.1, HOLD, True),
        # exactly at the factor is not above it
        (True, 1.2, HOLD, True),
        # watched only (nobody was told): it resolves by its band, as before
        (False, 1.3, HOLD, True),
        # the hold switched off
        (True, 1.3, IncidentPolicy(resolve_after=timedelta(hours=3)), True),
    ],
)
def test_hold(notified: bool, long_burn: float, policy: IncidentPolicy, resolved: bool) -> None:
    state = after_quiet_hours(opened(notified), long_burn, policy)
    assert (state.status == "resolved") is resolved
