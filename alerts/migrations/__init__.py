"""Alembic branch ``alerts``: the tables in ``alerts/tables.py``."""
