"""Notification decisions, table by table: when an incident change is worth telling (renotify), and
when the dispatcher drops a queued notification (dedup over the notification log)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from alerts.dedup import LogEntry, dedup
from alerts.renotify import NotifyInput, RenotifyPolicy, decide_notification, what_changed
from alerts.severity import Severity

N, T, P = Severity.NONE, Severity.TICKET, Severity.PAGE
POLICY = RenotifyPolicy(impact_step=1000.0, impact_step_pct=50.0)


@pytest.mark.parametrize(
    ("resolved", "severity", "impact", "notified", "notified_impact", "silenced", "want"),
    [
        # never notified
        (False, N, 5000.0, None, None, False, None),  # below ticket: nothing
        (False, T, 500.0, None, None, False, "open"),
        (False, P, 500.0, None, None, False, "open"),
        (False, P, 500.0, None, None, True, None),  # muted or feedback given before anything was sent
        # already notified: only escalation or impact growth re-notifies
        (False, T, 500.0, T, 500.0, False, None),  # same again: nothing (pages once across sweeps)
        (False, P, 500.0, T, 500.0, False, "update"),  # escalation ticket -> page
        (False, T, 500.0, P, 500.0, False, None),  # peak never drops, but guard anyway
        (False, T, 700.0, T, 500.0, False, None),  # +200 $ and +40 %: below both steps
        (False, T, 750.0, T, 500.0, False, "update"),  # +50 %
        (False, T, 11_000.0, T, 10_000.0, False, "update"),  # +1000 $
        (False, T, 10_900.0, T, 10_000.0, False, None),  # +900 $ and +9 %
        (False, T, 400.0, T, 500.0, False, None),  # impact shrank
        (False, P, 5_000.0, T, 500.0, True, None),  # feedback stops re-notification, even escalation
        # resolve: only if something was sent, and even when silenced (a sent page must be closed)
        (True, T, 0.0, T, 500.0, False, "resolve"),
        (True, P, 0.0, P, 500.0, True, "resolve"),
        (True, P, 0.0, None, None, False, None),
    ],
)
def test_decide_notification(resolved, severity, impact, notified, notified_impact, silenced, want) -> None:
    state = NotifyInput(resolved, severity, impact, notified, notified_impact, silenced)
    assert decide_notification(state, POLICY) == want


def test_steps_can_be_switched_off() -> None:
    state = NotifyInput(False, T, 100_000.0, T, 500.0, False)
    assert decide_notification(state, RenotifyPolicy(impact_step=None, impact_step_pct=None)) is None


@pytest.mark.parametrize(
    ("severity", "impact", "notified", "notified_impact", "since_hours", "want"),
    [
        (T, 11_000.0, T, 10_000.0, 2.0, None),  # +$1,000 two hours after the last: wait for the day
        (T, 11_000.0, T, 10_000.0, 24.0, "update"),  # a day later: the growth is told
        (T, 11_000.0, T, 10_000.0, None, "update"),  # when unknown (older rows): as before
        (T, 20_000.0, T, 10_000.0, 2.0, "update"),  # doubled: at once
        (T, 19_900.0, T, 10_000.0, 23.9, None),  # +99 %: not yet
        (P, 10_000.0, T, 10_000.0, 0.5, "update"),  # escalation: at once, whatever the impact
        (T, 10_500.0, T, 10_000.0, 48.0, None),  # below both steps: quiet however long
        (T, 48.0, T, 24.0, 2.0, None),  # doubled, but by $24: waits for the day like any growth
        (T, 48.0, T, 24.0, 24.0, "update"),  # ... and is told then (+100% is past the % step)
        (T, 2_100.0, T, 1_000.0, 2.0, "update"),  # doubled by $1,100: at once
    ],
)
def test_impact_updates_wait_a_day_unless_the_impact_doubles(
    severity, impact, notified, notified_impact, since_hours, want
) -> None:
    since = None if since_hours is None else timedelta(hours=since_hours)
    state = NotifyInput(False, severity, impact, notified, notified_impact, False, since_notified=since)
    assert decide_notification(state, POLICY) == want


@pytest.mark.parametrize(
    ("severity", "impact", "notified", "notified_impact", "want"),
    [
        (P, 900.0, T, 800.0, "escalated ticket → page; impact +800.00 → +900.00 USD (+12%)"),
        (T, 2_000.0, T, 1_000.0, "impact +1,000.00 → +2,000.00 USD (+100%)"),
        (T, 500.0, T, 0.0, "impact +0.00 → +500.00 USD"),
        (T, 500.0, T, 500.0, None),
        (T, 500.0, None, None, None),  # an open: nothing to compare with
    ],
)
def test_what_changed(severity, impact, notified, notified_impact, want) -> None:
    assert what_changed(severity, impact, notified, notified_impact, "USD") == want


@pytest.mark.parametrize(
    ("incident", "seq", "logged", "send"),
    [
        ("a", 1, None, True),  # never sent to this receiver
        ("a", 1, LogEntry("a", 1), False),  # a duplicate of what the receiver already accepted
        ("a", 1, LogEntry("a", 2), False),  # stale: a later notification was already accepted
        ("a", 2, LogEntry("a", 1), True),  # the next notification of the incident
        ("b", 1, LogEntry("a", 5), True),  # a new incident of the same fingerprint starts again at 1
    ],
)
def test_dedup(incident, seq, logged, send) -> None:
    decision = dedup(incident, seq, logged)
    assert decision.send is send
    assert decision.reason
