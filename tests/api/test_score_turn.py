"""The scoring routes let the event loop take a turn after the cheap steps and before scoring on it, so
that the requests that arrived meanwhile are read first (``api.routes.score.take_turn``).

The app is driven through ASGI on one event loop, as uvicorn drives it, with a token from the settings
(checked in memory, so nothing before the scoring waits on the thread pool): a callback queued just after
a request's task starts must run before that request is scored, and the answers stay those of the
scoring itself.
"""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from fastapi import FastAPI

from api.app import create_app
from api.routes import score
from core.clock import FixedClock
from core.settings import Settings

TOKEN = "turn-token-0123456789abcdef"  # a test token, not a secret


def _series(n: int = 60) -> list[dict[str, Any]]:
    rng = np.random.default_rng(3)
    idx = pd.date_range("2024-01-01", periods=n, freq="D")
    v = 100 + 10 * np.sin(np.arange(n) * 2 * np.pi / 7) + rng.normal(0, 2, n)
    return [{"timestamp": t.isoformat(), "value": float(x)} for t, x in zip(idx, v, strict=True)]


async def _call(app: FastAPI, path: str, payload: dict[str, Any]) -> tuple[int, bytes]:
    raw = json.dumps(payload).encode()
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [
            (b"authorization", f"Bearer {TOKEN}".encode()),
            (b"content-type", b"application/json"),
            (b"content-length", str(len(raw)).encode()),
        ],
        "client": ("127.0.0.1", 1),
        "server": ("127.0.0.1", 2),
        "state": {},
        "app": app,
    }
    sent: list[dict[str, Any]] = []
    given = False

    async def receive() -> dict[str, Any]:
        nonlocal given
        if not given:
            given = True
            return {"type": "http.request", "body": raw, "more_body": False}
        await asyncio.Event().wait()
        return {}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await app(scope, receive, send)
    return int(sent[0]["status"]), b"".join(m.get("body", b"") for m in sent[1:])


@pytest.mark.parametrize(
    ("path", "payload"),
    [
        ("/v1/score", {"series": _series()}),
        ("/v1/score/batch", {"items": [{"series": _series()}, {"series": _series(40)}]}),
    ],
)
def test_a_callback_queued_after_the_request_runs_before_it_is_scored(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, path: str, payload: dict[str, Any]
) -> None:
    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 'state.db'}",
        data_dir=tmp_path / "data",
        api_tokens=f"client:{TOKEN}:score",
        rate_limit_per_minute=0,
        _env_file=None,
    )
    app = create_app(settings, clock=FixedClock(datetime(2030, 1, 1, tzinfo=UTC)))
    events: list[str] = []
    real = score.score_answer_json

    def scoring(*args: Any, **kwargs: Any) -> bytes:
        events.append("scored")
        return real(*args, **kwargs)

    monkeypatch.setattr(score, "score_answer_json", scoring)

    async def main() -> tuple[int, bytes]:
        async with app.router.lifespan_context(app):
            task = asyncio.ensure_future(_call(app, path, payload))
            # Queued behind the task's first step, as a socket read by the loop's next poll would be.
            asyncio.get_running_loop().call_soon(events.append, "other")
            return await task

    status, answer = asyncio.run(main())
    assert status == 200, answer[:300]
    assert events[0] == "other" and "scored" in events
    found = json.loads(answer)
    results = found.get("results", [found])
    assert [len(r["points"]) for r in results] == [
        len(item["series"]) for item in payload.get("items", [payload])
    ]


def test_taking_a_turn_yields_to_the_loop_once() -> None:
    order: list[str] = []

    async def main() -> None:
        asyncio.get_running_loop().call_soon(order.append, "queued")
        await score.take_turn()
        order.append("after")

    asyncio.run(main())
    assert order == ["queued", "after"]
