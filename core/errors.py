"""The error hierarchy. Domain code raises these; only ``api/`` maps them to HTTP codes or exit codes."""

from __future__ import annotations


class SpendSentryError(Exception):
    """Base class of every error the service raises on purpose."""


class InputError(SpendSentryError):
    """Bad input from a user or a file: CLI exit 2, HTTP 422. Names the field and the reason."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


class TooLargeError(InputError):
    """Input over a configured size limit: CLI exit 2, HTTP 413."""


class NotFoundError(SpendSentryError):
    """A named thing (series, incident, model) does not exist: HTTP 404."""


class ConflictError(SpendSentryError):
    """The request contradicts stored state: HTTP 409."""


class StoreError(SpendSentryError):
    """The fact store or state database cannot be read or written: HTTP 503, exit 1."""
