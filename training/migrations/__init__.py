"""Alembic branch ``training``: the tables in ``training/tables.py``."""
