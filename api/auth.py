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

import hashlib
import hmac
import logging
import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal, get_args

from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import SecretStr
from sqlalchemy import Engine, select
from sqlalchemy.exc import SQLAlchemyError
from starlette.concurrency import run_in_threadpool

from api.tables import api_tokens
from core.errors import InputError, StoreError

log = logging.getLogger(__name__)

Scope = Literal["read", "score", "write", "admin"]
SCOPES: tuple[str, ...] = get_args(Scope)
SETTING = "SPENDSENTRY_API_TOKENS"
# Tokens from settings are chosen by people: too short a token could be guessed from its unsalted digest.
MIN_TOKEN_LENGTH = 16
TOKEN_PREFIX = "sst_"
NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,99}$")
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def hash_token(token: str) -> str:
    """Hex SHA-256. Unsalted on purpose: tokens are random, and lookup by digest must be possible."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def new_token() -> str:
    """A token with 256 bits of randomness; the prefix lets secret scanners recognise a leaked one."""
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def parse_scopes(text: str | Sequence[str], where: str) -> frozenset[str]:
    parts = text.replace("+", " ").split() if isinstance(text, str) else list(text)
    unknown = sorted(set(parts) - set(SCOPES))
    if unknown:
        raise InputError(where, f"unknown scope(s) {', '.join(unknown)}; one of {', '.join(SCOPES)}")
    if not parts:
        raise InputError(where, f"at least one scope is needed: {', '.join(SCOPES)}")
    return frozenset(parts)


@dataclass(frozen=True)
class ConfiguredToken:
    """A token from settings, kept as its digest only."""

    name: str
    scopes: frozenset[str]
    digest: str = field(repr=False)


@dataclass(frozen=True)
class Principal:
    """Who is calling: the token's name and scopes (``open`` when the API has no tokens at all)."""

    name: str
    scopes: frozenset[str]
    source: Literal["settings", "api", "open"]


OPEN = Principal("anonymous", frozenset(SCOPES), "open")


def parse_token_setting(value: SecretStr | str | None) -> list[ConfiguredToken]:
    """Parse ``name:token:scope+scope,...``. Errors name the entry by position and name, never the token."""
    raw = value.get_secret_value() if isinstance(value, SecretStr) else (value or "")
    tokens: list[ConfiguredToken] = []
    for i, entry in enumerate(e.strip() for e in raw.split(",")):
        if not entry:
            continue
        where = f"{SETTING}[{i}]"
        name, _, rest = entry.partition(":")
        token, sep, scopes = rest.rpartition(":")
        name = name.strip()
        if not sep or not token:
            raise InputError(where, "expected name:token:scope+scope")
        if not NAME_PATTERN.match(name):
            raise InputError(where, "the name must be letters, digits, '.', '_' or '-' (at most 100)")
        where = f"{SETTING}[{name}]"
        if len(token) < MIN_TOKEN_LENGTH:
            raise InputError(where, f"token shorter than {MIN_TOKEN_LENGTH} characters")
        if any(t.name == name for t in tokens):
            raise InputError(where, "the same name twice")
        tokens.append(ConfiguredToken(name, parse_scopes(scopes, where), hash_token(token)))
    return tokens


class Authenticator:
    """Resolves a presented token to a ``Principal``: settings first (in memory), then the database."""

    def __init__(self, configured: Sequence[ConfiguredToken], engine: Engine) -> None:
        self.configured = tuple(configured)
        self.engine = engine

    def __repr__(self) -> str:
        return f"Authenticator(configured={[t.name for t in self.configured]})"

    def is_open(self) -> bool:
        """True when no token exists anywhere: then every request is allowed (the local demo)."""
        if self.configured:
            return False
        try:
            with self.engine.connect() as conn:
                return conn.execute(select(api_tokens.c.id).limit(1)).first() is None
        except SQLAlchemyError as exc:
            raise StoreError(f"token store unreachable ({type(exc).__name__})") from None

    def configured_principal(self, token: str) -> Principal | None:
        """The principal of a token from the settings (no I/O), else None."""
        digest = hash_token(token)
        match: ConfiguredToken | None = None
        # Every configured digest is compared, in constant time, so timing tells nothing of which matched.
        for candidate in self.configured:
            if hmac.compare_digest(digest, candidate.digest):
                match = candidate
        return Principal(match.name, match.scopes, "settings") if match is not None else None

    def authenticate(self, token: str) -> Principal | None:
        found = self.configured_principal(token)
        if found is not None:
            return found
        digest = hash_token(token)
        try:
            with self.engine.connect() as conn:
                row = conn.execute(
                    select(api_tokens.c.name, api_tokens.c.scopes, api_tokens.c.token_hash).where(
                        api_tokens.c.token_hash == digest
                    )
                ).first()
        except SQLAlchemyError as exc:
            raise StoreError(f"token store unreachable ({type(exc).__name__})") from None
        # The index lookup is by digest: its timing reveals at most a digest prefix of the caller's own
        # guess, which gives nothing towards a preimage. The final check is constant-time all the same.
        if row is None or not hmac.compare_digest(str(row.token_hash), digest):
            return None
        return Principal(str(row.name), frozenset(str(row.scopes).split()), "api")


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
