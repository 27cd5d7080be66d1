"""The bench's simple reference detector: a rolling median/MAD z-score, as a monitoring team would write it.

``z_t = |x_t − median| / (1.4826 · MAD)`` over the ``window`` points ending at ``t`` (missing values
ignored), reported as ``z / (1 + z)`` so the score is in [0, 1) as NAB's scorer expects (a monotone map:
the ranking, hence the NAB score at the optimised threshold, is the z-score's). A MAD of 0 makes any
move infinitely surprising (score 1), as a plain implementation would.

With ``window=288`` it scores 48.6 (standard) on the shared half of the Microsoft Cloud Monitoring
corpus, as ``../shared/data/README.md`` states for its own implementation.
"""

from __future__ import annotations

import warnings

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

MAD_TO_SIGMA = 1.4826


def median_mad_scores(values: np.ndarray, window: int = 288) -> np.ndarray:
    """The score of every point (0 where fewer than two values are in reach)."""
    x = np.asarray(values, dtype=np.float64)
    rows = sliding_window_view(np.concatenate([np.full(window - 1, np.nan), x]), window)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN rows at the start
        med = np.nanmedian(rows, axis=1)
        mad = MAD_TO_SIGMA * np.nanmedian(np.abs(rows - med[:, None]), axis=1)
    count = np.count_nonzero(np.isfinite(rows), axis=1)
    with np.errstate(all="ignore"):
        z = np.abs(x - med) / mad
    z = np.where(mad > 0, z, np.where(np.abs(x - med) > 0, np.inf, 0.0))
    with np.errstate(all="ignore"):
        score = np.where(np.isinf(z), 1.0, z / (1.0 + z))
    return np.where((count >= 2) & np.isfinite(x) & np.isfinite(med), score, 0.0)
