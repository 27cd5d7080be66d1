"""Small deterministic series for the model tests: known trend and seasonality plus noise."""

from __future__ import annotations

import numpy as np
import pandas as pd


def daily(n: int = 200, *, seed: int = 0, noise: float = 1.0, start: str = "2024-01-01") -> pd.Series:
    """100 + slow trend + a weekly pattern (weekend dip), in dollars."""
    rng = np.random.default_rng(seed)
    idx = pd.date_range(start, periods=n, freq="D")
    weekly = np.where(idx.day_of_week >= 5, -20.0, 5.0)
    values = 100.0 + 0.05 * np.arange(n) + weekly + rng.normal(0.0, noise, n)
    return pd.Series(values, index=idx)


def hourly(n_days: int = 21, *, seed: int = 0, noise: float = 1.0) -> pd.Series:
    """50 + a daily cycle (peak mid-afternoon) with a weekend dip."""
    rng = np.random.default_rng(seed)
    idx = pd.date_range("2024-03-04", periods=24 * n_days, freq="h")
    cycle = 10.0 * np.sin(2 * np.pi * (idx.hour.to_numpy() - 9) / 24)
    weekend = np.where(idx.day_of_week >= 5, -8.0, 0.0)
    values = 50.0 + cycle + weekend + rng.normal(0.0, noise, len(idx))
    return pd.Series(values, index=idx)
