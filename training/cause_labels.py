"""Readable names of root causes: a cause fixed on a usage type is named by what the provider calls it.

``sku=DataTransfer-Out-Bytes`` tells an engineer little; the export's ``ChargeDescription`` of that usage
type, stripped of its price and tier (``ingestion.charge_descriptions``), says "Amazon CloudFront: data
transfer out". The sweep labels every cause whose dimensions name a usage type the exports described;
the cause's other values (region, account, tags...) follow in brackets. Causes without one keep no label
and notifications name them by their values, as before.
"""

from __future__ import annotations

import dataclasses
import logging

from core.anomaly import Anomaly, CauseRef
from core.settings import Settings
from ingestion.charge_descriptions import descriptions_dir, usage_type_labels
from ingestion.fact_store import FactStore

log = logging.getLogger(__name__)
USAGE_TYPE = "sku"
SERVICE = "service"


def label_of(dimensions: dict[str, str], labels: dict[tuple[str, str], str]) -> str | None:
    """The label of a cause with these dimension values, from :func:`usage_type_labels`' names."""
    sku = dimensions.get(USAGE_TYPE)
    if sku is None:
        return None
    # A cause that fixes the service takes that service's description; else the dearest service's.
    name = labels.get((dimensions.get(SERVICE, ""), sku))
    if name is None:
        return None
    rest = [str(v) for d, v in dimensions.items() if d not in (USAGE_TYPE, SERVICE)]
    return f"{name} ({', '.join(rest)})" if rest else name


def with_labels(settings: Settings, anomalies: list[Anomaly]) -> list[Anomaly]:
    """``anomalies`` with a label on every cause whose usage type the exports described."""
    skus = {c.dimensions[USAGE_TYPE] for a in anomalies for c in a.root_causes if USAGE_TYPE in c.dimensions}
    if not settings.keep_descriptions or not skus:
        return anomalies
    store = FactStore(
        descriptions_dir(settings.data_dir),
        memory_limit=settings.duckdb_memory_limit,
        threads=settings.duckdb_threads,
    )
    try:
        labels = usage_type_labels(store, skus)
    except Exception:  # a cause named by its values is better than no verdict
        log.exception("usage-type descriptions unavailable")
        return anomalies
    if not labels:
        return anomalies

    def labelled(cause: CauseRef) -> CauseRef:
        label = label_of(cause.dimensions, labels)
        return dataclasses.replace(cause, label=label) if label else cause

    return [dataclasses.replace(a, root_causes=[labelled(c) for c in a.root_causes]) for a in anomalies]
