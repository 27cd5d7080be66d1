"""Alembic branch ``api``: the tables of :mod:`api.tables`."""
