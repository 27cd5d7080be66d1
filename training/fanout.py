"""Fan-out of independent fits: in-process, local processes (joblib/loky), or a Dask cluster.

The same job runs everywhere; only the backend changes. Tasks return their own results (never raise),
so one failing series cannot stop the others, and results arrive as they complete to drive a progress bar.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack
from typing import Any, TypeVar

from joblib import Parallel, delayed, parallel_config

T = TypeVar("T")
Progress = Callable[[int, int], None]


def fan_out(
    func: Callable[..., T],
    tasks: Sequence[tuple[Any, ...]],
    *,
    workers: int | None = None,
    dask_address: str | None = None,
    progress: Progress | None = None,
) -> list[T]:
    """Run ``func(*task)`` for every task; results in completion order.

    ``workers`` 1 (or a single task) runs in this process; None means one worker per core. With
    ``dask_address`` the tasks go to that Dask scheduler (``tcp://host:8786``) instead.
    """
    total = len(tasks)
    results: list[T] = []

    def tick() -> None:
        if progress:
            progress(len(results), total)

    tick()
    if total == 0:
        return results
    if dask_address is None and (workers == 1 or total == 1):
        for task in tasks:
            results.append(func(*task))
            tick()
        return results
    with ExitStack() as stack:
        if dask_address is not None:
            from distributed import Client

            stack.enter_context(Client(dask_address, set_as_default=True))  # type: ignore[no-untyped-call]
            stack.enter_context(parallel_config(backend="dask"))
            n_jobs = -1
        else:
            n_jobs = workers if workers is not None else -1
        runner = Parallel(n_jobs=n_jobs, return_as="generator_unordered")
        stream: Iterator[T] = runner(delayed(func)(*task) for task in tasks)
        for result in stream:
            results.append(result)
            tick()
    return results


def idle_cores() -> int:
    """Cores that other processes leave idle (by the 1-minute load average, this process not counted),
    at least one.

    Worker processes start by importing the whole stack (about 1.5 s of CPU each) and pay to receive their
    share of the data: on cores that other jobs keep busy they add that cost without finishing sooner.
    """
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cores = os.cpu_count() or 1
    try:
        others = max(os.getloadavg()[0] - 1.0, 0.0)
    except OSError:  # no load average on this platform: assume the cores are ours
        others = 0.0
    return max(int(cores - others), 1)
