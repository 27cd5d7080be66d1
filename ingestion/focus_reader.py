"""Reading FOCUS exports with DuckDB: find the files, check their columns, and normalise their rows.

Files are never loaded whole: DuckDB streams CSV, CSV.gz and Parquet and aggregates as it reads. Every
column is read as text (``all_varchar``) and parsed with ``TRY_CAST`` so that one bad value rejects one
row, with a reason, instead of failing the file or being guessed into the wrong type.
"""

from __future__ import annotations

import csv
import gzip
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb

from core.errors import InputError
from ingestion import focus_columns as fc
from ingestion.attribution import Attribution

SUFFIXES = (".csv", ".csv.gz", ".parquet")

# Reject reasons, in the order they are tested: a row gets the first that applies.
REASONS: tuple[tuple[str, str], ...] = (
    ("ChargePeriodStart", "missing or not a timestamp"),
    ("ChargePeriodEnd", "missing or not a timestamp"),
    ("ChargePeriodEnd", "before ChargePeriodStart"),
    ("BillingPeriodStart", "missing or not a timestamp"),
    ("BillingAccountId", "missing"),
    ("BillingCurrency", "missing or not a 3-letter currency code"),
    ("ChargeCategory", "missing or not one of " + "/".join(fc.CHARGE_CATEGORIES)),
)


def quote(name: str) -> str:
    """Quote an SQL identifier."""
    return '"' + name.replace('"', '""') + '"'


def literal(text: str) -> str:
    """Quote an SQL string literal."""
    return "'" + text.replace("'", "''") + "'"


def _supported(path: Path) -> bool:
    name = path.name.lower()
    return any(name.endswith(s) for s in SUFFIXES)


def discover_files(paths: Iterable[Path]) -> list[Path]:
    """Expand folders (recursively) into export files; every named path must exist."""
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            found.extend(sorted(p for p in path.rglob("*") if p.is_file() and _supported(p)))
        elif path.is_file():
            if not _supported(path):
                raise InputError(
                    str(path.name), f"unsupported file type; expected one of {', '.join(SUFFIXES)}"
                )
            found.append(path)
        else:
            raise InputError(str(path), "no such file or folder")
    if not found:
        raise InputError("PATH", "no FOCUS export (.csv, .csv.gz, .parquet) found")
    return found


def read_header(path: Path) -> list[str]:
    """The column names of a CSV (or CSV.gz) export, from its first line."""
    opener = gzip.open if path.name.lower().endswith(".gz") else open
    try:
        with opener(path, "rt", encoding="utf-8-sig", newline="") as fh:  # type: ignore[operator]
            header = next(csv.reader(fh), [])
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise InputError(path.name, f"cannot read the CSV header: {exc}") from exc
    names = [h.strip() for h in header]
    if not names or not any(names):
        raise InputError(path.name, "empty file or no header line")
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise InputError(path.name, f"duplicate columns in the header: {', '.join(duplicates)}")
    return names


def relation(path: Path, rejects_table: str) -> str:
    """SQL table expression that streams one file.

    CSV columns come from the header, all as text, with the sniffer off: a malformed line is then a
    counted reject (in ``rejects_table``) instead of a failed file or a wrongly guessed dialect. Hive
    partitioning is off: exports often sit in folders such as ``BILLING_PERIOD=2026-09/``, and a folder
    named after a FOCUS column would otherwise replace that column's values in every row.
    """
    if path.name.lower().endswith(".parquet"):
        return f"read_parquet({literal(str(path))}, hive_partitioning=false)"
    columns = "{" + ", ".join(f"{literal(c)}: 'VARCHAR'" for c in read_header(path)) + "}"
    return (
        f"read_csv({literal(str(path))}, auto_detect=false, header=true, columns={columns}, delim=',', "
        "quote='\"', escape='\"', nullstr=['NULL', ''], store_rejects=true, hive_partitioning=false, "
        f"rejects_table={literal(rejects_table)}, rejects_scan={literal(rejects_table + '_scan')})"
    )


def columns_of(conn: duckdb.DuckDBPyConnection, source: str, where: str) -> dict[str, str]:
    """Column name -> DuckDB type of a table expression; unreadable files are input errors."""
    try:
        rows = conn.execute(f"DESCRIBE SELECT * FROM {source}").fetchall()
    except duckdb.Error as exc:
        raise InputError(where, f"cannot be read as a FOCUS export: {str(exc).splitlines()[0]}") from exc
    return {str(r[0]): str(r[1]) for r in rows}


def empty_columns(conn: duckdb.DuckDBPyConnection, path: Path, columns: dict[str, str]) -> set[str]:
    """The columns of a Parquet export that hold no value in any row: typed NULL, or counted all null by
    the statistics of every row group (an export without statistics proves nothing).

    The plan may read them as absent, which reads them as NULL, what they hold: an all-null
    ``ResourceName`` then costs no string aggregate per resource-day (a tenth of a second per million).
    """
    empty = {c for c, t in columns.items() if t.strip('"').upper() == "NULL"}
    if not path.name.lower().endswith(".parquet"):
        return empty
    rows = conn.execute(
        f"""SELECT path_in_schema FROM parquet_metadata({literal(str(path))})
            GROUP BY path_in_schema HAVING bool_and(COALESCE(stats_null_count = num_values, false))"""
    ).fetchall()
    return empty | ({str(r[0]) for r in rows} & columns.keys())


def check_columns(columns: dict[str, str], cost_basis: str, cost_line: str, where: str) -> None:
    """Raise an InputError naming every mandatory column the file lacks."""
    needed = [*fc.MANDATORY, cost_basis]
    if not cost_line.startswith("tag:"):
        needed.append(cost_line)
    missing = [c for c in needed if c not in columns]
    if fc.PROVIDER_NAME not in columns and fc.SERVICE_PROVIDER_NAME not in columns:
        missing.append(f"{fc.PROVIDER_NAME} or {fc.SERVICE_PROVIDER_NAME}")
    if missing:
        raise InputError(where, f"missing mandatory FOCUS columns: {', '.join(missing)}")


@dataclass(frozen=True)
class Plan:
    """The normalising projection for one file, with its bound parameters."""

    sql: str
    params: list[Any]
    tag_dimensions: tuple[str, ...]
    reason_sql: str  # the reject reason of a raw row (NULL when kept); needs no parameters
    from_sql: str  # the raw rows, with the parsed tags beside them
    quantities: bool = False  # the plan yields ``quantity`` and ``quantity_unit``
    resources: bool = False  # the plan yields ``resource_id`` and ``resource_name``
    descriptions: bool = False  # the plan yields ``description`` (``ChargeDescription``)


def tag_dimension_name(key: str) -> str:
    cleaned = "".join(ch if ch.isalnum() else "_" for ch in key.lower())
    return f"tag_{cleaned}"


def normalise(
    columns: dict[str, str],
    cost_basis: str,
    attribution: Attribution,
    *,
    quantities: bool = True,
    resources: bool = False,
    descriptions: bool = False,
) -> Plan:
    """Build ``SELECT <reason>, <leaf fact columns>, <costs> FROM src`` for a file with ``columns``.

    Absent optional columns read as NULL, so FOCUS 1.0–1.3 files and partial exports share one plan.
    With ``quantities`` each row also carries its quantity (``ConsumedQuantity``, else ``PricingQuantity``)
    and that quantity's unit; a row without either has a NULL quantity (its price/usage split is unknown).
    With ``resources`` it carries its ``ResourceId`` and ``ResourceName`` (for the resource-day facts),
    with ``descriptions`` its ``ChargeDescription`` (for readable names of usage types).
    """

    def raw(name: str) -> str:
        return quote(name) if name in columns else "NULL"

    def col(name: str) -> str:
        return f"CAST({quote(name)} AS VARCHAR)" if name in columns else "CAST(NULL AS VARCHAR)"

    def first(*names: str) -> str:
        present = [col(n) for n in names if n in columns]
        return f"COALESCE({', '.join(present)})" if present else "CAST(NULL AS VARCHAR)"

    def ts(name: str) -> str:
        # Offsets (Z, +02:00) are honoured, then dropped: facts are naive UTC.
        # Typed (Parquet) columns are cast directly; text goes through the same TRY_CAST.
        # The session time zone is UTC, so the instant's epoch microseconds are already the naive UTC
        # timestamp: make_timestamp is a plain integer conversion, where TIMESTAMPTZ::TIMESTAMP asks ICU
        # for a calendar per value (a third of the timestamp parsing time). Infinities have no
        # epoch; COALESCE evaluates the ICU cast for those rows only, so they keep its result.
        parsed = f"TRY_CAST({raw(name)} AS TIMESTAMPTZ)"
        aware = f"COALESCE(make_timestamp(epoch_us({parsed})), {parsed}::TIMESTAMP)"
        if columns.get(name, "").upper() != "VARCHAR":
            return aware
        # Text shaped exactly 'YYYY-MM-DD HH:MM:SS' (any separator, optionally 'Z') has no room for an
        # offset, so the plain TIMESTAMP cast reads the same instant without ICU (about 0.1 s less per
        # million rows of three timestamp columns). It would silently ignore an offset, which is why every
        # other shape takes the aware path.
        return (
            f"CASE WHEN {quote(name)} LIKE '____-__-_____:__:__' OR {quote(name)} LIKE '____-__-_____:__:__Z' "
            f"THEN TRY_CAST({quote(name)} AS TIMESTAMP) ELSE {aware} END"
        )

    def num(name: str) -> str:
        # Exact decimals: sums are then the same whatever order DuckDB's threads add them in,
        # which is what makes re-ingesting an export a no-op.
        return f"TRY_CAST({raw(name)} AS DECIMAL(38, 12))"

    # Every tag the plan reads is extracted in one JSON parse per row, into a list.
    wanted: list[str] = list(
        dict.fromkeys(
            [
                *attribution.product_tag_keys,
                *attribution.dimension_tag_keys,
                *(
                    c.column[4:]
                    for r in attribution.rules
                    for c in r.conditions
                    if c.column.startswith("tag:")
                ),
                *([attribution.cost_line[4:]] if attribution.cost_line.startswith("tag:") else []),
            ]
        )
    )
    paths = "[" + ", ".join(literal("$." + chr(34) + k + chr(34)) for k in wanted) + "]"
    tags_type = columns.get(fc.TAGS, "")
    if not tags_type or not wanted:
        tag_values = "CAST(NULL AS VARCHAR[])"
    elif tags_type.upper().startswith(("MAP", "STRUCT", "JSON")):
        tag_values = f"json_extract_string(to_json({quote(fc.TAGS)}), {paths})"
    else:
        # One parse per row: extraction fails on malformed JSON and TRY turns that into NULL (a list,
        # never NULL, for any valid document), which is also how an invalid value is recognised below.
        tag_values = f"TRY(json_extract_string({quote(fc.TAGS)}, {paths}))"
    text_tags = tags_type and not tags_type.upper().startswith(("MAP", "STRUCT", "JSON"))
    if text_tags and wanted:
        tags_invalid = f"({quote(fc.TAGS)} IS NOT NULL AND _ss_tags IS NULL)"
    elif text_tags:
        tags_invalid = f"({quote(fc.TAGS)} IS NOT NULL AND NOT json_valid({quote(fc.TAGS)}))"
    else:
        tags_invalid = "false"

    def tag(key: str) -> str:
        return f"_ss_tags[{wanted.index(key) + 1}]"

    # The inner query parses each value once; everything outside refers to the parsed columns.
    from_sql = f"""(SELECT *,
            {tag_values} AS _ss_tags,
            {ts(fc.CHARGE_PERIOD_START)} AS _ss_start,
            {ts(fc.CHARGE_PERIOD_END)} AS _ss_end,
            {ts(fc.BILLING_PERIOD_START)} AS _ss_billing_period,
            {num(cost_basis)} AS _ss_cost,
            {num(fc.CONSUMED_QUANTITY) if quantities else "NULL"} AS _ss_consumed,
            TRIM({col(fc.BILLING_ACCOUNT_ID)}) AS _ss_billing_account,
            TRIM({col(fc.BILLING_CURRENCY)}) AS _ss_currency,
            TRIM({col(fc.CHARGE_CATEGORY)}) AS _ss_charge_category
        FROM src)"""

    product_sql, product_params = attribution.product_sql(col, tag)
    cost_line_sql = attribution.cost_line_sql(col, tag)
    start, end = "_ss_start", "_ss_end"
    checks = [
        f"{start} IS NULL",
        f"{end} IS NULL",
        f"{end} < {start}",
        "_ss_billing_period IS NULL",
        "NULLIF(_ss_billing_account, '') IS NULL",
        # GLOB matches exactly three ASCII letters, like the regular expression [A-Za-z]{3}, at half the cost.
        "NOT COALESCE(_ss_currency, '') GLOB '[A-Za-z][A-Za-z][A-Za-z]'",
        f"COALESCE(_ss_charge_category, '') NOT IN ({', '.join(literal(c) for c in fc.CHARGE_CATEGORIES)})",
    ]
    reason_cases = [
        f"WHEN {c} THEN {literal(f + ': ' + r)}" for c, (f, r) in zip(checks, REASONS, strict=True)
    ]
    reason_cases.append(f"WHEN _ss_cost IS NULL THEN {literal(cost_basis + ': missing or not a number')}")
    reason = f"CASE {' '.join(reason_cases)} END"

    quantity_sql = ""
    if quantities:
        # The unit goes with the quantity it measures, so a leaf mixing both kinds shows two units.
        quantity_sql = f"""
            COALESCE(_ss_consumed, {num(fc.PRICING_QUANTITY)}) AS quantity,
            NULLIF(TRIM(CASE WHEN _ss_consumed IS NOT NULL THEN {col(fc.CONSUMED_UNIT)}
                             ELSE {col(fc.PRICING_UNIT)} END), '') AS quantity_unit,"""
    if resources:
        quantity_sql += f"""
            NULLIF(TRIM({col(fc.RESOURCE_ID)}), '') AS resource_id,
            NULLIF(TRIM({col(fc.RESOURCE_NAME)}), '') AS resource_name,"""
    if descriptions:
        quantity_sql += f"""
            NULLIF(TRIM({col(fc.CHARGE_DESCRIPTION)}), '') AS description,"""
    tag_dims = attribution.dimension_tag_keys
    dims = [
        f"{first(fc.SUB_ACCOUNT_ID, fc.BILLING_ACCOUNT_ID)} AS account",
        f"{first(fc.REGION_ID, fc.REGION_NAME)} AS region",
        f"{col(fc.SERVICE_NAME)} AS service",
        f"{first(*fc.USAGE_TYPE_EXTENSIONS, fc.SKU_ID)} AS sku",
        f"{col(fc.RESOURCE_TYPE)} AS resource_type",
        *(f"{tag(k)} AS {quote(tag_dimension_name(k))}" for k in tag_dims),
    ]
    sql = f"""
        SELECT
            {reason} AS reason,
            date_trunc('hour', {start}) AS period_start,
            GREATEST(date_diff('minute', {start}, {end}), 0) / 60.0 AS period_hours,
            _ss_billing_account AS billing_account,
            strftime(_ss_billing_period, '%Y-%m') AS billing_period,
            {first(fc.SERVICE_PROVIDER_NAME, fc.PROVIDER_NAME)} AS provider,
            _ss_charge_category AS charge_category,
            UPPER(_ss_currency) AS currency,
            {product_sql} AS product,
            {cost_line_sql} AS cost_line,
            {", ".join(dims)},
            _ss_cost AS cost,{quantity_sql}
            {tags_invalid} AS tags_invalid
        FROM {from_sql}
    """
    return Plan(
        sql,
        product_params,
        tuple(tag_dimension_name(k) for k in tag_dims),
        reason,
        from_sql,
        quantities,
        resources,
        descriptions,
    )


def quantity_aggregates(sql_type: str = "") -> str:
    """SQL aggregates of ``quantity`` and ``quantity_unit`` over a group of rows (or of partial sums).

    A group's quantity is known only when every row has one and they share one unit: summing hours with
    gigabytes, or a part of the rows, would make a unit price that means nothing.
    ``sql_type`` (e.g. ``DOUBLE``) casts the sum.
    """
    same_unit = "min(quantity_unit) IS NOT DISTINCT FROM max(quantity_unit)"
    return (
        f"CASE WHEN count(quantity) = count(*) AND {same_unit} THEN sum(quantity) END{'::' + sql_type if sql_type else ''} AS quantity, "
        f"CASE WHEN {same_unit} THEN min(quantity_unit) END AS quantity_unit"
    )


LEAF_KEYS: Sequence[str] = (
    "period_start",
    "billing_account",
    "billing_period",
    "provider",
    "charge_category",
    "currency",
    "product",
    "cost_line",
    "account",
    "region",
    "service",
    "sku",
    "resource_type",
)
