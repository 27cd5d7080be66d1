"""A stored model as a sweep sees it after a new normal: its forecast scaled by the series' rebaselines
(``alerts.rebaseline``), for the series page and for ``POST /v1/score`` with a stored model."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd

from alerts.rebaseline import Rebaseline, forecast_factors
from models.base import FORECAST_COLUMNS, forecast_arrays


class RebaselinedModel:
    """A stored model whose forecast is scaled as the sweep scales it (the detector sees only ``predict``)."""

    def __init__(self, model: Any, records: list[Rebaseline], trained_at: datetime) -> None:
        self.model = model
        self.records = records
        self.trained_at = trained_at

    def fit(self, y: pd.Series) -> RebaselinedModel:
        self.model.fit(y)
        return self

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        params: dict[str, Any] = self.model.get_params(deep)
        return params

    def predict_arrays(self, index: pd.DatetimeIndex) -> dict[str, np.ndarray]:
        factors = forecast_factors(index, self.records, self.trained_at)
        return {c: v * factors for c, v in forecast_arrays(self.model, index).items()}

    def predict(self, index: pd.DatetimeIndex) -> pd.DataFrame:
        arrays = self.predict_arrays(index)
        return pd.DataFrame({c: arrays[c] for c in FORECAST_COLUMNS}, index=index)
