"""Running Debian's real Prometheus, Alertmanager and their tools in tests.

Each program gets a free loopback port and its own temporary config and storage, so tests never meet a
service the package may have started on its default port. A missing binary skips the test, naming the
package that provides it (``.ci/run`` installs both when apt is available).
"""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from tests.e2e.helpers import free_port

# Debian names the Alertmanager binary after its package; upstream tarballs call it `alertmanager`.
BINARIES = {
    "prometheus": ("prometheus",),
    "promtool": ("promtool",),
    "alertmanager": ("prometheus-alertmanager", "alertmanager"),
    "amtool": ("amtool",),
}
PACKAGES = {
    "prometheus": "prometheus",
    "promtool": "prometheus",
    "alertmanager": "prometheus-alertmanager",
    "amtool": "prometheus-alertmanager",
}


def binary(program: str) -> str:
    """The program's path, or a skip that names the Debian package to install."""
    for name in BINARIES[program]:
        found = shutil.which(name)
        if found:
            return found
    package = PACKAGES[program]
    pytest.skip(f"{program} not installed (apt-get install {package}; .ci/run installs it when it can)")


def run_tool(program: str, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [binary(program), *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )


class Program:
    """A started program: its base URL and process (output goes to a log file read on failure)."""

    def __init__(self, name: str, url: str, proc: subprocess.Popen[bytes], log: Path) -> None:
        self.name = name
        self.url = url
        self.proc = proc
        self.log = log

    def output(self) -> str:
        return self.log.read_text(errors="replace")[-4000:]


def _wait_ready(program: Program, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if program.proc.poll() is not None:
            raise AssertionError(f"{program.name} exited with {program.proc.returncode}:\n{program.output()}")
        try:
            if httpx.get(f"{program.url}/-/ready", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise AssertionError(f"{program.name} not ready within {timeout} s:\n{program.output()}")


@contextmanager
def started(name: str, args: list[str], workdir: Path, *, timeout: float = 60) -> Iterator[Program]:
    """Start ``name`` with ``args`` (``{port}`` is replaced by a free port), wait for ``/-/ready``, and
    always stop it: terminate, then kill if it does not exit in time."""
    port = free_port()
    log = workdir / f"{name}.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [binary(name), *(a.replace("{port}", str(port)) for a in args)],
            cwd=workdir,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
    program = Program(name, f"http://127.0.0.1:{port}", proc, log)
    try:
        _wait_ready(program, timeout)
        yield program
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=15)


@contextmanager
def alertmanager(config: str, workdir: Path) -> Iterator[Program]:
    """Alertmanager on a free port with ``config`` (YAML text), its own storage, and no cluster gossip."""
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "alertmanager.yml").write_text(config)
    (workdir / "am-data").mkdir(exist_ok=True)
    args = [
        f"--config.file={workdir / 'alertmanager.yml'}",
        f"--storage.path={workdir / 'am-data'}",
        "--web.listen-address=127.0.0.1:{port}",
        "--cluster.listen-address=",  # empty: a single instance, no gossip port to collide on
        "--log.level=warn",
    ]
    with started("alertmanager", args, workdir) as program:
        yield program


@contextmanager
def prometheus(config: str, workdir: Path) -> Iterator[Program]:
    """Prometheus on a free port with ``config`` (YAML text) and its own TSDB directory."""
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "prometheus.yml").write_text(config)
    (workdir / "tsdb").mkdir(exist_ok=True)
    args = [
        f"--config.file={workdir / 'prometheus.yml'}",
        f"--storage.tsdb.path={workdir / 'tsdb'}",
        "--web.listen-address=127.0.0.1:{port}",
        "--log.level=warn",
    ]
    with started("prometheus", args, workdir) as program:
        yield program
