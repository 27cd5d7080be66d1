"""Alembic branch ``models``: the tables in ``models/tables.py``."""
