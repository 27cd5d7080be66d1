"""The dispatcher's dedup stage, after Alertmanager's ``notify/dedup_stage.go``: a pure function over
the notification log, which is written only after a receiver accepted a notification.

A queued notification is dropped when the log shows that this receiver already accepted the same or a
later notification of the same incident (a duplicate row, or a redelivery after a crash that happened
after the send and its log write but before the outbox row was closed).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class LogEntry:
    incident_id: str
    seq: int


@dataclass(frozen=True)
class DedupDecision:
    send: bool
    reason: str


def dedup(incident_id: str, seq: int, logged: LogEntry | None) -> DedupDecision:
    if logged is None:
        return DedupDecision(True, "never sent to this receiver")
    if logged.incident_id != incident_id:
        return DedupDecision(True, "last notification was for an earlier incident")
    if logged.seq >= seq:
        return DedupDecision(False, f"receiver already accepted notification {logged.seq} of this incident")
    return DedupDecision(True, f"newer than notification {logged.seq}")
