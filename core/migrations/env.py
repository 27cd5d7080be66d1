"""Alembic environment: runs migrations on the connection handed over by ``core.db.migrate``."""

from __future__ import annotations

from alembic import context

connection = context.config.attributes.get("connection")
if connection is None:  # pragma: no cover - only reached when alembic is run by hand without a connection
    raise RuntimeError("run migrations through core.db.migrate(engine)")

context.configure(connection=connection, render_as_batch=connection.dialect.name == "sqlite")
with context.begin_transaction():
    context.run_migrations()
