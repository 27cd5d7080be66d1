"""Leaf facts coded once for a whole sweep: dimensions as integers, time as nanoseconds, rows per series.

A sweep explains every open event of a chunk of series from one leaf-fact frame. Grouping, sorting and
matching leaves by their dimension values with pandas, for every period of every event, cost more than
the ranking itself; coded once, every event's leaf tables are integer arithmetic
(:mod:`detector.explain_coded`). Leaves are numbered in the order pandas' group-by sorts their dimension
values, so any set of leaves taken in number order is in the order the frame-based path lists them.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

_KEY_SPACE = 1 << 62  # leaves numbered by one integer while their dimensions' value counts multiply below


@dataclass(frozen=True)
class LeafCodes:
    """Leaf facts (a row: one leaf of one series in one period) with their dimensions coded."""

    dims: list[str]
    times: IntArray  # period of each row, in nanoseconds
    leaf: IntArray  # leaf number of each row (leaves numbered in the sorted order of their values)
    value: FloatArray
    quantity: FloatArray | None  # NaN where unknown; None when the facts carry no quantity
    leaf_codes: IntArray  # (leaves, dims): each leaf's value of each dimension, as a rank in ``labels``
    labels: list[list[str]]  # each dimension's values, sorted
    rows: dict[Hashable, IntArray]  # each series' rows, in frame order

    def window(self, series: Hashable, lo: int, hi: int) -> IntArray:
        """Rows of ``series`` in the periods ``lo <= t < hi`` (nanoseconds), in frame order."""
        rows = self.rows.get(series)
        if rows is None:
            return np.empty(0, dtype=np.int64)
        t = self.times[rows]
        return rows[(t >= lo) & (t < hi)]


def code_leaf_facts(
    frame: pd.DataFrame,
    dims: Sequence[str],
    *,
    series: Sequence[str] = (),
    time: str = "t",
    value: str = "actual",
    quantity: str | None = None,
) -> LeafCodes | None:
    """``frame``'s leaf facts coded, with rows grouped by the ``series`` columns (one group if none).

    None when the facts hold what only the frame-based path handles as it does: a missing or non-string
    dimension value, a non-finite amount or quantity, or two rows for the same leaf of a series in one
    period (the frame-based path sums them).
    """
    dims = list(dims)
    n = len(frame)
    if n == 0 or any(d not in frame.columns for d in [*dims, *series, time, value]):
        return None
    amounts = frame[value].to_numpy(dtype=np.float64, na_value=np.nan)
    if not np.isfinite(amounts).all():
        return None
    qty: FloatArray | None = None
    if quantity is not None:
        if quantity not in frame.columns:
            return None
        qty = frame[quantity].to_numpy(dtype=np.float64, na_value=np.nan)
        if np.isinf(qty).any():
            return None
    columns = np.empty((n, len(dims)), dtype=np.int64)
    labels: list[list[str]] = []
    for j, dim in enumerate(dims):
        column = frame[dim]
        if not pd.api.types.is_string_dtype(column.dtype):
            return None
        codes, uniques = pd.factorize(column, sort=True)
        if (codes < 0).any() or any(not isinstance(u, str) for u in uniques):
            return None  # a missing value
        columns[:, j] = codes
        labels.append(list(uniques))
    cards = [len(u) for u in labels]
    if dims and math.prod(cards) < _KEY_SPACE:
        # One integer per leaf, dimension 0 most significant: sorting the integers sorts the leaves as
        # their values sort, dimension by dimension (as a group-by over the dimensions lists them).
        key = np.ravel_multi_index(tuple(columns.T), cards)
        uniques_key, leaf = np.unique(key, return_inverse=True)
        leaf_codes = np.stack(np.unravel_index(uniques_key, cards), axis=1)
    elif dims:
        leaf_codes, leaf = np.unique(columns, axis=0, return_inverse=True)
    else:
        leaf_codes, leaf = np.zeros((1, 0), dtype=np.int64), np.zeros(n, dtype=np.int64)
    leaf = np.asarray(leaf, dtype=np.int64).reshape(-1)
    times = np.asarray(pd.DatetimeIndex(frame[time]).as_unit("ns").asi8, dtype=np.int64)
    if series:
        groups = frame.groupby(list(series), sort=False).indices
        rows = {k: np.asarray(v, dtype=np.int64) for k, v in groups.items()}
    else:
        rows = {(): np.arange(n, dtype=np.int64)}
    owner = np.zeros(n, dtype=np.int64)
    for k, members in enumerate(rows.values()):
        owner[members] = k
    periods, period = np.unique(times, return_inverse=True)
    cell = (owner * (int(leaf.max()) + 1) + leaf) * periods.size + np.asarray(period).reshape(-1)
    if np.unique(cell).size != n:
        return None  # a leaf twice in one period of a series
    return LeafCodes(
        dims=dims,
        times=times,
        leaf=leaf,
        value=amounts,
        quantity=qty,
        leaf_codes=np.asarray(leaf_codes, dtype=np.int64),
        labels=labels,
        rows=rows,
    )


def codes_frame(codes: LeafCodes, rows: IntArray) -> pd.DataFrame:
    """The facts ``rows`` of ``codes`` as a frame again (``t``, the dimensions, ``actual``, ``quantity``
    when coded with one), for what only the frame-based path does."""
    leaf = codes.leaf_codes[codes.leaf[rows]]
    data: dict[str, object] = {"t": pd.to_datetime(codes.times[rows])}
    for j, dim in enumerate(codes.dims):
        data[dim] = [codes.labels[j][int(c)] for c in leaf[:, j]]
    data["actual"] = codes.value[rows]
    if codes.quantity is not None:
        data["quantity"] = codes.quantity[rows]
    return pd.DataFrame(data)
