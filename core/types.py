"""Domain types shared by every package."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum

UNATTRIBUTED = "unattributed"
DEFAULT_SCOPE = "default"  # product × cost line: the series every version has watched


class Granularity(StrEnum):
    HOUR = "hour"
    DAY = "day"

    @property
    def pandas_freq(self) -> str:
        return "h" if self is Granularity.HOUR else "D"

    @property
    def step(self) -> timedelta:
        """The length of one period."""
        return timedelta(hours=1) if self is Granularity.HOUR else timedelta(days=1)


@dataclass(frozen=True, slots=True)
class SeriesKey:
    """One spend series: a product's cost line in one currency at one granularity, or the series of
    another monitor (``core.monitors``): its ``scope`` names it and ``filters`` are the fact columns and
    values it sums over."""

    product: str
    cost_line: str
    currency: str
    granularity: Granularity = Granularity.DAY
    scope: str = DEFAULT_SCOPE
    filters: tuple[tuple[str, str], ...] = ()

    @property
    def id(self) -> str:
        base = f"{self.product}|{self.cost_line}|{self.currency}|{self.granularity.value}"
        # Product × cost line keeps the id it always had: its stored models stay current.
        return base if self.scope == DEFAULT_SCOPE else f"{base}|{self.scope}"
