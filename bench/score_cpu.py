"""CPU per ``POST /v1/score`` request through the whole app, in one process, without a server or a client.

The request of ``bench.bench_score_api`` (a 90-day series scored with a trained series' stored model) is
sent straight to the ASGI app (token check, middleware, body validation, scoring, serialisation), ``N``
times in a row; the CPU time per request is the steadiest figure on a shared machine, where wall times
and throughput move with the other tenants. ``--answer-from-memory`` replaces the scoring with its first
answer, to measure what the HTTP path alone costs. ``SPENDSENTRY_COMPILED=0`` runs the detector's numpy
reference instead of its compiled kernels.

``.venv/bin/python -m bench.score_cpu [--requests N] [--repeat R] [--answer-from-memory]``; not part of
``make bench`` (it writes nothing).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.bench_score_api import TOKEN, body, prepare
from bench.machine import describe


def _scope(app: Any, raw: bytes) -> dict[str, Any]:
    headers = [
        (b"host", b"bench"),
        (b"authorization", f"Bearer {TOKEN}".encode()),
        (b"content-type", b"application/json"),
        (b"content-length", str(len(raw)).encode()),
    ]
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/v1/score",
        "raw_path": b"/v1/score",
        "query_string": b"",
        "root_path": "",
        "headers": headers,
        "client": ("127.0.0.1", 1),
        "server": ("127.0.0.1", 2),
        "state": {},
        "app": app,
    }


async def _request(app: Any, raw: bytes) -> tuple[int, bytes]:
    sent: list[dict[str, Any]] = []
    given = False

    async def receive() -> dict[str, Any]:
        nonlocal given
        if not given:
            given = True
            return {"type": "http.request", "body": raw, "more_body": False}
        await asyncio.Event().wait()  # no disconnect while the answer is built
        return {}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await app(_scope(app, raw), receive, send)
    return int(sent[0]["status"]), b"".join(m.get("body", b"") for m in sent[1:])


async def _measure(app: Any, raw: bytes, requests: int, repeat: int) -> list[float]:
    async with app.router.lifespan_context(app):
        status, answer = await _request(app, raw)
        if status != 200 or json.loads(answer)["model"]["source"] != "stored":
            raise SystemExit(f"unexpected answer: {status} {answer[:200]!r}")
        for _ in range(50):
            await _request(app, raw)
        per_request = []
        for _ in range(repeat):
            started = time.process_time()
            for _ in range(requests):
                await _request(app, raw)
            per_request.append((time.process_time() - started) / requests * 1000.0)
        return per_request


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=500)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--answer-from-memory", action="store_true")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        prepare(root)
        os.environ.update(
            {
                "SPENDSENTRY_DATA_DIR": str(root),
                "SPENDSENTRY_DATABASE_URL": f"sqlite:///{root / 'state.db'}",
                "SPENDSENTRY_API_TOKENS": f"bench:{TOKEN}:score+read",
                "SPENDSENTRY_RATE_LIMIT_PER_MINUTE": "0",
            }
        )
        from api.app import create_app
        from api.routes import score
        from core.settings import Settings

        if args.answer_from_memory:
            # What the route calls: score_one, then score_answer (plain values), then score_answer_json.
            names = ("score_answer_json", "score_answer", "score_one")
            name = next(n for n in names if hasattr(score, n))
            real, kept = getattr(score, name), {}

            def remembered(*a: Any, **k: Any) -> Any:
                if "answer" not in kept:
                    kept["answer"] = real(*a, **k)
                return kept["answer"]

            setattr(score, name, remembered)
        app = create_app(Settings(), scheduler=False)
        payload = {**body(), "product": "checkout", "cost_line": "Amazon Elastic Compute Cloud"}
        figures = asyncio.run(_measure(app, json.dumps(payload).encode(), args.requests, args.repeat))
    print(f"Machine: {describe()}")
    print(
        f"ms CPU per request, {args.requests} requests, {args.repeat} times: "
        + ", ".join(f"{f:.2f}" for f in figures)
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
