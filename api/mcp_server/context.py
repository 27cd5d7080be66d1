"""What every MCP tool needs (settings, state database, fact store, clock, access) and its error mapping.

``ToolContext.call(scope)`` wraps a tool body: it checks the scope first, then turns the domain's errors
into MCP tool errors (``is_error`` results the assistant reads and can act on): bad input names the field
and the reason, as the CLI's exit 2 and the API's 422 do. Anything unexpected is left to the SDK, which
answers with a generic message and logs the traceback on stderr, so no internal detail reaches the client.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from mcp.server.mcpserver.exceptions import ToolError
from sqlalchemy import Engine

from api.mcp_server.access import Access, AccessDenied
from api.token_auth import Principal, Scope
from core.clock import Clock
from core.errors import ConflictError, InputError, NotFoundError, StoreError
from core.settings import Settings
from ingestion.fact_store import FactStore

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ToolContext:
    settings: Settings
    engine: Engine
    clock: Clock
    store: FactStore
    access: Access

    @contextmanager
    def call(self, scope: Scope) -> Iterator[Principal]:
        try:
            principal = self.access.require(scope)
        except AccessDenied as exc:
            log.info("MCP tool refused: %s", exc)
            raise ToolError(f"forbidden: {exc}") from None
        try:
            yield principal
        except InputError as exc:  # "field: reason"
            raise ToolError(f"invalid input: {exc}") from None
        except NotFoundError as exc:
            raise ToolError(f"not found: {exc}") from None
        except ConflictError as exc:
            raise ToolError(f"conflict: {exc}") from None
        except StoreError as exc:
            raise ToolError(f"unavailable: {exc}") from None


def author_of(principal: Principal, given: str | None) -> str:
    """Who a write is recorded as: the name given, else the token's name, marked as coming through MCP."""
    return given.strip() if given and given.strip() else f"{principal.name} (mcp)"


def cleaned(value: Mapping[str, Any]) -> dict[str, Any]:
    """A tool's answer, JSON-safe (see :func:`clean`)."""
    return {str(k): clean(v) for k, v in value.items()}


def clean(value: Any) -> Any:
    """JSON-safe: datetimes as ISO-8601 with their offset, non-finite floats as null, floats to 4 decimals (enough for $ and shares)."""
    if isinstance(value, dict):
        return {str(k): clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [clean(v) for v in value]
    if isinstance(value, datetime):
        # Naive times are UTC throughout the project: say so, so the assistant never reads local time.
        return (value if value.tzinfo is not None else value.replace(tzinfo=UTC)).isoformat()
    if isinstance(value, float):
        return round(value, 4) if math.isfinite(value) else None
    return value
