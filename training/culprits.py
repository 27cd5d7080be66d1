"""Culprit resources: the resources behind an incident's top root cause, by excess $ (top 5).

The sweep ranks root causes over the leaf facts; this names, for the newest event of a series (the one
incidents show), which resources of its top cause spent more than their own recent baseline, from the
resource-day facts (``ingestion.resource_facts``).
"""

from __future__ import annotations

import dataclasses
import logging

import pandas as pd

from core.anomaly import Anomaly
from core.settings import Settings
from ingestion.resource_facts import resources_dir, top_resources
from ingestion.resource_store import ResourceStore

log = logging.getLogger(__name__)
TOP_RESOURCES = 5


def with_culprits(
    settings: Settings, series: tuple[str, str, str], anomalies: list[Anomaly], step: pd.Timedelta
) -> list[Anomaly]:
    """``anomalies`` with the newest one's top cause carrying its top resources (when it rose)."""
    if not settings.keep_resources or not anomalies or not anomalies[-1].root_causes:
        return anomalies
    newest = anomalies[-1]
    top = newest.root_causes[0]
    if top.contribution <= 0:
        return anomalies
    store = ResourceStore(
        resources_dir(settings.data_dir),
        memory_limit=settings.duckdb_memory_limit,
        threads=settings.duckdb_threads,
    )
    try:
        culprits = top_resources(
            store,
            series,
            top.dimensions,
            start=newest.start,
            end=(pd.Timestamp(newest.end) + step).to_pydatetime(),
            k=TOP_RESOURCES,
        )
    except Exception:  # no culprits is better than no verdict
        log.exception("culprit resources unavailable")
        return anomalies
    if not culprits:
        return anomalies
    top = dataclasses.replace(top, resources=[c.to_dict() for c in culprits])
    return [*anomalies[:-1], dataclasses.replace(newest, root_causes=[top, *newest.root_causes[1:]])]
