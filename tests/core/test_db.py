"""The schema that migrations build matches the tables each package declares, on both databases."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine, MetaData

from alerts.tables import metadata as alerts_metadata
from api.tables import metadata as api_metadata
from core.db import migrate
from ingestion.tables import metadata as ingestion_metadata
from models.tables import metadata as models_metadata
from training.tables import metadata as training_metadata


def declared() -> MetaData:
    combined = MetaData()
    for md in (ingestion_metadata, models_metadata, alerts_metadata, training_metadata, api_metadata):
        for table in md.tables.values():
            table.to_metadata(combined)
    return combined


def test_migrations_match_declared_tables(engine: Engine) -> None:
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), declared())
    # alembic_version is Alembic's own table; everything else must match exactly.
    assert [d for d in diff if not (d[0] == "remove_table" and d[1].name == "alembic_version")] == []


def test_migrate_twice_is_a_no_op(engine: Engine) -> None:
    with engine.connect() as conn:
        before = sorted(MigrationContext.configure(conn).get_current_heads())
    migrate(engine)
    migrate(engine)
    with engine.connect() as conn:
        after = sorted(MigrationContext.configure(conn).get_current_heads())
        assert after == before and "ingestion_0002" in after
        assert conn.exec_driver_sql("SELECT count(*) FROM fact_partitions").scalar() == 0
