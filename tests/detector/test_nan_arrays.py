"""The NaN helpers give numpy's answers to the bit (NaN, ±inf, signed zeros, empty rows)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from detector.nan_arrays import nan_to_num, nanmean, nanmean_rows, nansum

SPECIAL = [np.nan, np.inf, -np.inf, 0.0, -0.0, 1e308, -1e-300, 3.5]


def _cases(seed: int) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    out = []
    for n in (1, 2, 7, 8, 9, 90, 257):
        v = rng.normal(0, 10 ** rng.uniform(-3, 6), n)
        special = rng.random(n) < 0.3
        v[special] = rng.choice(SPECIAL, size=int(special.sum()))
        out.append(v)
    return out


def _same(a: np.ndarray | float, b: np.ndarray | float) -> bool:
    return bool(np.asarray(a, dtype=np.float64).tobytes() == np.asarray(b, dtype=np.float64).tobytes())


@pytest.mark.parametrize("seed", range(20))
@pytest.mark.parametrize("fill", [0.0, 1.0])
def test_nan_to_num_is_numpys(seed: int, fill: float) -> None:
    for v in _cases(seed):
        assert _same(nan_to_num(v, nan=fill), np.nan_to_num(v, nan=fill))


@pytest.mark.parametrize("seed", range(20))
def test_nansum_and_nanmean_are_numpys(seed: int) -> None:
    for v in _cases(seed):
        with np.errstate(all="ignore"):  # inf - inf is NaN, with numpy's warning either way
            assert _same(nansum(v), float(np.nansum(v)))
            if (v == v).any():
                assert _same(nanmean(v), float(np.nanmean(v)))


@pytest.mark.parametrize("seed", range(10))
def test_nanmean_rows_is_numpys(seed: int) -> None:
    rng = np.random.default_rng(seed)
    rows = rng.normal(0, 100, (3, 40, 57))
    rows[rng.random(rows.shape) < 0.3] = np.nan
    rows[0, 5] = np.nan  # a row without any value
    rows[1, 3, 4] = np.inf
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)
        want = np.nanmean(rows, axis=-1)
    assert _same(nanmean_rows(rows), want)
    assert np.isnan(nanmean_rows(rows)[0, 5])
