"""Keeps receiver secrets out of third-party logs. httpx logs every request URL at INFO, and a Slack
incoming-webhook URL is itself a secret, so a filter on the ``httpx`` and ``httpcore`` loggers replaces
every configured secret with ``***`` before any handler sees the record."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable

_LOGGERS = ("httpx", "httpcore")
_LOCK = threading.Lock()


class RedactSecrets(logging.Filter):
    def __init__(self) -> None:
        super().__init__()
        self._secrets: set[str] = set()

    def add(self, secrets: Iterable[str]) -> None:
        # Short strings would redact innocent text; real keys and tokens are long.
        self._secrets |= {s for s in secrets if len(s) >= 6}

    def filter(self, record: logging.LogRecord) -> bool:
        if not self._secrets:
            return True
        message = record.getMessage()
        redacted = message
        for secret in self._secrets:
            redacted = redacted.replace(secret, "***")
        if redacted != message:
            record.msg, record.args = redacted, ()
        return True


_FILTER = RedactSecrets()


def redact_in_logs(secrets: Iterable[str]) -> None:
    """Register ``secrets`` to be redacted from the HTTP client libraries' log records."""
    with _LOCK:
        _FILTER.add(secrets)
        for name in _LOGGERS:
            logger = logging.getLogger(name)
            if _FILTER not in logger.filters:
                logger.addFilter(_FILTER)
