"""The estimator contract, for every baseline: fit returns self, unfitted use raises, params round-trip,
and an artifact round trip predicts identically."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError

from models.auto import AutoBaseline
from models.base import FORECAST_COLUMNS, Baseline, forecast_arrays
from models.cold_start import ColdStartBaseline
from models.prophet_baseline import ProphetBaseline
from models.seasonal import BatchedSeasonalBaseline
from models.serialization import dumps, from_artifact, loads, to_artifact
from tests.models.synthetic import daily

FUTURE = pd.date_range("2024-07-19", periods=10, freq="D")


def _auto() -> AutoBaseline:
    # Cheap candidates keep the contract test fast; Prophet inside auto is covered in test_auto.
    return AutoBaseline(
        candidates=[("seasonal", BatchedSeasonalBaseline()), ("flat", ColdStartBaseline())], n_origins=2
    )


FACTORIES = {
    "seasonal": lambda: BatchedSeasonalBaseline(trend_penalty=0.05),
    "cold_start": lambda: ColdStartBaseline(window=14),
    "prophet": lambda: ProphetBaseline(n_changepoints=10, uncertainty_samples=200),
    "auto": _auto,
}


@pytest.fixture(scope="module")
def fitted() -> dict[str, Baseline]:
    y = daily(200)
    return {name: make().fit(y) for name, make in FACTORIES.items()}


@pytest.mark.parametrize("name", FACTORIES)
def test_fit_returns_self_and_predicts_the_contract_columns(name: str) -> None:
    est = FACTORIES[name]()
    assert isinstance(est, Baseline)
    assert est.fit(daily(120)) is est
    out = est.predict(FUTURE)
    assert tuple(out.columns) == FORECAST_COLUMNS
    assert out.index.equals(FUTURE)
    assert np.allclose(out["expected"], out["trend"] + out["seasonal"])
    assert (out["lower"] <= out["expected"]).all() and (out["expected"] <= out["upper"]).all()


@pytest.mark.parametrize("name", FACTORIES)
def test_unfitted_predict_raises(name: str) -> None:
    with pytest.raises(NotFittedError):
        FACTORIES[name]().predict(FUTURE)
    with pytest.raises(NotFittedError):  # the scoring API's way in, too
        forecast_arrays(FACTORIES[name](), FUTURE)


@pytest.mark.parametrize("name", FACTORIES)
def test_params_round_trip_through_set_params_and_clone(name: str) -> None:
    est = FACTORIES[name]()
    params = est.get_params(deep=False)
    twin = type(est)().set_params(**params)
    assert twin.get_params(deep=False).keys() == params.keys()
    copy = clone(est)
    assert type(copy) is type(est)
    for key, value in params.items():
        if key != "candidates":
            assert copy.get_params(deep=False)[key] == value
    assert not hasattr(copy, "alerting_ready_")  # clone carries parameters only, never fitted state


def test_init_only_stores_parameters() -> None:
    # Keyword-only and no validation in __init__: an absurd value is stored as given.
    est = BatchedSeasonalBaseline(n_changepoints=-3)
    assert est.n_changepoints == -3
    with pytest.raises(TypeError):
        BatchedSeasonalBaseline(3)  # type: ignore[misc]


@pytest.mark.parametrize("name", FACTORIES)
def test_artifact_round_trip_predicts_identically(name: str, fitted: dict[str, Baseline]) -> None:
    model = fitted[name]
    text = dumps(model)
    json.loads(text)  # strict JSON: dumps refuses NaN
    again = loads(text)
    assert type(again) is type(model)
    pd.testing.assert_frame_equal(again.predict(FUTURE), model.predict(FUTURE), check_exact=True)
    assert to_artifact(again)["state"] == to_artifact(model)["state"]
    assert (
        from_artifact(to_artifact(again)).get_params(deep=False).keys() == model.get_params(deep=False).keys()
    )
