"""Dashboard sessions: a sign-in exchanges a token for a random session id kept in a cookie.

The server stores only the SHA-256 of the session id and the digest of the token signed in with (so a
revoked token ends its sessions at the next request). The CSRF token of a session is an HMAC of its id:
nothing more to store, and only the holder of the cookie can compute it. Sessions expire after
``SESSION_HOURS``; signing out deletes the row.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import Engine, delete, insert, select
from sqlalchemy.exc import SQLAlchemyError

from api.tables import api_sessions
from api.token_auth import hash_token
from core.errors import StoreError

COOKIE = "spendsentry_session"
CSRF_HEADER = "x-csrf-token"
CSRF_FIELD = "csrf_token"


@dataclass(frozen=True)
class Session:
    """A live session: the digest of its token (to resolve the principal again) and its expiry."""

    token_hash: str = field(repr=False)
    token_name: str
    expires_at: datetime


def csrf_token(session_id: str) -> str:
    return hmac.new(session_id.encode(), b"spendsentry-csrf", hashlib.sha256).hexdigest()


def csrf_matches(session_id: str, presented: str | None) -> bool:
    return presented is not None and hmac.compare_digest(csrf_token(session_id), presented)


def _utc(value: datetime) -> datetime:
    # SQLite gives naive datetimes back: they were written in UTC.
    from datetime import UTC

    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


class SessionStore:
    """Sessions in the state database (``api_sessions``), so every replica knows them."""

    def __init__(self, engine: Engine, hours: float) -> None:
        self.engine = engine
        self.lifetime = timedelta(hours=hours)

    def create(self, token: str, token_name: str, now: datetime) -> str:
        """A new session for ``token``; returns its id (for the cookie only). Expired rows go on the way."""
        session_id = secrets.token_urlsafe(32)
        try:
            with self.engine.begin() as conn:
                conn.execute(delete(api_sessions).where(api_sessions.c.expires_at < now))
                conn.execute(
                    insert(api_sessions).values(
                        id_hash=hash_token(session_id),
                        token_hash=hash_token(token),
                        token_name=token_name,
                        created_at=now,
                        expires_at=now + self.lifetime,
                    )
                )
        except SQLAlchemyError as exc:
            raise StoreError(f"session store unreachable ({type(exc).__name__})") from None
        return session_id

    def find(self, session_id: str, now: datetime) -> Session | None:
        """The live session with this id, or None (unknown, signed out or expired)."""
        try:
            with self.engine.connect() as conn:
                row = conn.execute(
                    select(
                        api_sessions.c.token_hash, api_sessions.c.token_name, api_sessions.c.expires_at
                    ).where(api_sessions.c.id_hash == hash_token(session_id))
                ).first()
        except SQLAlchemyError as exc:
            raise StoreError(f"session store unreachable ({type(exc).__name__})") from None
        if row is None or _utc(row.expires_at) <= now:
            return None
        return Session(str(row.token_hash), str(row.token_name), _utc(row.expires_at))

    def end(self, session_id: str) -> None:
        try:
            with self.engine.begin() as conn:
                conn.execute(delete(api_sessions).where(api_sessions.c.id_hash == hash_token(session_id)))
        except SQLAlchemyError as exc:
            raise StoreError(f"session store unreachable ({type(exc).__name__})") from None
