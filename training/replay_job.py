"""Replay: the sweeps the scheduler would have run over a past period, each with only the facts known then.

Models are retrained on the training schedule (``TRAIN_CRON``) with facts before each training time, so
a replay answers "how many pages and tickets would this configuration have produced?" before anyone is
paged. With ``dry_run`` the replay runs against a scratch state database and model directory and sends
nothing; the notifications it would have sent are listed instead.
"""

from __future__ import annotations

import re
import tempfile
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from alerts.dispatcher import Dispatcher
from alerts.incidents import list_incidents
from alerts.wiring import Alerting
from core.clock import AdvancingClock, FixedClock
from core.db import make_engine, migrate
from core.errors import InputError
from core.settings import Settings
from training.scheduler import cron_trigger
from training.sweep_job import run_sweep
from training.train_job import Exclusions, ModelChoice, train_all

AlertingFactory = Callable[[Settings, Engine, FixedClock], Alerting]
Progress = Callable[[int, int], None]


def parse_every(text: str) -> timedelta:
    match = re.fullmatch(r"(\d+)([hd])", text.strip())
    if not match or int(match.group(1)) == 0:
        raise InputError("--every", "must look like 1h, 6h or 1d")
    n = int(match.group(1))
    return timedelta(hours=n) if match.group(2) == "h" else timedelta(days=n)


@dataclass
class ReplayReport:
    start: datetime
    end: datetime
    sweeps: int = 0
    trainings: int = 0
    notifications: list[dict[str, Any]] = field(default_factory=list)  # what was (or would be) sent
    incidents: list[dict[str, Any]] = field(default_factory=list)
    dry_run: bool = False

    def weekly(self) -> list[tuple[str, int, int, int]]:
        """(ISO week, pages, tickets, incidents opened) per week of the replay."""
        pages: Counter[str] = Counter()
        tickets: Counter[str] = Counter()
        opened: Counter[str] = Counter()
        for inc in self.incidents:
            week = _week(inc["opened_at"])
            opened[week] += 1
            if inc["peak_severity"] == "page":
                pages[week] += 1
            elif inc["peak_severity"] == "ticket":
                tickets[week] += 1
        weeks = sorted(set(opened) | {_week(self.start.isoformat())})
        return [(w, pages[w], tickets[w], opened[w]) for w in weeks]

    def lines(self) -> list[str]:
        out = [
            f"replay {self.start.isoformat()} → {self.end.isoformat()}: {self.sweeps} sweeps, "
            f"{self.trainings} trainings{' (dry run: nothing sent)' if self.dry_run else ''}",
            "",
            f"{'week':<10} {'pages':>6} {'tickets':>8} {'incidents':>10}",
        ]
        out += [f"{w:<10} {p:>6} {t:>8} {n:>10}" for w, p, t, n in self.weekly()]
        out += ["", "incidents:"]
        for inc in sorted(self.incidents, key=lambda i: i["opened_at"]):
            causes = "; ".join(
                " & ".join(f"{k}={v}" for k, v in c.get("dimensions", {}).items())
                + f" ({c.get('contribution', 0):+,.0f})"
                for c in (inc.get("root_causes") or [])[:3]
            )
            out.append(
                f"  {inc['opened_at'][:16]}  {inc['peak_severity']:<6} {inc['status']:<8} {inc['product']} / "
                f"{inc['cost_line']}  impact {inc['peak_impact']:+,.0f} {inc['currency']}  causes: {causes or '-'}"
            )
        verb = "would send" if self.dry_run else "sent"
        out += ["", f"notifications ({verb}): {len(self.notifications)}"]
        out += [
            f"  {n['at'][:16]}  {n['action']:<8} {n['severity']:<6} → {n['receiver']}: {n['summary']}"
            for n in self.notifications[:200]
        ]
        return out


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _week(iso: str) -> str:
    year, week, _ = datetime.fromisoformat(iso).isocalendar()
    return f"{year}-W{week:02d}"


@contextmanager
def _scratch(settings: Settings) -> Iterator[tuple[Settings, Engine]]:
    with tempfile.TemporaryDirectory(prefix="spendsentry-replay-") as tmp:
        scratch = settings.model_copy(
            update={"database_url": f"sqlite:///{Path(tmp) / 'replay.db'}", "model_dir": Path(tmp) / "models"}
        )
        engine = make_engine(scratch.database_url)
        migrate(engine)
        try:
            yield scratch, engine
        finally:
            engine.dispose()


def replay(
    settings: Settings,
    engine: Engine,
    *,
    start: datetime,
    end: datetime,
    every: timedelta,
    alerting_factory: AlertingFactory,
    dry_run: bool = False,
    exclusions: Callable[[Engine], Exclusions] | None = None,
    model: ModelChoice = "seasonal",
    progress: Progress | None = None,
) -> ReplayReport:
    """Sweep at ``start``, ``start + every``, ... up to ``end`` inclusive, retraining on TRAIN_CRON."""
    start, end = (t if t.tzinfo else t.replace(tzinfo=UTC) for t in (start, end))
    if end < start:
        raise InputError("--end", "must not be before --start")
    ticks = int((end - start) / every) + 1
    if ticks > 20_000:
        raise InputError("--every", f"{ticks} sweeps; at most 20000 per replay")
    report = ReplayReport(start=start, end=end, dry_run=dry_run)
    trigger = cron_trigger(settings.train_cron, "SPENDSENTRY_TRAIN_CRON")
    with _scratch(settings) if dry_run else _nullcontext(settings, engine) as (run_settings, run_engine):
        clock = FixedClock(start)
        alerting = alerting_factory(run_settings, run_engine, clock)
        # One clock per run: delivery stands at the replay's time too (rows it stamps are due at once) and runs
        # on from there in wall time while a tick waits, so a retry's backoff still passes.
        delivery = AdvancingClock(start)
        dispatcher = Dispatcher(run_engine, alerting.dispatcher.notifiers, delivery)
        next_training: datetime | None = None
        for i in range(ticks):
            at = start + i * every
            clock.set(at)
            if next_training is None or at >= next_training:
                train_all(
                    run_settings,
                    run_engine,
                    clock,
                    model=model,
                    workers=1,
                    at=at,
                    exclusions=exclusions(run_engine) if exclusions else None,
                )
                report.trainings += 1
                fire = trigger.get_next_fire_time(None, at + timedelta(seconds=1))
                next_training = fire if fire is not None else end + every
            outcome = run_sweep(run_settings, run_engine, clock, at=at, alerting=None, dispatch=False)
            result = alerting.service.process(outcome.evaluations)
            for n in result.notifications:
                report.notifications.append(
                    {
                        "at": at.isoformat(),
                        "receiver": n.receiver,
                        "action": n.action,
                        "severity": n.severity,
                        "summary": n.summary,
                        "incident_id": n.incident_id,
                    }
                )
            if not dry_run:
                delivery.set(at)
                dispatcher.run_until_idle(timeout=30.0)
            report.sweeps += 1
            if progress:
                progress(i + 1, ticks)
        report.incidents = [
            inc
            for inc in list_incidents(run_engine, limit=1000)
            if _aware(datetime.fromisoformat(inc["opened_at"])) >= start
        ]
    return report


@contextmanager
def _nullcontext(settings: Settings, engine: Engine) -> Iterator[tuple[Settings, Engine]]:
    yield settings, engine
