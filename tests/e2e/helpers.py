"""Running the real ``spendsentry`` command and server in end-to-end tests."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
from sqlalchemy import create_engine, text

from tests.conftest import PG_URL

BIN = Path(sys.executable).parent / "spendsentry"


def env_for(workdir: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SPENDSENTRY_")}
    env.update(
        {
            "SPENDSENTRY_DATA_DIR": str(workdir / "var"),
            "SPENDSENTRY_DATABASE_URL": f"sqlite:///{workdir / 'var' / 'state.db'}",
        }
    )
    env.update(extra)
    return env


def run_cli(
    workdir: Path, *args: str, timeout: float = 300, **extra: str
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN), *args],
        cwd=workdir,
        env=env_for(workdir, **extra),
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_http(url: str, proc: subprocess.Popen[str], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(
                f"server exited with {proc.returncode}: {proc.stderr.read() if proc.stderr else ''}"
            )
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"{url} not ready within {timeout} s")


def start_cli(workdir: Path, *args: str, **extra: str) -> subprocess.Popen[str]:
    """A long-running ``spendsentry`` command (``serve``) in the background, its output captured."""
    return subprocess.Popen(
        [str(BIN), *args],
        cwd=workdir,
        env=env_for(workdir, **extra),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@contextmanager
def serving(workdir: Path, **extra: str) -> Iterator[str]:
    """``spendsentry serve`` on a free port with its crons pushed far out (a sweep at the wall clock must
    not change what a test checks); yields its URL once ``/healthz`` answers, and stops it after."""
    port = free_port()
    env = env_for(workdir, SPENDSENTRY_SWEEP_CRON="0 0 1 1 *", SPENDSENTRY_TRAIN_CRON="0 0 1 1 *", **extra)
    proc = subprocess.Popen(
        [str(BIN), "serve", "--port", str(port)],
        cwd=workdir,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        url = f"http://127.0.0.1:{port}"
        wait_http(f"{url}/healthz", proc)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=20)


@contextmanager
def fresh_database(sqlite_file: Path) -> Iterator[str]:
    """A database of its own for a server under test: a new PostgreSQL database when the test server is
    configured (dropped after), else ``sqlite_file``."""
    if not PG_URL:
        yield f"sqlite:///{sqlite_file}"
        return
    name = f"ss_{uuid.uuid4().hex[:10]}"
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield PG_URL.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
