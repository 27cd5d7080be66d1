"""A real local HTTP receiver for the end-to-end tests: a threaded ``http.server`` that validates
PagerDuty Events v2 bodies (answering 400 as PagerDuty does) and Teams Workflows Adaptive Card messages
(under ``/teams``, answering 202 as Workflows does), checks webhook signatures, answers 404 under
``/gone`` (a receiver deleted at the other end), can be told to fail the next requests, and records what
it accepted."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from tests.alerts.notifications import (
    change_event_schema_errors,
    pagerduty_schema_errors,
    teams_schema_errors,
)


class Receiver:
    def __init__(self, webhook_secret: str | None = None) -> None:
        self.accepted: list[tuple[str, dict[str, Any]]] = []  # (path, body) of 2xx answers
        self.requests: list[tuple[str, int]] = []  # (path, status) of every request
        self.fail_next: list[int] = []  # statuses to answer before behaving
        self.always: int | None = None
        self.webhook_secret = webhook_secret
        self.lock = threading.Lock()
        self.url = ""

    def handle(self, path: str, raw: bytes, headers: dict[str, str]) -> tuple[int, dict[str, Any]]:
        with self.lock:
            if self.always is not None:
                status = self.always
            elif self.fail_next:
                status = self.fail_next.pop(0)
            else:
                status = 0
            if status == 0 and path.startswith("/gone"):
                status = 404
            if status == 0:
                try:
                    body = json.loads(raw)
                except ValueError:
                    body, status = None, 400
                if body is not None and path.startswith("/pagerduty"):
                    change = "/change/" in path
                    errors = change_event_schema_errors(body) if change else pagerduty_schema_errors(body)
                    status = 400 if errors else 202
                    if errors:
                        body = {"status": "invalid event", "errors": errors}
                elif body is not None and path.startswith("/teams"):
                    errors = teams_schema_errors(body)
                    status = 400 if errors else 202
                    if errors:
                        body = {"error": {"code": "InvalidRequestContent", "message": "; ".join(errors)}}
                elif body is not None and path.startswith("/webhook"):
                    status = 200
                    if self.webhook_secret is not None:
                        want = (
                            "sha256="
                            + hmac.new(self.webhook_secret.encode(), raw, hashlib.sha256).hexdigest()
                        )
                        if headers.get("x-spendsentry-signature") != want:
                            status = 401
            self.requests.append((path, status))
            if 200 <= status < 300:
                self.accepted.append((path, body))
                return status, {"status": "success", "dedup_key": (body or {}).get("dedup_key")}
            return status, {"status": "error"}

    def pagerduty_events(self) -> list[tuple[str, str]]:
        return [(b["event_action"], b["dedup_key"]) for p, b in self.accepted if p.startswith("/pagerduty")]

    def teams_cards(self) -> list[dict[str, Any]]:
        """The Adaptive Cards accepted under ``/teams``, in order."""
        return [b["attachments"][0]["content"] for p, b in self.accepted if p.startswith("/teams")]

    def webhook_actions(self) -> list[str]:
        return [b["action"] for p, b in self.accepted if p.startswith("/webhook")]


@contextmanager
def running(receiver: Receiver) -> Iterator[Receiver]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            headers = {k.lower(): v for k, v in self.headers.items()}
            status, body = receiver.handle(self.path, raw, headers)
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    receiver.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
