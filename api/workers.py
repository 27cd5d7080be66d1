"""``serve --workers N``: N server processes on one port, each with its own listening socket.

uvicorn's own ``--workers`` shares one listening socket between its processes, and whichever process
wakes first accepts every pending connection: with keep-alive clients (a load balancer's connection pool)
one process can end up with most connections while the others idle. Here each process binds the port
with ``SO_REUSEPORT``, so the kernel spreads new connections evenly over the processes' sockets. The
parent only supervises: it restarts a process that dies, and stops them all on SIGTERM or SIGINT. The
first process alone runs the scheduler and the outbox dispatcher.
"""

from __future__ import annotations

import logging
import multiprocessing
import signal
import socket
import threading
import time
from types import FrameType

from core.errors import InputError

log = logging.getLogger(__name__)

# A process that dies this soon after its start is failing to start, not crashing under load: give up.
CRASH_LOOP_SECONDS = 10.0


def reuse_port_supported() -> bool:
    return hasattr(socket, "SO_REUSEPORT")


def _listener(host: str, port: int, *, listen: bool) -> socket.socket:
    family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind(address)
    if listen:
        sock.listen(2048)
    return sock


def _worker(host: str, port: int, log_level: str, scheduler: bool) -> None:
    import os

    import uvicorn

    from api.app import SCHEDULER_ENV

    os.environ[SCHEDULER_ENV] = "1" if scheduler else "0"
    sock = _listener(host, port, listen=True)
    # Access lines are the service's own (api.request_id).
    config = uvicorn.Config("api.app:create_serve_app", factory=True, log_level=log_level, access_log=False)
    uvicorn.Server(config).run(sockets=[sock])


def serve_processes(host: str, port: int, workers: int, *, log_level: str = "info") -> int:
    """Run ``workers`` server processes until SIGTERM/SIGINT; the exit code of the whole server."""
    try:
        # Bound (never listening, so it receives no connection) to fail early and clearly when the port
        # is taken by a process that does not share it; kept until the workers have their own sockets.
        probe = _listener(host, port, listen=False)
    except OSError as exc:
        raise InputError("--port", f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    ctx = multiprocessing.get_context("spawn")
    stop = threading.Event()

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        stop.set()

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGTERM, signal.SIGINT)}

    def start(index: int) -> tuple[multiprocessing.process.BaseProcess, float]:
        # The first process runs the scheduler and the dispatcher; so does its replacement.
        args = (host, port, log_level, index == 0)
        proc = ctx.Process(target=_worker, args=args, name=f"spendsentry-server-{index}")
        proc.start()
        return proc, time.monotonic()

    procs = [start(i) for i in range(workers)]
    code = 0
    try:
        time.sleep(0.5)
        probe.close()
        while not stop.wait(0.5):
            for i, (proc, started) in enumerate(procs):
                if proc.is_alive():
                    continue
                if time.monotonic() - started < CRASH_LOOP_SECONDS:
                    log.error("server process %s exited with %s at start; stopping", proc.pid, proc.exitcode)
                    stop.set()
                    code = 1
                    break
                log.warning("server process %s exited with %s; starting another", proc.pid, proc.exitcode)
                procs[i] = start(i)
    finally:
        probe.close()
        for proc, _ in procs:
            if proc.is_alive():
                proc.terminate()  # uvicorn shuts down gracefully on SIGTERM
        for proc, _ in procs:
            proc.join(timeout=30)
        for s, handler in previous.items():
            signal.signal(s, handler)
    return code
