"""The contract every baseline follows, so detector/ and training/ can use any of them alike.

A baseline is a scikit-learn estimator: keyword-only ``__init__`` that only stores parameters,
``fit(y) -> self`` on one series (a ``pd.Series`` with a tz-naive UTC ``DatetimeIndex``, NaN = missing),
learned state in attributes ending with ``_``, and ``predict(index)`` returning a frame with the columns
in ``FORECAST_COLUMNS`` (``expected = trend + seasonal``; ``lower``/``upper`` bound the central
``interval_width`` share of normal values).
"""

from __future__ import annotations

from typing import Any, Protocol, Self, runtime_checkable

import pandas as pd

FORECAST_COLUMNS: tuple[str, ...] = ("expected", "lower", "upper", "trend", "seasonal")


@runtime_checkable
class Baseline(Protocol):
    def fit(self, y: pd.Series) -> Self: ...

    def predict(self, index: pd.DatetimeIndex) -> pd.DataFrame: ...

    def get_params(self, deep: bool = True) -> dict[str, Any]: ...
