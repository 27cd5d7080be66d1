"""Builders of small FOCUS exports for tests: rows as dicts, written as CSV, CSV.gz or Parquet."""

from __future__ import annotations

import csv
import gzip
import json
from collections.abc import Iterable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd

COLUMNS = [
    "BilledCost",
    "BillingAccountId",
    "BillingCurrency",
    "BillingPeriodEnd",
    "BillingPeriodStart",
    "ChargeCategory",
    "ChargePeriodEnd",
    "ChargePeriodStart",
    "EffectiveCost",
    "ListCost",
    "ProviderName",
    "RegionId",
    "ResourceId",
    "ResourceType",
    "ServiceName",
    "SkuId",
    "SubAccountId",
    "Tags",
]


def row(
    *,
    start: datetime = datetime(2026, 9, 1),
    hours: int = 1,
    cost: float = 1.0,
    product: str | None = "checkout",
    service: str = "Amazon EC2",
    region: str = "us-east-1",
    account: str = "111",
    billing_account: str = "900",
    category: str = "Usage",
    currency: str = "USD",
    **extra: Any,
) -> dict[str, Any]:
    period = start.strftime("%Y-%m-01 00:00:00")
    month_end = (start.replace(day=28) + timedelta(days=4)).replace(day=1)
    tags = {"product": product, "team": "payments"} if product else {"team": "payments"}
    out: dict[str, Any] = {
        "BilledCost": cost * 1.1,
        "BillingAccountId": billing_account,
        "BillingCurrency": currency,
        "BillingPeriodEnd": month_end.strftime("%Y-%m-%d 00:00:00"),
        "BillingPeriodStart": period,
        "ChargeCategory": category,
        "ChargePeriodEnd": (start + timedelta(hours=hours)).strftime("%Y-%m-%d %H:%M:%S"),
        "ChargePeriodStart": start.strftime("%Y-%m-%d %H:%M:%S"),
        "EffectiveCost": cost,
        "ListCost": cost * 1.3,
        "ProviderName": "AWS",
        "RegionId": region,
        "ResourceId": f"i-{account}-{service[:3]}",
        "ResourceType": "Instance",
        "ServiceName": service,
        "SkuId": "SKU1",
        "SubAccountId": account,
        "Tags": json.dumps(tags),
    }
    out.update(extra)
    return out


def hourly_rows(hours: int, *, start: datetime = datetime(2026, 9, 1), **kwargs: Any) -> list[dict[str, Any]]:
    return [row(start=start + timedelta(hours=h), **kwargs) for h in range(hours)]


def write_csv(path: Path, rows: Iterable[dict[str, Any]], columns: list[str] | None = None) -> Path:
    rows = list(rows)
    cols = columns or list(dict.fromkeys(k for r in rows for k in r))
    opener = gzip.open if path.name.endswith(".gz") else open
    with opener(path, "wt", newline="", encoding="utf-8") as fh:  # type: ignore[operator]
        writer = csv.writer(fh, quoting=csv.QUOTE_MINIMAL)
        writer.writerow(cols)
        for r in rows:
            writer.writerow(["NULL" if r.get(c) is None else r.get(c) for c in cols])
    return path


def write_parquet(path: Path, rows: Iterable[dict[str, Any]]) -> Path:
    frame = pd.DataFrame(list(rows))
    for col in ("BilledCost", "EffectiveCost", "ListCost"):
        if col in frame:
            frame[col] = frame[col].astype(float)
    frame.to_parquet(path, index=False)
    return path
