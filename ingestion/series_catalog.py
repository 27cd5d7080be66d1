"""The series catalog: every stored series (product × cost line, then the other monitors' series) with its
periods, points and spend, kept in a small JSON file beside the facts (``<facts>/series-catalog.json``).

Listing the series from the facts takes DuckDB and a scan of every partition; ``spendsentry series`` would
spend most of its time on that. The catalog answers instead, but only while it is *fresh*: it records the
stamp of what it was computed from (every partition file's path, size, modification and change times and
inode, from one directory walk, and a digest of the monitors file) and is used only when both still match.
Otherwise the listing is computed from the facts as before and the file rewritten. A partition is always
replaced by a new file (``FactStore`` writes aside, then ``os.replace``), so any change of the facts
changes the stamp. ``spendsentry ingest`` refreshes it after loading, so the next listing is fast.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import uuid
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from core.errors import SpendSentryError
from core.monitors import load_monitors

if TYPE_CHECKING:
    from core.settings import Settings

CATALOG_FILE = "series-catalog.json"
# Bump when what the catalog holds or how a listing is computed (the queries, the default monitors)
# changes: a file written by another version is then recomputed, never trusted.
CATALOG_FORMAT = 1
# Partition files, as FactStore stores them: <root>/billing_account=.../billing_period=.../facts.parquet.
_FACT_FILE = "facts.parquet"

log = logging.getLogger(__name__)
Stamp = list[list[Any]]


@dataclass(frozen=True)
class ListedSeries:
    """One series as ``spendsentry series`` lists it (periods as ISO text, spend unrounded)."""

    series_id: str
    product: str
    cost_line: str
    granularity: str
    first_period: str
    last_period: str
    points: int
    total_spend: float
    currency: str
    monitor: str
    scope: str


def catalog_path(facts_dir: Path) -> Path:
    return Path(facts_dir) / CATALOG_FILE


def facts_stamp(facts_dir: Path) -> Stamp | None:
    """``[path, size, mtime_ns, ctime_ns, inode]`` of every partition file, sorted; None without a folder.

    Two levels of ``os.scandir`` and one ``stat`` per partition: well under a millisecond for years of
    monthly partitions of a few accounts.
    """
    out: Stamp = []
    try:
        accounts = [e for e in os.scandir(facts_dir) if e.is_dir()]
    except (FileNotFoundError, NotADirectoryError):
        return None
    for account in accounts:
        try:
            periods = [e for e in os.scandir(account.path) if e.is_dir()]
        except OSError:  # removed while walking: the stamp differs either way
            continue
        for period in periods:
            try:
                st = os.stat(os.path.join(period.path, _FACT_FILE))
            except OSError:
                continue
            out.append(
                [f"{account.name}/{period.name}", st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino]
            )
    out.sort()
    return out


def monitors_stamp(monitors_file: Path | None) -> str | None:
    """A digest of the monitors file (``default`` without one); None when it cannot be read (the listing
    is then computed, and reports the problem as it always has)."""
    if monitors_file is None:
        return "default"
    try:
        return hashlib.sha256(Path(monitors_file).read_bytes()).hexdigest()
    except OSError:
        return None


def read_catalog(facts_dir: Path, monitors_file: Path | None) -> list[ListedSeries] | None:
    """The catalog's series when the file is there and fresh, else None."""
    try:
        doc = json.loads(catalog_path(facts_dir).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(doc, dict) or doc.get("format") != CATALOG_FORMAT:
        return None
    monitors = monitors_stamp(monitors_file)
    if monitors is None or doc.get("monitors") != monitors or doc.get("facts") != facts_stamp(facts_dir):
        return None
    try:
        return [ListedSeries(**item) for item in doc["series"]]
    except (KeyError, TypeError):
        return None


def compute_series(settings: Settings) -> list[ListedSeries]:
    """The listing from the facts (DuckDB): product × cost line first, then every other monitor's series."""
    monitors = load_monitors(settings.monitors_file)  # an invalid file fails here, before any scan
    if not facts_stamp(settings.facts_dir):
        return []  # no partition at all: nothing to scan (and no need for DuckDB)
    from core.monitors import extra_monitors
    from core.types import SeriesKey
    from ingestion.fact_store import FactStore
    from ingestion.monitor_facts import list_monitor_series

    store = FactStore(
        settings.facts_dir, memory_limit=settings.duckdb_memory_limit, threads=settings.duckdb_threads
    )
    out = [
        ListedSeries(
            series_id=SeriesKey(i.product, i.cost_line, i.currency, i.granularity).id,
            product=i.product,
            cost_line=i.cost_line,
            granularity=i.granularity.value,
            first_period=i.first_period.isoformat(),
            last_period=i.last_period.isoformat(),
            points=i.points,
            total_spend=i.total_spend,
            currency=i.currency,
            monitor="cost_line",
            scope="default",
        )
        for i in store.list_series()
    ]
    extra = extra_monitors(monitors)
    for m in list_monitor_series(store, extra) if extra else []:
        out.append(
            ListedSeries(
                series_id=m.key.id,
                product=m.key.product,
                cost_line=m.key.cost_line,
                granularity=m.key.granularity.value,
                first_period=m.info.first_period.isoformat(),
                last_period=m.info.last_period.isoformat(),
                points=m.info.points,
                total_spend=m.info.total_spend,
                currency=m.info.currency,
                monitor=m.monitor.name,
                scope=m.key.scope,
            )
        )
    return out


def _write(facts_dir: Path, doc: dict[str, Any]) -> None:
    target = catalog_path(facts_dir)
    tmp = target.with_name(f".{target.name}.{uuid.uuid4().hex}.tmp")
    try:
        tmp.write_text(json.dumps(doc, separators=(",", ":")), encoding="utf-8")
        os.replace(tmp, target)
    except OSError as exc:  # a read-only data folder: listings still work, only slower
        tmp.unlink(missing_ok=True)
        log.debug("series catalog not written: %s", exc)


def build_catalog(settings: Settings) -> list[ListedSeries]:
    """Compute the listing and store it with the stamp it was computed from.

    The stamp is taken before the scan and checked again after it: when the facts changed meanwhile (an
    ingest running beside), the file is not written, so it never pairs a stamp with other facts.
    """
    facts, monitors = facts_stamp(settings.facts_dir), monitors_stamp(settings.monitors_file)
    listed = compute_series(settings)
    if facts and monitors is not None and facts_stamp(settings.facts_dir) == facts:
        doc = {
            "format": CATALOG_FORMAT,
            "facts": facts,
            "monitors": monitors,
            "series": [asdict(s) for s in listed],
        }
        _write(settings.facts_dir, doc)
    return listed


def series_catalog(settings: Settings) -> list[ListedSeries]:
    """Every stored series: from the catalog when it is fresh, else computed (and the catalog rewritten)."""
    fresh = read_catalog(settings.facts_dir, settings.monitors_file)
    return fresh if fresh is not None else build_catalog(settings)


def refresh_catalog(settings: Settings) -> None:
    """Bring the catalog up to date after the facts changed; a failure is logged, never raised (the
    catalog only makes listings faster, and the next listing recomputes it)."""
    try:
        series_catalog(settings)
    except (SpendSentryError, OSError) as exc:
        log.warning("series catalog not refreshed: %s", exc)
