"""Monitor series read from the facts add up: a product total is the sum of its cost lines, an account the
sum of its facts, the listing names exactly the frame's series, and the leaf tables sum to the series."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import Engine

from core.monitors import PRODUCT_MONITOR, Monitor
from core.types import Granularity
from ingestion.fact_store import FactStore
from ingestion.monitor_facts import list_monitor_series, monitor_leaf_tables, usable, wide_monitor_series
from tests.ingestion.test_ingest import make_ingestor

ACCOUNT = Monitor("account", ("account",))
TEAM = Monitor("team", ("tag:team",))


@pytest.fixture
def store(shared_data: Path, tmp_path: Path, engine: Engine) -> FactStore:
    ing = make_ingestor(tmp_path, engine)
    ing.ingest_paths([shared_data / "focus" / "focus_1.0_sample_1000.csv"])
    return ing.store


def test_monitor_series_add_up_to_the_facts(store: FactStore) -> None:
    listed = list_monitor_series(store, [PRODUCT_MONITOR, ACCOUNT])
    assert {m.monitor for m in listed} == {PRODUCT_MONITOR, ACCOUNT}
    day = Granularity.DAY
    lines = store.wide_series(day)  # product × cost line, columns product|cost_line|currency
    wide = wide_monitor_series(store, [PRODUCT_MONITOR, ACCOUNT], day)
    daily = [m for m in listed if m.key.granularity is day]
    assert daily and set(wide.columns) >= {m.token for m in daily}
    for series in daily:
        spent = float(np.nansum(wide[series.token].to_numpy()))
        if series.monitor is PRODUCT_MONITOR:
            mine = [
                c
                for c in lines.columns
                if c.startswith(f"{series.key.product}|") and c.endswith(f"|{series.info.currency}")
            ]
            assert spent == pytest.approx(float(np.nansum(lines[mine].to_numpy())), rel=1e-9, abs=1e-6)
        else:
            [(column, account)] = series.key.filters
            direct = store.query(
                "SELECT sum(cost) AS s FROM facts WHERE charge_category = 'Usage' AND account = ? AND currency = ?",
                [account, series.info.currency],
            )["s"].iloc[0]
            assert column == "account" and spent == pytest.approx(float(direct), rel=1e-9, abs=1e-6)
        assert series.info.total_spend == pytest.approx(spent, rel=1e-9, abs=1e-6)
    # The leaf tables of a series sum to it, over the dimensions it does not fix.
    keys = [m.key for m in daily[:4]]
    leaves = monitor_leaf_tables(
        store, keys, start=datetime(2000, 1, 1), end=datetime(2100, 1, 1), by_period=day
    )
    for series in daily[:4]:
        table = leaves[series.key.id]
        assert set(series.key.filters[0][:1]) & set(table.columns) == set()
        assert float(table["actual"].sum()) == pytest.approx(series.info.total_spend, rel=1e-9, abs=1e-6)


def test_a_tag_monitor_needs_its_tag_kept_as_a_dimension(store: FactStore) -> None:
    assert usable(store, [TEAM, ACCOUNT]) == [ACCOUNT]
    assert list_monitor_series(store, [TEAM]) == []
