"""A small daily FOCUS export and its driver CSV for unit-economics tests: product ``shop`` spends on
``Amazon EC2`` and ``Amazon RDS`` in proportion to its requests, ``search`` spends on EC2 alone (no
drivers). ``change`` says what happens from ``CHANGE_DAY`` on."""

from __future__ import annotations

import csv
from datetime import datetime, timedelta
from pathlib import Path
from typing import Literal

import numpy as np

from tests.ingestion.focus_rows import row, write_csv

START = datetime(2026, 3, 2)
DAYS = 70
CHANGE_DAY = 60  # the change starts at START + CHANGE_DAY
PER_REQUEST = {"Amazon EC2": 0.01, "Amazon RDS": 0.005}
Change = Literal["none", "traffic_doubles", "rds_regression", "untagged_s3"]


def change_at() -> datetime:
    return START + timedelta(days=CHANGE_DAY)


def traffic(day: int, change: Change, rng: np.random.Generator) -> float:
    weekly = 1.0 + 0.15 * np.sin(2 * np.pi * day / 7)
    base = 100_000.0 * weekly * (1.0 + 0.002 * day) * (1.0 + rng.normal(0, 0.02))
    return float(base) * (2.0 if change == "traffic_doubles" and day >= CHANGE_DAY else 1.0)


def write_scenario(folder: Path, change: Change, *, seed: int = 3) -> tuple[Path, Path]:
    """Write ``export/focus.csv`` and ``drivers.csv`` under ``folder``; returns their paths."""
    rng = np.random.default_rng(seed)
    rows = []
    drivers = []
    for day in range(DAYS):
        start = START + timedelta(days=day)
        requests = traffic(day, change, rng)
        drivers.append((start.isoformat(), "shop", "requests", "request", f"{requests:.0f}"))
        for service, rate in PER_REQUEST.items():
            cost = rate * requests * (1.0 + rng.normal(0, 0.01))
            if change == "rds_regression" and service == "Amazon RDS" and day >= CHANGE_DAY:
                cost *= 2.4  # +700 $/day on 1,750: the product's cost per request is up 40%
            rows.append(row(start=start, hours=24, cost=round(cost, 4), product="shop", service=service))
        rows.append(
            row(start=start, hours=24, cost=round(300 * (1 + rng.normal(0, 0.02)), 4), product="search")
        )
        untagged = change == "untagged_s3" and day >= CHANGE_DAY
        rows.append(
            row(
                start=start,
                hours=24,
                cost=round(250 * (1 + rng.normal(0, 0.02)), 4),
                product=None if untagged else "shop",
                service="Amazon S3",
            )
        )
    export = folder / "export"
    export.mkdir(parents=True, exist_ok=True)
    write_csv(export / "focus.csv", rows)
    driver_csv = folder / "drivers.csv"
    with open(driver_csv, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["timestamp", "product", "driver", "unit", "value"])
        writer.writerows(drivers)
    return export, driver_csv
