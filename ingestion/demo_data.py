"""Demo data: a realistic multi-product FOCUS 1.0 billing export with known incidents and a truth file.

``write_demo_export`` writes one file per billing period (month), as providers deliver them, with the columns
of a real FOCUS 1.0 export in the same order, ``NULL`` for nulls in CSV and ``Tags`` as a JSON object string.
Three billing accounts (AWS in USD, AWS Europe in EUR, Microsoft in USD), six products tagged with
``product``/``team``/``env``, an untagged share, weekly and daily seasonality, trends, a month-start batch
job, noise, resources that come and go, a few Tax / Credit / Purchase rows, and, unless ``incidents=False``,
injected incidents recorded exactly in ``truth.json``. The same seed gives the same bytes; no wall clock.
"""

from __future__ import annotations

import gzip
import json
import re
import shutil
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any, Final, Literal

import duckdb
import numpy as np
import pyarrow as pa

from ingestion.demo_catalog import (
    COST_LINES,
    DEMO_FOCUS_COLUMNS,
    NUMERIC_COLUMNS,
    PRODUCTS,
)
from ingestion.demo_patterns import (
    Grid,
    build_components,
    inject_incidents,
    spend_matrix,
)
from ingestion.demo_rows import month_start, other_charges, usage_columns

Granularity = Literal["day", "hour"]
ExportFormat = Literal["csv", "csv.gz", "parquet"]
DEFAULT_START: Final = date(2026, 6, 1)
_TIMESTAMPS: Final = ("BillingPeriodEnd", "BillingPeriodStart", "ChargePeriodEnd", "ChargePeriodStart")
_EXPORT_FILE: Final = re.compile(r"focus_\d{4}-\d{2}\.(csv|csv\.gz|parquet)")


@dataclass(frozen=True)
class InjectedIncident:
    """One incident added to the demo data; amounts are EffectiveCost in ``currency`` per charge period."""

    id: str
    product: str
    cost_line: str  # the ServiceName
    start: datetime
    end: datetime  # exclusive
    kind: str  # spike | step | drift | drop
    root_cause: dict[str, str]  # account / region / service / sku / resource_type -> value
    extra_per_period: float  # added per period at peak (a drift ramps up to it)
    expected_severity: str  # page | ticket
    currency: str = "USD"


@dataclass(frozen=True)
class DemoTruth:
    """What the demo export contains, for tests and demos to check detection against."""

    start: datetime
    end: datetime  # exclusive
    granularity: str
    products: list[str]
    incidents: list[InjectedIncident]
    untagged_share: (
        float  # Usage EffectiveCost without a product tag / all Usage EffectiveCost (all currencies)
    )
    untagged_share_by_currency: dict[str, float] = field(default_factory=dict)
    # (product, cost line) pairs with an expected spike on the 1st of every month: no alert should fire.
    month_start_batches: list[dict[str, str]] = field(default_factory=list)
    files: list[str] = field(default_factory=list)
    rows: int = 0
    cost_basis: str = "EffectiveCost"

    def to_json(self) -> str:
        doc = asdict(self)
        doc["start"], doc["end"] = self.start.isoformat(), self.end.isoformat()
        for inc in doc["incidents"]:
            inc["start"], inc["end"] = inc["start"].isoformat(), inc["end"].isoformat()
        return json.dumps(doc, indent=2) + "\n"

    @classmethod
    def from_json(cls, text: str) -> DemoTruth:
        doc = json.loads(text)
        doc["start"], doc["end"] = datetime.fromisoformat(doc["start"]), datetime.fromisoformat(doc["end"])
        doc["incidents"] = [
            InjectedIncident(
                **{**i, "start": datetime.fromisoformat(i["start"]), "end": datetime.fromisoformat(i["end"])}
            )
            for i in doc["incidents"]
        ]
        return cls(**doc)


def write_demo_export(
    out: Path,
    *,
    start: date = DEFAULT_START,
    days: int = 120,
    granularity: Granularity = "day",
    seed: int = 7,
    fmt: ExportFormat = "csv",
    incidents: bool = True,
    ongoing: bool = False,
) -> DemoTruth:
    """Write ``focus_<YYYY-MM>.<fmt>`` per billing period plus ``truth.json`` into the folder ``out``.

    ``ongoing`` adds two incidents still going on at the end (a page and a ticket: ``make run``'s demo
    opens on them); they are in ``truth.json`` with the others. Earlier exports in ``out`` (``focus_YYYY-MM.*``) are removed first, so a folder never holds two formats
    of the same month that an ingest would count twice.
    """
    if days < 1:
        raise ValueError("days must be at least 1")
    if granularity not in ("day", "hour"):
        raise ValueError(f"granularity must be 'day' or 'hour', not {granularity!r}")
    if fmt not in ("csv", "csv.gz", "parquet"):
        raise ValueError(f"fmt must be 'csv', 'csv.gz' or 'parquet', not {fmt!r}")
    rng = np.random.default_rng(seed)
    grid = Grid(datetime(start.year, start.month, start.day), days, 24 if granularity == "hour" else 1)
    comps = build_components(rng)
    spend = spend_matrix(comps, grid, rng)
    placed = inject_incidents(spend, comps, grid, ongoing=ongoing) if incidents else []

    t, c = np.nonzero(spend > 0)  # row-major: rows come out ordered by period, then component
    usage, groups = usage_columns(comps, grid, spend[t, c], t, c)
    month_of_row = grid.month_index()[t]

    out.mkdir(parents=True, exist_ok=True)
    for old in out.iterdir():
        if _EXPORT_FILE.fullmatch(old.name):
            old.unlink()
    files, rows = write_monthly_files(out, usage, groups, grid, month_of_row, fmt)

    eff, cur = usage["EffectiveCost"], usage["_currency"]
    untagged = np.array([COST_LINES[int(li)].product is None for li in comps.line])[c]
    by_currency = {
        str(k): round(float(eff[untagged & (cur == k)].sum() / eff[cur == k].sum()), 6)
        for k in np.unique(cur)
    }
    truth = DemoTruth(
        start=grid.start,
        end=grid.start + timedelta(days=days),
        granularity=granularity,
        products=sorted(PRODUCTS),
        incidents=[
            InjectedIncident(
                id=p.plan.id,
                product=p.plan.product,
                cost_line=p.plan.service,
                start=grid.at(p.first),
                end=grid.at(p.stop),
                kind=p.plan.kind,
                root_cause=dict(p.plan.root_cause),
                extra_per_period=p.extra,
                expected_severity=p.plan.severity,
                currency=p.currency,
            )
            for p in sorted(placed, key=lambda p: p.plan.id)
        ],
        untagged_share=round(float(eff[untagged].sum() / eff.sum()), 6),
        untagged_share_by_currency=by_currency,
        month_start_batches=[
            {"product": ln.product or "", "cost_line": ln.service} for ln in COST_LINES if ln.batch > 0
        ],
        files=files,
        rows=rows,
    )
    (out / "truth.json").write_text(truth.to_json())
    return truth


def _arrow_type(column: str) -> pa.DataType:
    if column == "Id":
        return pa.int64()
    if column in NUMERIC_COLUMNS:
        return pa.float64()
    return pa.timestamp("s") if column in _TIMESTAMPS else pa.string()


_SCHEMA: Final = pa.schema([(k, _arrow_type(k)) for k in DEMO_FOCUS_COLUMNS])


def write_monthly_files(
    out: Path,
    usage: dict[str, Any],
    groups: Any,
    grid: Grid,
    month_of_row: np.ndarray,
    fmt: str,
) -> tuple[list[str], int]:
    """One ``focus_<YYYY-MM>.<fmt>`` per month of ``usage`` rows (ordered by period) plus that month's
    other charges, with row ids running across files: the names written, in month order, and the rows."""
    files: list[str] = []
    next_id = 1
    con = duckdb.connect()
    try:
        con.execute("SET threads TO 1")  # one writer thread: the same seed gives the same bytes
        con.execute("SET enable_progress_bar = false")
        for m in sorted({int(x) for x in month_of_row}):
            lo, hi = np.searchsorted(month_of_row, [m, m + 1])
            part = {k: v[lo:hi] for k, v in usage.items()}
            extra = other_charges(part, groups, month_start=month_start(grid, m))
            table = pa.concat_tables([_table(part, next_id), _table(extra, next_id + hi - lo)])
            next_id += table.num_rows
            name = f"focus_{month_start(grid, m):%Y-%m}.{fmt}"
            _write(con, table, out / name, fmt)
            files.append(name)
    finally:
        con.close()
    return files, next_id - 1


def _table(cols: dict[str, Any], first_id: int) -> pa.Table:
    n = len(cols["ChargePeriodStart"])
    arrays = []
    for f in _SCHEMA:
        if f.name == "Id":
            arrays.append(pa.array(np.arange(first_id, first_id + n, dtype=np.int64)))
        else:
            value = cols[f.name]
            arrays.append(value if isinstance(value, pa.Array) else pa.array(value, type=f.type))
    return pa.Table.from_arrays(arrays, schema=_SCHEMA)


def _write(con: duckdb.DuckDBPyConnection, table: pa.Table, path: Path, fmt: str) -> None:
    con.register("part", table)
    if fmt == "parquet":
        options = "FORMAT parquet, COMPRESSION zstd"
    else:
        # Quote strings and timestamps but not numbers, and write bare NULL, as the FOCUS sample export does.
        quoted = ", ".join(f'"{k}"' for k in DEMO_FOCUS_COLUMNS if k not in NUMERIC_COLUMNS)
        options = f"FORMAT csv, HEADER, NULLSTR 'NULL', FORCE_QUOTE ({quoted})"
    plain = path.with_name(path.name.removesuffix(".gz") + ".tmp") if fmt == "csv.gz" else path
    target = str(plain).replace("'", "''")
    try:
        con.execute(f"COPY (SELECT * FROM part) TO '{target}' ({options})")
    finally:
        con.unregister("part")
    if fmt == "csv.gz":
        # Python's gzip with a fixed mtime and no file name is reproducible and several times faster than
        # DuckDB's own gzip writer, at a similar size.
        with plain.open("rb") as src, path.open("wb") as raw, gzip.GzipFile("", "wb", 3, raw, mtime=0) as dst:
            shutil.copyfileobj(src, dst, 1 << 20)
        plain.unlink()
