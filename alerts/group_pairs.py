"""The pairs of anomalous series that grouping must test: a superset of the related ones, found by index.

Testing every pair of a sweep's anomalies (:func:`alerts.grouping.related`) is quadratic: 2 million tests,
most of a 100,000-series sweep's alerting, at 2,000 anomalies. A pair can only be related in two ways,
and each pins something an index finds without comparing the pair:

- one series' problem lies within the other's scope: every value the outer series fixes is in the inner
  one's locus (fixed values and top cause), so in particular its first fixed value is;
- siblings sharing a root cause: both fix the same dimensions, both top causes explain at least
  ``cause_share`` and name the same value of every sibling key (an account) the series do not fix.

Every pair found is then tested with ``related`` as before, so the groups are the very same; the tests
compare them with the test of every pair on random sweeps.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from alerts.grouping import GroupItem


def candidate_pairs(items: Sequence[GroupItem], *, cause_share: float) -> set[tuple[int, int]]:
    """Pairs ``(i, j)``, ``i < j``, of ``items`` that may be related (every related pair among them)."""
    from alerts.grouping import SIBLING_KEYS

    pairs: set[tuple[int, int]] = set()

    def add(i: int, others: Iterable[int]) -> None:
        pairs.update((min(i, j), max(i, j)) for j in others if j != i)

    # Inner series by each (dimension, value) of their locus.
    by_locus: dict[tuple[str, Hashable], list[int]] = {}
    for i, item in enumerate(items):
        for pair in {**item.cause, **item.fixed}.items():
            by_locus.setdefault(pair, []).append(i)
    everyone = range(len(items))
    for i, outer in enumerate(items):
        if not outer.fixed:
            continue  # pins nothing: never the outer series
        first = next(iter(outer.fixed.items()))
        # A missing value would match a locus without that dimension: then any series may be inside.
        add(i, everyone if first[1] is None else by_locus.get(first, ()))
    # Siblings: the same fixed dimensions and the same sibling-key values of their top causes.
    siblings: dict[tuple[Hashable, ...], list[int]] = {}
    for i, item in enumerate(items):
        if item.cause_share < cause_share:
            continue
        if any(k in item.fixed or k not in item.cause for k in SIBLING_KEYS):
            continue
        key: tuple[Hashable, ...] = (frozenset(item.fixed), *(item.cause[k] for k in SIBLING_KEYS))
        siblings.setdefault(key, []).append(i)
    for members in siblings.values():
        for n, i in enumerate(members):
            add(i, members[n + 1 :])
    return pairs
