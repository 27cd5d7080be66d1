"""``/v1/tokens``: create (the token is shown once), list and revoke API tokens; ``admin`` scope.

Tokens set by ``SPENDSENTRY_API_TOKENS`` are listed too (``source: settings``) but can only be changed
there. While no token exists the API is open, so the first admin token can be created without one.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, Field
from sqlalchemy import Engine, delete, insert, select
from sqlalchemy.exc import IntegrityError
from starlette.concurrency import run_in_threadpool

from api.auth import NAME_PATTERN, Authenticator, Principal, Scope, hash_token, new_token
from api.deps import ClockDep, EngineDep
from api.tables import api_tokens
from api.token_auth import MAX_MATCHERS, matchers_from_text, matchers_text, parse_token_matchers
from core.errors import ConflictError, NotFoundError

router = APIRouter(prefix="/v1/tokens", tags=["tokens"])


class TokenIn(BaseModel):
    name: str = Field(..., pattern=NAME_PATTERN.pattern, description="unique; letters, digits, . _ -")
    scopes: list[Scope] = Field(..., min_length=1, max_length=4)
    matchers: list[str] = Field(
        default_factory=list,
        max_length=MAX_MATCHERS,
        description='the token\'s slice, in the routing syntax: ["product=checkout", "team=payments"]; '
        "every read and write is held to it (admin tokens are never restricted). Empty: everything",
    )


class TokenOut(BaseModel):
    id: str
    name: str
    scopes: list[str]
    matchers: list[str] = Field(default_factory=list)
    source: Literal["settings", "api"]
    created_at: datetime | None = None
    created_by: str | None = None


class TokenCreated(TokenOut):
    token: str = Field(..., description="shown only in this answer: store it now")


def _authenticator(request: Request) -> Authenticator:
    auth: Authenticator = request.app.state.auth
    return auth


def _create(engine: Engine, auth: Authenticator, body: TokenIn, at: datetime, by: str | None) -> TokenCreated:
    if any(t.name == body.name for t in auth.configured):
        raise ConflictError(f"a token named {body.name!r} is set by SPENDSENTRY_API_TOKENS")
    matchers = parse_token_matchers(body.matchers, "matchers")
    token, token_id = new_token(), str(uuid.uuid4())
    scopes: list[str] = sorted(set(body.scopes))
    try:
        with engine.begin() as conn:
            conn.execute(
                insert(api_tokens).values(
                    id=token_id,
                    name=body.name,
                    token_hash=hash_token(token),
                    scopes=" ".join(scopes),
                    created_at=at,
                    created_by=by,
                    matchers=matchers_text(matchers) or None,
                )
            )
    except IntegrityError:
        raise ConflictError(f"a token named {body.name!r} exists already") from None
    return TokenCreated(
        id=token_id,
        name=body.name,
        scopes=scopes,
        matchers=[str(m) for m in matchers],
        source="api",
        created_at=at,
        created_by=by,
        token=token,
    )


def _list(engine: Engine, auth: Authenticator) -> list[TokenOut]:
    out = [
        TokenOut(
            id=f"settings:{t.name}",
            name=t.name,
            scopes=sorted(t.scopes),
            matchers=[str(m) for m in t.matchers],
            source="settings",
        )
        for t in auth.configured
    ]
    with engine.connect() as conn:
        rows = conn.execute(
            select(
                api_tokens.c.id,
                api_tokens.c.name,
                api_tokens.c.scopes,
                api_tokens.c.created_at,
                api_tokens.c.created_by,
                api_tokens.c.matchers,
            ).order_by(api_tokens.c.created_at, api_tokens.c.name)
        ).all()
    out += [
        TokenOut(
            id=r.id,
            name=r.name,
            scopes=sorted(str(r.scopes).split()),
            matchers=[str(m) for m in matchers_from_text(r.matchers)],
            source="api",
            created_at=r.created_at,
            created_by=r.created_by,
        )
        for r in rows
    ]
    return out


def _delete(engine: Engine, token_id: str) -> None:
    if token_id.startswith("settings:"):
        raise ConflictError("this token is set by SPENDSENTRY_API_TOKENS: remove it there")
    with engine.begin() as conn:
        if conn.execute(delete(api_tokens).where(api_tokens.c.id == token_id)).rowcount == 0:
            raise NotFoundError(f"no token {token_id}")


@router.post("", status_code=201, response_model=TokenCreated)
async def create_token(
    body: TokenIn, request: Request, response: Response, engine: EngineDep, clock: ClockDep
) -> TokenCreated:
    """Create a token with the given scopes. The token is in this answer only; the server keeps a hash."""
    principal: Principal | None = getattr(request.state, "principal", None)
    by = principal.name if principal is not None and principal.source != "open" else None
    request.state.audit_target = body.name  # the audit log keeps the new token's name, never its value
    created = await run_in_threadpool(_create, engine, _authenticator(request), body, clock.now(), by)
    response.headers["Cache-Control"] = "no-store"  # no proxy or browser cache keeps the token
    return created


@router.get("", response_model=list[TokenOut])
async def list_tokens(request: Request, engine: EngineDep) -> list[TokenOut]:
    """Every token's name, scopes and origin; never the token or its hash."""
    return await run_in_threadpool(_list, engine, _authenticator(request))


@router.delete("/{token_id}", status_code=204)
async def revoke_token(token_id: str, engine: EngineDep) -> None:
    """Revoke a token created through the API; it stops working at once."""
    await run_in_threadpool(_delete, engine, token_id)
