"""A daily replay of one export into a local ticket receiver: what the end-to-end training tests share."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from alerts.wiring import alerting_from_settings, exclusions_from
from core.clock import FixedClock
from core.settings import Settings
from ingestion.ingest import Ingestor
from tests.alerts.receiver_server import Receiver, running
from training.replay_job import replay


def replay_into_tickets(
    engine: Engine, tmp_path: Path, export: Path, *, start: datetime, end: datetime
) -> list[dict[str, Any]]:
    """Ingest ``export``, replay ``start``..``end`` day by day with training, and return the ticket
    webhook bodies the receiver accepted, in order."""
    with running(Receiver()) as receiver:
        settings = Settings(
            data_dir=tmp_path / "data",
            ticket_kind="webhook",
            ticket_url=f"{receiver.url}/webhook",
            _env_file=None,  # type: ignore[call-arg]
        )
        Ingestor(settings, engine, FixedClock(end + timedelta(days=1))).ingest_paths([export])
        replay(
            settings,
            engine,
            start=start,
            end=end,
            every=timedelta(days=1),
            alerting_factory=alerting_from_settings,
            exclusions=exclusions_from,
        )
    return [b for p, b in receiver.accepted if p.startswith("/webhook")]
