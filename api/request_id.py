"""Request ids and the access log: the id taken from ``X-Request-ID`` (or made up), echoed back and put
on every log line; one access line per request, in the service's log format.

The access line replaces uvicorn's own (``spendsentry serve`` runs uvicorn with ``access_log=False``):
the same facts (client, method, path, HTTP version, status) plus the time the app took, written through
the service's logging, so that it carries the request id and is JSON with ``LOG_FORMAT=json`` (uvicorn's
lines were plain text without the id). It also costs less: uvicorn's line went through a colourising
formatter that copies each record, about 6% of a scoring request's time in the server.
"""

from __future__ import annotations

import logging
import os
import re
import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from core.logs import request_id

_SAFE = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")
access_log = logging.getLogger("spendsentry.access")


def _target(scope: Scope) -> str:
    """The request target as sent (the raw path cannot hold spaces or line breaks), with its query."""
    raw: bytes = scope.get("raw_path") or str(scope.get("path", "")).encode("utf-8", "replace")
    query: bytes = scope.get("query_string", b"")
    return (raw + b"?" + query if query else raw).decode("latin-1")


class RequestId:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        given = next((v for k, v in scope.get("headers", ()) if k == b"x-request-id"), b"").decode("latin-1")
        # A client's id is reused only when it is short and plain, so it cannot forge log lines. A new one
        # is 128 random bits in hex, as a uuid4's hex (whose object costs several times more to build).
        rid = given if _SAFE.match(given) else os.urandom(16).hex()
        token = request_id.set(rid)
        status = 500  # what the server answers when the app fails before it starts a response

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], (b"x-request-id", rid.encode())]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            if access_log.isEnabledFor(logging.INFO):
                client = scope.get("client")
                access_log.info(
                    '%s - "%s %s HTTP/%s" %d %.1f ms',
                    f"{client[0]}:{client[1]}" if client else "-",
                    scope.get("method", ""),
                    _target(scope),
                    scope.get("http_version", "1.1"),
                    status,
                    (time.perf_counter() - started) * 1000.0,
                )
            request_id.reset(token)
