"""``auto``: pick the baseline per series by rolling-origin backtest error, and keep the errors with it.

Every candidate is backtested on the same held-out horizons (:mod:`models.backtest`); the one with the
lowest mean MASE is refitted on the whole series. Ties and undefined errors go to the earlier candidate,
so list the cheaper model first. Series too short to hold ``n_origins`` horizons beyond the minimum
history skip the backtest and take the first candidate; the record says which happened and why.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, Self

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, clone
from sklearn.utils.validation import check_is_fitted

from models.backtest import DEFAULT_HORIZON, BacktestResult, rolling_origin_backtest
from models.base import Baseline, forecast_arrays
from models.cold_start import default_min_history, observed
from models.fourier import infer_granularity
from models.prophet_baseline import ProphetBaseline
from models.seasonal import BatchedSeasonalBaseline

Candidates = Sequence[tuple[str, Baseline]]


def default_candidates() -> list[tuple[str, Baseline]]:
    return [("seasonal", BatchedSeasonalBaseline()), ("prophet", ProphetBaseline())]


def select_baseline(
    y: pd.Series,
    candidates: Candidates,
    *,
    n_origins: int = 3,
    horizon: int | None = None,
    granularity: str | None = None,
) -> tuple[str, dict[str, BacktestResult | None], str]:
    """Backtest each candidate on ``y``; return the winner's name, every result, and the reason.

    A candidate whose backtest raises is recorded as ``None`` and never wins; one failing model must
    not stop the choice for the series.
    """
    if not candidates:
        raise ValueError("candidates: at least one (name, estimator) pair is needed")
    obs = observed(y)
    gran = infer_granularity(pd.DatetimeIndex(obs.index), granularity)
    h = horizon or DEFAULT_HORIZON[gran]
    results: dict[str, BacktestResult | None] = {name: None for name, _ in candidates}
    if len(obs) < default_min_history(gran) + n_origins * h:
        return candidates[0][0], results, "history too short to backtest: first candidate"
    for name, est in candidates:
        try:
            results[name] = rolling_origin_backtest(
                est, y, n_origins=n_origins, horizon=h, granularity=gran.value
            )
        except Exception:  # a failing candidate is recorded as None and loses
            results[name] = None
    scored = [
        (r.mase, i, name)
        for i, (name, _) in enumerate(candidates)
        if (r := results[name]) is not None and math.isfinite(r.mase)
    ]
    if not scored:
        return candidates[0][0], results, "backtest error undefined (e.g. constant history): first candidate"
    best = min(scored)
    return best[2], results, "lowest mean MASE over the backtest origins"


class AutoBaseline(BaseEstimator):  # type: ignore[misc]
    """Chooses among ``candidates`` per series by rolling-origin MASE, then behaves as the winner.

    Parameters
    ----------
    candidates : ``(name, estimator)`` pairs, cheapest first (None: seasonal, then Prophet).
    n_origins : backtest origins, one horizon apart, ending at the last point.
    horizon : points per held-out window (None: 24 hours or 7 days by granularity).
    granularity : "hour", "day", or None to infer from the index spacing.
    """

    def __init__(
        self,
        *,
        candidates: Candidates | None = None,
        n_origins: int = 3,
        horizon: int | None = None,
        granularity: str | None = None,
    ) -> None:
        self.candidates = candidates
        self.n_origins = n_origins
        self.horizon = horizon
        self.granularity = granularity

    def _candidates(self) -> Candidates:
        return self.candidates if self.candidates is not None else default_candidates()

    def fit(self, y: pd.Series) -> Self:
        candidates = self._candidates()
        name, results, reason = select_baseline(
            y, candidates, n_origins=self.n_origins, horizon=self.horizon, granularity=self.granularity
        )
        self.selected_ = name
        self.selection_reason_ = reason
        self.backtest_ = {k: (None if r is None else r.to_dict()) for k, r in results.items()}
        self.best_estimator_ = clone(dict(candidates)[name]).fit(y)
        self.alerting_ready_ = bool(self.best_estimator_.alerting_ready_)
        return self

    def predict(self, index: pd.DatetimeIndex) -> pd.DataFrame:
        check_is_fitted(self, "best_estimator_")
        result: pd.DataFrame = self.best_estimator_.predict(index)
        return result

    def predict_arrays(self, index: pd.DatetimeIndex) -> dict[str, np.ndarray]:
        check_is_fitted(self, "best_estimator_")
        return forecast_arrays(self.best_estimator_, index)

    def record(self) -> dict[str, Any]:
        """The winner's record plus the selection: every candidate's backtest MASE and coverage."""
        check_is_fitted(self, "best_estimator_")
        errors = {
            k: None if r is None else {"mase": r["mase"], "coverage": r["coverage"]}
            for k, r in self.backtest_.items()
        }
        best: dict[str, Any] = self.best_estimator_.record()
        return {
            **best,
            "model_type": "auto",
            "selected": self.selected_,
            "selected_model_type": best["model_type"],
            "selection_reason": self.selection_reason_,
            "backtest": errors,
        }
