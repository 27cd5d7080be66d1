"""The in-process scheduler of ``serve``: training and sweeps on cron expressions (APScheduler 3.x).

Jobs never overlap themselves (``max_instances=1``) and missed runs collapse into one (``coalesce``), so a
slow training cannot pile up behind itself. Exceptions are logged by APScheduler and do not stop the
scheduler; each job records its own outcome.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from datetime import UTC

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger

from core.errors import InputError

log = logging.getLogger(__name__)


def cron_trigger(expression: str, field: str) -> CronTrigger:
    """A UTC cron trigger; a bad expression is an InputError naming the setting."""
    try:
        return CronTrigger.from_crontab(expression, timezone=UTC)
    except ValueError as exc:
        raise InputError(field, f"not a cron expression ({exc})") from exc


def build_scheduler(jobs: Mapping[str, tuple[str, Callable[[], object]]]) -> BackgroundScheduler:
    """``jobs``: name -> (cron expression, function). The scheduler is returned unstarted."""
    scheduler = BackgroundScheduler(timezone=UTC)
    for name, (expression, func) in jobs.items():
        scheduler.add_job(
            func,
            cron_trigger(expression, f"SPENDSENTRY_{name.upper()}_CRON"),
            id=name,
            name=name,
            max_instances=1,
            coalesce=True,
            misfire_grace_time=3600,
        )
    return scheduler
