"""Every benchmark ends the same way: print its section, and write it where ``bench.run`` composes
BENCHMARKS.md from (``bench/results/<name>.md``) unless asked not to."""

from __future__ import annotations

from pathlib import Path


def publish(text: str, path: Path, *, write: bool = True) -> None:
    print(text)
    if write:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
