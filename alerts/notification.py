"""The receiver-neutral notification that the outbox stores, the ``Notifier`` protocol every receiver
implements, and ``DeliveryError``, which says whether a failed send is worth retrying.

A ``Notification`` carries no secret: receivers' keys and tokens live only in the notifier objects
built from configuration at dispatch time, so outbox rows, logs and API output can never leak them.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal, Protocol

Action = Literal["open", "update", "resolve"]


@dataclass(frozen=True)
class Notification:
    action: Action
    incident_id: str
    fingerprint: str
    seq: int  # the incident's notification number: 1 for the open, then one per update or resolve
    product: str
    cost_line: str
    currency: str
    severity: str
    summary: str
    details: dict[str, Any]  # PagerDuty's custom_details; the webhook's "details"
    labels: dict[str, str] = field(default_factory=dict)
    link: str = ""
    at: str = ""  # ISO-8601 time of the sweep that produced it
    started_at: str = ""  # ISO-8601 start of the incident
    # On an update that escalates: the severity receivers were last told (Alertmanager ends that alert).
    escalated_from: str = ""

    @property
    def event_key(self) -> str:
        return f"{self.incident_id}:{self.seq}"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Notification:
        return cls(**data)


class DeliveryError(Exception):
    """A send failed. ``retryable`` is true for 429, 5xx and network errors; false for other 4xx and
    for bad configuration, which no retry can fix. ``reason`` is safe to log and store: notifiers build
    it from status codes and exception class names, never from request URLs or headers."""

    def __init__(self, reason: str, *, retryable: bool, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retryable = retryable
        self.retry_after = retry_after


class Notifier(Protocol):
    """One receiver. ``send`` returns on success and raises ``DeliveryError`` otherwise."""

    name: str

    @property
    def rate_key(self) -> str | None:
        """Key shared by notifiers that draw on one rate limit (a PagerDuty routing key's hash)."""
        ...

    def send(self, notification: Notification) -> None: ...
