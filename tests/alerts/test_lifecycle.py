"""The incident lifecycle: open, extend, escalate, resolve only after a configured time in band."""

from __future__ import annotations

from datetime import timedelta

from alerts.burn_rate import BurnRatePolicy, classify_severity
from alerts.fingerprint import fingerprint
from alerts.lifecycle import IncidentPolicy, advance
from alerts.severity import Severity
from tests.alerts.factories import T0, evaluation

H = timedelta(hours=1)
POLICY = IncidentPolicy(resolve_after=timedelta(hours=3))


def step(current, ev):
    decision = classify_severity(ev, BurnRatePolicy())
    return advance(current, ev, decision, fingerprint="fp", new_id="id-1", policy=POLICY)


def test_fingerprint_is_stable_and_distinguishes_parts() -> None:
    a = fingerprint("shop", "Compute", "usd", "default")
    assert a == fingerprint("shop", "Compute", "USD", "default") and len(a) == 32
    assert a != fingerprint("shop", "Compute", "USD", "eu")
    assert fingerprint("a|b", "c", "USD") != fingerprint("a", "b|c", "USD")


def test_quiet_series_opens_nothing() -> None:
    assert step(None, evaluation(T0)).state is None


def test_open_extend_escalate_resolve() -> None:
    opened = step(None, evaluation(T0 + H, burn=(2.0, 2.0), impact=800.0))
    assert opened.events == ("opened",)
    state = opened.state
    assert state is not None and state.peak_severity is Severity.TICKET and state.impact == 800.0

    extended = step(state, evaluation(T0 + 2 * H, burn=(2.0, 2.0), impact=900.0))
    assert extended.events == ("extended",) and extended.state.impact == 900.0  # same event grew

    escalated = step(extended.state, evaluation(T0 + 3 * H, burn=(4.0, 4.0), impact=3000.0))
    assert escalated.events == ("escalated",) and escalated.state.peak_severity is Severity.PAGE

    # A second anomaly event inside the same incident adds to the impact.
    second = step(escalated.state, evaluation(T0 + 4 * H, burn=(4.0, 4.0), impact=500.0, start=T0 + 3 * H))
    assert second.state.impact == 3500.0 and second.state.id == "id-1"

    # Back in band: the resolve clock starts, and resolves only after 3 hours.
    s = second.state
    for hours in (5, 6, 7):
        result = step(s, evaluation(T0 + hours * H))
        assert result.state.status == "open", hours
        s = result.state
    done = step(s, evaluation(T0 + 8 * H))
    assert done.events == ("resolved",) and done.state.status == "resolved"
    assert done.state.peak_severity is Severity.PAGE  # history keeps the peak


def test_leaving_the_band_restarts_the_resolve_clock() -> None:
    s = step(None, evaluation(T0, burn=(2.0, 2.0), impact=800.0)).state
    s = step(s, evaluation(T0 + H)).state
    s = step(s, evaluation(T0 + 2 * H, in_band=False)).state  # no anomaly, but outside the band
    assert s.in_band_since is None
    s = step(s, evaluation(T0 + 3 * H)).state
    s = step(s, evaluation(T0 + 5 * H)).state
    assert s.status == "open"
    assert step(s, evaluation(T0 + 6 * H)).state.status == "resolved"
