"""Readable names of usage types from FOCUS ``ChargeDescription``, stable when the price changes.

A root cause fixed on a usage type (``sku=…``) is named in notifications by what the provider calls it.
FOCUS's ``ChargeDescription`` is that name, but AWS's starts with the price and the pricing tier
("$0.085 per GB - next 40 TB / month data transfer out"), which change exactly when an alert is most
likely (a price change, a tier crossed): the price, the unit it is per, counts ("per 10,000") and tier
phrases are stripped, leaving "data transfer out". Azure's ("Tables - LRS Data Stored") and GCP's ("N1
Predefined Instance Core running in Americas") carry no price and stay as they are.

Ingestion keeps, per billing account × billing period (replaced like the leaf facts, under
``DATA_DIR/descriptions``), each usage type's stripped descriptions with the usage spend they cover;
:func:`usage_type_labels` picks one per usage type (the newest period's dearest).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from pathlib import Path

import duckdb
import pandas as pd

from ingestion.fact_store import FactStore
from ingestion.focus_columns import USAGE
from ingestion.focus_reader import quote

_SYMBOL = r"[$€£¥₹]"
_CODE = r"\b(?:USD|EUR|GBP|JPY|CNY|INR|AUD|CAD|CHF|BRL|KRW|SEK|NOK|DKK|NZD|SGD|HKD)(?![A-Za-z])"
_AMOUNT = r"\d[\d,]*(?:\.\d+)?"
# "$0.085 per ", "USD 0.085 per ", "USD0.0595 per ", "USD $0.02 per ", "0.085 USD per ", "€1.20 for ", "0.0 per ".
_PRICE = re.compile(
    rf"^\s*(?:(?:{_CODE}\s*)?{_SYMBOL}\s*{_AMOUNT}|{_CODE}\s*{_AMOUNT}|{_AMOUNT}\s*{_CODE})\s+(?:per|for)\s+"
    rf"|^\s*{_AMOUNT}\s+per\s+",
    re.I,
)
# What the price is per: "10,000 ", "1 million ", "million ".
_COUNT = re.compile(rf"^(?:{_AMOUNT}\s+)?(?:(?:thousand|million|billion)\s+)?", re.I)
# A storage or transfer unit heading the rest: "GB - ", "GB-month of ", "GB-Mo of ", "TB for ", "GB ".
_UNIT = re.compile(
    r"^(?:[KMGTP]i?B)(?:-(?:mo|month|hour|hr|hours|second))?s?(?:\s*-\s+|\s+(?:of|for)\s+|\s+)(?=\S)", re.I
)
# Pricing tiers: "first 10 TB / month", "next 40 TB / month", "over 150 TB", "for the first 10,000 metrics".
_TIER = re.compile(
    rf"\bfor\s+the\s+(?:first|next)\s+{_AMOUNT}\s+\S+"
    rf"|\b(?:first|next|over|above|up\s+to|last)\s+{_AMOUNT}\s*[KMGTP]i?B(?:\s*/\s*(?:month|mo))?",
    re.I,
)
# Free-tier qualifiers of the same usage type at another price.
_FREE_TIER = re.compile(
    r"\b(?:beyond|under|within)\s+(?:the\s+)?(?:(?:global|monthly)\s+)*free\s+tier\b", re.I
)
# Numeric ranges of a tier: "(0-10 TB)", "[1 TiB - 10 TiB]".
_RANGE = re.compile(
    rf"[(\[]\s*{_AMOUNT}\s*(?:[KMGTP]i?B)?\s*[-–]\s*{_AMOUNT}\s*(?:[KMGTP]i?B)?\s*[)\]]", re.I
)
_EDGES = re.compile(r"^(?:\s|-|–|/|,|:|of\b|for\b)+|(?:\s|-|–|/|,|:)+$", re.I)


def stable_description(text: str | None) -> str | None:
    """``text`` without its leading price, unit and count and without tier phrases; ``None`` when empty.

    >>> stable_description("$0.085 per GB - next 40 TB / month data transfer out")
    'data transfer out'
    """
    if text is None:
        return None
    out = " ".join(str(text).split())
    priced = _PRICE.match(out)
    if priced:
        out = out[priced.end() :]
        out = _COUNT.sub("", out, count=1)
        out = _UNIT.sub("", out, count=1)
    out = _RANGE.sub(" ", _FREE_TIER.sub(" ", _TIER.sub(" ", out)))
    out = " ".join(out.split())
    previous = None
    while previous != out:  # "GB - of storage used" loses both its separator and its "of"
        previous, out = out, _EDGES.sub("", out)
    return out or None


def cause_name(service: str | None, description: str) -> str:
    """``<service>: <description>``, or the description alone when it already names the service."""
    if not service or description.lower().startswith(service.lower()):
        return description
    return f"{service}: {description}"


# -- ingestion -------------------------------------------------------------------------------------


def descriptions_dir(data_dir: Path) -> Path:
    return Path(data_dir) / "descriptions"


def description_branch(set_id: int) -> str:
    """The staging branch (over ``_ss_rows``) that sums usage spend per usage type and raw description
    (in the ``_ss_x_*`` columns staged beside the leaf groups, see :mod:`ingestion.resource_facts`)."""
    return f"""
        SELECT billing_account AS _ss_x_account, billing_period AS _ss_x_period, service AS _ss_x_service,
               sku AS _ss_x_sku, description AS _ss_x_description, sum(cost) AS _ss_x_cost, {set_id} AS _ss_x_set
        FROM _ss_rows
        WHERE reason IS NULL AND charge_category = '{USAGE}' AND description IS NOT NULL
        GROUP BY billing_account, billing_period, service, sku, description
    """


def publish_descriptions(
    conn: duckdb.DuckDBPyConnection,
    store: FactStore,
    staged: str,
    partitions: Sequence[tuple[str, str]],
) -> None:
    """Replace the descriptions of ``partitions`` with the staged ones, stripped (removing stale ones).

    ``staged`` selects the description branch's rows. Only the distinct raw descriptions (a few per
    usage type) go through :func:`stable_description`.
    """
    raw = [str(r[0]) for r in conn.execute(f"SELECT DISTINCT _ss_description FROM {staged}").fetchall()]
    mapping = pd.DataFrame(
        {"_ss_description": raw, "description": [stable_description(t) for t in raw]}, dtype="string"
    )
    conn.register("_ss_description_map", mapping)
    try:
        conn.execute(
            f"""CREATE OR REPLACE TEMP TABLE _ss_descriptions AS
                SELECT billing_account, billing_period, service, sku, m.description, sum(cost)::DOUBLE AS cost
                FROM {staged} s JOIN _ss_description_map m USING (_ss_description)
                WHERE m.description IS NOT NULL
                GROUP BY ALL"""
        )
    finally:
        conn.unregister("_ss_description_map")
    present = {
        (str(a), str(p))
        for a, p in conn.execute(
            "SELECT DISTINCT billing_account, billing_period FROM _ss_descriptions"
        ).fetchall()
    }
    for account, period in partitions:
        if (account, period) not in present:  # the new export of the period describes nothing
            store.partition_path(account, period).unlink(missing_ok=True)
    store.replace_partitions(conn, "SELECT * FROM _ss_descriptions", [p for p in partitions if p in present])
    conn.execute("DROP TABLE _ss_descriptions")


# -- reading ---------------------------------------------------------------------------------------


def usage_type_labels(store: FactStore, skus: Iterable[str]) -> dict[tuple[str, str], str]:
    """``(service, sku) -> "<service>: <description>"`` for these usage types, and ``("", sku)`` for the
    service that spent most on it (a cause that does not fix the service).

    Each takes the description of its newest billing period that covered the most spend.
    """
    wanted = sorted({str(s) for s in skus})
    if not wanted or not store.has_facts():
        return {}
    marks = ", ".join("?" for _ in wanted)
    frame = store.query(
        f"""
        SELECT service, sku, description, sum(cost) AS cost, max(billing_period) AS newest
        FROM (SELECT * FROM facts WHERE sku IN ({marks})
              QUALIFY billing_period = max(billing_period) OVER (PARTITION BY service, sku))
        GROUP BY service, sku, description
        ORDER BY sku, {quote("cost")} DESC, service, description
        """,
        wanted,
    )
    out: dict[tuple[str, str], str] = {}
    for service, sku, description in zip(frame["service"], frame["sku"], frame["description"], strict=True):
        named = service if isinstance(service, str) else None
        name = cause_name(named, str(description))
        out.setdefault((named or "", str(sku)), name)
        out.setdefault(("", str(sku)), name)  # rows come dearest first
    return out
