"""``spendsentry series`` on its fast path (the series catalog, the registry over the DB-API driver) prints
byte for byte what the listing computed from the facts prints, and the catalog never goes stale: a new
ingest, facts changed behind its back and a changed monitors file all show in the next listing.

The reference is the listing as it was computed before the catalog (DuckDB over the facts, the registry
through SQLAlchemy), kept here verbatim so the comparison does not lean on the code under test.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from api.series_listing import quick_rows, series_rows
from core.db import make_engine, migrate
from core.quick_settings import read_quick_settings
from core.settings import Settings
from core.types import SeriesKey
from ingestion.fact_store import FactStore
from ingestion.series_catalog import catalog_path, read_catalog
from models.registry import ModelRegistry
from tests.api.series_state import trained_state
from tests.conftest import PG_URL
from tests.e2e.helpers import env_for, fresh_database, run_cli
from training.monitors import monitor_series

pytestmark = pytest.mark.slow


def _model_label(entry: object) -> str | None:
    if entry is None:
        return None
    metrics: dict[str, object] = getattr(entry, "metrics", {})
    label = str(getattr(entry, "model_type", None))
    if label == "auto":
        label = f"auto:{metrics.get('selected_model_type')}"
    return label if metrics.get("alerting_ready", True) else f"{label} (cold start)"


def _trained_at(entry: object) -> str | None:
    when = getattr(entry, "trained_at", None)
    return when.isoformat(timespec="seconds") if isinstance(when, datetime) else None


def reference_output(settings: Settings, as_json: bool) -> str:
    """What ``series`` printed before the catalog (its code then, printing into a string)."""
    store = FactStore(settings.facts_dir, memory_limit=settings.duckdb_memory_limit)
    infos = store.list_series()
    engine = make_engine(settings.database_url)
    migrate(engine)
    current = ModelRegistry(engine, settings.models_path).current()
    engine.dispose()
    rows: list[dict[str, Any]] = []
    for i in infos:
        entry = current.get(SeriesKey(i.product, i.cost_line, i.currency, i.granularity).id)
        rows.append(
            {
                "product": i.product,
                "cost_line": i.cost_line,
                "granularity": i.granularity.value,
                "first_period": i.first_period.isoformat(),
                "last_period": i.last_period.isoformat(),
                "points": i.points,
                "total_spend": round(i.total_spend, 2),
                "currency": i.currency,
                "model_type": _model_label(entry),
                "trained_at": _trained_at(entry),
                "monitor": "cost_line",
                "scope": "default",
            }
        )
    for m in monitor_series(settings, store):
        entry = current.get(m.key.id)
        rows.append(
            {
                "product": m.key.product,
                "cost_line": m.key.cost_line,
                "granularity": m.key.granularity.value,
                "first_period": m.info.first_period.isoformat(),
                "last_period": m.info.last_period.isoformat(),
                "points": m.info.points,
                "total_spend": round(m.info.total_spend, 2),
                "currency": m.info.currency,
                "model_type": _model_label(entry),
                "trained_at": _trained_at(entry),
                "monitor": m.monitor.name,
                "scope": m.key.scope,
            }
        )
    if as_json:
        return json.dumps(rows, indent=2) + "\n"
    if not rows:
        return "no series: ingest a FOCUS export first (spendsentry ingest PATH)\n"
    headers = list(rows[0])
    table = [[str(r[h]) if r[h] is not None else "-" for h in headers] for r in rows]
    widths = [max(len(h), *(len(t[i]) for t in table)) for i, h in enumerate(headers)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True))]
    lines += ["  ".join(c.ljust(w) for c, w in zip(t, widths, strict=True)) for t in table]
    return "\n".join(lines) + "\n"


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'var' / 'state.db'}"
        return
    if not PG_URL:
        pytest.skip("SPENDSENTRY_TEST_DATABASE_URL is not set: PostgreSQL variant not run")
    with fresh_database(tmp_path / "unused.db") as url:
        yield url


def _series(workdir: Path, settings: Settings, *args: str, **env: str) -> str:
    res = run_cli(workdir, "series", *args, SPENDSENTRY_DATABASE_URL=settings.database_url, **env)
    assert res.returncode == 0, res.stderr
    return res.stdout


def _assert_lists_as_reference(workdir: Path, settings: Settings, **env: str) -> None:
    for as_json in (False, True):
        printed = _series(workdir, settings, *(["--json"] if as_json else []), **env)
        assert printed == reference_output(settings, as_json)


def _with_new_product(export: Path, out: Path) -> None:
    """One month of the export again under a new billing account, its first product renamed: new series."""
    out.mkdir()
    source = sorted(export.glob("focus_*.csv"))[0]
    text = source.read_text().replace('""product"": ""checkout""', '""product"": ""newproduct""')
    for account in ("412398765012", "583920174466"):
        text = text.replace(f'"{account}"', '"999999999999"')
    (out / source.name).write_text(text)


def test_fast_path_prints_what_the_full_listing_prints(tmp_path: Path, database_url: str) -> None:
    settings = trained_state(tmp_path, database_url)
    # The ingest wrote the catalog, and the listing's settings are read without pydantic-settings.
    assert read_catalog(settings.facts_dir, None) is not None
    quick = read_quick_settings(env_for(tmp_path, SPENDSENTRY_DATABASE_URL=database_url), cwd=tmp_path)
    assert quick is not None and quick.facts_dir == settings.facts_dir
    fast = quick_rows(quick)
    assert fast is not None and any(r["model_type"] for r in fast)  # the registry was read
    assert fast == series_rows(settings, fast=False) == series_rows(settings)
    _assert_lists_as_reference(tmp_path, settings)
    # Without the catalog, the listing is computed, printed the same, and the catalog written again.
    catalog_path(settings.facts_dir).unlink()
    _assert_lists_as_reference(tmp_path, settings)
    assert read_catalog(settings.facts_dir, None) is not None


def test_a_new_ingest_refreshes_the_catalog(tmp_path: Path) -> None:
    settings = trained_state(tmp_path, f"sqlite:///{tmp_path / 'var' / 'state.db'}")
    before = _series(tmp_path, settings)
    assert "newproduct" not in before
    _with_new_product(tmp_path / "export", tmp_path / "more")
    res = run_cli(tmp_path, "ingest", str(tmp_path / "more"))
    assert res.returncode == 0, res.stderr
    # Refreshed by the ingest itself, before any listing ran.
    listed = read_catalog(settings.facts_dir, None)
    assert listed is not None and {"newproduct"} <= {s.product for s in listed}
    _assert_lists_as_reference(tmp_path, settings)
    assert "newproduct" in _series(tmp_path, settings)


def test_facts_changed_behind_the_catalog_are_listed_anew(tmp_path: Path) -> None:
    settings = trained_state(tmp_path, f"sqlite:///{tmp_path / 'var' / 'state.db'}")
    before = _series(tmp_path, settings, "--json")
    # A partition removed without an ingest (the same holds for one replaced by API rows): stale stamp.
    shutil.rmtree(next(settings.facts_dir.glob("billing_account=*")))
    assert read_catalog(settings.facts_dir, None) is None
    _assert_lists_as_reference(tmp_path, settings)
    assert _series(tmp_path, settings, "--json") != before
    assert read_catalog(settings.facts_dir, None) is not None  # and rewritten


def test_a_changed_monitors_file_is_listed_anew(tmp_path: Path) -> None:
    settings = trained_state(tmp_path, f"sqlite:///{tmp_path / 'var' / 'state.db'}")
    monitors = tmp_path / "monitors.yaml"
    env = {"SPENDSENTRY_MONITORS_FILE": str(monitors)}
    configured = settings.model_copy(update={"monitors_file": monitors})
    for dimension in ("account", "region"):
        monitors.write_text(f"monitors:\n  - name: by-{dimension}\n    dimensions: [{dimension}]\n")
        assert read_catalog(settings.facts_dir, monitors) is None  # written for another configuration
        _assert_lists_as_reference(tmp_path, configured, **env)
        assert f"by-{dimension}" in _series(tmp_path, settings, **env)
        assert read_catalog(settings.facts_dir, monitors) is not None
    # Back to the defaults: product totals again, none of the file's series.
    _assert_lists_as_reference(tmp_path, settings)
    assert "by-region" not in _series(tmp_path, settings)
