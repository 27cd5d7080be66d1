"""Tables owned by the API: bearer tokens created through ``POST /v1/tokens``.

Only a SHA-256 digest of each token is stored: tokens are 256-bit random strings, so a digest cannot be
turned back into a token, and a leaked database grants nothing.
"""

from __future__ import annotations

from sqlalchemy import Column, DateTime, MetaData, String, Table

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
)
