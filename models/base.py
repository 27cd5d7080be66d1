"""The contract every baseline follows, so detector/ and training/ can use any of them alike.

A baseline is a scikit-learn estimator: keyword-only ``__init__`` that only stores parameters,
``fit(y) -> self`` on one series (a ``pd.Series`` with a tz-naive UTC ``DatetimeIndex``, NaN = missing),
learned state in attributes ending with ``_``, and ``predict(index)`` returning a frame with the columns
in ``FORECAST_COLUMNS`` (``expected = trend + seasonal``; ``lower``/``upper`` bound the central
``interval_width`` share of normal values).
"""

from __future__ import annotations

from typing import Any, Protocol, Self, runtime_checkable

import numpy as np
import pandas as pd

FORECAST_COLUMNS: tuple[str, ...] = ("expected", "lower", "upper", "trend", "seasonal")


@runtime_checkable
class Baseline(Protocol):
    def fit(self, y: pd.Series) -> Self: ...

    def predict(self, index: pd.DatetimeIndex) -> pd.DataFrame: ...

    def get_params(self, deep: bool = True) -> dict[str, Any]: ...


def forecast_arrays(model: Baseline, index: pd.DatetimeIndex) -> dict[str, np.ndarray]:
    """``model.predict(index)`` as one float array per ``FORECAST_COLUMNS`` entry.

    Baselines that can skip the frame offer ``predict_arrays`` (a sweep forecasts thousands of series, where
    building a frame per series costs more than the forecast); the others are converted.
    """
    direct = getattr(model, "predict_arrays", None)
    if direct is not None:
        arrays: dict[str, np.ndarray] = direct(index)
        return arrays
    frame = model.predict(index)
    return {c: frame[c].to_numpy(dtype=np.float64) for c in FORECAST_COLUMNS}
