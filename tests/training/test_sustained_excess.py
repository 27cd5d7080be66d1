"""The sweep's sustained-excess event: an excess under every period's band that adds up over the long window."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from core.settings import Settings
from core.types import Granularity
from training.sweep_job import Sweeper

DAY = pd.Timedelta(days=1)


def points(ratio: float, flagged: bool = False) -> tuple[dict[str, np.ndarray], pd.DatetimeIndex]:
    n = 30
    expected = np.full(n, 1000.0)
    value = expected.copy()
    value[-3:] *= ratio  # the last three days (the daily series' 72 h window) burn at ``ratio``
    cols = {
        "value": value,
        "expected": expected,
        "is_anomaly": np.r_[np.zeros(n - 1), float(flagged)],
        "trend": expected,
        "seasonal": np.zeros(n),
    }
    return cols, pd.date_range("2026-09-01", periods=n, freq="D")


def test_a_lasting_excess_under_the_ticket_factor_is_an_event(tmp_path: Path) -> None:
    sweeper = Sweeper(Settings(data_dir=tmp_path, _env_file=None), None)  # type: ignore[call-arg]
    judged = np.arange(30)
    cols, index = points(1.3)  # 1.3x: above SUSTAINED_BURN_FACTOR (1.2), under the 1.5x ticket factor
    event = sweeper._sustained_excess(Granularity.DAY, cols, index, judged, DAY)
    assert event is not None and event.kind == "sustained" and round(event.impact) == 900
    cols, index = points(1.1)  # under the sustained factor: nothing
    assert sweeper._sustained_excess(Granularity.DAY, cols, index, judged, DAY) is None
    cols, index = points(1.3, flagged=True)  # the detector's own event covers it: not counted twice
    assert sweeper._sustained_excess(Granularity.DAY, cols, index, judged, DAY) is None
