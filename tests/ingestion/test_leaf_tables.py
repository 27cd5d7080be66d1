"""Several series' leaf cubes in one scan (what a sweep explains its anomalies with) equal one scan each."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import Engine

from core.errors import InputError
from core.types import Granularity
from tests.ingestion.test_ingest import make_ingestor


def test_leaf_tables_equal_each_series_leaf_table(shared_data: Path, tmp_path: Path, engine: Engine) -> None:
    ing = make_ingestor(tmp_path, engine)
    ing.ingest_paths([shared_data / "focus" / "focus_1.0_sample_1000.csv"])
    store = ing.store
    infos = sorted(store.list_series(), key=lambda i: -i.total_spend)[:3]
    assert len(infos) == 3
    keys = [(i.product, i.cost_line, i.currency) for i in infos]
    window = {"start": datetime(2000, 1, 1), "end": datetime(2100, 1, 1), "by_period": Granularity.DAY}
    together = store.leaf_tables([*keys, keys[0]], **window)  # a repeated key is read once
    assert set(
        map(tuple, together[["product", "cost_line", "currency"]].drop_duplicates().to_numpy())
    ) == set(keys)
    for product, cost_line, currency in keys:
        alone = store.leaf_table(product, cost_line, currency, **window)
        mine = together[
            (together["product"] == product)
            & (together["cost_line"] == cost_line)
            & (together["currency"] == currency)
        ].drop(columns=["product", "cost_line", "currency"])
        assert len(alone) > 0
        pd.testing.assert_frame_equal(mine.reset_index(drop=True), alone.reset_index(drop=True))


def test_leaf_tables_name_a_bad_dimension_and_accept_no_series(tmp_path: Path, engine: Engine) -> None:
    store = make_ingestor(tmp_path, engine).store
    window = {"start": datetime(2026, 1, 1), "end": datetime(2026, 2, 1)}
    assert store.leaf_tables([], **window).empty
    with pytest.raises(InputError) as err:
        store.leaf_tables([("p", "c", "USD")], dimensions=["region; DROP"], **window)
    assert err.value.field == "dimensions"
