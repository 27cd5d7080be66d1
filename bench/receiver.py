"""A real local HTTP receiver for replays: PagerDuty-like (``/pagerduty``, 202) and ticket-webhook-like
(``/webhook``, 200) endpoints that record every JSON body they accept, with no validation beyond JSON.

The end-to-end tests have a stricter receiver (PagerDuty schema, webhook signatures); benchmarks must not
import tests, and here only what was delivered matters.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class Recorder:
    def __init__(self) -> None:
        self.accepted: list[tuple[str, dict[str, Any]]] = []  # (path, body) in arrival order
        self.lock = threading.Lock()
        self.url = ""

    def pages(self) -> list[dict[str, Any]]:
        """Events v2 bodies (trigger, resolve), without the change events that follow a new normal."""
        return [b for p, b in self.accepted if p.startswith("/pagerduty") and "/change/" not in p]

    def tickets(self) -> list[dict[str, Any]]:
        return [b for p, b in self.accepted if p.startswith("/webhook")]

    def env(self) -> dict[str, str]:
        """The service's settings that send pages and tickets here."""
        return {
            "SPENDSENTRY_PAGERDUTY_ROUTING_KEY": "R" * 32,
            "SPENDSENTRY_PAGERDUTY_URL": f"{self.url}/pagerduty/v2/enqueue",
            "SPENDSENTRY_TICKET_KIND": "webhook",
            "SPENDSENTRY_TICKET_URL": f"{self.url}/webhook",
            "SPENDSENTRY_TICKET_TOKEN": "replay-webhook-secret",
        }


@contextmanager
def recording() -> Iterator[Recorder]:
    recorder = Recorder()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            try:
                body = json.loads(raw)
                status = 202 if self.path.startswith("/pagerduty") else 200
            except ValueError:
                body, status = None, 400
            if isinstance(body, dict):
                with recorder.lock:
                    recorder.accepted.append((self.path, body))
            data = json.dumps({"status": "success" if status < 300 else "invalid"}).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            pass  # a replay sends hundreds of requests: keep the terminal for the progress bar

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    recorder.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield recorder
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
