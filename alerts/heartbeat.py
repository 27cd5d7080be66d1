"""The heartbeat, after Alertmanager's Watchdog: a message to a configured receiver after every
successful sweep, so that a stopped pipeline (a dead scheduler, a stuck lease, a broken deploy) is noticed
by the heartbeat's absence at the other end (a dead man's switch: Healthchecks, Dead Man's Snitch, a
Teams or Slack channel, a mailbox rule).

A heartbeat is sent once, directly, never through the outbox: a late heartbeat says nothing, and the
receiver's own missing-ping alarm is the retry. Only receivers that can say "still alive" without paging
take heartbeats (``HeartbeatSender``); configuration refuses the others.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol, runtime_checkable

from alerts.notification import DeliveryError, Notifier

log = logging.getLogger(__name__)

HEARTBEAT_KINDS = ("webhook", "slack", "teams", "email")


@dataclass(frozen=True)
class Heartbeat:
    at: datetime  # the sweep's as-of time
    summary: Mapping[str, int] = field(default_factory=dict)  # series evaluated, anomalies, incidents, ...
    link: str = ""  # the dashboard


@runtime_checkable
class HeartbeatSender(Protocol):
    def heartbeat(self, beat: Heartbeat) -> None: ...


def heartbeat_text(beat: Heartbeat) -> str:
    counts = ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in sorted(beat.summary.items()))
    return f"spendsentry sweep finished as of {beat.at.isoformat()}" + (f": {counts}" if counts else "")


def send_heartbeat(notifiers: Mapping[str, Notifier], receiver: str, beat: Heartbeat) -> str:
    """Send ``beat`` to ``receiver``; return ``"sent"`` or ``"failed: <reason>"`` (never raises: a
    heartbeat that cannot be sent must not fail the sweep it reports on)."""
    notifier = notifiers.get(receiver)
    if not isinstance(notifier, HeartbeatSender):
        reason = f"receiver {receiver!r} takes no heartbeat"
        log.warning("heartbeat not sent: %s", reason)
        return f"failed: {reason}"
    try:
        notifier.heartbeat(beat)
    except DeliveryError as exc:
        log.warning("heartbeat to %s failed: %s", receiver, exc.reason)
        return f"failed: {exc.reason}"
    except Exception as exc:  # a notifier bug; its message may hold data, so only the class is kept
        log.exception("heartbeat to %s raised", receiver)
        return f"failed: internal error ({type(exc).__name__})"
    log.info("heartbeat sent to %s", receiver)
    return "sent"
