"""The new normal end to end: a daily cost line steps up for good (one region's compute at 2.5x, +37% of an
$850 a day line), replayed day by day with training on schedule, real facts, a real state database and a
local ticket receiver. The step is one ticket, resolved as the new normal after REBASELINE_AFTER_HOURS with
the $ a month it adds; the new level then raises nothing, and a spike on top of it still does."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import Engine

from alerts.rebaseline import list_rebaselines
from core.settings import Settings
from tests.ingestion.focus_rows import row, write_csv
from tests.training.daily_replay import replay_into_tickets

START, DAYS, STEP, SPIKE = datetime(2026, 6, 1), 104, 80, 98  # the step on day 80, the spike on day 98
EU, US = 210.0, 640.0  # a weekday's spend per region; eu-west-1 goes to 2.5x: +315 a day, about 9.6k a month


def export(path: Path) -> Path:
    rng = np.random.default_rng(7)
    rows = []
    for d in range(DAYS):
        day = START + timedelta(days=d)
        week = 1.0 if day.weekday() < 5 else 0.8
        for region, base in (("us-east-1", US), ("eu-west-1", EU)):
            cost = base * week * (1 + rng.normal(0, 0.03))
            cost *= 2.5 if region == "eu-west-1" and d >= STEP else 1.0
            cost *= 2.0 if region == "us-east-1" and d in (SPIKE, SPIKE + 1) else 1.0
            rows.append(row(start=day, hours=24, cost=round(cost, 2), product="shop", region=region))
        # The product's other cost line: the step is a material share of the product's month.
        rows.append(
            row(start=day, hours=24, cost=round(3000 * week, 2), product="shop", service="Amazon RDS")
        )
    return write_csv(path, rows)


def day(n: int, hour: int = 6) -> datetime:
    return (START + timedelta(days=n, hours=hour)).replace(tzinfo=UTC)


@pytest.mark.slow
def test_a_permanent_step_is_one_ticket_resolved_as_the_new_normal(engine: Engine, tmp_path: Path) -> None:
    tickets = replay_into_tickets(
        engine, tmp_path, export(tmp_path / "export.csv"), start=day(STEP - 3), end=day(DAYS - 1)
    )
    compute = [b for b in tickets if b["cost_line"] == "Amazon EC2"]
    assert [b for b in tickets if b not in compute] == []
    opens = [i for i, b in enumerate(compute) if b["action"] == "open"]
    resolves = [i for i, b in enumerate(compute) if b["action"] == "resolve"]
    # Two incidents: the step, then the spike on top of the new level; each resolved once.
    assert len(opens) == 2 and len(resolves) == 2 and opens[0] < resolves[0] < opens[1] < resolves[1]
    step_open, step_resolve, spike_open = compute[opens[0]], compute[resolves[0]], compute[opens[1]]
    assert step_open["fingerprint"] == step_resolve["fingerprint"]
    assert step_open["details"]["root_causes"][0]["dimensions"] == {"region": "eu-west-1"}
    # Resolved as the new normal, saying so with the $ a month it adds.
    assert step_resolve["summary"].startswith("Resolved (new normal): shop / Amazon EC2 runs at 1.3")
    assert "a month" in step_resolve["summary"] and step_resolve["details"]["resolution"] == "new normal"
    learned = step_resolve["details"]["new_normal"]
    assert learned["since"].startswith((START + timedelta(days=STEP)).date().isoformat())
    month = (EU * 1.5) * (5 + 0.8 * 2) / 7 * 730 / 24
    assert learned["month_impact"] == pytest.approx(month, rel=0.15)
    assert learned["hours"] >= Settings.model_fields["rebaseline_after_hours"].default
    # The spike on top of the new level is noticed on its own, and named.
    assert spike_open["details"]["period_start"].startswith(
        (START + timedelta(days=SPIKE)).date().isoformat()
    )
    assert spike_open["details"]["root_causes"][0]["dimensions"] == {"region": "us-east-1"}
    # The step was learned once, and training has applied it since.
    [record] = list_rebaselines(engine)
    assert (
        record.reason == "persisted"
        and record.applied_at is not None
        and record.applied_at > record.created_at
    )
