"""Bearer tokens with scopes: parsing ``SPENDSENTRY_API_TOKENS``, hashing, checking, and the guard.

Scopes: ``read`` (every GET), ``score`` (``/v1/score``, ``/v1/root-causes``), ``write`` (spend, feedback,
budgets, expected changes, sweeps, trainings) and ``admin`` (``/v1/tokens``). Scopes are independent: a
token gets what it lists, so a scoring client can score without reading incidents.

Only SHA-256 digests are kept, in memory for the tokens from settings and in ``api_tokens`` for those
created through the API. With no token anywhere the API is open, as for a local demo; the first token
created (or set) closes it. Tokens never appear in logs, errors or responses, except once in the answer
that creates one.

The dashboard signs in once (``api.ui.sign_in``): the guard then also accepts the session cookie, and
for a write it also wants the session's CSRF token in the ``X-CSRF-Token`` header. Scoring and writes
take one request from the token's bucket (``api.fair_use``); an empty bucket is a 429 with Retry-After.
"""

from __future__ import annotations

import logging
from typing import Annotated, Any

from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from fastapi.security.utils import get_authorization_scheme_param
from starlette.concurrency import run_in_threadpool

from api.fair_use import FairUse, is_limited
from api.sessions import COOKIE, CSRF_HEADER, SessionStore, csrf_matches

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
    "PageGuard",
    "Principal",
    "Scope",
    "bearer_security",
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


def _path(request: Request) -> str:
    """The path :func:`is_limited` needs: only a read's (a write counts whatever its path), so a write
    does not pay for building ``request.url``, a measurable share of a scoring request."""
    return request.url.path if request.method in SAFE_METHODS else ""


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

    async def check(self, request: Request) -> Principal:
        """The guard called by a route itself (``/v1/score``), with the same bearer parsing as the
        dependency: FastAPI's dependency solving costs a hot route more than the check does.

        A bearer token from the settings (what a scoring client sends) is read from the header as
        ``HTTPBearer`` reads it, without its credentials object; anything else goes the dependency's way."""
        authorization = request.headers.get("Authorization")
        scheme, credentials = get_authorization_scheme_param(authorization)
        if authorization and credentials and scheme.lower() == "bearer":
            auth: Authenticator = request.app.state.auth
            known = auth.configured_principal(credentials)
            if known is not None:
                return self._admit(request, known)
        return await self(request, await _bearer(request))

    def _resolve(self, request: Request, credentials: HTTPAuthorizationCredentials | None) -> Principal:
        auth: Authenticator = request.app.state.auth
        session_id = request.cookies.get(COOKIE)
        if auth.is_open():
            principal = OPEN
        elif credentials is None and session_id:
            principal = self._from_session(request, auth, session_id)
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

    def _from_session(self, request: Request, auth: Authenticator, session_id: str) -> Principal:
        """The principal of a dashboard session; a write also needs the session's CSRF token."""
        sessions: SessionStore = request.app.state.sessions
        session = sessions.find(session_id, request.app.state.clock.now())
        found = auth.authenticate_digest(session.token_hash) if session is not None else None
        if found is None:
            log.info("401 %s %s: unknown or expired session", request.method, request.url.path)
            raise self._no_session()
        request.state.principal = found  # known, even when refused below: the audit log names it
        if request.method not in SAFE_METHODS and not csrf_matches(
            session_id, request.headers.get(CSRF_HEADER)
        ):
            log.info(
                "403 %s %s: session of %r without its CSRF token",
                request.method,
                request.url.path,
                found.name,
            )
            raise HTTPException(403, detail="the X-CSRF-Token header is missing or wrong for this session")
        return found

    def _no_session(self) -> HTTPException:
        return _unauthorized("the session has expired or was signed out: sign in again", invalid=True)

    def _admit(self, request: Request, principal: Principal) -> Principal:
        request.state.principal = principal  # the audit log names a refused caller too
        needed = self.read_scope if request.method in SAFE_METHODS else self.scope
        if needed not in principal.scopes:
            log.info("403 %s %s: token %r lacks %s", request.method, request.url.path, principal.name, needed)
            raise HTTPException(403, detail=f"this token lacks the '{needed}' scope")
        fair_use: FairUse | None = getattr(request.app.state, "fair_use", None)
        if principal.source != "open" and fair_use is not None and is_limited(request.method, _path(request)):
            wait = fair_use.take(principal.name)
            if wait:
                log.info(
                    "429 %s %s: token %r over its rate", request.method, request.url.path, principal.name
                )
                raise HTTPException(
                    429,
                    detail=f"too many requests for this token: retry in {wait} s",
                    headers={"Retry-After": str(wait)},
                )
        return principal


class PageGuard(Guard):
    """The dashboard's guard: like ``Guard``, but a page asked for without credentials is sent to the
    sign-in page (303) instead of answering 401."""

    def _resolve(self, request: Request, credentials: HTTPAuthorizationCredentials | None) -> Principal:
        try:
            return super()._resolve(request, credentials)
        except HTTPException as exc:
            if exc.status_code != 401 or request.method not in SAFE_METHODS:
                raise
            from urllib.parse import quote

            target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            raise HTTPException(
                303,
                detail="sign in first",
                headers={"Location": f"/ui/sign-in?next={quote(target, safe='')}"},
            ) from None


def bearer_security() -> dict[str, Any]:
    """``openapi_extra`` naming the bearer scheme as the guard dependency does, for a route that calls
    :meth:`Guard.check` itself: its OpenAPI operation stays the same."""
    return {"security": [{_bearer.scheme_name: []}]}


def guarded(
    scope: Scope, *, read_scope: Scope = "read", public: bool = False, pages: bool = False
) -> list[Any]:
    """Dependencies for ``include_router``: none when ``public``, else the scope guard.

    The dashboard is included with ``pages=True``: ``app.include_router(ui.router,
    dependencies=guarded("read", public=settings.ui_public, pages=True))``.
    """
    if public:
        return []
    guard = PageGuard if pages else Guard
    return [Depends(guard(scope, read_scope=read_scope))]


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
