"""The detector's cached kernels are dropped when any kernel's source changed since they were cached
(numba checks a kernel against its own file only: detector.compiled.refresh_cache)."""

from __future__ import annotations

from pathlib import Path

from detector.compiled import KERNEL_MODULES, kernel_sources_digest, refresh_cache


def _cache(root: Path) -> list[Path]:
    files = [
        root / "compiled_decide._decide-23.py311.nbi",
        root / "compiled_decide._decide-23.py311.1.nbc",
        root / "compiled_surprise._escalation-156.py311.nbi",
    ]
    for f in files:
        f.write_bytes(b"machine code")
    return files


def test_kernels_cached_from_other_sources_are_dropped(tmp_path: Path) -> None:
    cached = _cache(tmp_path)
    other = tmp_path / "somebody_else.kernel-1.py311.nbi"  # not the detector's: left alone
    other.write_bytes(b"x")
    (tmp_path / "spendsentry-kernels.sha256").write_text("sources of another version")
    assert refresh_cache(tmp_path)
    assert not any(f.exists() for f in cached) and other.exists()
    assert (tmp_path / "spendsentry-kernels.sha256").read_text() == kernel_sources_digest()


def test_kernels_cached_from_todays_sources_are_kept(tmp_path: Path) -> None:
    (tmp_path / "spendsentry-kernels.sha256").write_text(kernel_sources_digest())
    cached = _cache(tmp_path)
    assert not refresh_cache(tmp_path)
    assert all(f.exists() for f in cached)


def test_a_cache_without_a_stamp_is_dropped_once(tmp_path: Path) -> None:
    cached = _cache(tmp_path)
    assert refresh_cache(tmp_path) and not any(f.exists() for f in cached)
    again = _cache(tmp_path)
    assert not refresh_cache(tmp_path) and all(f.exists() for f in again)


def test_every_kernel_module_is_in_the_digest() -> None:
    here = Path(__file__).resolve().parents[2] / "detector"
    with_kernels = {p.stem for p in here.glob("*.py") if "njit" in p.read_text() and p.stem != "compiled"}
    assert with_kernels == set(KERNEL_MODULES)
