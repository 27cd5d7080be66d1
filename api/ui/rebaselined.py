"""The series page as a sweep sees it after a new normal: the stored model's forecast scaled by the series'
rebaselines (``alerts.rebaseline``), and a note per new normal learned."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd

from alerts.rebaseline import Rebaseline, forecast_factors, learned_by
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


def rebaseline_notes(records: list[Rebaseline], trained_at: datetime | None) -> list[str]:
    """One line per new normal of the series: level, since, $ a month, and whether the model learned it."""
    notes = []
    for r in records:
        learned = (
            "learned by the stored model"
            if trained_at is not None and learned_by(r, trained_at)
            else "the band is scaled until the next training learns it"
        )
        how = "feedback “expected”" if r.reason == "feedback" else "a step that lasted"
        notes.append(
            f"New normal since {r.since:%Y-%m-%d %H:%M} UTC: {r.ratio:.2f}× the old baseline, adding "
            f"{r.month_impact:,.2f} {r.currency} a month (from {how}; {learned})."
        )
    return notes
