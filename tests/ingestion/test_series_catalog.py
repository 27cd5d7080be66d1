"""The series catalog is used only while it matches the facts and the monitors file it was computed from;
anything else (no file, another format, a corrupt file, changed facts) means the listing is computed."""

from __future__ import annotations

import json
import os
from dataclasses import replace
from pathlib import Path

import pytest

from core.clock import FixedClock
from core.db import make_engine, migrate
from core.errors import InputError
from core.settings import Settings
from ingestion import series_catalog as sc
from ingestion.demo_data import write_demo_export
from ingestion.ingest import Ingestor
from tests.api.series_state import CLOCK


def same(left: list[sc.ListedSeries] | None, right: list[sc.ListedSeries]) -> bool:
    """Equal listings. DuckDB's parallel sums differ from one scan to the next in their last bits (the
    listing prints cents), so spend is compared to a relative 1e-12, everything else exactly."""
    if left is None or len(left) != len(right):
        return False
    return all(
        replace(a, total_spend=0.0) == replace(b, total_spend=0.0)
        and a.total_spend == pytest.approx(b.total_spend, rel=1e-12)
        for a, b in zip(left, right, strict=True)
    )


@pytest.fixture
def ingested(settings: Settings, tmp_path: Path) -> Settings:
    engine = make_engine(settings.database_url)
    migrate(engine)
    write_demo_export(tmp_path / "export", days=10)
    Ingestor(settings, engine, FixedClock(CLOCK.now())).ingest_paths([tmp_path / "export"])
    engine.dispose()
    # The library's ingest leaves the catalog to the listing (`spendsentry ingest` refreshes it).
    assert sc.read_catalog(settings.facts_dir, None) is None
    sc.refresh_catalog(settings)
    return settings


def test_a_refresh_writes_a_fresh_catalog(ingested: Settings) -> None:
    listed = sc.read_catalog(ingested.facts_dir, None)
    assert listed is not None and same(listed, sc.compute_series(ingested))
    assert {s.monitor for s in listed} == {"cost_line", "product"}


def test_no_facts_lists_nothing_and_writes_nothing(settings: Settings) -> None:
    assert sc.series_catalog(settings) == []
    assert not settings.facts_dir.exists()


def test_an_invalid_monitors_file_fails_as_before(ingested: Settings, tmp_path: Path) -> None:
    bad = tmp_path / "monitors.yaml"
    bad.write_text("monitors:\n  - name: x\n    dimensions: [nope]\n")
    with pytest.raises(InputError, match="dimensions"):
        sc.series_catalog(ingested.model_copy(update={"monitors_file": bad}))
    missing = ingested.model_copy(update={"monitors_file": tmp_path / "missing.yaml"})
    with pytest.raises(InputError, match="cannot read"):
        sc.series_catalog(missing)


@pytest.mark.parametrize(
    "spoil",
    [
        lambda doc: {**doc, "format": sc.CATALOG_FORMAT + 1},  # written by another version
        lambda doc: {**doc, "monitors": "0" * 64},
        lambda doc: {**doc, "series": [{"product": "x"}]},
        lambda doc: [doc],
    ],
)
def test_a_catalog_that_does_not_match_is_not_used(ingested: Settings, spoil: object) -> None:
    path = sc.catalog_path(ingested.facts_dir)
    doc = json.loads(path.read_text())
    path.write_text(json.dumps(spoil(doc)))  # type: ignore[operator]
    assert sc.read_catalog(ingested.facts_dir, None) is None
    assert same(sc.series_catalog(ingested), sc.compute_series(ingested))
    assert sc.read_catalog(ingested.facts_dir, None) is not None  # rewritten
    path.write_text("{not json")
    assert sc.read_catalog(ingested.facts_dir, None) is None


def test_a_rewritten_partition_makes_it_stale(ingested: Settings) -> None:
    partition = next(ingested.facts_dir.glob("*/*/facts.parquet"))
    os.replace(partition, partition.with_name("moved"))
    os.replace(partition.with_name("moved"), partition)  # same bytes, same times: a new change time
    assert sc.read_catalog(ingested.facts_dir, None) is None


def test_facts_changed_during_the_listing_are_not_stamped(
    ingested: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    sc.catalog_path(ingested.facts_dir).unlink()
    compute = sc.compute_series

    def racing(settings: Settings) -> list[sc.ListedSeries]:
        listed = compute(settings)
        partition = next(settings.facts_dir.glob("*/*/facts.parquet"))
        partition.write_bytes(partition.read_bytes())  # an ingest replacing a period meanwhile
        return listed

    monkeypatch.setattr(sc, "compute_series", racing)
    assert sc.build_catalog(ingested)
    assert not sc.catalog_path(ingested.facts_dir).exists()


def test_a_catalog_that_cannot_be_written_still_lists(
    ingested: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    sc.catalog_path(ingested.facts_dir).unlink()

    def read_only(*_: object) -> None:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(sc.os, "replace", read_only)  # a data folder the user may not write
    assert same(sc.series_catalog(ingested), sc.compute_series(ingested))
    assert list(ingested.facts_dir.glob("*catalog*")) == []  # no temporary file left either
