"""The CLI imports what a command uses: ``--help`` must not load the heavy libraries, and ``series`` (a
listing) must not load pandas, scikit-learn or Alembic once the database is migrated, nor SQLAlchemy,
DuckDB or pydantic-settings while the series catalog is fresh (on SQLite).

Checked by the modules a fresh interpreter holds afterwards (``sys.modules``), never by timing.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.api.series_state import trained_state

HEAVY = (
    "pandas",
    "sqlalchemy",
    "duckdb",
    "alembic",
    "numpy",
    "numba",
    "sklearn",
    "fastapi",
    "pydantic_settings",
)

# Runs the CLI's main() in-process, then prints the top-level packages it loaded, whatever the exit.
PROBE = """
import json, sys
from api.cli import main
try:
    code = main(sys.argv[1:])
except SystemExit as exc:
    code = exc.code
sys.stdout = sys.__stdout__
print("\\nLOADED " + json.dumps(sorted({m.split(".")[0] for m in sys.modules})))
"""


def _loaded(args: list[str], env: dict[str, str] | None = None) -> set[str]:
    res = subprocess.run(
        [sys.executable, "-c", PROBE, *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **(env or {})},
        cwd=Path(__file__).resolve().parents[2],
    )
    line = next(ln for ln in res.stdout.splitlines() if ln.startswith("LOADED "))
    return set(json.loads(line.removeprefix("LOADED ")))


def test_help_imports_none_of_the_heavy_libraries() -> None:
    loaded = _loaded(["--help"])
    assert "argparse" in loaded  # the probe did run the parser
    assert not loaded & set(HEAVY), sorted(loaded & set(HEAVY))


def test_series_lists_without_pandas_or_alembic(tmp_path: Path) -> None:
    env = {
        "SPENDSENTRY_DATA_DIR": str(tmp_path),
        "SPENDSENTRY_DATABASE_URL": f"sqlite:///{tmp_path / 'state.db'}",
    }
    first = _loaded(["series"], env)
    assert "alembic" in first  # a new database is migrated by Alembic
    again = _loaded(["series"], env)
    assert "sqlite3" in again  # it did read the registry, over the DB-API driver
    assert not again & {"pandas", "alembic", "sklearn", "numpy", "sqlalchemy"}, sorted(again)


def test_series_on_a_fresh_catalog_loads_none_of_the_heavy_libraries(tmp_path: Path) -> None:
    settings = trained_state(tmp_path, f"sqlite:///{tmp_path / 'var' / 'state.db'}")
    env = {"SPENDSENTRY_DATA_DIR": str(settings.data_dir), "SPENDSENTRY_DATABASE_URL": settings.database_url}
    loaded = _loaded(["series"], env)
    assert "sqlite3" in loaded  # the registry was read
    assert not loaded & set(HEAVY), sorted(loaded & set(HEAVY))
    # A stale catalog (a partition rewritten) takes the full path: DuckDB lists the facts again ...
    partition = next(settings.facts_dir.glob("*/*/facts.parquet"))
    os.utime(partition, ns=(partition.stat().st_atime_ns, partition.stat().st_mtime_ns + 1))
    assert {"duckdb", "pydantic_settings"} <= _loaded(["series"], env)
    # ... and writes the catalog anew, so the next listing is light again.
    assert not _loaded(["series"], env) & set(HEAVY)
