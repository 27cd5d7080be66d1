"""Request ids: taken from ``X-Request-ID`` (or made up), echoed back, and put on every log line."""

from __future__ import annotations

import os
import re

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from core.logs import request_id

_SAFE = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")


class RequestId:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = next((v for k, v in scope.get("headers", ()) if k == b"x-request-id"), b"").decode("latin-1")
        # A client's id is reused only when it is short and plain, so it cannot forge log lines. A new one
        # is 128 random bits in hex, as a uuid4's hex (whose object costs several times more to build).
        rid = given if _SAFE.match(given) else os.urandom(16).hex()
        token = request_id.set(rid)

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], (b"x-request-id", rid.encode())]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            request_id.reset(token)
