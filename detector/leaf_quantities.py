"""Expected quantity per leaf, beside the expected spend that :mod:`detector.leaf_expectation` splits out.

Only spend is forecast, so a leaf's expected quantity is its expected spend at the unit price it had in
the same reference periods its share comes from: ``Q0 = expected / (Σ reference cost / Σ reference
quantity)``. The actual quantity is the one billed in the period. Both are NaN where the facts do not
know a quantity, which leaves that leaf's price/usage split unknown (:mod:`detector.price_usage`).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from detector.leaf_expectation import Season, reference_periods


def _sum_known(frame: pd.DataFrame, dims: list[str], column: str) -> pd.Series:
    """Sum of ``column`` per leaf; NaN when any of the leaf's rows has none."""
    grouped = frame.groupby(dims, dropna=False, observed=True)[column]
    total = grouped.sum()
    return total.where(grouped.count() == grouped.size())


def add_quantities(
    table: pd.DataFrame,
    facts: pd.DataFrame,
    *,
    at: pd.Timestamp,
    dimensions: Sequence[str],
    timestamp: str = "timestamp",
    value: str = "value",
    quantity: str = "quantity",
    season: Season = "auto",
    count: int = 4,
) -> pd.DataFrame:
    """``table`` (a leaf table of period ``at``) with ``actual_quantity`` and ``expected_quantity``.

    ``facts`` are the leaf facts the table was made from (with a ``quantity`` column); the reference
    periods are chosen as :func:`detector.leaf_expectation.disaggregate_expected` chooses them.
    """
    dims = list(dimensions)
    times = pd.DatetimeIndex(pd.to_datetime(facts[timestamp]))
    when = pd.Timestamp(at)
    refs, _ = reference_periods(times, when, season=season, count=count)
    rows = facts.assign(**{quantity: pd.to_numeric(facts[quantity], errors="coerce").astype(float)})
    now = rows[(times == when)]
    before = rows[times.isin(refs)]
    index = pd.MultiIndex.from_frame(table[dims]) if len(dims) > 1 else pd.Index(table[dims[0]])

    actual_q = _sum_known(now, dims, quantity).reindex(index) if len(now) else pd.Series(np.nan, index=index)
    # A leaf with no row in the period used nothing.
    absent = ~index.isin(now.set_index(dims).index) if len(now) else np.ones(len(index), dtype=bool)
    actual_quantity = np.where(absent, 0.0, actual_q.to_numpy(dtype=np.float64))

    expected = table["expected"].to_numpy(dtype=np.float64)
    if len(before):
        ref_cost = before.groupby(dims, dropna=False, observed=True)[value].sum().reindex(index)
        ref_qty = _sum_known(before, dims, quantity).reindex(index)
        cost, qty = ref_cost.to_numpy(dtype=np.float64), ref_qty.to_numpy(dtype=np.float64)
    else:
        cost = qty = np.full(len(index), np.nan)
    with np.errstate(divide="ignore", invalid="ignore"):
        price = np.where(qty != 0, cost / qty, np.nan)
        expected_quantity = np.where(qty == 0, 0.0, expected / price)  # a fee with no quantity stays at 0
    expected_quantity = np.where(expected == 0, 0.0, expected_quantity)  # nothing expected, nothing used
    return table.assign(actual_quantity=actual_quantity, expected_quantity=expected_quantity)
