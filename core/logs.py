"""Logging: one JSON object per line (for log pipelines) or plain text, with the request or job id.

The id lives in a context variable, set by the HTTP middleware for each request and by ``job_context``
for each sweep or training, so every line logged while serving it carries it without being passed down.
"""

from __future__ import annotations

import contextvars
import json
import logging
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

request_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("request_id", default=None)
job_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("job_id", default=None)
_STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        if (rid := request_id.get()) is not None:
            out["request_id"] = rid
        if (jid := job_id.get()) is not None:
            out["job_id"] = jid
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_"):
                out[key] = value
        if record.exc_info:
            out["exception"] = self.formatException(record.exc_info)
        return json.dumps(out, default=str)


def configure_logging(fmt: str = "text", level: int = logging.INFO) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        JsonFormatter() if fmt == "json" else logging.Formatter("%(levelname)s %(name)s: %(message)s")
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for noisy in ("cmdstanpy", "prophet", "httpx", "httpcore"):
        logging.getLogger(noisy).setLevel(max(level, logging.WARNING))
    logging.getLogger("prophet.plot").setLevel(logging.CRITICAL)  # plotly is optional; its absence is noise


@contextmanager
def job_context(name: str) -> Iterator[str]:
    """Tag every log line inside with a fresh ``job_id`` (``sweep-1a2b...``)."""
    token = job_id.set(f"{name}-{uuid.uuid4().hex[:12]}")
    try:
        yield job_id.get() or ""
    finally:
        job_id.reset(token)
