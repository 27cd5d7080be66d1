"""What the generated billing year contains: the injected incidents and the traps, as a plan.

A plan is relative to the replay (the part of the data after the training months): each change starts at
a fraction of the replay's span and lasts a number of days of the full year's layout, scaled down for
shorter replays (the 90 hourly days, the small sets of the tests). Calendar traps (month start, month end,
holidays) sit on their dates instead. ``bench.billing_year`` turns the plan into spend and a manifest.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Final, Literal

from ingestion.demo_catalog import CLOUDFRONT, EC2, RDS, S3

Kind = Literal[
    "spike",  # extra spend on a slice for a few days: ``size`` x the cost line's daily spend
    "drift",  # extra spend ramping up to ``size`` x the line's daily spend, then gone at once
    "blip",  # extra spend of ``size`` $ a day (kept under the materiality floor)
    "level_shift",  # the slice spends more from then on: +``size`` of the whole cost line
    "price_rise",  # one usage type's unit price rises: +``size`` of the whole cost line
    "planned",  # the slice spends ``size`` x as much, announced as an expected-change window
    "new_cost_line",  # a cost line that never spent before spends ``size`` $ a day from then on
    "month_end",  # ``size`` x the line's spend on the last day of every month
    "month_start",  # the catalog's month-start batch jobs (nothing to add)
    "holiday",  # every line of the products spends ``size`` x as much on public holidays
]
Outcome = Literal["page", "ticket", "watch", "nothing"]
Resolution = Literal["resolved", "new_normal"]

# The layout of a full year: a year of daily data replayed after four months of training is 245 days.
YEAR_REPLAY_DAYS: Final = 245


@dataclass(frozen=True)
class Change:
    """One injected change; ``slice`` names catalog keys (``account``, ``region``, ``sku``)."""

    id: str
    kind: Kind
    products: tuple[str, ...]
    services: tuple[str, ...]
    expected: Outcome
    note: str
    slice: dict[str, str] = field(default_factory=dict)
    at: float = 0.0  # fraction of the replay's span where it starts
    days: float | None = None  # length in the year's layout; None: permanent (or recurring, for traps)
    size: float = 0.0
    resolution: Resolution | None = None  # what must happen once it ends (or, for a shift, once it holds)

    @property
    def trap(self) -> bool:
        return self.expected == "nothing"


# One cost line is scaled to a given $ a day over the training months before anything else happens:
# the permanent shift is "+37% on a ~$850/day cost line".
LINE_SCALE: Final = {("search", EC2): 850.0}

_PAY_STAGING, _IDENTITY_DEV = "104857600456", "/subscriptions/9b4e7d21-0c3a-4f58-b6e2-1a7c9d0e5f84"

DEFAULT_PLAN: Final = (
    Change("spike-checkout-staging", "spike", ("checkout",), (EC2,), "page",
           "a runaway load test in the staging account", {"account": _PAY_STAGING}, 0.163, 2, 3.0,
           "resolved"),
    Change("new-line-checkout-cache", "new_cost_line", ("checkout",), ("Amazon ElastiCache",), "ticket",
           "checkout starts a cache cluster: a cost line that never spent before", {}, 0.22, None, 450.0),
    Change("blip-identity-storage", "blip", ("identity",), ("Storage",), "nothing",
           "a one-off $60 blip, under the $100 materiality floor", {}, 0.25, 1, 60.0),
    Change("spike-reco-sagemaker", "spike", ("recommendations",), ("Amazon SageMaker",), "page",
           "a training job left running on GPU instances", {"sku": "sm-g5"}, 0.31, 3, 2.5, "resolved"),
    Change("shift-search-apac", "level_shift", ("search",), (EC2,), "ticket",
           "search's Singapore fleet grows for good (about 2.8x): +37% of an ~$850/day cost line",
           {"region": "ap-southeast-1"}, 0.38, None, 0.37, "new_normal"),
    Change("spike-media-cdn", "spike", ("media",), (CLOUDFRONT,), "ticket",
           "a video goes viral: CDN egress at 1.9x for a few days", {"sku": "cf-dto"}, 0.45, 4, 0.9,
           "resolved"),
    Change("drift-data-s3", "drift", ("data-platform",), (S3,), "ticket",
           "a lifecycle rule stops expiring objects, then is fixed", {"region": "us-east-1"}, 0.5, 35, 0.8,
           "resolved"),
    Change("spike-identity-dev", "spike", ("identity",), ("Virtual Machines",), "page",
           "a scale set in the dev subscription runs away", {"account": _IDENTITY_DEV}, 0.6, 2, 2.5,
           "resolved"),
    Change("price-rise-checkout-rds", "price_rise", ("checkout",), (RDS,), "ticket",
           "the database instance type's price rises: +30% of the cost line", {"sku": "rds-r6g"}, 0.68,
           None, 0.3),
    Change("planned-reco-ec2", "planned", ("recommendations",), (EC2,), "nothing",
           "a planned re-training doubles GPU spend, announced as an expected-change window", {}, 0.74, 6,
           2.0),
    Change("month-start-batches", "month_start", ("data-platform",), ("AWS Glue", "Amazon EMR"), "nothing",
           "the reporting batch on the 1st of every month (4-5x the day's spend)"),
    Change("month-end-athena", "month_end", ("data-platform",), ("Amazon Athena",), "nothing",
           "month-end closing queries: 4x Athena on the last day of every month", size=4.0),
    Change("holidays", "holiday", ("checkout", "search", "media"), (), "nothing",
           "customer-facing spend dips to 55% on public holidays", size=0.55),
)  # fmt: skip


def us_holidays(year: int) -> list[date]:
    """The public holidays the dip falls on: New Year, Independence Day, Labor Day, Thanksgiving, Christmas."""

    def nth_weekday(month: int, weekday: int, n: int) -> date:
        first = date(year, month, 1)
        return first + timedelta(days=(weekday - first.weekday()) % 7 + 7 * (n - 1))

    return [
        date(year, 1, 1),
        date(year, 7, 4),
        nth_weekday(9, 0, 1),
        nth_weekday(11, 3, 4),
        date(year, 12, 24),
        date(year, 12, 25),
        date(year, 12, 26),
    ]
