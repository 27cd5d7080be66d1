"""Input limits: each oversized or malformed input is a 413/422 with a reason, and changes nothing stored."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from alerts.budgets import list_budgets, load_budgets_yaml, put_budget
from alerts.receivers import load_routing
from api.app import create_app
from api.score_schemas import MAX_BATCH_SERIES
from core.clock import FixedClock
from core.errors import InputError, TooLargeError
from core.settings import Settings
from core.yaml_limits import YamlLimits, safe_load_file, safe_load_text
from ingestion.ingest import Ingestor
from tests.alerts.factories import T0
from tests.ingestion.focus_rows import hourly_rows, row, write_csv
from tests.security.snapshots import db_snapshot, facts_snapshot

TOKEN = "writer-token-0123456789abcdef"
DEEP = "a: " + "[" * 200 + "]" * 200 + "\n"
# Nine references per level, nine levels: 9**9 nodes once expanded, from a file of a few hundred bytes.
BOMB = "l0: &l0 [x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"l{i}: &l{i} [" + ", ".join([f"*l{i - 1}"] * 9) + "]\n" for i in range(1, 10)
)


def points(n: int, *, day: bool = True) -> list[dict[str, object]]:
    unit = "D" if day else "h"
    import pandas as pd

    return [
        {"timestamp": t.isoformat(), "value": 10.0 + i % 7}
        for i, t in enumerate(pd.date_range("2026-01-01", periods=n, freq=unit))
    ]


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 'state.db'}",
        data_dir=tmp_path / "data",
        max_body_bytes=300_000,
        max_spend_rows=40,
        max_score_points=200,
        max_rca_leaves=50,
        api_tokens=SecretStr(f"w:{TOKEN}:read+write+score"),
        _env_file=None,  # type: ignore[call-arg]
    )
    with TestClient(create_app(settings), headers={"Authorization": f"Bearer {TOKEN}"}) as c:
        # Something stored to be left alone: facts, an ingest run, a budget.
        assert c.post("/v1/spend", json={"rows": hourly_rows(24, cost=2.0)}).status_code == 200
        assert c.put("/v1/budgets", json={"product": "checkout", "monthly_amount": 100.0}).status_code == 200
        yield c


REJECTED: list[tuple[str, str, object, int, str]] = [
    ("body", "/v1/spend", {"rows": [row()] * 10, "pad": "x" * 400_000}, 413, "larger than 300000 bytes"),
    ("spend rows", "/v1/spend", {"rows": [row(cost=9.0)] * 41}, 413, "at most 40 per request"),
    ("spend cell", "/v1/spend", {"rows": [row(cost=9.0, EffectiveCost=[1])]}, 422, "must be a string"),
    ("score points", "/v1/score", {"series": points(201)}, 413, "at most 200 per series"),
    (
        "score span",
        "/v1/score",
        {"series": [*points(3), {"timestamp": "2027-06-01T00:00:00", "value": 1.0}]},
        413,
        "at most 200",
    ),
    (
        "batch series",
        "/v1/score/batch",
        {"items": [{"series": points(5)}] * (MAX_BATCH_SERIES + 1)},
        422,
        f"at most {MAX_BATCH_SERIES} items",
    ),
    (
        "rca leaves",
        "/v1/root-causes",
        {"leaves": [{"r": str(i), "actual": 2, "expected": 1} for i in range(51)]},
        413,
        "at most 50",
    ),
    (
        "non-finite",
        "/v1/score",
        {"series": [*points(4)[:3], {"timestamp": "2026-01-04", "value": "NaN"}]},
        422,
        "finite",
    ),
]


@pytest.mark.parametrize(("what", "path", "body", "status", "reason"), REJECTED, ids=[r[0] for r in REJECTED])
def test_rejected_requests_change_nothing(
    client: TestClient, what: str, path: str, body: object, status: int, reason: str
) -> None:
    app_state = client.app.state  # type: ignore[attr-defined]
    facts_before = facts_snapshot(app_state.store.root)
    db_before = db_snapshot(app_state.engine)
    res = client.post(path, content=json.dumps(body), headers={"content-type": "application/json"})
    assert res.status_code == status, res.text
    assert reason in res.text
    assert facts_snapshot(app_state.store.root) == facts_before
    assert db_snapshot(app_state.engine) == db_before


@pytest.mark.parametrize(
    ("text", "error", "reason"),
    [
        (DEEP, InputError, "nested deeper than 32 levels"),
        (BOMB, TooLargeError, "more than 200000 nodes"),
        ("a: &a [*a]\n", InputError, "nested deeper"),  # a recursive alias
        ("a: [\n", InputError, "not valid YAML: ParserError at line 2"),
        ("k: " + "x" * 2_000_000, TooLargeError, "at most 1048576"),
    ],
)
def test_yaml_limits(tmp_path: Path, text: str, error: type[Exception], reason: str) -> None:
    with pytest.raises(error) as err:
        safe_load_text(text, "routes_file")
    assert reason in str(err.value) and err.value.field == "routes_file"  # type: ignore[attr-defined]
    path = tmp_path / "f.yaml"
    path.write_text(text)
    with pytest.raises(error):
        safe_load_file(path, "routes_file")


def test_yaml_limits_allow_ordinary_files_and_report_without_content(tmp_path: Path) -> None:
    assert safe_load_text("route: {receiver: pager}\nlist: [1, 2]\n", "f") == {
        "route": {"receiver": "pager"},
        "list": [1, 2],
    }
    assert safe_load_text("", "f") is None
    assert safe_load_text("a: [[1]]", "f", YamlLimits(max_depth=3)) == {"a": [[1]]}
    with pytest.raises(InputError):
        safe_load_text("a: [[[1]]]", "f", YamlLimits(max_depth=3))
    with pytest.raises(InputError) as err:
        safe_load_text("token: sk-secret-value\n  bad: [", "f")
    assert "sk-secret-value" not in str(err.value)
    path = tmp_path / "latin1.yaml"
    path.write_bytes(b"a: \xe9\n")
    with pytest.raises(InputError, match="not UTF-8"):
        safe_load_file(path, "f")
    with pytest.raises(InputError, match="cannot read"):
        safe_load_file(tmp_path / "missing.yaml", "f")


@pytest.mark.parametrize("text", [DEEP, BOMB], ids=["deep", "alias-bomb"])
def test_routes_file_limits(tmp_path: Path, text: str) -> None:
    path = tmp_path / "routes.yaml"
    path.write_text(text)
    with pytest.raises(InputError) as err:
        load_routing(path, {})
    assert err.value.field == "routes_file"


@pytest.mark.parametrize("text", [DEEP, BOMB], ids=["deep", "alias-bomb"])
def test_budgets_file_limits_leave_budgets_alone(engine, tmp_path: Path, text: str) -> None:
    clock = FixedClock(T0)
    put_budget(engine, clock, "shop", 1000.0)
    before = db_snapshot(engine)
    path = tmp_path / "budgets.yaml"
    path.write_text(text)
    with pytest.raises(InputError) as err:
        load_budgets_yaml(engine, clock, path)
    assert err.value.field == "budgets_file"
    assert db_snapshot(engine) == before and [b.product for b in list_budgets(engine)] == ["shop"]


@pytest.mark.parametrize("text", [DEEP, BOMB], ids=["deep", "alias-bomb"])
def test_attribution_file_limits_leave_facts_alone(engine, tmp_path: Path, text: str) -> None:
    base = Settings(data_dir=tmp_path / "data", _env_file=None)  # type: ignore[call-arg]
    clock = FixedClock(T0)
    first = Ingestor(base, engine, clock)
    first.ingest_paths([write_csv(tmp_path / "v1.csv", hourly_rows(4, cost=1.0))])
    facts_before, db_before = facts_snapshot(first.store.root), db_snapshot(engine)
    rules = tmp_path / "attribution.yaml"
    rules.write_text(text)
    bad = Ingestor(base.model_copy(update={"attribution_file": rules}), engine, clock)
    with pytest.raises(InputError) as err:
        bad.ingest_paths([write_csv(tmp_path / "v2.csv", hourly_rows(4, cost=7.0))])
    assert err.value.field == "SPENDSENTRY_ATTRIBUTION_FILE"
    assert facts_snapshot(first.store.root) == facts_before and db_snapshot(engine) == db_before


def test_spend_with_every_row_rejected_is_counted_not_a_500(client: TestClient) -> None:
    # Found by the ingestion property test: with no row kept, the report used to fail with a KeyError.
    app_state = client.app.state  # type: ignore[attr-defined]
    facts_before = facts_snapshot(app_state.store.root)
    res = client.post("/v1/spend", json={"rows": [row(ChargePeriodStart="never")] * 3})
    assert res.status_code == 200, res.text
    assert res.json()["rows_kept"] == 0 and res.json()["rejected"][0]["rows"] == 3
    assert facts_snapshot(app_state.store.root) == facts_before
