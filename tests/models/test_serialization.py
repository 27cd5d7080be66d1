"""Artifacts: every schema version's fixture still loads and predicts what it predicted when written."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from core.errors import InputError
from models.seasonal import BatchedSeasonalBaseline
from models.serialization import SCHEMA_VERSION, from_artifact, to_artifact, upgrade_artifact
from tests.models.synthetic import daily

FIXTURES = Path(__file__).resolve().parent / "fixtures"
FIXTURE_FILES = sorted(FIXTURES.glob("*_v*.json"))


def test_there_is_a_fixture_of_every_schema_version() -> None:
    versions = {json.loads(p.read_text())["artifact"]["schema_version"] for p in FIXTURE_FILES}
    assert versions == set(range(1, SCHEMA_VERSION + 1))
    kinds = {json.loads(p.read_text())["artifact"]["model_type"] for p in FIXTURE_FILES}
    assert kinds == {"seasonal", "prophet", "cold_start", "auto"}


@pytest.mark.parametrize("path", FIXTURE_FILES, ids=lambda p: p.name)
def test_fixture_loads_and_predicts_as_when_written(path: Path) -> None:
    doc = json.loads(path.read_text())
    model = from_artifact(doc["artifact"])
    out = model.predict(pd.DatetimeIndex(doc["index"]))
    for column, values in doc["predictions"].items():
        np.testing.assert_allclose(out[column].to_numpy(), values, rtol=1e-9, atol=1e-9, err_msg=column)


def test_artifact_shape_and_record() -> None:
    art = to_artifact(BatchedSeasonalBaseline(trend_penalty=0.2).fit(daily(60)))
    assert art["schema_version"] == SCHEMA_VERSION and art["model_type"] == "seasonal"
    assert art["params"]["trend_penalty"] == 0.2
    assert art["record"]["alerting_ready"] is True and art["record"]["n_obs"] == 60
    json.dumps(art, allow_nan=False)


def test_cold_start_record_says_so_in_the_artifact() -> None:
    art = to_artifact(BatchedSeasonalBaseline().fit(daily(5)))
    assert art["record"]["regime"] == "cold_start" and art["record"]["alerting_ready"] is False


@pytest.mark.parametrize(
    "change, field",
    [
        ({"schema_version": SCHEMA_VERSION + 1}, "schema_version"),
        ({"schema_version": 0}, "schema_version"),
        ({"schema_version": None}, "schema_version"),
        ({"model_type": "arima"}, "model_type"),
    ],
)
def test_unreadable_artifacts_are_rejected_with_the_field(change: dict, field: str) -> None:
    art = {**to_artifact(BatchedSeasonalBaseline().fit(daily(40))), **change}
    with pytest.raises(InputError) as err:
        from_artifact(art)
    assert err.value.field == field


def test_upgrade_leaves_a_current_artifact_unchanged_and_does_not_mutate() -> None:
    art = to_artifact(BatchedSeasonalBaseline().fit(daily(40)))
    before = json.dumps(art, sort_keys=True)
    assert upgrade_artifact(art) == art
    assert json.dumps(art, sort_keys=True) == before


def test_unfitted_model_has_no_artifact() -> None:
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        to_artifact(BatchedSeasonalBaseline())
