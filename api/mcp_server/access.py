"""Who the MCP server acts as: the token in ``SPENDSENTRY_MCP_TOKEN``, resolved like an HTTP bearer token.

The rules mirror the HTTP API's (``api.auth``): with no token anywhere (neither ``SPENDSENTRY_API_TOKENS``
nor ``POST /v1/tokens``) access is open, as for a local demo; once a token exists one is needed, and its
scopes are what it may do. The token is resolved again on every tool call, so a token revoked through
the API, or the first token created, takes effect at once, as it does over HTTP.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import Engine

from api.token_auth import OPEN, Authenticator, Principal, Scope, parse_token_setting
from core.errors import InputError, SpendSentryError
from core.settings import Settings

SETTING = "SPENDSENTRY_MCP_TOKEN"


class AccessDenied(SpendSentryError):
    """A tool call the current token may not make (the message names the scope, never the token)."""


@dataclass(frozen=True)
class Access:
    """Resolves the configured token to a ``Principal`` and checks scopes."""

    auth: Authenticator
    token: str | None = field(default=None, repr=False)

    @classmethod
    def from_settings(cls, settings: Settings, engine: Engine) -> Access:
        token = settings.mcp_token.get_secret_value().strip() if settings.mcp_token else ""
        return cls(Authenticator(parse_token_setting(settings.api_tokens), engine), token or None)

    def principal(self) -> Principal:
        """The caller now; ``InputError`` naming the setting when the token is missing or unknown."""
        if self.token is not None:
            found = self.auth.authenticate(self.token)
            if found is None:
                raise InputError(SETTING, "unknown or revoked token")
            if found.restricted:
                # The tools read and write across products; rather than serve a slice partly, refuse.
                raise InputError(
                    SETTING,
                    f"the token {found.name!r} is restricted by label matchers: the MCP server needs "
                    "an unrestricted token",
                )
            return found
        if self.auth.is_open():
            return OPEN
        raise InputError(
            SETTING,
            "a token is needed: API tokens are configured, so access is not open "
            "(use one from SPENDSENTRY_API_TOKENS or POST /v1/tokens)",
        )

    def require(self, scope: Scope) -> Principal:
        """The caller, when it holds ``scope``; else ``AccessDenied`` naming the missing scope."""
        try:
            principal = self.principal()
        except InputError as exc:
            raise AccessDenied(str(exc)) from None
        if scope not in principal.scopes:
            raise AccessDenied(
                f"the token {principal.name!r} lacks the '{scope}' scope this tool needs "
                f"(it has: {', '.join(sorted(principal.scopes))})"
            )
        return principal
