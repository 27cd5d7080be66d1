"""Bearer tokens with scopes: parsing ``SPENDSENTRY_API_TOKENS``, hashing, checking, and the guard.

Scopes: ``read`` (every GET), ``score`` (``/v1/score``, ``/v1/root-causes``), ``write`` (spend, feedback,
budgets, expected changes, sweeps, trainings) and ``admin`` (``/v1/tokens``). Scopes are independent: a
token gets what it lists, so a scoring client can score without reading incidents.

Only SHA-256 digests are kept, in memory for the tokens from settings and in ``api_tokens`` for those
created through the API. With no token anywhere the API is open, as for a local demo; the first token
created (or set) closes it. Tokens never appear in logs, errors or responses, except once in the answer
that creates one.
"""

from __future__ import annotations

import logging
from typing import Annotated, Any

from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.concurrency import run_in_threadpool

# The token model lives apart from HTTP (the MCP server uses it too); re-exported for existing imports.
from api.token_auth import (
    MIN_TOKEN_LENGTH,
    NAME_PATTERN,
    OPEN,
    SCOPES,
    SETTING,
    TOKEN_PREFIX,
    Authenticator,
    ConfiguredToken,
    Principal,
    Scope,
    hash_token,
    new_token,
    parse_scopes,
    parse_token_setting,
)

log = logging.getLogger(__name__)

__all__ = [
    "MIN_TOKEN_LENGTH",
    "NAME_PATTERN",
    "OPEN",
    "SAFE_METHODS",
    "SCOPES",
    "SETTING",
    "TOKEN_PREFIX",
    "Authenticator",
    "ConfiguredToken",
    "Guard",
    "Principal",
    "Scope",
    "guarded",
    "hash_token",
    "install_docs",
    "new_token",
    "parse_scopes",
    "parse_token_setting",
]

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


_bearer = HTTPBearer(
    auto_error=False,
    description="A token from SPENDSENTRY_API_TOKENS or POST /v1/tokens. Not needed when no token exists.",
)


def _unauthorized(reason: str, *, invalid: bool) -> HTTPException:
    challenge = 'Bearer realm="spendsentry"'
    if invalid:
        challenge += ', error="invalid_token"'
    return HTTPException(401, detail=reason, headers={"WWW-Authenticate": challenge})


class Guard:
    """A dependency: GET/HEAD need ``read_scope``, other methods ``scope``; 401 without a valid token,
    403 with a valid token that lacks the scope."""

    def __init__(self, scope: Scope, *, read_scope: Scope = "read") -> None:
        self.scope = scope
        self.read_scope = read_scope

    async def __call__(
        self,
        request: Request,
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    ) -> Principal:
        auth: Authenticator = request.app.state.auth
        # A token from the settings is checked in memory, on the loop; anything that needs the database
        # (API tokens, "is any token defined?") runs in the thread pool so a lookup never blocks the loop.
        known = auth.configured_principal(credentials.credentials) if credentials is not None else None
        if known is not None:
            return self._admit(request, known)
        return await run_in_threadpool(self._resolve, request, credentials)

    def _resolve(self, request: Request, credentials: HTTPAuthorizationCredentials | None) -> Principal:
        auth: Authenticator = request.app.state.auth
        if auth.is_open():
            principal = OPEN
        elif credentials is None:
            sent = "authorization" in request.headers
            reason = "the Authorization header is not a bearer token" if sent else "a bearer token is needed"
            log.info("401 %s %s: %s", request.method, request.url.path, reason)
            raise _unauthorized(reason, invalid=sent)
        else:
            found = auth.authenticate(credentials.credentials)
            if found is None:
                log.info("401 %s %s: unknown or revoked token", request.method, request.url.path)
                raise _unauthorized("unknown or revoked token", invalid=True)
            principal = found
        return self._admit(request, principal)

    def _admit(self, request: Request, principal: Principal) -> Principal:
        needed = self.read_scope if request.method in SAFE_METHODS else self.scope
        if needed not in principal.scopes:
            log.info("403 %s %s: token %r lacks %s", request.method, request.url.path, principal.name, needed)
            raise HTTPException(403, detail=f"this token lacks the '{needed}' scope")
        request.state.principal = principal
        return principal


def guarded(scope: Scope, *, read_scope: Scope = "read", public: bool = False) -> list[Any]:
    """Dependencies for ``include_router``: none when ``public``, else the scope guard.

    The dashboard is included the same way: ``app.include_router(ui.router,
    dependencies=guarded("read", public=settings.ui_public))``.
    """
    return [] if public else [Depends(Guard(scope, read_scope=read_scope))]


def install_docs(app: FastAPI, *, public: bool) -> None:
    """When the docs are not public, serve ``/openapi.json``, ``/docs`` and ``/redoc`` behind ``read``."""
    if public:
        return
    deps = guarded("read")

    @app.get("/openapi.json", include_in_schema=False, dependencies=deps)
    def openapi() -> JSONResponse:
        return JSONResponse(app.openapi())

    @app.get("/docs", include_in_schema=False, dependencies=deps)
    def swagger() -> HTMLResponse:
        return get_swagger_ui_html(openapi_url="/openapi.json", title=f"{app.title} - docs")

    @app.get("/redoc", include_in_schema=False, dependencies=deps)
    def redoc() -> HTMLResponse:
        return get_redoc_html(openapi_url="/openapi.json", title=f"{app.title} - ReDoc")
