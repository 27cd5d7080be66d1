""":func:`detector.explain.explain_anomaly` on leaf facts coded once (:mod:`detector.leaf_codes`).

The same steps, in the same order, with the same sums: per period, the leaf table of that period and its
reference periods (:func:`detector.leaf_expectation.disaggregate_expected`, and
:func:`detector.leaf_quantities.add_quantities` with quantities), the tables added up over the event, the
ranking (:func:`detector.root_cause.rank_coded`), and the largest contributors when it selects nothing.
Leaves are integers here, so a period costs a few dozen numpy calls instead of several pandas group-bys;
sums follow pandas' own (:mod:`detector.group_sums`), so the causes, their dollars and shares are those
``explain_anomaly`` gives on the same facts (``tests/detector/test_explain_coded.py`` compares both).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from detector.group_sums import group_sums
from detector.leaf_codes import LeafCodes
from detector.leaf_expectation import _shares, reference_times
from detector.price_usage import split_change
from detector.root_cause import RootCause, rank_coded

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


class NotCoded(Exception):
    """The event asks for what only the frame-based path does (its caller then takes that path)."""


@dataclasses.dataclass(frozen=True)
class _Table:
    """One period's leaf table: its leaves (numbers, sorted) and their amounts."""

    leaves: IntArray
    actual: FloatArray
    expected: FloatArray
    actual_quantity: FloatArray | None
    expected_quantity: FloatArray | None


def explain_coded(
    codes: LeafCodes,
    rows: IntArray,
    expected: Sequence[tuple[int, float]],
    *,
    shares_before: int,
    top_k: int = 5,
) -> list[RootCause]:
    """``explain_anomaly`` of the facts ``rows`` of ``codes`` (one series' rows, in frame order) over
    ``expected``'s periods (nanoseconds, each with the series' expected total), the leaf mix taken from
    periods before ``shares_before``. Raises :class:`NotCoded` for a period before ``shares_before``."""
    if not codes.dims:
        return []  # no dimension to split over: every period's table is refused there
    times = codes.times[rows]
    earlier = np.unique(times[times < shares_before])
    tables: list[_Table] = []
    for at, total in expected:
        if not np.isfinite(total):
            continue
        if at < shares_before:
            raise NotCoded("a period inside the reference window")
        refs = reference_times(earlier, at)
        if not refs:
            continue
        table = _period_table(codes, rows, times, at, float(total), refs)
        if table is not None:
            tables.append(table)
    if not tables:
        return []
    leaves, a, e, qa, qe = _over_event(tables, quantities=codes.quantity is not None)
    if not (np.isfinite(a).all() and np.isfinite(e).all()):
        return []  # the ranking refuses a non-finite amount
    if qa is not None and qe is not None and (np.isinf(qa).any() or np.isinf(qe).any()):
        return []  # ... and a non-finite quantity
    table_codes, labels = _first_appearance(codes, leaves)
    causes = rank_coded(codes.dims, table_codes, labels, a, e, qa, qe, top_k=top_k).root_causes
    if causes:
        return list(causes)
    return _largest_contributors(codes, leaves, a, e, qa, qe, up=float(a.sum() - e.sum()) >= 0)


def _period_table(
    codes: LeafCodes, rows: IntArray, times: IntArray, at: int, total: float, refs: list[int]
) -> _Table | None:
    """The leaf table of period ``at`` (``disaggregate_expected`` and ``add_quantities``), or None where
    that path refuses it (no spend in the reference periods to take shares from)."""
    in_refs = np.isin(times, refs)
    now = times == at
    # The frame-based path lists the reference rows first, then the period's own, each in frame order.
    source = np.concatenate([np.flatnonzero(in_refs), np.flatnonzero(now)])
    is_now = np.concatenate([np.zeros(int(in_refs.sum()), bool), np.ones(int(now.sum()), bool)])
    picked = rows[source]
    leaves, pos = np.unique(codes.leaf[picked], return_inverse=True)
    pos = np.asarray(pos, dtype=np.int64).reshape(-1)
    n = leaves.size
    column = {t: k for k, t in enumerate(refs)}
    value = codes.value[picked]
    ref_values = np.zeros((n, len(refs)))
    before = ~is_now
    # One row per leaf and period: each cell is that row's amount.
    ref_values[pos[before], [column[int(t)] for t in times[source][before]]] = value[before]
    actual = np.zeros(n)
    actual[pos[is_now]] = value[is_now]
    shares = _shares(ref_values)
    if shares is None:
        return None
    expected = total * shares
    if codes.quantity is None:
        return _Table(leaves, actual, expected, None, None)
    qty = codes.quantity[picked]
    actual_quantity = np.zeros(n)
    actual_quantity[pos[is_now]] = qty[is_now]  # a leaf with no row in the period used nothing
    # Per leaf, its reference cost and quantity; pandas sums them by segment only when the rows come
    # sorted by (leaf, side), over both sides.
    group = 2 * pos + is_now
    plain = bool(np.all(group[1:] >= group[:-1]))
    cost = group_sums(pos[before], value[before], n, plain=plain)
    ref_qty = group_sums(pos[before], np.nan_to_num(qty[before]), n, plain=plain)
    rows_before = np.bincount(pos[before], minlength=n)
    known = np.bincount(pos[before], weights=~np.isnan(qty[before]), minlength=n)
    ref_qty = np.where(known == rows_before, ref_qty, np.nan)
    cost = np.where(rows_before > 0, cost, np.nan)
    ref_qty = np.where(rows_before > 0, ref_qty, np.nan)
    with np.errstate(divide="ignore", invalid="ignore"):
        price = np.where(ref_qty != 0, cost / ref_qty, np.nan)
        expected_quantity = np.where(ref_qty == 0, 0.0, expected / price)
    expected_quantity = np.where(expected == 0, 0.0, expected_quantity)
    return _Table(leaves, actual, expected, actual_quantity, expected_quantity)


def _over_event(
    tables: list[_Table], *, quantities: bool
) -> tuple[IntArray, FloatArray, FloatArray, FloatArray | None, FloatArray | None]:
    """The periods' tables added up per leaf, as ``explain_anomaly``'s group-by over their concatenation."""
    every = np.concatenate([t.leaves for t in tables])
    leaves, ids = np.unique(every, return_inverse=True)
    ids = np.asarray(ids, dtype=np.int64).reshape(-1)
    n = leaves.size
    columns = [np.concatenate([t.actual for t in tables]), np.concatenate([t.expected for t in tables])]
    if quantities:
        columns += [
            np.concatenate([t.actual_quantity for t in tables if t.actual_quantity is not None]),
            np.concatenate([t.expected_quantity for t in tables if t.expected_quantity is not None]),
        ]
    # pandas sums each amount (a block of its own there) by segment when the rows come sorted by leaf and
    # the amount has no NaN, else compensated: group_sums decides alike, column by column.
    sums = [group_sums(ids, c, n) for c in columns]
    if not quantities:
        return leaves, sums[0], sums[1], None, None
    size = np.bincount(ids, minlength=n)
    # A quantity unknown in one period is unknown over the event.
    qa, qe = (
        np.where(np.bincount(ids, weights=~np.isnan(c), minlength=n) < size, np.nan, s)
        for c, s in zip(columns[2:], sums[2:], strict=True)
    )
    return leaves, sums[0], sums[1], qa, qe


def _first_appearance(codes: LeafCodes, leaves: IntArray) -> tuple[IntArray, list[list[str]]]:
    """The leaf table's dimensions numbered as ``rank_root_causes`` numbers them: by first appearance."""
    sorted_codes = codes.leaf_codes[leaves]
    out = np.empty_like(sorted_codes)
    labels: list[list[str]] = []
    for j in range(sorted_codes.shape[1]):
        uniques, first, inverse = np.unique(sorted_codes[:, j], return_index=True, return_inverse=True)
        order = np.argsort(first, kind="stable")
        rank = np.empty(order.size, dtype=np.int64)
        rank[order] = np.arange(order.size)
        out[:, j] = rank[np.asarray(inverse).reshape(-1)]
        labels.append([codes.labels[j][int(c)] for c in uniques[order]])
    return out, labels


def _largest_contributors(
    codes: LeafCodes,
    leaves: IntArray,
    a: FloatArray,
    e: FloatArray,
    qa: FloatArray | None,
    qe: FloatArray | None,
    *,
    up: bool,
    k: int = 3,
) -> list[RootCause]:
    """:func:`detector.explain.largest_contributors` of the event's leaf table."""
    total = float(a.sum() - e.sum())
    out: list[RootCause] = []
    for j, dim in enumerate(codes.dims):
        values, ids = np.unique(codes.leaf_codes[leaves, j], return_inverse=True)
        if values.size < 2:
            continue  # a dimension with one value explains nothing
        ids = np.asarray(ids, dtype=np.int64).reshape(-1)
        group_a = group_sums(ids, a, values.size)
        group_e = group_sums(ids, e, values.size)
        for g, (value, ga, ge) in enumerate(zip(values, group_a, group_e, strict=True)):
            contribution = float(ga - ge)
            if contribution != 0 and (contribution > 0) == up:
                cause = RootCause(
                    {dim: codes.labels[j][int(value)]},
                    float(ga),
                    float(ge),
                    contribution,
                    contribution / total if total else 0.0,
                )
                if qa is not None and qe is not None:
                    part = ids == g
                    cause = dataclasses.replace(
                        cause, split=split_change(a[part], e[part], qa[part], qe[part])
                    )
                out.append(cause)
    out.sort(key=lambda c: -abs(c.contribution))
    return out[:k]
