"""Bearer tokens with scopes, without HTTP: parsing ``SPENDSENTRY_API_TOKENS``, hashing and checking.

The HTTP guard (``api.auth``) and the MCP server (``api.mcp_server``) both resolve a presented token to a
``Principal`` here, so a token means the same thing at either door. Only SHA-256 digests are kept, in
memory for the tokens from settings and in ``api_tokens`` for those created through the API. With no
token anywhere access is open, as for a local demo.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal, get_args

from pydantic import SecretStr
from sqlalchemy import Engine, select
from sqlalchemy.exc import SQLAlchemyError

from api.tables import api_tokens
from core.errors import InputError, StoreError

Scope = Literal["read", "score", "write", "admin"]
SCOPES: tuple[str, ...] = get_args(Scope)
SETTING = "SPENDSENTRY_API_TOKENS"
# Tokens from settings are chosen by people: too short a token could be guessed from its unsalted digest.
MIN_TOKEN_LENGTH = 16
TOKEN_PREFIX = "sst_"
NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,99}$")


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
