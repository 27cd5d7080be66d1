"""Token slices in settings and ``/v1/tokens``, the audit log, fair use (429) and dashboard sessions
(cookie flags, CSRF, sign-out, expiry), over real HTTP in-process and a real state database."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy import select

from api.app import create_app
from api.audit import list_audit, record
from api.sessions import COOKIE, SessionStore, csrf_token
from api.tables import api_audit, api_sessions
from api.token_auth import parse_token_setting
from core.clock import FixedClock
from core.errors import InputError
from core.settings import Settings

ADMIN = "admin-token-0123456789abcdef"
TEAM = "team-token-0123456789abcdef:x"  # a ':' inside the token: the scopes field is found all the same
TOKENS = f"root:{ADMIN}:read+score+write+admin,checkout:{TEAM}:read+score+write:product=checkout;env!=dev"
SECRETS = (ADMIN, TEAM)
NOW = datetime(2026, 10, 1, 12, tzinfo=UTC)
SCORE = {"series": [{"timestamp": f"2026-01-{d:02d}T00:00:00", "value": 10.0 + d % 7} for d in range(1, 15)]}


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.mark.parametrize(
    ("setting", "scopes", "matchers"),
    [
        ("a:tok-0123456789abcdef:read", {"read"}, []),
        ("a:tok-0123456789abcdef:read+write:product=checkout", {"read", "write"}, ['product="checkout"']),
        (
            'a:tok-0123456789abcdef:read:team=payments;product=~"a|b"',
            {"read"},
            ['team="payments"', 'product=~"a|b"'],
        ),
        ("a:tok-01234567:89abcdef:score:cost_line=a:b", {"score"}, ['cost_line="a:b"']),
    ],
)
def test_settings_tokens_take_an_optional_slice(setting: str, scopes: set[str], matchers: list[str]) -> None:
    (token,) = parse_token_setting(setting)
    assert token.scopes == scopes
    assert [str(m) for m in token.matchers] == matchers


def test_a_bad_matcher_names_the_entry_and_never_the_token() -> None:
    with pytest.raises(InputError) as err:
        parse_token_setting('team:tok-0123456789abcdef:read:product=~"("')
    assert "API_TOKENS[team].matchers[0]" in str(err.value) and "tok-0123" not in str(err.value)


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(NOW)


@pytest.fixture
def client(tmp_path: Path, clock: FixedClock) -> Iterator[TestClient]:
    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 'state.db'}",
        data_dir=tmp_path / "data",
        api_tokens=SecretStr(TOKENS),
        rate_limit_per_minute=60,
        rate_limit_burst=3,
        session_hours=2,
        _env_file=None,  # type: ignore[call-arg]
    )
    with TestClient(create_app(settings, clock=clock)) as c:
        yield c


def test_tokens_api_keeps_and_applies_a_slice(client: TestClient) -> None:
    res = client.post(
        "/v1/tokens",
        json={"name": "search", "scopes": ["read"], "matchers": ["product=search"]},
        headers=bearer(ADMIN),
    )
    assert res.status_code == 201, res.text
    assert res.json()["matchers"] == ['product="search"']
    listed = {t["name"]: t["matchers"] for t in client.get("/v1/tokens", headers=bearer(ADMIN)).json()}
    assert listed == {
        "root": [],
        "checkout": ['product="checkout"', 'env!="dev"'],
        "search": ['product="search"'],
    }
    assert client.get("/v1/slos", headers=bearer(res.json()["token"])).status_code == 403
    bad = client.post(
        "/v1/tokens",
        json={"name": "x", "scopes": ["read"], "matchers": ["product checkout"]},
        headers=bearer(ADMIN),
    )
    assert bad.status_code == 422 and "matchers[0]" in bad.text


def test_every_write_is_audited_with_who_what_and_the_request_id(client: TestClient) -> None:
    created = client.post(
        "/v1/tokens",
        json={"name": "ci", "scopes": ["score"]},
        headers={**bearer(ADMIN), "X-Request-ID": "req-create-1"},
    )
    assert created.status_code == 201
    new_token = created.json()["token"]
    client.put(
        "/v1/budgets", json={"product": "shop", "monthly_amount": 10.0}, headers=bearer(TEAM)
    )  # refused
    client.post("/v1/incidents/nope/feedback", json={"kind": "expected"})  # no token at all
    client.get("/v1/series", headers=bearer(ADMIN))  # a read: not audited
    client.post("/v1/score", json=SCORE, headers=bearer(ADMIN))  # scoring: not a write
    rows = client.get("/v1/audit", headers=bearer(ADMIN)).json()
    seen = [(r["token_name"], r["method"], r["path"], r["target"], r["status"]) for r in rows]
    assert seen == [
        ("unauthenticated", "POST", "/v1/incidents/{incident_id}/feedback", "nope", 401),
        ("checkout", "PUT", "/v1/budgets", "shop", 403),
        ("root", "POST", "/v1/tokens", "ci", 201),
    ]
    assert rows[-1]["request_id"] == "req-create-1"
    only = client.get("/v1/audit", params={"token_name": "root", "status": 201}, headers=bearer(ADMIN)).json()
    assert [r["target"] for r in only] == ["ci"]
    paged = client.get("/v1/audit", params={"limit": 1, "offset": 1}, headers=bearer(ADMIN)).json()
    assert [r["token_name"] for r in paged] == ["checkout"]
    assert client.get("/v1/audit", headers=bearer(TEAM)).status_code == 403
    with client.app.state.engine.connect() as conn:  # type: ignore[attr-defined]
        stored = json.dumps([list(r) for r in conn.execute(select(api_audit)).all()], default=str)
    assert not any(secret in stored for secret in (*SECRETS, new_token))


def test_scoring_and_writes_are_rate_limited_per_token(client: TestClient) -> None:
    answers = [client.post("/v1/score", json=SCORE, headers=bearer(TEAM)).status_code for _ in range(4)]
    assert answers == [200, 200, 200, 429]
    limited = client.post("/v1/score", json=SCORE, headers=bearer(TEAM))
    assert limited.status_code == 429 and int(limited.headers["Retry-After"]) >= 1
    assert client.get("/v1/series", headers=bearer(TEAM)).status_code == 200  # reads do not count
    assert client.post("/v1/score", json=SCORE, headers=bearer(ADMIN)).status_code == 200  # its own bucket


def _sign_in(client: TestClient, token: str) -> str:
    res = client.post("/ui/sign-in", data={"token": token, "next": "/ui"}, follow_redirects=False)
    assert res.status_code == 303 and res.headers["location"] == "/ui"
    cookie = res.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie.replace("Strict", "strict")
    assert "Secure" not in cookie  # plain HTTP here; behind HTTPS the cookie is Secure
    return client.cookies[COOKIE]


def test_a_session_reads_its_slice_and_writes_only_with_its_csrf_token(client: TestClient) -> None:
    assert client.get("/ui", follow_redirects=False).headers["location"].startswith("/ui/sign-in")
    wrong = client.post("/ui/sign-in", data={"token": "not-a-token-at-all-xx"}, follow_redirects=False)
    assert wrong.status_code == 401 and "Unknown or revoked token" in wrong.text
    session_id = _sign_in(client, TEAM)
    page = client.get("/ui")
    assert page.status_code == 200 and csrf_token(session_id) in page.text
    assert session_id not in page.text
    body = {"product": "checkout", "monthly_amount": 10.0}
    assert client.put("/v1/budgets", json=body).status_code == 403  # no CSRF token
    assert client.put("/v1/budgets", json=body, headers={"X-CSRF-Token": "0" * 64}).status_code == 403
    ok = client.put("/v1/budgets", json=body, headers={"X-CSRF-Token": csrf_token(session_id)})
    assert ok.status_code == 200, ok.text
    other = client.put(
        "/v1/budgets", json={**body, "product": "search"}, headers={"X-CSRF-Token": csrf_token(session_id)}
    )
    assert other.status_code == 403  # the session holds the token's slice
    with client.app.state.engine.connect() as conn:  # type: ignore[attr-defined]
        rows = conn.execute(select(api_sessions)).all()
    assert len(rows) == 1 and session_id not in json.dumps([list(r) for r in rows], default=str)
    refused = client.post("/ui/sign-out", data={"csrf_token": "forged"}, follow_redirects=False)
    assert refused.status_code == 403
    out = client.post("/ui/sign-out", data={"csrf_token": csrf_token(session_id)}, follow_redirects=False)
    assert out.status_code == 303
    client.cookies.set(COOKIE, session_id)  # a stolen copy of the cookie no longer works
    assert client.get("/v1/series").status_code == 401


def test_a_session_expires(client: TestClient, clock: FixedClock) -> None:
    _sign_in(client, ADMIN)
    assert client.get("/v1/series").status_code == 200
    clock.set(NOW + timedelta(hours=2, seconds=1))
    assert client.get("/v1/series").status_code == 401
    assert client.get("/ui", follow_redirects=False).status_code == 303


def test_audit_rows_and_sessions_on_each_database(db_url_engine: tuple[str, Any]) -> None:
    _, engine = db_url_engine
    for i, name in enumerate(("a", "b", "a")):
        record(
            engine,
            at=NOW + timedelta(minutes=i),
            token_name=name,
            method="PUT",
            path="/v1/budgets",
            target=None,
            status=200,
            rid=f"r{i}",
        )
    assert [r["request_id"] for r in list_audit(engine, token_name="a")] == ["r2", "r0"]
    assert [r["request_id"] for r in list_audit(engine, since=NOW + timedelta(minutes=1))] == ["r2", "r1"]
    store = SessionStore(engine, hours=1)
    session_id = store.create(ADMIN, "root", NOW)
    found = store.find(session_id, NOW + timedelta(minutes=59))
    assert found is not None and found.token_name == "root"
    assert store.find(session_id, NOW + timedelta(hours=1)) is None
    store.end(session_id)
    assert store.find(session_id, NOW) is None


def test_a_sign_in_posted_from_another_site_is_refused(client: TestClient) -> None:
    res = client.post(
        "/ui/sign-in",
        data={"token": ADMIN},
        headers={"Origin": "https://elsewhere.example"},
        follow_redirects=False,
    )
    assert res.status_code == 403 and COOKIE not in client.cookies


def test_metrics_cover_every_team_so_a_scoped_token_is_refused(client: TestClient) -> None:
    assert client.get("/metrics", headers=bearer(ADMIN)).status_code == 200
    assert client.get("/metrics", headers=bearer(TEAM)).status_code == 403
