"""Grouping: one incident per problem. A pure function from the anomalies of one sweep to groups, each
with the series that owns the problem and the series linked to it (which notify nothing of their own).

Two anomalous series are *related* when their open events overlap in time, go the same way, and
either

- their scopes overlap: one series' fixed values lie inside the other's *locus* (its fixed values plus
  the values of its top root cause) and the two loci do not contradict each other: a product total and
  the cost line that carries its excess; an account and the cost line whose top cause is that account;
- or they are siblings sharing a root cause: the same dimensions fixed with other values (two products'
  Egress) whose top root causes name the same account and agree on every other dimension they share
  (same account × service), each explaining at least ``cause_share`` of its series' excess. The account
  is required because it locates a problem: two products growing in one region at once are common and
  unrelated, two products' spend jumping in one account at once is one thing happening there.

A group is a connected set of related series. Its owner is the most specific series (the most
dimensions fixed) among those that explain the excess (an impact of at least ``explain_share`` of the
group's largest), larger impact first on a tie; a series whose open incident has already notified keeps
the ownership it has (one PagerDuty ``dedup_key`` and one ticket per problem, even as the problem grows
into other series).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from alerts.group_pairs import candidate_pairs

EXPLAIN_SHARE = 0.5  # an owner explains at least this share of the group's largest excess
CAUSE_SHARE = 0.5  # siblings are joined by a top cause that explains at least this share of each
SIBLING_KEYS = ("account",)  # what siblings' top causes must both name, with the same value


@dataclass(frozen=True)
class GroupItem:
    """One anomalous series at the sweep time."""

    id: str  # the series' fingerprint
    fixed: Mapping[str, str]  # the dimension values the series fixes (product, cost_line, account, ...)
    start: datetime  # first and last period of its open events
    end: datetime
    impact: float  # its excess over expected, in money
    direction: str = "up"
    cause: Mapping[str, str] = field(default_factory=dict)  # its top root cause's dimension values
    cause_share: float = 0.0  # the share of its excess that cause explains
    incumbent: bool = False  # its open incident has notified already: it keeps owning its problem


@dataclass(frozen=True)
class Group:
    owner: str
    linked: tuple[str, ...]  # ids of the other members, largest impact first


def _locus(item: GroupItem) -> dict[str, str]:
    return {**item.cause, **item.fixed}


def _within(inner: GroupItem, outer: GroupItem) -> bool:
    """``outer``'s fixed values pin ``inner``'s locus: ``inner``'s problem lies inside ``outer``'s scope."""
    locus = _locus(inner)
    return bool(outer.fixed) and all(locus.get(k) == v for k, v in outer.fixed.items())


def _compatible(a: GroupItem, b: GroupItem) -> bool:
    la, lb = _locus(a), _locus(b)
    return all(la[k] == lb[k] for k in la.keys() & lb.keys())


def _siblings(a: GroupItem, b: GroupItem, cause_share: float) -> bool:
    if set(a.fixed) != set(b.fixed) or dict(a.fixed) == dict(b.fixed):
        return False
    if min(a.cause_share, b.cause_share) < cause_share:
        return False
    shared = (a.cause.keys() & b.cause.keys()) - set(a.fixed)
    if not all(k in shared for k in SIBLING_KEYS):
        return False
    return all(a.cause[k] == b.cause[k] for k in shared)


def related(a: GroupItem, b: GroupItem, *, cause_share: float = CAUSE_SHARE) -> bool:
    """Whether two anomalous series share one problem (see the module docstring)."""
    if a.direction != b.direction or a.start > b.end or b.start > a.end:
        return False
    if (_within(a, b) or _within(b, a)) and _compatible(a, b):
        return True
    return _siblings(a, b, cause_share)


def _owner(members: Sequence[GroupItem], explain_share: float) -> GroupItem:
    pool = [m for m in members if m.incumbent] or list(members)
    largest = max(abs(m.impact) for m in pool)
    explains = [m for m in pool if abs(m.impact) >= explain_share * largest] or pool
    return max(explains, key=lambda m: (len(m.fixed), abs(m.impact), m.id))


def group_anomalies(
    items: Sequence[GroupItem], *, explain_share: float = EXPLAIN_SHARE, cause_share: float = CAUSE_SHARE
) -> list[Group]:
    """Every connected set of related series with its owner; a series related to none is a group alone."""
    parent = list(range(len(items)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    # Only the pairs that can be related are tested (every pair was: 2 million at 2,000 anomalies); the
    # components, hence the groups, do not depend on the order in which pairs are joined.
    for i, j in sorted(candidate_pairs(items, cause_share=cause_share)):
        if related(items[i], items[j], cause_share=cause_share):
            parent[root(i)] = root(j)
    components: dict[int, list[GroupItem]] = {}
    for i, item in enumerate(items):
        components.setdefault(root(i), []).append(item)
    groups: list[Group] = []
    for members in components.values():
        owner = _owner(members, explain_share)
        rest = sorted((m for m in members if m.id != owner.id), key=lambda m: (-abs(m.impact), m.id))
        groups.append(Group(owner.id, tuple(m.id for m in rest)))
    return sorted(groups, key=lambda g: g.owner)
