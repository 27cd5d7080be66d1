"""Scoped tokens: a table-driven matrix of tokens × endpoints × products shows no read or write across
teams. Real HTTP in-process (TestClient), a real state database (SQLite) and real spend facts."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from alerts import incident_store
from alerts.lifecycle import IncidentState
from alerts.matchers import parse_matchers
from alerts.severity import Severity
from api.app import create_app
from api.routes.score import _lookup
from api.scoping import Slice
from core.settings import Settings
from core.types import Granularity
from tests.ingestion.focus_rows import hourly_rows

ADMIN = "admin-token-0123456789abcdef"
CHECKOUT = "checkout-token-0123456789abcdef"
SEARCH = "search-token-0123456789abcdef"
TOKENS = (
    f"root:{ADMIN}:read+score+write+admin,"
    f"checkout-team:{CHECKOUT}:read+score+write:product=checkout,"
    f"search-team:{SEARCH}:read+score+write:product=search"
)
TEAM = {"checkout": CHECKOUT, "search": SEARCH}
OTHER = {"checkout": "search", "search": "checkout"}
LINE = "Amazon EC2"
T0 = datetime(2026, 9, 2, tzinfo=UTC)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _incident(product: str) -> IncidentState:
    return IncidentState(
        id=f"inc-{product}",
        fingerprint=f"fp-{product}",
        product=product,
        cost_line=LINE,
        currency="USD",
        scope="default",
        status="open",
        severity=Severity.TICKET,
        peak_severity=Severity.TICKET,
        opened_at=T0,
        updated_at=T0,
        impact=100.0 if product == "checkout" else 7.0,
        projected_month_impact=10.0,
    )


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[TestClient, dict[str, str]]]:
    """Two teams' spend, incidents, budgets, windows and drivers, written with the admin token."""
    tmp = tmp_path_factory.mktemp("scoped")
    settings = Settings(
        database_url=f"sqlite:///{tmp / 'state.db'}",
        data_dir=tmp / "data",
        api_tokens=SecretStr(TOKENS),
        rate_limit_per_minute=0,  # the matrix sends many writes; fair use has its own test
        _env_file=None,  # type: ignore[call-arg]
    )
    with TestClient(create_app(settings)) as client:
        admin = bearer(ADMIN)
        rows = hourly_rows(24, cost=2.0, product="checkout") + hourly_rows(
            24, cost=3.0, product="search", billing_account="901"
        )
        assert client.post("/v1/spend", json={"rows": rows}, headers=admin).status_code == 200
        with client.app.state.engine.begin() as conn:  # type: ignore[attr-defined]
            for product in TEAM:
                incident_store.save(conn, _incident(product), new=True)
        windows: dict[str, str] = {}
        for product in TEAM:
            res = client.put("/v1/budgets", json={"product": product, "monthly_amount": 500.0}, headers=admin)
            assert res.status_code == 200, res.text
            res = client.post(
                "/v1/expected-changes",
                json={
                    "name": f"{product} launch",
                    "matchers": [f'product="{product}"'],
                    "starts_at": "2026-09-01T00:00:00Z",
                    "ends_at": "2026-09-03T00:00:00Z",
                },
                headers=admin,
            )
            assert res.status_code == 201, res.text
            windows[product] = res.json()["id"]
            driver = {
                "product": product,
                "driver": "orders",
                "unit": "order",
                "timestamp": "2026-09-01T00:00:00Z",
                "value": 10.0,
            }
            assert client.post("/v1/drivers", json={"rows": [driver]}, headers=admin).status_code == 200
        yield client, windows


# (what, method, path, body): {p} is the product the request is about, {w} its expected-change window.
# Every row is sent by each team's token about its own product (allowed) and the other's (refused).
REQUESTS: list[tuple[str, str, str, Any]] = [
    ("series points", "GET", f"/v1/series/points?product={{p}}&cost_line={LINE}", None),
    ("incident", "GET", "/v1/incidents/inc-{p}", None),
    ("feedback", "POST", "/v1/incidents/inc-{p}/feedback", {"kind": "confirmed"}),
    ("unit costs", "GET", "/v1/unit-costs?product={p}", None),
    ("budget put", "PUT", "/v1/budgets", {"product": "{p}", "monthly_amount": 800.0}),
    ("window end", "POST", "/v1/expected-changes/{w}/end", None),
    (
        "drivers",
        "POST",
        "/v1/drivers",
        {
            "rows": [
                {
                    "product": "{p}",
                    "driver": "orders",
                    "unit": "order",
                    "timestamp": T0.isoformat(),
                    "value": 5,
                }
            ]
        },
    ),
    ("dashboard incident", "GET", "/ui/incidents/inc-{p}", None),
]
# What the other team's request gets: 404 where an id or a name would otherwise leak existence, 403
# where the request itself (a new budget, driver rows) names what the token may not write.
REFUSED = {"budget put": 403, "drivers": 403}


def _fill(value: Any, product: str, window: str) -> Any:
    if isinstance(value, str):
        return value.replace("{p}", product).replace("{w}", window)
    if isinstance(value, dict):
        return {k: _fill(v, product, window) for k, v in value.items()}
    if isinstance(value, list):
        return [_fill(v, product, window) for v in value]
    return value


@pytest.mark.parametrize("team", sorted(TEAM))
@pytest.mark.parametrize(("what", "method", "path", "body"), REQUESTS, ids=[r[0] for r in REQUESTS])
@pytest.mark.parametrize("whose", ["own", "other"])
def test_no_request_crosses_teams(
    world: tuple[TestClient, dict[str, str]],
    team: str,
    what: str,
    method: str,
    path: str,
    body: Any,
    whose: str,
) -> None:
    client, windows = world
    product = team if whose == "own" else OTHER[team]
    res = client.request(
        method,
        _fill(path, product, windows[product]),
        json=_fill(body, product, windows[product]),
        headers=bearer(TEAM[team]),
    )
    if whose == "own":
        assert res.status_code < 300, f"{what}: {res.status_code} {res.text[:300]}"
    else:
        assert res.status_code == REFUSED.get(what, 404), f"{what}: {res.status_code} {res.text[:300]}"
        # Another team's thing answers exactly as a thing that does not exist: nothing leaks its existence.
        ghost = client.request(
            method,
            _fill(path, "ghost", "ghost"),
            json=_fill(body, "ghost", "ghost"),
            headers=bearer(TEAM[team]),
        )
        assert ghost.status_code == res.status_code, what
        assert ghost.text.replace("ghost", "?") == res.text.replace(product, "?").replace(
            windows[product], "?"
        )


# (what, path, how to read the products out of the answer)
LISTS: list[tuple[str, str, Any]] = [
    ("series", "/v1/series", lambda body: {s["product"] for s in body}),
    ("incidents", "/v1/incidents", lambda body: {i["product"] for i in body}),
    ("budgets", "/v1/budgets", lambda body: {b["product"] for b in body}),
    ("windows", "/v1/expected-changes", lambda body: {m for c in body for m in c["matchers"]}),
    ("drivers", "/v1/drivers", lambda body: {d["product"] for d in body}),
]


@pytest.mark.parametrize("team", sorted(TEAM))
@pytest.mark.parametrize(("what", "path", "products"), LISTS, ids=[r[0] for r in LISTS])
def test_lists_hold_only_the_teams_slice(
    world: tuple[TestClient, dict[str, str]], team: str, what: str, path: str, products: Any
) -> None:
    client, _ = world
    seen = products(client.get(path, headers=bearer(TEAM[team])).json())
    everything = products(client.get(path, headers=bearer(ADMIN)).json())
    assert seen, what
    assert all(team in p for p in seen), (what, seen)
    assert any(OTHER[team] in p for p in everything), (what, everything)  # the admin token sees both


@pytest.mark.parametrize("team", sorted(TEAM))
@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "/v1/spend", {"rows": hourly_rows(1)}),
        ("POST", "/v1/sweeps", {"notify": False}),
        ("POST", "/v1/trainings", {}),
        ("GET", "/v1/slos", None),
        ("GET", "/v1/audit", None),
        ("GET", "/v1/tokens", None),
    ],
)
def test_operations_over_every_team_are_refused(
    world: tuple[TestClient, dict[str, str]], team: str, method: str, path: str, body: Any
) -> None:
    client, _ = world
    res = client.request(method, path, json=body, headers=bearer(TEAM[team]))
    assert res.status_code == 403, res.text


@pytest.mark.parametrize("team", sorted(TEAM))
def test_overview_sums_the_slice_only(world: tuple[TestClient, dict[str, str]], team: str) -> None:
    client, _ = world
    page = client.get("/ui", headers=bearer(TEAM[team]))
    assert page.status_code == 200
    assert f"/ui/incidents/inc-{team}" in page.text
    assert f"/ui/incidents/inc-{OTHER[team]}" not in page.text
    assert OTHER[team] not in page.text
    # The ticket card's total is this team's incident's impact alone ($100 or $7), not the sum ($107).
    assert "107" not in page.text


def test_a_scoped_window_is_held_to_the_slice(world: tuple[TestClient, dict[str, str]]) -> None:
    client, _ = world
    res = client.post(
        "/v1/expected-changes",
        json={
            "name": "everything, says the checkout team",
            "matchers": ['cost_line=~".*"'],
            "starts_at": "2026-09-01T00:00:00Z",
            "ends_at": "2026-09-02T00:00:00Z",
        },
        headers=bearer(CHECKOUT),
    )
    assert res.status_code == 201, res.text
    assert res.json()["matchers"] == ['cost_line=~".*"', 'product="checkout"']
    listed = client.get("/v1/expected-changes", headers=bearer(SEARCH)).json()
    assert res.json()["id"] not in {c["id"] for c in listed}
    assert (
        client.delete(f"/v1/expected-changes/{res.json()['id']}", headers=bearer(SEARCH)).status_code == 404
    )
    assert (
        client.delete(f"/v1/expected-changes/{res.json()['id']}", headers=bearer(CHECKOUT)).status_code == 204
    )


def test_score_outside_the_slice_fits_on_the_request(world: tuple[TestClient, dict[str, str]]) -> None:
    client, _ = world
    series = [{"timestamp": f"2026-01-{d:02d}T00:00:00", "value": 10.0 + d % 7} for d in range(1, 22)]
    for product in ("checkout", "search", None):
        body: dict[str, Any] = {"series": series, "product": product, "cost_line": LINE if product else None}
        res = client.post("/v1/score", json=body, headers=bearer(CHECKOUT))
        assert res.status_code == 200, res.text


class _StoredModels:
    """Stands in for the model cache: records which series were asked for."""

    def __init__(self) -> None:
        self.asked: list[str] = []

    def get(self, product: str, cost_line: str, gran: Granularity) -> str:
        self.asked.append(product)
        return f"model of {product}"


def test_stored_models_outside_the_slice_are_never_looked_up() -> None:
    models = _StoredModels()
    request = SimpleNamespace(app=SimpleNamespace(state=SimpleNamespace(stored_models=models)))
    checkout = Slice(parse_matchers(["product=checkout"]), "checkout-team")
    lookup = _lookup(request, checkout)  # type: ignore[arg-type]
    assert lookup is not None
    assert str(lookup("checkout", LINE, Granularity.DAY)) == "model of checkout"
    assert lookup("search", LINE, Granularity.DAY) is None
    assert lookup(None, None, Granularity.DAY) is None
    assert models.asked == ["checkout"]
    unrestricted = _lookup(request)  # type: ignore[arg-type]
    assert (
        unrestricted is not None and str(unrestricted("search", LINE, Granularity.DAY)) == "model of search"
    )


def test_a_scoped_overview_shows_when_things_ran_not_every_teams_counts() -> None:
    """Model, series and anomaly counts span every team: a scoped session sees only the times."""
    from datetime import UTC, datetime

    from alerts.matchers import parse_matcher
    from api.scoping import ALL, Slice
    from api.ui.queries import Status, held_to

    at = datetime(2026, 9, 1, tzinfo=UTC)
    full = Status(
        last_trained_at=at,
        models_ok=40,
        models_failed=2,
        model_types={"seasonal": 40},
        last_incident_update=at,
        last_sweep={"status": "done", "summary": {"evaluated": 40, "anomalies": 3}},
    )
    assert held_to(full, ALL) == full
    held = held_to(full, Slice((parse_matcher("product=checkout"),), "checkout"))
    assert (held.models_ok, held.models_failed, held.model_types, held.last_incident_update) == (
        0,
        0,
        {},
        None,
    )
    assert held.last_trained_at == at and held.last_sweep == {"status": "done", "summary": None}
    assert full.last_sweep is not None and full.last_sweep["summary"] is not None  # the original is intact
