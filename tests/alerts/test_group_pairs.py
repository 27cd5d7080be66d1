"""Grouping tests only the pairs the index finds: every related pair is among them, so the groups are the
ones the test of every pair gives, on random sweeps of products, cost lines, accounts and their causes."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from alerts.group_pairs import candidate_pairs
from alerts.grouping import CAUSE_SHARE, Group, GroupItem, _owner, group_anomalies, related

T = datetime(2026, 9, 10, tzinfo=UTC)


def _random_items(rng: random.Random, n: int) -> list[GroupItem]:
    """Series of a small world (few values per dimension) so that many pairs are related."""
    values = {
        "product": ["media", "search", "ads"],
        "cost_line": ["Compute", "Egress", "Storage"],
        "account": ["111", "222"],
        "region": ["eu", "us"],
        "service": ["EC2", "S3"],
    }
    shapes = [("product", "cost_line"), ("product",), ("account",), ("region",), ("product", "cost_line")]
    items = []
    for i in range(n):
        fixed = {d: rng.choice(values[d]) for d in rng.choice(shapes)}
        free = [d for d in values if d not in fixed]
        cause = {d: rng.choice(values[d]) for d in rng.sample(free, rng.randint(0, min(3, len(free))))}
        start = T + timedelta(days=rng.randint(0, 3))
        items.append(
            GroupItem(
                id=f"s{i}",
                fixed=fixed,
                start=start,
                end=start + timedelta(days=rng.randint(0, 2)),
                impact=rng.choice([-1.0, 1.0]) * rng.uniform(10, 1000),
                direction=rng.choice(["up", "up", "down"]),
                cause=cause,
                cause_share=rng.uniform(0.2, 1.0),
                incumbent=rng.random() < 0.1,
            )
        )
    return items


def _every_pair(items: list[GroupItem]) -> list[Group]:
    """The grouping as it was: every pair tested."""
    parent = list(range(len(items)))

    def root(i: int) -> int:
        while parent[i] != i:
            i = parent[i]
        return i

    for i in range(len(items)):
        for j in range(i + 1, len(items)):
            if related(items[i], items[j]):
                parent[root(i)] = root(j)
    components: dict[int, list[GroupItem]] = {}
    for i, item in enumerate(items):
        components.setdefault(root(i), []).append(item)
    groups = []
    for members in components.values():
        owner = _owner(members, 0.5)
        rest = sorted((m for m in members if m.id != owner.id), key=lambda m: (-abs(m.impact), m.id))
        groups.append(Group(owner.id, tuple(m.id for m in rest)))
    return sorted(groups, key=lambda g: g.owner)


@pytest.mark.parametrize("seed", range(40))
def test_every_related_pair_is_a_candidate(seed: int) -> None:
    rng = random.Random(seed)
    items = _random_items(rng, rng.randint(20, 60))
    related_pairs = {
        (i, j) for i in range(len(items)) for j in range(i + 1, len(items)) if related(items[i], items[j])
    }
    assert related_pairs, "the random world relates some series"
    assert related_pairs <= candidate_pairs(items, cause_share=CAUSE_SHARE)


@pytest.mark.parametrize("seed", range(40))
def test_groups_as_with_every_pair(seed: int) -> None:
    rng = random.Random(1000 + seed)
    items = _random_items(rng, rng.randint(20, 60))
    assert group_anomalies(items) == _every_pair(items)


def test_candidates_are_few_on_a_large_sweep() -> None:
    """Lines of distinct products, each with its product total: about one candidate pair per total."""
    items = []
    for p in range(500):
        items.append(GroupItem(f"line{p}", {"product": f"p{p}", "cost_line": "c"}, T, T, 100.0))
        items.append(GroupItem(f"total{p}", {"product": f"p{p}"}, T, T, 100.0, cause={"cost_line": "c"}))
    pairs = candidate_pairs(items, cause_share=CAUSE_SHARE)
    assert len(pairs) == 500
    assert len(group_anomalies(items)) == 500
