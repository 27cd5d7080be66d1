"""The grouping rule, table-driven: which anomalous series share one problem, and which one owns it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from alerts.grouping import Group, GroupItem, group_anomalies, related

T = datetime(2026, 9, 10, tzinfo=UTC)
DAY = timedelta(days=1)
EGRESS_CAUSE = {"account": "111", "service": "Data Transfer"}


def item(
    id: str,
    fixed: dict[str, str],
    impact: float,
    cause: dict[str, str] | None = None,
    *,
    share: float = 0.9,
    start: datetime = T,
    end: datetime = T + DAY,
    direction: str = "up",
    incumbent: bool = False,
) -> GroupItem:
    return GroupItem(
        id=id,
        fixed=fixed,
        start=start,
        end=end,
        impact=impact,
        direction=direction,
        cause=cause or {},
        cause_share=share,
        incumbent=incumbent,
    )


def line(product: str, cost_line: str) -> dict[str, str]:
    return {"product": product, "cost_line": cost_line}


MEDIA_EGRESS = item("media/Egress", line("media", "Egress"), 700.0, EGRESS_CAUSE)
UNTAGGED_EGRESS = item("unattributed/Egress", line("unattributed", "Egress"), 300.0, EGRESS_CAUSE)
MEDIA_TOTAL = item("media", {"product": "media"}, 690.0, {"cost_line": "Egress"})
ACCOUNT = item("account=111", {"account": "111"}, 1000.0, {"service": "Data Transfer"})

RELATED = [
    # (why, a, b, related?)
    ("a product total and the cost line its excess is in", MEDIA_TOTAL, MEDIA_EGRESS, True),
    (
        "a product total whose top cause is another cost line",
        item("media", {"product": "media"}, 690.0, {"cost_line": "Compute"}),
        MEDIA_EGRESS,
        False,
    ),
    ("a product total and another product's cost line", MEDIA_TOTAL, UNTAGGED_EGRESS, False),
    ("an account and the cost line whose top cause is that account", ACCOUNT, MEDIA_EGRESS, True),
    (
        "an account and a cost line whose top cause is another account",
        ACCOUNT,
        item("media/Egress", line("media", "Egress"), 700.0, {"account": "222"}),
        False,
    ),
    ("siblings in two products with the same top cause", MEDIA_EGRESS, UNTAGGED_EGRESS, True),
    (
        "siblings whose top causes differ",
        MEDIA_EGRESS,
        item("unattributed/Egress", line("unattributed", "Egress"), 300.0, {"account": "222"}),
        False,
    ),
    (
        "siblings whose shared cause explains little of one of them",
        MEDIA_EGRESS,
        item("unattributed/Egress", line("unattributed", "Egress"), 300.0, EGRESS_CAUSE, share=0.2),
        False,
    ),
    (
        "siblings whose top causes share a region and a service but name no account",
        item("a/Compute", line("a", "Compute"), 900.0, {"service": "Compute", "region": "eu-west-1"}),
        item("b/Compute", line("b", "Compute"), 40.0, {"service": "Compute", "region": "eu-west-1"}),
        False,
    ),
    (
        "siblings in one account whose top causes differ on the service",
        MEDIA_EGRESS,
        item("b/Egress", line("b", "Egress"), 300.0, {"account": "111", "service": "Compute"}),
        False,
    ),
    (
        "siblings without root causes",
        item("a/Egress", line("a", "Egress"), 10.0),
        item("b/Egress", line("b", "Egress"), 10.0),
        False,
    ),
    (
        "events that do not overlap in time",
        MEDIA_TOTAL,
        item("media/Egress", line("media", "Egress"), 700.0, start=T + 3 * DAY, end=T + 4 * DAY),
        False,
    ),
    (
        "a spike and a drop",
        MEDIA_TOTAL,
        item("media/Egress", line("media", "Egress"), -700.0, direction="down"),
        False,
    ),
]


@pytest.mark.parametrize(("why", "a", "b", "expected"), RELATED, ids=[r[0] for r in RELATED])
def test_related(why: str, a: GroupItem, b: GroupItem, expected: bool) -> None:
    assert related(a, b) is expected
    assert related(b, a) is expected, "the relation is symmetric"


GROUPS = [
    # (why, items, expected groups)
    (
        "the held-out case: one egress spike seen in two products' Egress, the product and the account",
        [UNTAGGED_EGRESS, MEDIA_TOTAL, ACCOUNT, MEDIA_EGRESS],
        [Group("media/Egress", ("account=111", "media", "unattributed/Egress"))],
    ),
    (
        "the two Egress lines alone: the larger share owns",
        [UNTAGGED_EGRESS, MEDIA_EGRESS],
        [Group("media/Egress", ("unattributed/Egress",))],
    ),
    (
        "a line that explains too little of its product's excess does not own it",
        [
            item("media", {"product": "media"}, 1000.0, {"cost_line": "Egress"}),
            item("media/Egress", line("media", "Egress"), 300.0, EGRESS_CAUSE),
        ],
        [Group("media", ("media/Egress",))],
    ),
    (
        "a series that already notified keeps its problem, though a more specific one explains it",
        [
            item("media", {"product": "media"}, 690.0, {"cost_line": "Egress"}, incumbent=True),
            MEDIA_EGRESS,
        ],
        [Group("media", ("media/Egress",))],
    ),
    (
        "unrelated problems stay apart",
        [MEDIA_EGRESS, item("search/Compute", line("search", "Compute"), 500.0, {"region": "eu-west-1"})],
        [Group("media/Egress", ()), Group("search/Compute", ())],
    ),
    (
        "equal specificity and impact: the tie is broken by id, whatever the order",
        [
            item("b/X", line("b", "X"), 100.0, {"account": "1"}),
            item("a/X", line("a", "X"), 100.0, {"account": "1"}),
        ],
        [Group("b/X", ("a/X",))],
    ),
]


@pytest.mark.parametrize(("why", "items", "expected"), GROUPS, ids=[g[0] for g in GROUPS])
def test_group_anomalies(why: str, items: list[GroupItem], expected: list[Group]) -> None:
    assert group_anomalies(items) == expected
    assert group_anomalies(list(reversed(items))) == expected, "the order of the sweep does not matter"
