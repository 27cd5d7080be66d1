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
    mask = np.asarray(times.isin([*refs, when]))
    rows = facts.loc[mask, dims]
    qty = pd.to_numeric(facts.loc[mask, quantity], errors="coerce").to_numpy(dtype=np.float64)
    # One group-by for both sides: per leaf and side (the period itself, or its reference periods), the
    # cost, the quantity, and how many rows had one (a leaf's quantity is known only if all of them did).
    grouped = rows.assign(
        __now=np.asarray(times[mask] == when),
        __cost=facts.loc[mask, value].to_numpy(dtype=np.float64),
        __qty=np.nan_to_num(qty),
        __known=~np.isnan(qty),
    ).groupby([*dims, "__now"], dropna=False, observed=True)
    # One sum over the three columns and one size: the named aggregation's results, several times cheaper
    # (it runs a separate path per output; a sweep explains every anomaly this way).
    stats = grouped[["__cost", "__qty", "__known"]].sum()
    stats.columns = pd.Index(["cost", "qty", "known"])
    stats["n"] = grouped.size()
    stats["qty"] = stats["qty"].where(stats["known"] == stats["n"])
    index = pd.MultiIndex.from_frame(table[dims]) if len(dims) > 1 else pd.Index(table[dims[0]])

    def side(now: bool) -> pd.DataFrame:
        part = stats[stats.index.get_level_values("__now") == now].droplevel("__now")
        return part.reindex(index)

    current, before = side(True), side(False)
    # A leaf with no row in the period used nothing.
    actual_quantity = np.where(current["n"].isna(), 0.0, current["qty"].to_numpy(dtype=np.float64))
    expected = table["expected"].to_numpy(dtype=np.float64)
    cost, ref_qty = before["cost"].to_numpy(dtype=np.float64), before["qty"].to_numpy(dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        price = np.where(ref_qty != 0, cost / ref_qty, np.nan)
        expected_quantity = np.where(ref_qty == 0, 0.0, expected / price)  # a fee with no quantity stays at 0
    expected_quantity = np.where(expected == 0, 0.0, expected_quantity)  # nothing expected, nothing used
    return table.assign(actual_quantity=actual_quantity, expected_quantity=expected_quantity)
