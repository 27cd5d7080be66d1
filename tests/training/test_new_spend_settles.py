"""New spend settles, end to end: a cost line that never spent before starts at a steady $450 a day,
replayed day by day with retraining into a real local ticket receiver.

It must be one ticket from its first day, whose impact is the new spend itself (not the sum of every
sweep's reading of it); once the line has the history a baseline needs (28 days), it leaves cold start and
its incident resolves instead of growing for ever.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import Engine

from alerts.incidents import list_incidents
from alerts.wiring import alerting_from_settings, exclusions_from
from core.clock import FixedClock
from core.settings import Settings
from core.types import Granularity
from ingestion.ingest import Ingestor
from models.cold_start import MIN_HISTORY
from tests.alerts.receiver_server import Receiver, running
from tests.ingestion.focus_rows import row, write_csv
from training.replay_job import replay

START = datetime(2026, 3, 1)
NEW_LINE = START + timedelta(days=60)  # checkout / ElastiCache spends from here on
DAYS = 100
SECRET = "webhook-secret-for-tests"


def export(path: Path) -> dict[datetime, float]:
    """Write the export; return the new line's spend by day."""
    rng = np.random.default_rng(5)
    rows, new = [], {}
    for d in range(DAYS):
        day = START + timedelta(days=d)
        week = 0.8 if day.weekday() >= 5 else 1.0
        cost = 3000.0 * week * float(np.exp(rng.normal(0, 0.05)))
        rows.append(row(start=day, hours=24, cost=cost, product="checkout", service="Amazon EC2"))
        if day >= NEW_LINE:
            new[day] = 450.0 * float(np.exp(rng.normal(0, 0.05)))
            rows.append(
                row(start=day, hours=24, cost=new[day], product="checkout", service="Amazon ElastiCache")
            )
    write_csv(path, rows)
    return new


@pytest.mark.slow
def test_a_new_cost_line_is_one_ticket_that_resolves_once_trained(engine: Engine, tmp_path: Path) -> None:
    spend = export(tmp_path / "export.csv")
    with running(Receiver(webhook_secret=SECRET)) as receiver:
        settings = Settings(  # type: ignore[call-arg]
            data_dir=tmp_path / "data",
            ticket_kind="webhook",
            ticket_url=f"{receiver.url}/webhook",
            ticket_token=SECRET,
            _env_file=None,
        )
        Ingestor(settings, engine, FixedClock(datetime(2026, 12, 1, tzinfo=UTC))).ingest_paths(
            [tmp_path / "export.csv"]
        )
        replay(
            settings,
            engine,
            start=(NEW_LINE - timedelta(days=2)).replace(tzinfo=UTC),
            end=(START + timedelta(days=DAYS)).replace(tzinfo=UTC),
            every=timedelta(days=1),
            alerting_factory=alerting_from_settings,
            exclusions=exclusions_from,
            model="seasonal",
        )
    tickets = [
        b for p, b in receiver.accepted if p.startswith("/webhook") and "ElastiCache" in b["cost_line"]
    ]
    # One ticket, opened on the first sweep after the first day, and resolved.
    assert [b["action"] for b in tickets if b["action"] != "update"] == ["open", "resolve"], tickets
    assert datetime.fromisoformat(tickets[0]["details"]["period_start"]) == NEW_LINE.replace(tzinfo=UTC)
    [incident] = list_incidents(engine, cost_line="Amazon ElastiCache")
    assert incident["status"] == "resolved"
    # Resolved once cold start is over (a few days' leeway for the baseline to take the level in).
    resolved = datetime.fromisoformat(incident["resolved_at"])
    warm = NEW_LINE + timedelta(days=MIN_HISTORY[Granularity.DAY])
    assert resolved <= (warm + timedelta(days=4)).replace(tzinfo=UTC), resolved
    # Its impact is the new spend up to where it settled, not a sum of overlapping readings.
    end = datetime.fromisoformat(incident["period_end"]).replace(tzinfo=None)
    spent = sum(v for day, v in spend.items() if day <= end)
    assert 0.9 * spent <= incident["peak_impact"] <= 1.05 * spent, (incident["peak_impact"], spent)
