"""The last steps of ``make run``'s demo: budgets, an expected change and feedback, so the dashboard has
something in every section.

The demo replay leaves incidents (open and resolved) but nothing a person would have added: budgets per
product (from the shipped ``ingestion/demo_budgets.yaml``), one declared expected-change window, and one
piece of feedback on a resolved incident. Each step is skipped when its kind of state already exists, so a
second bootstrap changes nothing.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Final

from sqlalchemy import Engine

from alerts.budgets import list_budgets, load_budgets_yaml
from alerts.expected_changes import create_expected_change, list_expected_changes
from alerts.feedback import record_feedback
from alerts.incidents import list_incidents
from core.clock import Clock

DEMO_BUDGETS: Final = Path(__file__).resolve().parents[1] / "ingestion" / "demo_budgets.yaml"
DEMO_AUTHOR: Final = "demo"
# The product whose past window is declared: none of the demo's incidents is on it at that time.
CHANGE_PRODUCT: Final = "media"


def finish_demo(
    engine: Engine, clock: Clock, *, data_end: datetime, public_url: str, budgets_file: Path = DEMO_BUDGETS
) -> list[str]:
    """Add the demo's budgets, expected change and feedback where missing; one line per step done."""
    lines: list[str] = []
    if not list_budgets(engine):
        loaded = load_budgets_yaml(engine, clock, budgets_file)
        lines.append(f"demo budgets: {len(loaded)} monthly budgets from {budgets_file.name}")
    if not list_expected_changes(engine):
        # A planned change two to three weeks before the data ends: shaded on media's charts, with the
        # $ it spent judged as expected.
        start = (data_end - timedelta(days=20)).replace(hour=0, minute=0, second=0, microsecond=0)
        change = create_expected_change(
            engine,
            clock,
            name="media: planned CDN migration (demo)",
            matchers=[f"product={CHANGE_PRODUCT}"],
            starts_at=start,
            ends_at=start + timedelta(days=2),
            created_by=DEMO_AUTHOR,
        )
        lines.append(f"demo expected change: {change.name}")
    resolved = [
        i
        for i in list_incidents(engine, status="resolved", limit=500)
        if i["peak_severity"] in ("page", "ticket")
    ]
    if resolved and not any(i.get("feedback") for i in resolved):
        biggest = max(resolved, key=lambda i: abs(float(i["impact"])))
        record_feedback(
            engine,
            clock,
            biggest["id"],
            "confirmed",
            note="demo: a real incident, found and fixed",
            author=DEMO_AUTHOR,
            public_url=public_url,
        )
        lines.append(f"demo feedback: confirmed on {biggest['product']} / {biggest['cost_line']}")
    return lines
