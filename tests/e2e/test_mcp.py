"""``spendsentry mcp`` for real: the MCP SDK's own stdio client launches the command as a subprocess.

The state is real too: a demo FOCUS export ingested, and two days of the scheduler's sweeps replayed over
its first injected incident, on PostgreSQL when ``SPENDSENTRY_TEST_DATABASE_URL`` is set (else SQLite).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import ClientSession, StdioServerParameters, stdio_client
from sqlalchemy import create_engine, insert, select

from alerts.tables import expected_changes, feedback, incidents
from api.tables import api_tokens
from api.token_auth import hash_token, new_token
from tests.e2e.helpers import BIN, env_for, fresh_database, run_cli

pytestmark = pytest.mark.slow

READER_TOKEN = "reader-token-" + uuid.uuid4().hex  # from SPENDSENTRY_API_TOKENS: read only
TOOLS = {
    "list_incidents",
    "explain_incident",
    "list_series",
    "series_spend",
    "score_series",
    "give_feedback",
    "declare_expected_change",
    "list_expected_changes",
}


@dataclass(frozen=True)
class World:
    workdir: Path
    database: str
    truth: dict[str, Any]  # the injected incident the replay saw
    assistant_token: str  # created as POST /v1/tokens would: read, score, write

    def env(self, **extra: str) -> dict[str, str]:
        return env_for(
            self.workdir,
            SPENDSENTRY_DATABASE_URL=self.database,
            SPENDSENTRY_API_TOKENS=f"reader:{READER_TOKEN}:read",
            **extra,
        )


@pytest.fixture(scope="module")
def database(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A fresh PostgreSQL database when the test server is configured, else a SQLite file."""
    with fresh_database(tmp_path_factory.mktemp("mcp-db") / "state.db") as url:
        yield url


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, database: str) -> World:
    workdir = tmp_path_factory.mktemp("mcp")
    env = {"SPENDSENTRY_DATABASE_URL": database}
    for args in (("demo-data", "export", "--days", "60"), ("ingest", "export")):
        res = run_cli(workdir, *args, **env)
        assert res.returncode == 0, res.stderr
    truth = json.loads((workdir / "export" / "truth.json").read_text())["incidents"][0]
    day = datetime.fromisoformat(truth["start"]) + timedelta(days=1)
    res = run_cli(
        workdir,
        "replay",
        "--start",
        day.isoformat(),
        "--end",
        (day + timedelta(days=1)).isoformat(),
        "--every",
        "1d",
        **env,
    )
    assert res.returncode == 0, res.stderr
    token = new_token()
    engine = create_engine(database)
    with engine.begin() as conn:
        conn.execute(
            insert(api_tokens).values(
                id=str(uuid.uuid4()),
                name="assistant",
                token_hash=hash_token(token),
                scopes="read score write",
                created_at=datetime.now(UTC),
            )
        )
    engine.dispose()
    return World(workdir, database, truth, token)


async def _session_run(world: World, token: str, script: Any) -> Any:
    params = StdioServerParameters(
        command=str(BIN), args=["mcp"], env=world.env(SPENDSENTRY_MCP_TOKEN=token), cwd=world.workdir
    )
    with (world.workdir / "mcp-stderr.log").open("a") as errlog, anyio.fail_after(60):
        async with (
            stdio_client(params, errlog=errlog) as (read, write),
            ClientSession(read, write) as session,
        ):
            await session.initialize()
            return await script(session)


def run_session(world: World, token: str, script: Any) -> Any:
    return anyio.run(_session_run, world, token, script)


def _text(result: Any) -> str:
    return "\n".join(block.text for block in result.content if block.type == "text")


def test_every_tool_over_stdio_on_real_data(world: World) -> None:
    truth = world.truth
    seen: dict[str, Any] = {}

    async def script(session: ClientSession) -> None:
        listed = await session.list_tools()
        seen["tools"] = {t.name: t for t in listed.tools}

        async def call(name: str, args: dict[str, Any]) -> Any:
            result = await session.call_tool(name, args)
            seen.setdefault("texts", []).append(_text(result))
            return result

        seen["incidents"] = await call("list_incidents", {"product": truth["product"]})
        ours = [
            i
            for i in seen["incidents"].structured_content["incidents"]
            if i["cost_line"] == truth["cost_line"] and i["scope"] == "default"
        ]
        assert ours, seen["incidents"].structured_content
        seen["incident_id"] = ours[0]["id"]
        seen["explained"] = await call("explain_incident", {"incident_id": ours[0]["id"]})
        seen["series"] = await call("list_series", {})
        seen["spend"] = await call(
            "series_spend", {"product": truth["product"], "cost_line": truth["cost_line"], "max_points": 1000}
        )
        seen["score"] = await call(
            "score_series", {"product": truth["product"], "cost_line": truth["cost_line"]}
        )
        seen["feedback"] = await call(
            "give_feedback", {"incident_id": ours[0]["id"], "kind": "confirmed", "note": "on it"}
        )
        seen["declared"] = await call(
            "declare_expected_change",
            {
                "name": "load test",
                "matchers": [f"product={truth['product']}"],
                "starts_at": "2026-08-01T00:00:00+00:00",
                "ends_at": "2026-08-02T00:00:00+00:00",
            },
        )
        seen["changes"] = await call("list_expected_changes", {})
        # Bad input: a tool error naming the field and the reason, from the SDK's schema or the domain.
        seen["bad_limit"] = await call("list_incidents", {"limit": 0})
        seen["bad_window"] = await call(
            "declare_expected_change",
            {
                "name": "backwards",
                "matchers": ["product=x"],
                "starts_at": "2026-08-02T00:00:00+00:00",
                "ends_at": "2026-08-01T00:00:00+00:00",
            },
        )
        seen["bad_matcher"] = await call(
            "declare_expected_change",
            {
                "name": "bad",
                "matchers": ["product=~("],
                "starts_at": "2026-08-01T00:00:00+00:00",
                "ends_at": "2026-08-02T00:00:00+00:00",
            },
        )
        seen["missing"] = await call("explain_incident", {"incident_id": "no-such-incident"})
        seen["no_series"] = await call("series_spend", {"product": "nope", "cost_line": "nope"})

    run_session(world, world.assistant_token, script)

    assert set(seen["tools"]) == TOOLS
    assert all(t.description and t.input_schema["type"] == "object" for t in seen["tools"].values())
    assert seen["tools"]["list_incidents"].annotations.read_only_hint is True
    assert seen["tools"]["give_feedback"].annotations.read_only_hint is False

    explained = seen["explained"].structured_content
    assert not seen["explained"].is_error
    assert explained["root_causes"][0]["dimensions"] == truth["root_cause"]
    assert explained["root_causes"][0]["contribution"] > 0.5 * truth["extra_per_period"]
    assert explained["peak_severity"] == truth["expected_severity"]
    assert explained["impact"] == pytest.approx(explained["actual"] - explained["expected"], abs=0.01)
    resources = explained["root_causes"][0]["resources"]
    assert resources and resources[0]["excess"] > 0
    assert truth["product"] in explained["summary"] and resources[0]["resource_id"] in explained["summary"]
    assert explained["history"] and explained["link"].endswith(f"/incidents/{explained['id']}")

    names = {(s["product"], s["cost_line"]) for s in seen["series"].structured_content["series"]}
    assert (truth["product"], truth["cost_line"]) in names
    spend = seen["spend"].structured_content
    by_day = {p["timestamp"][:10]: p["value"] for p in spend["points"]}
    assert spend["periods"] == len(spend["points"]) == 60 and not spend["truncated"]
    assert spend["total"] == pytest.approx(sum(by_day.values()), rel=1e-6)
    assert max(by_day, key=by_day.__getitem__) == truth["start"][:10]  # the injected spike
    scored = seen["score"].structured_content
    assert scored["model"]["source"] == "stored"
    assert truth["start"][:10] in {a["start"][:10] for a in scored["anomalies"]}
    spike = next(p for p in scored["points"] if p["timestamp"][:10] == truth["start"][:10])
    assert spike["is_anomaly"] and spike["value"] > spike["upper"]

    # The writes reached the database, recorded under the token's name.
    assert not seen["feedback"].is_error, _text(seen["feedback"])
    declared = seen["declared"].structured_content
    assert declared["created_by"] == "assistant (mcp)"
    assert [c["id"] for c in seen["changes"].structured_content["expected_changes"]] == [declared["id"]]
    engine = create_engine(world.database)
    with engine.connect() as conn:
        notes = conn.execute(select(feedback).where(feedback.c.incident_id == seen["incident_id"])).all()
        state = conn.execute(
            select(incidents.c.feedback).where(incidents.c.id == seen["incident_id"])
        ).scalar_one()
        windows = conn.execute(select(expected_changes.c.name, expected_changes.c.matchers)).all()
    engine.dispose()
    assert [(n.kind, n.note, n.author) for n in notes] == [("confirmed", "on it", "assistant (mcp)")]
    assert state == "confirmed"
    assert [(w.name, json.loads(w.matchers)) for w in windows] == [
        ("load test", [f"product={truth['product']}"])
    ]

    for key, needle in (
        ("bad_limit", "limit"),
        ("bad_window", "ends_at: must be after starts_at"),
        ("bad_matcher", "matchers"),
        ("missing", "incident no-such-incident not found"),
        ("no_series", "no series nope / nope"),
    ):
        assert seen[key].is_error and needle in _text(seen[key]), (key, _text(seen[key]))
    # No secret in any answer, nor in what the server logged.
    logged = (world.workdir / "mcp-stderr.log").read_text()
    for secret in (world.assistant_token, READER_TOKEN):
        assert all(secret not in t for t in seen["texts"]) and secret not in logged


def test_a_read_only_token_is_refused_score_and_write(world: World) -> None:
    seen: dict[str, Any] = {}

    async def script(session: ClientSession) -> None:
        listed = await session.call_tool("list_incidents", {"limit": 5})
        seen["listed"] = listed
        first = listed.structured_content["incidents"][0]
        seen["feedback"] = await session.call_tool(
            "give_feedback", {"incident_id": first["id"], "kind": "not_anomaly"}
        )
        seen["score"] = await session.call_tool(
            "score_series", {"product": first["product"], "cost_line": first["cost_line"]}
        )
        seen["id"] = first["id"]

    run_session(world, READER_TOKEN, script)
    assert not seen["listed"].is_error and seen["listed"].structured_content["count"] >= 1
    for key, scope in (("feedback", "write"), ("score", "score")):
        assert seen[key].is_error
        assert f"lacks the '{scope}' scope" in _text(seen[key]) and "'reader'" in _text(seen[key])
    engine = create_engine(world.database)
    with engine.connect() as conn:
        kinds = conn.execute(select(feedback.c.kind).where(feedback.c.incident_id == seen["id"])).scalars()
        assert "not_anomaly" not in list(kinds)
    engine.dispose()


@pytest.mark.parametrize(
    ("token", "needle"),
    [
        (None, "SPENDSENTRY_MCP_TOKEN: a token is needed"),
        ("not-a-known-token-at-all", "SPENDSENTRY_MCP_TOKEN: unknown or revoked token"),
    ],
)
def test_no_valid_token_refuses_to_start_with_exit_2(world: World, token: str | None, needle: str) -> None:
    extra = {"SPENDSENTRY_MCP_TOKEN": token} if token else {}
    env = world.env(**extra)
    res = run_cli(
        world.workdir,
        "mcp",
        timeout=60,
        **{k: v for k, v in env.items() if k.startswith("SPENDSENTRY_")},
    )
    assert res.returncode == 2, (res.stdout, res.stderr)
    assert needle in res.stderr and res.stdout == ""
    assert token is None or token not in res.stderr
