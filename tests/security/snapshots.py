"""Snapshots of everything a rejected input must leave alone: the Parquet facts and every state table."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine, MetaData, select


def facts_snapshot(root: Path) -> dict[str, bytes]:
    """Every file under the fact store (staging and temporary files included), by path, with its bytes."""
    if not root.exists():
        return {}
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def db_snapshot(engine: Engine) -> dict[str, list[tuple[object, ...]]]:
    """Every row of every table, sorted, so that any insert, update or delete shows. The audit log is left
    out: it records refused writes too, by design (``tests/security/test_access_records.py``)."""
    meta = MetaData()
    meta.reflect(engine)
    out: dict[str, list[tuple[object, ...]]] = {}
    with engine.connect() as conn:
        for name, table in sorted(meta.tables.items()):
            if name == "api_audit":
                continue
            rows = conn.execute(select(table)).all()
            out[name] = sorted((tuple(r) for r in rows), key=repr)
    return out
