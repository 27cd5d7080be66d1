"""Attribution: tag keys with fallbacks, YAML mapping rules, the cost line, and errors naming the field."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine

from core.clock import FixedClock
from core.errors import InputError
from core.settings import Settings
from ingestion.attribution import parse_attribution
from ingestion.ingest import Ingestor
from tests.ingestion.focus_rows import row, write_csv

RULES = """
rules:
  - product: search
    match:
      ServiceName: "re:^Amazon (OpenSearch|CloudSearch)"
  - product: data-platform
    match:
      SubAccountId: "55*"
      tags: {team: data}
  - product: storage
    match: {ResourceId: "arn:aws:s3:::lake-*"}
"""


def products(tmp_path: Path, engine: Engine, rows: list[dict[str, object]], **kw: object) -> dict[str, float]:
    settings = Settings(data_dir=tmp_path / "data", _env_file=None, **kw)  # type: ignore[call-arg]
    ing = Ingestor(settings, engine, FixedClock(datetime(2026, 11, 1, tzinfo=UTC)))
    ing.ingest_paths([write_csv(tmp_path / "x.csv", rows)])
    frame = ing.store.query("SELECT product, sum(cost) AS c FROM facts GROUP BY 1")
    return {str(r.product): float(r.c) for r in frame.itertuples()}


def test_tag_fallbacks_rules_and_unattributed(tmp_path: Path, engine: Engine) -> None:
    rules = tmp_path / "attribution.yaml"
    rules.write_text(RULES)
    rows = [
        row(cost=1.0, product="checkout"),
        row(cost=2.0, product=None, Tags=json.dumps({"app": "mobile"})),  # fallback tag key
        row(cost=4.0, product=None, ServiceName="Amazon OpenSearch Service"),
        row(cost=8.0, product=None, account="5512", Tags=json.dumps({"team": "data"})),
        row(cost=16.0, product=None, account="5512", Tags=json.dumps({"team": "web"})),  # rule's tag differs
        row(cost=32.0, product=None, ResourceId="arn:aws:s3:::lake-raw"),
        row(cost=64.0, product="checkout", ServiceName="Amazon OpenSearch Service"),  # tag wins over rules
    ]
    got = products(tmp_path, engine, rows, attribution_file=rules, product_tag_keys="product,app")
    assert got == {
        "checkout": 65.0,
        "mobile": 2.0,
        "search": 4.0,
        "data-platform": 8.0,
        "storage": 32.0,
        "unattributed": 16.0,
    }


def test_cost_line_from_a_tag(tmp_path: Path, engine: Engine) -> None:
    rows = [row(cost=1.0, Tags=json.dumps({"product": "p", "component": "api"})), row(cost=2.0)]
    settings = Settings(data_dir=tmp_path / "data", cost_line_column="tag:component", _env_file=None)  # type: ignore[call-arg]
    ing = Ingestor(settings, engine, FixedClock(datetime(2026, 11, 1, tzinfo=UTC)))
    ing.ingest_paths([write_csv(tmp_path / "x.csv", rows)])
    assert sorted((s.cost_line, s.total_spend) for s in ing.store.list_series()) == [
        ("api", 1.0),
        ("unknown", 2.0),
    ]


def test_dimension_tags_become_root_cause_dimensions(tmp_path: Path, engine: Engine) -> None:
    settings = Settings(data_dir=tmp_path / "data", dimension_tag_keys="team", _env_file=None)  # type: ignore[call-arg]
    ing = Ingestor(settings, engine, FixedClock(datetime(2026, 11, 1, tzinfo=UTC)))
    ing.ingest_paths([write_csv(tmp_path / "x.csv", [row(cost=1.0)])])
    assert "tag_team" in ing.store.dimensions()
    leaves = ing.store.leaf_table(
        "checkout", "Amazon EC2", "USD", start=datetime(2026, 9, 1), end=datetime(2026, 10, 1)
    )
    assert leaves["tag_team"].tolist() == ["payments"]


@pytest.mark.parametrize(
    ("doc", "field"),
    [
        ({"rules": [{"product": "x", "match": {"Colour": "red"}}]}, "a.rules[0].match.Colour"),
        ({"rules": [{"product": "", "match": {"ServiceName": "x"}}]}, "a.rules[0].product"),
        ({"rules": [{"product": "x", "match": {}}]}, "a.rules[0].match"),
        ({"rules": [{"product": "x", "match": {"ServiceName": "re:("}}]}, "a.rules[0].match.ServiceName"),
        ({"rules": "all"}, "a.rules"),
        ({"cost_line": "Nope"}, "a.cost_line"),
        ({"extra": 1}, "a.extra"),
        ({"product_tag_keys": ["ok", "bad'quote"]}, "a.product_tag_keys"),
        ([1, 2], "a"),
    ],
)
def test_bad_attribution_names_the_field(doc: object, field: str) -> None:
    with pytest.raises(InputError) as err:
        parse_attribution(doc, source="a")
    assert err.value.field == field
