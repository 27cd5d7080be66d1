"""The switch between the detector's compiled kernels and its numpy reference, and their warm-up.

The detector's hottest steps (the tail's passes, the robust z, trailing medians and means, row
quantiles, the recurrence counts, same-phase twins and levels) have a compiled twin (numba,
``detector/compiled_*.py``) that gives the same answers to the bit on the short series a request or a
sweep scores, at a fraction of numpy's per-call overhead; :mod:`detector.compiled_surprise` runs the
whole score on them, the glue between the views included, :mod:`detector.compiled_decide` the
post-rules and :mod:`detector.compiled_events` an event's numbers. The numpy code stays the reference: the
tests compare both on many random inputs, and ``SPENDSENTRY_COMPILED=0`` (or :func:`use_compiled`)
runs the reference instead; so does a machine without numba. The twin view's sequential tail
(:mod:`detector.sequential_tail`) has no numpy twin: a recurrence from one point to the next, it is
always compiled, and :func:`warm` loads it too.

numba is imported on first use only, so commands that never score (``spendsentry --help``) do not pay
for it. Kernels are compiled once per machine and cached on disk (``NUMBA_CACHE_DIR``, else next to the
modules); :func:`warm` loads or compiles them all, which the server does at start, not on a request.

numba checks a cached kernel against its own source file only. A kernel that calls one from another
module (the post-rules call the score's escalation) would keep the old machine code after that module
changed (an upgrade in place, another checkout); so on first use the detector's cached kernels are
dropped whenever any kernel's source differs from the sources they were cached from
(:func:`refresh_cache`).
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

# None: not decided yet (on first use: whether numba is installed at all; found without importing it).
_enabled: bool | None = (
    None if os.environ.get("SPENDSENTRY_COMPILED", "1") not in ("0", "false", "no") else False
)


_refreshed = False
# Every module with compiled kernels (numba's cache files are named after them).
KERNEL_MODULES = (
    "compiled_decide",
    "compiled_events",
    "compiled_phase",
    "compiled_recurrence",
    "compiled_surprise",
    "compiled_tail",
    "compiled_windows",
    "sequential_tail",
)
_STAMP = "spendsentry-kernels.sha256"


def active() -> bool:
    """True when the compiled kernels are to be used: not switched off, and numba is installed."""
    global _enabled, _refreshed
    if _enabled is None:
        _enabled = importlib.util.find_spec("numba") is not None
    if _enabled and not _refreshed:
        _refreshed = True
        refresh_cache()
    return _enabled


def kernel_sources_digest() -> str:
    """SHA-256 of every kernel module's source, in a fixed order."""
    here = Path(__file__).parent
    digest = hashlib.sha256()
    for name in KERNEL_MODULES:
        digest.update((here / f"{name}.py").read_bytes())
    return digest.hexdigest()


def refresh_cache(cache_dir: Path | None = None) -> bool:
    """Drop the detector's cached kernels from numba's cache (``cache_dir``: where numba keeps them for
    this package, found by numba itself when not given) unless they were cached from today's sources;
    True when it dropped them. A cache that cannot be read or written is left to numba."""
    try:
        if cache_dir is None:
            from numba.core.caching import FunctionCache  # type: ignore[import-untyped]

            cache_dir = Path(FunctionCache(kernel_sources_digest).cache_path)  # type: ignore[no-untyped-call]
        digest = kernel_sources_digest()
        stamp = cache_dir / _STAMP
        if stamp.is_file() and stamp.read_text() == digest:
            return False
        for name in KERNEL_MODULES:
            for cached in cache_dir.glob(f"{name}.*.nb[ic]"):
                cached.unlink(missing_ok=True)
        cache_dir.mkdir(parents=True, exist_ok=True)
        stamp.write_text(digest)
        return True
    except (OSError, ImportError, RuntimeError):
        return False


@contextmanager
def use_compiled(enabled: bool) -> Iterator[None]:
    """Run the block with the compiled kernels on or off (the numpy reference), then restore."""
    global _enabled
    before = _enabled
    _enabled = enabled
    try:
        yield
    finally:
        _enabled = before


def warm() -> None:
    """Compile (or load from the cache) every kernel, on inputs of the types the detector passes."""
    if not active():
        return
    import numpy as np
    import pandas as pd

    from detector.compiled_events import event_numbers
    from detector.compiled_phase import grid_level, grid_twins
    from detector.compiled_recurrence import recurrences
    from detector.compiled_tail import tail_pass
    from detector.compiled_windows import robust_z_rows, row_quantile, trailing_mean, trailing_median_rows
    from detector.post_rules import DetectorConfig, decide
    from detector.scoring import anomaly_scores
    from detector.sequential_tail import sequential_tail

    x = np.linspace(1.0, 2.0, 32)[None, :]
    tail_pass(x, x, 8, 2, np.full(x.shape, 1e-3), 2)
    robust_z_rows(x, 8, 1e-3)
    trailing_median_rows(x, 8)
    recurrences(x[0], 8, 1)
    row_quantile(x, 0.5)
    trailing_mean(x[0], 3)
    grid_twins(x[0], 7, 4, np.ones(32))
    grid_level(x[0], 7, 3)
    sequential_tail(x[0], window=8, min_history=2, floor=1e-3, memory=4)
    # The whole score in one kernel (detector.compiled_surprise), on a daily grid as a request sends.
    day = pd.Timedelta(days=1)
    scores = anomaly_scores(x[0], x[0], times_ns=np.arange(32, dtype=np.int64) * day.value, step=day)
    # The post-rules in one kernel (detector.compiled_decide), with and without the sustaining evidence.
    decide(x[0], x[0], np.ones(32), scores.tail, DetectorConfig(), sustain=scores.sustain)
    decide(x[0], x[0], np.ones(32), scores.tail, DetectorConfig())
    # An event's numbers (detector.compiled_events).
    columns = ("value", "expected", "trend", "seasonal", "completeness", "tail_score")
    event_numbers({k: x[0] for k in columns}, 0, 3, np.ones(4, dtype=bool))
