"""Business drivers: per-product volumes (requests, orders, monthly active users, GB served...) with units.

A driver point is ``(product, driver, period_start) -> value`` in the driver's ``unit``, hourly or daily.
Unit costs divide spend by these volumes. Rows come from ``POST /v1/drivers`` or a CSV file with the
columns ``timestamp,product,driver,unit,value``; every row is validated before anything is written, and a
bad one raises :class:`InputError` naming the row and the field. Writing is an upsert keyed by product,
driver and period: re-ingesting the same rows changes nothing, a corrected value replaces the old one.
"""

from __future__ import annotations

import csv
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
from sqlalchemy import Engine, and_, func, insert, select, tuple_, update
from sqlalchemy.exc import IntegrityError

from core.clock import Clock
from core.errors import InputError, TooLargeError
from core.types import Granularity
from ingestion.tables import driver_points

CSV_COLUMNS: tuple[str, ...] = ("timestamp", "product", "driver", "unit", "value")
# Driver names become part of monitor scopes (`unit:<driver>`) and labels: keep them plain.
_DRIVER = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
_MAX_TEXT = {"product": 256, "unit": 64}


@dataclass(frozen=True)
class DriverPoint:
    product: str
    driver: str
    unit: str
    period_start: datetime  # timezone-aware UTC, on an hour boundary
    value: float


@dataclass(frozen=True)
class DriverInfo:
    """One stored driver series."""

    product: str
    driver: str
    unit: str
    granularity: Granularity
    first_period: datetime
    last_period: datetime
    points: int


@dataclass
class DriverReport:
    rows_read: int = 0
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    drivers: list[str] = field(default_factory=list)  # `product/driver (unit)`

    def to_dict(self) -> dict[str, Any]:
        return {
            "rows_read": self.rows_read,
            "inserted": self.inserted,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "drivers": list(self.drivers),
        }

    def lines(self) -> list[str]:
        return [
            f"rows read: {self.rows_read:,}",
            f"points inserted: {self.inserted:,}, updated: {self.updated:,}, unchanged: {self.unchanged:,}",
            *(f"driver: {d}" for d in self.drivers),
        ]


def aware_utc(value: datetime) -> datetime:
    """Timezone-aware UTC (SQLite hands back the naive UTC values it stored)."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _text(raw: object, name: str, where: str) -> str:
    value = "" if raw is None else str(raw).strip()
    if not value:
        raise InputError(f"{where}{name}", "is missing")
    if len(value) > _MAX_TEXT.get(name, 64):
        raise InputError(f"{where}{name}", f"longer than {_MAX_TEXT.get(name, 64)} characters")
    return value


def _timestamp(raw: object, where: str) -> datetime:
    if isinstance(raw, datetime):
        at = raw
    else:
        text = "" if raw is None else str(raw).strip()
        try:
            at = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError as exc:
            raise InputError(f"{where}timestamp", f"not an ISO-8601 time: {text!r}") from exc
    at = aware_utc(at)  # a time without an offset is UTC, as FOCUS periods are
    if (at.minute, at.second, at.microsecond) != (0, 0, 0):
        raise InputError(f"{where}timestamp", f"{at.isoformat()} is not the start of an hour or a day")
    return at


def _value(raw: object, where: str) -> float:
    if isinstance(raw, bool):  # JSON true is not a volume
        raise InputError(f"{where}value", "must be a number")
    try:
        value = float(raw)  # type: ignore[arg-type]
    except (TypeError, ValueError) as exc:
        raise InputError(f"{where}value", f"not a number: {raw!r}") from exc
    if not math.isfinite(value) or value < 0:
        raise InputError(f"{where}value", f"must be a finite number >= 0, got {raw!r}")
    return value


def parse_driver_rows(
    rows: Iterable[Mapping[str, object]], *, where: str = "rows", first: int = 0
) -> list[DriverPoint]:
    """Validate every row; ``where`` and ``first`` shape the error position (``rows.3.value``, ``line 5``).

    A driver keeps one unit, and a period appears once per driver in a batch (two different values for
    the same period would make the result depend on row order).
    """
    points: list[DriverPoint] = []
    units: dict[tuple[str, str], str] = {}
    seen: set[tuple[str, str, datetime]] = set()
    for i, row in enumerate(rows):
        at = f"{where}.{i + first}." if where == "rows" else f"{where} {i + first}: "
        product = _text(row.get("product"), "product", at)
        driver = _text(row.get("driver"), "driver", at)
        if not _DRIVER.match(driver):
            raise InputError(f"{at}driver", f"{driver!r}: letters, digits, '_', '.' or '-' only (max 64)")
        unit = _text(row.get("unit"), "unit", at)
        point = DriverPoint(
            product, driver, unit, _timestamp(row.get("timestamp"), at), _value(row.get("value"), at)
        )
        known = units.setdefault((product, driver), unit)
        if known != unit:
            raise InputError(
                f"{at}unit", f"driver {driver!r} of {product!r} is in {known!r} in this batch, not {unit!r}"
            )
        key = (product, driver, point.period_start)
        if key in seen:
            raise InputError(
                f"{at}timestamp", f"{driver!r} of {product!r} at {point.period_start.isoformat()} given twice"
            )
        seen.add(key)
        points.append(point)
    return points


def read_driver_csv(path: Path, *, max_rows: int | None = None) -> list[DriverPoint]:
    """Read a ``timestamp,product,driver,unit,value`` CSV (extra columns are ignored)."""
    try:
        with open(path, newline="", encoding="utf-8-sig") as fh:
            reader = csv.DictReader(fh)
            header = [h.strip() for h in reader.fieldnames or []]
            missing = [c for c in CSV_COLUMNS if c not in header]
            if missing:
                raise InputError(
                    ", ".join(missing), f"column missing in {path.name} (need {','.join(CSV_COLUMNS)})"
                )
            reader.fieldnames = header
            rows = []
            for n, row in enumerate(reader):
                if max_rows is not None and n >= max_rows:
                    raise TooLargeError("rows", f"more than {max_rows} rows in {path.name}")
                if None in row:  # csv puts surplus cells of a ragged line under the key None
                    raise InputError(f"line {reader.line_num}", "more cells than columns")
                rows.append(row)
    except OSError as exc:
        raise InputError("FILE", f"cannot read {path.name}: {exc.strerror}") from exc
    except (UnicodeDecodeError, csv.Error) as exc:
        raise InputError("FILE", f"{path.name} is not a readable UTF-8 CSV: {type(exc).__name__}") from exc
    # The header is line 1: the first data row is line 2.
    return parse_driver_rows(rows, where="line", first=2)


class DriverStore:
    """Driver points in the state database."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def upsert(self, points: Sequence[DriverPoint], clock: Clock) -> DriverReport:
        """Write ``points``; unchanged points are left alone, so a repeated batch is a no-op."""
        report = DriverReport(rows_read=len(points))
        report.drivers = sorted({f"{p.product}/{p.driver} ({p.unit})" for p in points})
        for attempt in range(2):
            try:
                with self.engine.begin() as conn:
                    self._upsert(conn, points, clock, report)
                return report
            except IntegrityError:
                # A concurrent batch inserted some of the same periods first; the retry updates them.
                report.inserted = report.updated = report.unchanged = 0
                if attempt == 1:
                    raise
        return report

    def _upsert(self, conn: Any, points: Sequence[DriverPoint], clock: Clock, report: DriverReport) -> None:
        pairs = sorted({(p.product, p.driver) for p in points})
        units = self._units(conn, pairs)
        for p in points:
            stored = units.get((p.product, p.driver))
            if stored is not None and stored != p.unit:
                raise InputError(
                    "unit", f"driver {p.driver!r} of {p.product!r} is stored in {stored!r}, not {p.unit!r}"
                )
        existing: dict[tuple[str, str, datetime], float] = {}
        c = driver_points.c
        for product, driver in pairs:
            times = [p.period_start for p in points if (p.product, p.driver) == (product, driver)]
            rows = conn.execute(
                select(c.period_start, c.value).where(
                    c.product == product,
                    c.driver == driver,
                    c.period_start >= min(times),
                    c.period_start <= max(times),
                )
            )
            existing.update({(product, driver, aware_utc(r.period_start)): float(r.value) for r in rows})
        now = clock.now()
        fresh: list[dict[str, Any]] = []
        for p in points:
            old = existing.get((p.product, p.driver, p.period_start))
            if old is None:
                fresh.append(
                    {
                        "product": p.product,
                        "driver": p.driver,
                        "period_start": p.period_start,
                        "unit": p.unit,
                        "value": p.value,
                        "ingested_at": now,
                    }
                )
            elif math.isclose(old, p.value, rel_tol=1e-12, abs_tol=0.0):
                report.unchanged += 1
            else:
                conn.execute(
                    update(driver_points)
                    .where(c.product == p.product, c.driver == p.driver, c.period_start == p.period_start)
                    .values(value=p.value, ingested_at=now)
                )
                report.updated += 1
        for lo in range(0, len(fresh), 5000):
            conn.execute(insert(driver_points), fresh[lo : lo + 5000])
        report.inserted = len(fresh)

    @staticmethod
    def _units(conn: Any, pairs: Sequence[tuple[str, str]]) -> dict[tuple[str, str], str]:
        c = driver_points.c
        out: dict[tuple[str, str], str] = {}
        for lo in range(0, len(pairs), 200):
            chunk = pairs[lo : lo + 200]
            rows = conn.execute(
                select(c.product, c.driver, func.min(c.unit).label("unit"))
                .where(tuple_(c.product, c.driver).in_(chunk))
                .group_by(c.product, c.driver)
            )
            out.update({(r.product, r.driver): str(r.unit) for r in rows})
        return out

    def list_drivers(self, product: str | None = None) -> list[DriverInfo]:
        c = driver_points.c
        query = (
            select(
                c.product,
                c.driver,
                func.min(c.unit).label("unit"),
                func.min(c.period_start).label("first"),
                func.max(c.period_start).label("last"),
                func.count().label("points"),
            )
            .group_by(c.product, c.driver)
            .order_by(c.product, c.driver)
        )
        if product is not None:
            query = query.where(c.product == product)
        with self.engine.connect() as conn:
            rows = conn.execute(query).all()
        out = []
        for r in rows:
            # Granularity from the timestamps: a driver is daily only if every point starts a day.
            off_midnight = self._has_hourly_points(r.product, r.driver)
            out.append(
                DriverInfo(
                    r.product,
                    r.driver,
                    str(r.unit),
                    Granularity.HOUR if off_midnight else Granularity.DAY,
                    aware_utc(r.first),
                    aware_utc(r.last),
                    int(r.points),
                )
            )
        return out

    def _has_hourly_points(self, product: str, driver: str) -> bool:
        series = self.series(product, driver)
        index = pd.DatetimeIndex(series.index)
        return bool(len(index) and (index != index.normalize()).any())

    def series(
        self, product: str, driver: str, *, start: datetime | None = None, end: datetime | None = None
    ) -> pd.Series:
        """Volumes per period over [start, end), indexed by naive UTC period starts (as the facts are)."""
        c = driver_points.c
        clauses = [c.product == product, c.driver == driver]
        if start is not None:
            clauses.append(c.period_start >= aware_utc(start))
        if end is not None:
            clauses.append(c.period_start < aware_utc(end))
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(c.period_start, c.value).where(and_(*clauses)).order_by(c.period_start)
            ).all()
        index = pd.DatetimeIndex([aware_utc(r.period_start).replace(tzinfo=None) for r in rows], name="t")
        return pd.Series([float(r.value) for r in rows], index=index, name="volume", dtype=float)
