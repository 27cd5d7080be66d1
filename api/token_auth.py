"""Bearer tokens with scopes, without HTTP: parsing ``SPENDSENTRY_API_TOKENS``, hashing and checking.

A token may also carry label matchers (``product=checkout``, the routing tree's syntax): its *slice*. A
scoped token reads and writes only what its matchers select (``api.scoping``); an ``admin`` token is
never restricted.

The HTTP guard (``api.auth``) and the MCP server (``api.mcp_server``) both resolve a presented token to a
``Principal`` here, so a token means the same thing at either door. Only SHA-256 digests are kept, in
memory for the tokens from settings and in ``api_tokens`` for those created through the API. With no
token anywhere access is open, as for a local demo.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal, get_args

from pydantic import SecretStr
from sqlalchemy import Engine, select
from sqlalchemy.exc import SQLAlchemyError

from alerts.matchers import Matcher, parse_matcher
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


MAX_MATCHERS = 20


def parse_token_matchers(items: Sequence[str], where: str) -> tuple[Matcher, ...]:
    """A token's slice: label matchers, as routes write them. Errors name ``where`` and the matcher."""
    texts = [t.strip() for t in items if t.strip()]
    if len(texts) > MAX_MATCHERS:
        raise InputError(where, f"{len(texts)} matchers; at most {MAX_MATCHERS}")
    return tuple(parse_matcher(t, f"{where}.matchers[{i}]") for i, t in enumerate(texts))


def matchers_text(matchers: Sequence[Matcher]) -> str:
    """Matchers as stored in ``api_tokens.matchers``: ``;``-separated canonical forms (values quoted)."""
    return ";".join(str(m) for m in matchers)


def _split_matchers(text: str) -> list[str]:
    # Values are quoted in the stored form, so a `;` inside quotes belongs to the value.
    parts, current, quote, escaped = [], "", "", False
    for ch in text:
        if escaped:
            current, escaped = current + ch, False
            continue
        if ch == "\\" and quote:
            current, escaped = current + ch, True
            continue
        if ch in "\"'" and (not quote or quote == ch):
            quote = "" if quote else ch
        if ch == ";" and not quote:
            parts.append(current)
            current = ""
            continue
        current += ch
    parts.append(current)
    return parts


def matchers_from_text(text: str | None, where: str = "matchers") -> tuple[Matcher, ...]:
    return parse_token_matchers(_split_matchers(text), where) if text else ()


@dataclass(frozen=True)
class ConfiguredToken:
    """A token from settings, kept as its digest only."""

    name: str
    scopes: frozenset[str]
    digest: str = field(repr=False)
    matchers: tuple[Matcher, ...] = ()


@dataclass(frozen=True)
class Principal:
    """Who is calling: the token's name, scopes and slice (``open`` when the API has no tokens at all).

    ``matchers`` restrict every read and write to the labels they select, unless the token is ``admin``.
    """

    name: str
    scopes: frozenset[str]
    source: Literal["settings", "api", "open"]
    matchers: tuple[Matcher, ...] = ()

    @property
    def restricted(self) -> bool:
        return bool(self.matchers) and "admin" not in self.scopes


OPEN = Principal("anonymous", frozenset(SCOPES), "open")


def parse_token_setting(value: SecretStr | str | None) -> list[ConfiguredToken]:
    """Parse ``name:token:scope+scope[:matcher;matcher],...``. Errors name the entry by position and name,
    never the token. The fourth field (a slice of label matchers) is optional."""
    raw = value.get_secret_value() if isinstance(value, SecretStr) else (value or "")
    tokens: list[ConfiguredToken] = []
    for i, entry in enumerate(e.strip() for e in raw.split(",")):
        if not entry:
            continue
        where = f"{SETTING}[{i}]"
        name, _, rest = entry.partition(":")
        token, sep, scopes = rest.rpartition(":")
        matchers = ""
        if sep and not _looks_like_scopes(scopes):
            # A fourth field: the token is then the part between the first and the last-but-one colon.
            # Matcher values may hold colons (`cost_line=a:b`), scopes never do, so split at the scopes.
            matchers_at = _scopes_field(rest)
            if matchers_at is not None:
                token, scopes, matchers = (
                    rest[: matchers_at[0]],
                    rest[matchers_at[0] + 1 : matchers_at[1]],
                    rest[matchers_at[1] + 1 :],
                )
        name = name.strip()
        if not sep or not token:
            raise InputError(where, "expected name:token:scope+scope[:matcher;matcher]")
        if not NAME_PATTERN.match(name):
            raise InputError(where, "the name must be letters, digits, '.', '_' or '-' (at most 100)")
        where = f"{SETTING}[{name}]"
        if len(token) < MIN_TOKEN_LENGTH:
            raise InputError(where, f"token shorter than {MIN_TOKEN_LENGTH} characters")
        if any(t.name == name for t in tokens):
            raise InputError(where, "the same name twice")
        tokens.append(
            ConfiguredToken(
                name,
                parse_scopes(scopes, where),
                hash_token(token),
                parse_token_matchers(_split_matchers(matchers), where) if matchers else (),
            )
        )
    return tokens


def _looks_like_scopes(text: str) -> bool:
    return bool(text.strip()) and all(p in SCOPES for p in text.replace("+", " ").split())


def _scopes_field(rest: str) -> tuple[int, int] | None:
    """Where the scopes field of ``token:scopes:matchers`` is: the first colon-delimited field, after
    the token, made of scope names only (a token is 16+ characters and never only scope names)."""
    colons = [i for i, ch in enumerate(rest) if ch == ":"]
    for a, b in itertools.pairwise(colons):
        if _looks_like_scopes(rest[a + 1 : b]):
            return a, b
    return None


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
        if match is None:
            return None
        return Principal(match.name, match.scopes, "settings", match.matchers)

    def authenticate(self, token: str) -> Principal | None:
        found = self.configured_principal(token)
        if found is not None:
            return found
        return self.authenticate_digest(hash_token(token))

    def authenticate_digest(self, digest: str) -> Principal | None:
        """The principal of a token known by its digest (a dashboard session keeps only the digest)."""
        for candidate in self.configured:
            if hmac.compare_digest(digest, candidate.digest):
                return Principal(candidate.name, candidate.scopes, "settings", candidate.matchers)
        try:
            with self.engine.connect() as conn:
                row = conn.execute(
                    select(
                        api_tokens.c.name, api_tokens.c.scopes, api_tokens.c.token_hash, api_tokens.c.matchers
                    ).where(api_tokens.c.token_hash == digest)
                ).first()
        except SQLAlchemyError as exc:
            raise StoreError(f"token store unreachable ({type(exc).__name__})") from None
        # The index lookup is by digest: its timing reveals at most a digest prefix of the caller's own
        # guess, which gives nothing towards a preimage. The final check is constant-time all the same.
        if row is None or not hmac.compare_digest(str(row.token_hash), digest):
            return None
        return Principal(
            str(row.name), frozenset(str(row.scopes).split()), "api", matchers_from_text(row.matchers)
        )
