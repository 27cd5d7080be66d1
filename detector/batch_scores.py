""":meth:`detector.detector.Detector.score_arrays` for many series observed on the same periods at once.

A sweep scores thousands of series of sixty-odd points each. :func:`detector.scoring.anomaly_scores`
takes one series per row and gives every row the very answer it gets alone: compiled, one loop per row
(:mod:`detector.compiled_surprise`); in numpy, the views that work row by row on a 2-D array are called
once for a block of series. Here the rows are cut into blocks that bound memory and each row's answer is
laid out as ``score_arrays`` lays it out; ``tests/detector/test_batch_scores.py`` compares both, to the bit.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from detector.nan_arrays import nan_to_num
from detector.post_rules import DetectorConfig
from detector.scoring import anomaly_scores

_CELLS = 1 << 21  # trailing-window cells of one block of series (16 MiB of float64 per view): bounds memory


def score_rows(
    values: np.ndarray,
    forecast: dict[str, np.ndarray],
    *,
    completeness: np.ndarray | None,
    step: pd.Timedelta,
    index: pd.DatetimeIndex,
    config: DetectorConfig,
) -> list[dict[str, np.ndarray]]:
    """Per row of ``values`` (series × periods of ``index``; ``forecast`` columns shaped alike, one
    ``completeness`` for all), what ``Detector(config).score_arrays`` gives that row alone."""
    x = np.asarray(values, dtype=np.float64)
    c = (
        np.ones(x.shape[1])
        if completeness is None
        else nan_to_num(np.asarray(completeness, dtype=np.float64), nan=1.0)
    )
    times = np.asarray(index.as_unit("ns").asi8, dtype=np.int64)
    n = max(x.shape[1], 1)
    rows = max(_CELLS // (n * n), 1)
    out: list[dict[str, np.ndarray]] = []
    for lo in range(0, x.shape[0], rows):
        hi = min(lo + rows, x.shape[0])
        scores = anomaly_scores(
            x[lo:hi],
            forecast["expected"][lo:hi],
            times_ns=times,
            step=step,
            direction=config.direction,
            completeness=c,
            config=config.score,
        )
        tail, alarm, z, sustain = scores.tail, scores.alarm, scores.z, scores.sustain
        for r in range(hi - lo):
            out.append(
                {
                    "value": x[lo + r],
                    **{k: v[lo + r] for k, v in forecast.items()},
                    "completeness": c,
                    "z": z[r],
                    "tail_score": tail[r],
                    "sustain_score": sustain[r],
                    "anomaly_score": alarm[r],
                }
            )
    return out
