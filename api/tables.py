"""Tables owned by the API: bearer tokens created through ``POST /v1/tokens``, dashboard sessions and
the audit log of writes.

Only a SHA-256 digest of each token is stored: tokens are 256-bit random strings, so a digest cannot be
turned back into a token, and a leaked database grants nothing.
"""

from __future__ import annotations

from sqlalchemy import Column, DateTime, Index, Integer, MetaData, String, Table, Text

metadata = MetaData()

api_tokens = Table(
    "api_tokens",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("name", String(100), nullable=False, unique=True),
    Column("token_hash", String(64), nullable=False, unique=True),  # hex SHA-256 of the token
    Column("scopes", String(100), nullable=False),  # space-separated: "read score"
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("created_by", String(100)),  # name of the admin token that created it, if any
    Column("matchers", Text),  # the token's slice: ";"-separated label matchers; null = everything
)

# A dashboard session: the SHA-256 of its random id (the cookie holds the id itself) and the digest of
# the token it was signed in with, so that revoking the token ends its sessions too.
api_sessions = Table(
    "api_sessions",
    metadata,
    Column("id_hash", String(64), primary_key=True),
    Column("token_hash", String(64), nullable=False),
    Column("token_name", String(100), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
)

# One row per write (and per refused write): who, what, when, the request id. Never a body or a secret.
api_audit = Table(
    "api_audit",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("token_name", String(100), nullable=False),
    Column("method", String(10), nullable=False),
    Column("path", String(300), nullable=False),  # the route's template: /v1/incidents/{incident_id}/...
    Column("target", String(300)),  # the id or name written, when the request names one
    Column("status", Integer, nullable=False),
    Column("request_id", String(64)),
    Index("ix_api_audit_at", "at"),
    Index("ix_api_audit_token_name", "token_name"),
)
