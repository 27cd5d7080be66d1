"""Monitors: the YAML file's validation (errors name the field), the defaults, and series identities."""

from __future__ import annotations

from pathlib import Path

import pytest

from alerts.fingerprint import fingerprint
from core.errors import InputError
from core.monitors import (
    ALL,
    DEFAULT_MONITOR,
    PRODUCT_MONITOR,
    Monitor,
    load_monitors,
    parse_monitors,
    scope_of,
)
from core.types import Granularity, SeriesKey

BAD = [
    # (document, the field the error names)
    ([], "monitors"),
    ({"monitors": {}}, "monitors.monitors"),
    ({"monitors": [], "extra": 1}, "monitors"),
    ({"monitors": [{"name": "acct"}]}, "monitors.monitors[0]"),
    ({"monitors": [{"name": "Acct", "dimensions": ["account"]}]}, "monitors.monitors[0].name"),
    ({"monitors": [{"name": "default", "dimensions": ["account"]}]}, "monitors.monitors[0].name"),
    ({"monitors": [{"name": "a", "dimensions": []}]}, "monitors.monitors[0].dimensions"),
    ({"monitors": [{"name": "a", "dimensions": ["owner"]}]}, "monitors.monitors[0].dimensions[0]"),
    ({"monitors": [{"name": "a", "dimensions": ["tag:Team"]}]}, "monitors.monitors[0].dimensions[0]"),
    ({"monitors": [{"name": "a", "dimensions": ["account", "account"]}]}, "monitors.monitors[0].dimensions"),
    (
        {"monitors": [{"name": "a", "dimensions": ["cost_line", "product"]}]},
        "monitors.monitors[0].dimensions",
    ),
    (
        {"monitors": [{"name": "a", "dimensions": ["account"]}, {"name": "a", "dimensions": ["region"]}]},
        "monitors.monitors[1].name",
    ),
    (
        {"monitors": [{"name": "a", "dimensions": ["account"]}, {"name": "b", "dimensions": ["account"]}]},
        "monitors.monitors[1].dimensions",
    ),
]


@pytest.mark.parametrize(("doc", "field"), BAD, ids=[b[1] + ":" + str(i) for i, b in enumerate(BAD)])
def test_a_bad_monitors_file_is_refused_naming_the_field(doc: object, field: str) -> None:
    with pytest.raises(InputError) as err:
        parse_monitors(doc)
    assert err.value.field == field


def test_without_a_file_product_totals_are_watched_beside_every_cost_line() -> None:
    assert load_monitors(None) == (DEFAULT_MONITOR, PRODUCT_MONITOR)


def test_a_file_replaces_the_list_beside_product_by_cost_line(tmp_path: Path) -> None:
    path = tmp_path / "monitors.yaml"
    path.write_text(
        "monitors:\n  - name: team\n    dimensions: [tag:team]\n  - name: acct\n    dimensions: [product, account]\n"
    )
    assert load_monitors(path) == (
        DEFAULT_MONITOR,
        Monitor("team", ("tag:team",)),
        Monitor("acct", ("product", "account")),
    )
    with pytest.raises(InputError) as err:
        load_monitors(tmp_path / "missing.yaml")
    assert err.value.field == "SPENDSENTRY_MONITORS_FILE"


KEYS = [
    # (monitor, values by fact column, product, cost line, scope)
    (DEFAULT_MONITOR, {"product": "shop", "cost_line": "EC2"}, "shop", "EC2", "default"),
    (PRODUCT_MONITOR, {"product": "shop"}, "shop", ALL, "product"),
    (Monitor("account", ("account",)), {"account": "0123"}, ALL, ALL, "account:account=0123"),
    (Monitor("team", ("tag:team",)), {"tag_team": "core"}, ALL, ALL, "team:team=core"),
    (
        Monitor("pa", ("product", "account")),
        {"product": "shop", "account": "9"},
        "shop",
        ALL,
        "pa:account=9",
    ),
]


@pytest.mark.parametrize(("monitor", "values", "product", "cost_line", "scope"), KEYS)
def test_monitor_series_keys(
    monitor: Monitor, values: dict[str, str], product: str, cost_line: str, scope: str
) -> None:
    key = monitor.key(values, "USD", Granularity.DAY)
    assert (key.product, key.cost_line, key.scope) == (product, cost_line, scope)


def test_product_by_cost_line_keeps_its_id_and_fingerprint() -> None:
    key = DEFAULT_MONITOR.key({"product": "shop", "cost_line": "EC2"}, "USD", Granularity.HOUR)
    assert key == SeriesKey("shop", "EC2", "USD", Granularity.HOUR)
    assert key.id == "shop|EC2|USD|hour"
    total = PRODUCT_MONITOR.key({"product": "shop"}, "USD", Granularity.HOUR)
    assert total.id == f"shop|{ALL}|USD|hour|product"
    assert fingerprint("shop", "EC2", "USD") == fingerprint("shop", "EC2", "USD", "default")
    assert fingerprint("shop", ALL, "USD", total.scope) != fingerprint("shop", ALL, "USD")


def test_a_scope_too_long_for_its_column_stays_distinct() -> None:
    monitor = Monitor("team", ("tag:team",))
    a, b = scope_of(monitor, {"tag_team": "x" * 200 + "a"}), scope_of(monitor, {"tag_team": "x" * 200 + "b"})
    assert len(a) <= 128 and len(b) <= 128 and a != b
