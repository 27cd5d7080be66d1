"""Replay a generated billing export through the real ``spendsentry`` CLI into local receivers.

A fresh state (SQLite and fact store in a work folder), ``spendsentry ingest``, the manifest's
expected-change windows announced a week before the replay, then ``spendsentry replay`` from the end of
the training months to the end of the data, every period, with PagerDuty and ticket-webhook receivers on
127.0.0.1. What comes back: every incident with its history (from the state database) and every page and
ticket the receivers accepted.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from alerts.expected_changes import create_expected_change
from alerts.incidents import get_incident, list_incidents
from bench.billing_year import Manifest
from bench.receiver import recording
from core.clock import FixedClock
from core.db import make_engine, migrate


@dataclass(frozen=True)
class Observed:
    """What one replay produced."""

    incidents: list[dict[str, Any]]  # incident views with ``history`` and ``notifications``
    pages: list[dict[str, Any]]  # PagerDuty Events v2 bodies, in arrival order
    tickets: list[dict[str, Any]]  # ticket webhook bodies, in arrival order
    sweeps: int
    seconds: float
    report: str  # what ``spendsentry replay`` printed


def spendsentry() -> list[str]:
    beside = Path(sys.executable).parent / "spendsentry"
    if beside.exists():
        return [str(beside)]
    found = shutil.which("spendsentry")
    if found is None:
        raise RuntimeError("the spendsentry command is not installed (pip install -e .)")
    return [found]


def _env(state: Path, extra: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SPENDSENTRY_")}
    env.update(
        {
            "SPENDSENTRY_DATA_DIR": str(state / "var"),
            "SPENDSENTRY_DATABASE_URL": f"sqlite:///{state / 'var' / 'state.db'}",
            "SPENDSENTRY_LOG_FORMAT": "text",
        }
    )
    env.update(extra)
    return env


def _run(args: list[str], state: Path, extra: dict[str, str], progress: bool) -> str:
    # On a terminal the CLI's own progress bar (stderr) shows through; elsewhere stderr is kept for errors.
    show = progress and sys.stderr.isatty()
    res = subprocess.run(
        [*spendsentry(), *args],
        cwd=state,
        env=_env(state, extra),
        stdout=subprocess.PIPE,
        stderr=None if show else subprocess.PIPE,
        text=True,
        stdin=subprocess.DEVNULL,
        check=False,
    )
    if res.returncode != 0:
        raise RuntimeError(f"spendsentry {args[0]} exited {res.returncode}: {res.stderr or ''}"[-2000:])
    return res.stdout


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def replay_export(
    export: Path,
    manifest: Manifest,
    state: Path,
    *,
    settings: dict[str, str] | None = None,
    progress: bool = True,
) -> Observed:
    """Ingest ``export`` into a fresh state under ``state`` and replay the manifest's replay period."""
    (state / "var").mkdir(parents=True, exist_ok=True)
    extra = dict(settings or {})
    _run(["ingest", str(export)], state, extra, progress)
    engine = make_engine(f"sqlite:///{state / 'var' / 'state.db'}")
    migrate(engine)
    announced = FixedClock(_aware(manifest.replay_start) - timedelta(days=7))
    for change in manifest.expected_changes:
        create_expected_change(
            engine,
            announced,
            name=change["name"],
            matchers=change["matchers"],
            starts_at=_aware(datetime.fromisoformat(str(change["starts_at"]))),
            ends_at=_aware(datetime.fromisoformat(str(change["ends_at"]))),
            created_by="bench",
        )
    every = "1d" if manifest.period_hours == 24 else f"{manifest.period_hours}h"
    started = time.perf_counter()
    with recording() as receiver:
        report = _run(
            [
                "replay",
                "--start",
                _aware(manifest.replay_start).isoformat(),
                "--end",
                _aware(manifest.replay_end).isoformat(),
                "--every",
                every,
            ],
            state,
            {**receiver.env(), **extra},
            progress,
        )
        pages, tickets = receiver.pages(), receiver.tickets()
    seconds = time.perf_counter() - started
    listed: list[dict[str, Any]] = []
    while page := list_incidents(engine, limit=1000, offset=len(listed)):
        listed += page
    views = [get_incident(engine, i["id"]) for i in listed]
    engine.dispose()
    sweeps = int((manifest.replay_end - manifest.replay_start) / manifest.period) + 1
    return Observed(views, pages, tickets, sweeps, seconds, report)
