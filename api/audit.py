"""The audit log: one row per write to the API or the dashboard, refused ones included.

Who (the token's name, or ``unauthenticated``), what (method, the route's path template and the id or
name it wrote), the outcome (the HTTP status), when, and the request id. Bodies are never kept: a token
creation records the new token's name, never its value, and a sign-in the name of the token used.
Scoring (``/v1/score``, ``/v1/root-causes``) changes nothing and is not recorded.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, insert, select
from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.tables import api_audit
from core.logs import request_id

log = logging.getLogger(__name__)

SAFE = frozenset({"GET", "HEAD", "OPTIONS"})
NOT_WRITES = ("/v1/score", "/v1/root-causes")
UNAUTHENTICATED = "unauthenticated"


def record(
    engine: Engine,
    *,
    at: datetime,
    token_name: str,
    method: str,
    path: str,
    target: str | None,
    status: int,
    rid: str | None,
) -> None:
    with engine.begin() as conn:
        conn.execute(
            insert(api_audit).values(
                at=at,
                token_name=token_name[:100],
                method=method[:10],
                path=path[:300],
                target=target[:300] if target else None,
                status=status,
                request_id=rid,
            )
        )


def list_audit(
    engine: Engine,
    *,
    token_name: str | None = None,
    method: str | None = None,
    path: str | None = None,
    target: str | None = None,
    status: int | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int = 100,
    offset: int = 0,
) -> list[dict[str, Any]]:
    """Audit rows, newest first, filtered by any of the given fields."""
    query = select(api_audit).order_by(api_audit.c.at.desc(), api_audit.c.id.desc())
    for column, value in (
        (api_audit.c.token_name, token_name),
        (api_audit.c.method, method.upper() if method else None),
        (api_audit.c.path, path),
        (api_audit.c.target, target),
        (api_audit.c.status, status),
    ):
        if value is not None:
            query = query.where(column == value)
    if since is not None:
        query = query.where(api_audit.c.at >= since)
    if until is not None:
        query = query.where(api_audit.c.at < until)
    with engine.connect() as conn:
        rows = conn.execute(query.limit(limit).offset(offset)).mappings().all()
    return [dict(r) for r in rows]


def _template(scope: Scope) -> str:
    route = scope.get("route")
    template = getattr(route, "path_format", None) or getattr(route, "path", None)
    return str(template) if template else str(scope.get("path", ""))


def _target(scope: Scope) -> str | None:
    state: Mapping[str, Any] = scope.get("state") or {}
    given = state.get("audit_target")
    if given:
        return str(given)
    params: Mapping[str, Any] = scope.get("path_params") or {}
    return next((str(v) for v in params.values()), None)


def _who(scope: Scope) -> str:
    principal = (scope.get("state") or {}).get("principal")
    return str(principal.name) if principal is not None else UNAUTHENTICATED


class AuditLog:
    """ASGI middleware: after each write, a row in ``api_audit``. A failure to record is logged, not
    turned into an error: the write has happened and its answer is already on its way."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = str(scope.get("path", ""))
        if (
            scope["type"] != "http"
            or scope.get("method") in SAFE
            or not path.startswith(("/v1/", "/ui/"))
            or path.startswith(NOT_WRITES)
        ):
            await self.app(scope, receive, send)
            return
        status = 500

        async def watching_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, watching_send)
        finally:
            await self._record(scope, status)

    async def _record(self, scope: Scope, status: int) -> None:
        app = scope.get("app")
        engine: Engine | None = getattr(getattr(app, "state", None), "engine", None)
        if engine is None:
            return
        try:
            await run_in_threadpool(
                record,
                engine,
                at=app.state.clock.now(),  # type: ignore[union-attr]
                token_name=_who(scope),
                method=str(scope.get("method")),
                path=_template(scope),
                target=_target(scope),
                status=status,
                rid=request_id.get(),
            )
        except Exception as exc:  # the audit must never turn a done write into an error
            log.error(
                "audit record failed for %s %s: %s",
                scope.get("method"),
                scope.get("path"),
                type(exc).__name__,
            )
