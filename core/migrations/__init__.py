"""Alembic environment shared by every package's migration branch."""
