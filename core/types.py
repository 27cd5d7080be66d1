"""Domain types shared by every package."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

UNATTRIBUTED = "unattributed"


class Granularity(StrEnum):
    HOUR = "hour"
    DAY = "day"

    @property
    def pandas_freq(self) -> str:
        return "h" if self is Granularity.HOUR else "D"


@dataclass(frozen=True, slots=True)
class SeriesKey:
    """One spend series: a product's cost line in one currency at one granularity."""

    product: str
    cost_line: str
    currency: str
    granularity: Granularity = Granularity.DAY

    @property
    def id(self) -> str:
        return f"{self.product}|{self.cost_line}|{self.currency}|{self.granularity.value}"
