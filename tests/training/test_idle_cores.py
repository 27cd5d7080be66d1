"""How many cores a sweep may fan out over: those other jobs leave idle, by the load average."""

from __future__ import annotations

import os

import pytest

from training import fanout


@pytest.mark.parametrize(
    ("cores", "load", "idle"),
    [
        (2, 0.1, 2),  # a quiet machine: every core
        (2, 1.0, 2),  # this process alone
        (2, 2.0, 1),  # one other job
        (2, 6.3, 1),  # a saturated machine: at least one, this process
        (8, 3.5, 5),
    ],
)
def test_idle_cores_follow_the_load_of_other_jobs(
    monkeypatch: pytest.MonkeyPatch, cores: int, load: float, idle: int
) -> None:
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(cores)), raising=False)
    monkeypatch.setattr(os, "getloadavg", lambda: (load, load, load))
    assert fanout.idle_cores() == idle


def test_without_a_load_average_the_cores_are_taken_as_ours(monkeypatch: pytest.MonkeyPatch) -> None:
    def missing() -> tuple[float, float, float]:
        raise OSError("no load average")

    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1, 2}, raising=False)
    monkeypatch.setattr(os, "getloadavg", missing)
    assert fanout.idle_cores() == 3
