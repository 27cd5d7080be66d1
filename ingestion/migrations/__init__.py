"""Alembic branch ``ingestion``: the tables in ``ingestion/tables.py``."""
