"""The MCP server's access rules, on a real state database: they mirror the HTTP API's."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
from pydantic import SecretStr
from sqlalchemy import Engine, delete, insert

from api.mcp_server.access import Access, AccessDenied
from api.tables import api_tokens
from api.token_auth import hash_token, new_token
from core.errors import InputError
from core.settings import Settings

READER = "reader-token-0123456789"


def _settings(settings: Settings, **values: object) -> Settings:
    return settings.model_copy(update=values)


def _add_token(engine: Engine, scopes: str) -> str:
    token = new_token()
    with engine.begin() as conn:
        conn.execute(
            insert(api_tokens).values(
                id=str(uuid.uuid4()),
                name=f"t-{uuid.uuid4().hex[:6]}",
                token_hash=hash_token(token),
                scopes=scopes,
                created_at=datetime.now(UTC),
            )
        )
    return token


def test_open_without_any_token_and_closed_by_the_first_one(engine: Engine, settings: Settings) -> None:
    access = Access.from_settings(settings, engine)
    assert access.principal().source == "open"
    assert access.require("write").name == "anonymous"
    _add_token(engine, "read")  # as POST /v1/tokens would: the HTTP API closes, and so does MCP
    with pytest.raises(InputError, match="SPENDSENTRY_MCP_TOKEN: a token is needed"):
        access.principal()
    with pytest.raises(AccessDenied, match="a token is needed"):
        access.require("read")


def test_scopes_of_a_settings_token_and_a_database_token(engine: Engine, settings: Settings) -> None:
    configured = _settings(settings, api_tokens=SecretStr(f"reader:{READER}:read+score"))
    reader = Access.from_settings(_settings(configured, mcp_token=SecretStr(READER)), engine)
    assert reader.require("score").name == "reader"
    with pytest.raises(AccessDenied, match=r"the token 'reader' lacks the 'write' scope"):
        reader.require("write")
    token = _add_token(engine, "read write")
    writer = Access.from_settings(_settings(configured, mcp_token=SecretStr(token)), engine)
    assert writer.require("write").source == "api"
    with pytest.raises(AccessDenied, match="lacks the 'score' scope"):
        writer.require("score")
    with engine.begin() as conn:  # revoked: refused at the next call, as over HTTP
        conn.execute(delete(api_tokens).where(api_tokens.c.token_hash == hash_token(token)))
    with pytest.raises(AccessDenied, match="unknown or revoked token") as caught:
        writer.require("read")
    assert token not in str(caught.value) and token not in repr(writer)


def test_a_token_restricted_by_label_matchers_is_refused(engine: Engine, settings: Settings) -> None:
    # The MCP tools read and write across products: a scoped token is refused, not half-served.
    configured = _settings(settings, api_tokens=SecretStr(f"team:{READER}:read:product=checkout"))
    access = Access.from_settings(_settings(configured, mcp_token=SecretStr(READER)), engine)
    with pytest.raises(AccessDenied, match="'team' is restricted by label matchers"):
        access.require("read")
    admin = _settings(settings, api_tokens=SecretStr(f"team:{READER}:read+admin:product=checkout"))
    assert (
        Access.from_settings(_settings(admin, mcp_token=SecretStr(READER)), engine).require("read").name
        == "team"
    )
