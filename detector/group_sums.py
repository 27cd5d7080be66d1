"""Group sums that equal pandas' ``groupby(...).sum()``, without building a frame per call.

pandas sums float groups two ways: when the rows come already sorted by group and hold no NaN, one
``np.add.reduceat`` over the segments; otherwise Kahan's compensated summation, row by row in the order
the rows come, NaN skipped. ``np.bincount`` adds plainly, so its sums can differ in the last bits, and a
root cause's dollars would then differ between the sweep and ``/v1/root-causes``. Here the same two
paths are taken on the same condition; the compensated one runs for every group at once, one step per
row *rank* within its group, so a table of leaves seen over a handful of periods costs a handful of
steps. Groups of more than ``MAX_STEPS`` rows are handed to pandas itself.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pandas as pd

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

# Past this many rows in one group, one numpy step per row costs more than one pandas group-by.
MAX_STEPS = 64


def group_sums(groups: IntArray, values: FloatArray, size: int, *, plain: bool | None = None) -> FloatArray:
    """Per group ``0 .. size-1``, the sum of ``values`` (one row each, in order; NaN skipped) as pandas'
    group-by sums it; a group without rows sums to 0. ``plain`` forces pandas' choice of path where it
    depends on more than these rows (the other rows or columns it groups with): ``True`` for the sums by
    segment, ``False`` for the compensated ones."""
    groups = np.asarray(groups, dtype=np.int64)
    values = np.asarray(values, dtype=np.float64)
    out = np.zeros(size)
    if groups.size == 0:
        return out
    nan = np.isnan(values)
    if plain is None:
        plain = not nan.any() and bool(np.all(groups[1:] >= groups[:-1]))
    if plain:
        starts = np.flatnonzero(np.r_[True, groups[1:] != groups[:-1]])
        out[groups[starts]] = np.add.reduceat(values, starts)
        return out
    order = np.argsort(groups, kind="stable")
    sorted_groups = groups[order]
    starts = np.flatnonzero(np.r_[True, sorted_groups[1:] != sorted_groups[:-1]])
    lengths = np.diff(np.r_[starts, sorted_groups.size])
    if int(lengths.max()) > MAX_STEPS:
        summed = pd.Series(values).groupby(groups).sum()
        out[summed.index.to_numpy(dtype=np.int64)] = summed.to_numpy(dtype=np.float64)
        return out
    # Rank of each row within its group, in row order: step k adds every group's k-th row.
    rank = np.empty(groups.size, dtype=np.int64)
    rank[order] = np.arange(sorted_groups.size) - np.repeat(starts, lengths)
    compensation = np.zeros(size)
    for k in range(int(lengths.max())):
        rows = np.flatnonzero((rank == k) & ~nan)
        at = groups[rows]
        y = values[rows] - compensation[at]
        t = out[at] + y
        c = t - out[at] - y
        # An infinite value leaves a NaN compensation, which pandas resets so that the sum stays infinite.
        compensation[at] = np.where(np.isnan(c), 0.0, c)
        out[at] = t
    return out
