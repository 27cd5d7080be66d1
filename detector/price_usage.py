"""Price or usage: split a change of spend into what more (or less) was used and what each unit cost.

Index method: the **midpoint rule** (the Shapley value of the two factors, also Bennet's decomposition).
For one leaf with expected cost ``C0 = P0·Q0`` and actual cost ``C1 = P1·Q1``::

    usage_effect = (Q1 − Q0) · (P0 + P1) / 2
    price_effect = (P1 − P0) · (Q0 + Q1) / 2

Their sum is exactly ``C1 − C0``. Unlike the log-mean Divisia index it needs no logarithm, so it holds
for the cases billing data is full of: a leaf that vanishes (``Q1 = 0``: its price is taken as unchanged,
the whole change is usage), a new leaf (``Q0 = 0``: likewise), zero quantities with a cost (a fee with no
quantity: the whole change is price) and credits (negative costs, hence negative unit prices).
Quantities are only summed within a leaf, which has one unit; an element (a set of leaves) adds its
leaves' effects, which are in $. A leaf whose quantity is unknown (NaN) makes its element's split
unknown, unless the leaf's cost did not change.

``driver`` names the effect that carries at least ``DRIVER_SHARE`` of the change (in absolute $),
else ``mix``; ``unknown`` when the split is.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
Driver = Literal["usage", "price", "mix", "unknown"]

# An effect carrying at least this share of |usage| + |price| is the driver.
DRIVER_SHARE = 0.75
# A usage (or price) change smaller than this, in %, is "flat".
FLAT_PCT = 5.0


@dataclass(frozen=True)
class PriceUsageSplit:
    """The split of one element's change; the effects are ``None`` when the split is unknown."""

    usage_effect: float | None
    price_effect: float | None
    driver: Driver
    usage_change_pct: float | None = None  # how much more was used, in % (quantity-weighted over leaves)
    price_change_pct: float | None = None  # how much dearer each unit got, in %

    @property
    def summary(self) -> str | None:
        """``+150% price, usage flat`` for a price change with flat usage; ``None`` otherwise."""
        usage, price = self.usage_change_pct, self.price_change_pct
        if self.driver != "price" or usage is None or price is None or abs(usage) >= FLAT_PCT:
            return None
        return f"{price:+.0f}% price, usage flat"


UNKNOWN = PriceUsageSplit(None, None, "unknown")


def leaf_effects(
    actual: FloatArray, expected: FloatArray, actual_quantity: FloatArray, expected_quantity: FloatArray
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
    """Per leaf: ``(usage_effect, price_effect, usage_base, price_base)`` by the midpoint rule.

    ``usage_base = Q0 · P̄`` and ``price_base = P0 · Q̄`` are what the effects are percentages of (for one
    leaf, ``usage_effect / usage_base = Q1/Q0 − 1`` and ``price_effect / price_base = P1/P0 − 1``).
    Leaves with an unknown quantity get NaN.
    """
    c1, c0 = np.asarray(actual, np.float64), np.asarray(expected, np.float64)
    q1, q0 = np.asarray(actual_quantity, np.float64), np.asarray(expected_quantity, np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        p1 = np.where(q1 != 0, c1 / q1, np.nan)
        p0 = np.where(q0 != 0, c0 / q0, np.nan)
    # A side without a price (no quantity there) takes the other side's: its leaf vanished or is new.
    p1_ = np.where(np.isnan(p1), p0, p1)
    p0_ = np.where(np.isnan(p0), p1, p0)
    mean_price = np.where(np.isnan(p0_), 0.0, (p0_ + p1_) / 2.0)  # no price on either side: no usage effect
    usage = (q1 - q0) * mean_price
    price = (c1 - c0) - usage
    usage_base = q0 * mean_price
    price_base = np.where(np.isnan(p0_), 0.0, p0_) * (q0 + q1) / 2.0
    unknown = np.isnan(q1) | np.isnan(q0)
    usage[unknown] = price[unknown] = usage_base[unknown] = price_base[unknown] = np.nan
    return usage, price, usage_base, price_base


def split_change(
    actual: FloatArray, expected: FloatArray, actual_quantity: FloatArray, expected_quantity: FloatArray
) -> PriceUsageSplit:
    """The split of an element made of these leaves (arrays of equal length, one entry per leaf)."""
    c1, c0 = np.asarray(actual, np.float64), np.asarray(expected, np.float64)
    usage, price, usage_base, price_base = leaf_effects(c1, c0, actual_quantity, expected_quantity)
    unknown = np.isnan(usage)
    if (unknown & (c1 != c0)).any() or unknown.all():
        return UNKNOWN
    known = ~unknown
    u, p = float(usage[known].sum()), float(price[known].sum())
    ub, pb = float(usage_base[known].sum()), float(price_base[known].sum())
    return PriceUsageSplit(
        usage_effect=u,
        price_effect=p,
        driver=driver_of(u, p),
        usage_change_pct=100.0 * u / ub if ub > 0 else None,
        price_change_pct=100.0 * p / pb if pb > 0 else None,
    )


def driver_of(usage_effect: float, price_effect: float) -> Driver:
    """``usage`` or ``price`` when that effect carries ``DRIVER_SHARE`` of the change, else ``mix``."""
    total = abs(usage_effect) + abs(price_effect)
    if total == 0:
        return "mix"
    if abs(price_effect) >= DRIVER_SHARE * total:
        return "price"
    if abs(usage_effect) >= DRIVER_SHARE * total:
        return "usage"
    return "mix"
