"""Severity levels of an incident, ordered: none < ticket < page."""

from __future__ import annotations

from enum import StrEnum


class Severity(StrEnum):
    NONE = "none"
    TICKET = "ticket"
    PAGE = "page"

    @property
    def rank(self) -> int:
        return _RANK[self]

    def __lt__(self, other: str) -> bool:
        return self.rank < Severity(other).rank

    def __le__(self, other: str) -> bool:
        return self.rank <= Severity(other).rank

    def __gt__(self, other: str) -> bool:
        return self.rank > Severity(other).rank

    def __ge__(self, other: str) -> bool:
        return self.rank >= Severity(other).rank


_RANK = {Severity.NONE: 0, Severity.TICKET: 1, Severity.PAGE: 2}
