"""Write the artifact fixture of the *current* schema version: ``python -m tests.models.make_fixtures``.

Run it once when a schema version is introduced, then never again for that version: the files in
``fixtures/`` are the compatibility promise (every old version must keep loading and predicting the
same), so a new version adds files and leaves the old ones untouched.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from models.auto import AutoBaseline
from models.base import Baseline
from models.cold_start import ColdStartBaseline
from models.prophet_baseline import ProphetBaseline
from models.seasonal import BatchedSeasonalBaseline
from models.serialization import SCHEMA_VERSION, to_artifact
from tests.models.synthetic import daily, hourly

FIXTURES = Path(__file__).resolve().parent / "fixtures"


def fixture_models() -> dict[str, tuple[Baseline, pd.DatetimeIndex]]:
    y = daily(120)
    future = pd.date_range("2024-04-30", periods=7, freq="D")
    auto = AutoBaseline(candidates=[("seasonal", BatchedSeasonalBaseline()), ("flat", ColdStartBaseline())])
    return {
        "seasonal": (BatchedSeasonalBaseline().fit(y), future),
        "seasonal_hourly": (
            BatchedSeasonalBaseline().fit(hourly(15)),
            pd.date_range("2024-03-19", periods=24, freq="h"),
        ),
        "seasonal_cold_start": (BatchedSeasonalBaseline().fit(y.iloc[:12]), future),
        "cold_start": (ColdStartBaseline().fit(y.iloc[:40]), future),
        "prophet": (ProphetBaseline(uncertainty_samples=50, n_changepoints=5).fit(y.iloc[:60]), future),
        "auto": (auto.fit(y), future),
    }


def main() -> None:
    FIXTURES.mkdir(exist_ok=True)
    for name, (model, index) in fixture_models().items():
        out = model.predict(index)
        doc = {
            "artifact": to_artifact(model),
            "index": [t.isoformat() for t in index],
            "predictions": {c: out[c].tolist() for c in out.columns},
        }
        path = FIXTURES / f"{name}_v{SCHEMA_VERSION}.json"
        path.write_text(json.dumps(doc, allow_nan=False, sort_keys=True) + "\n")
        print(path.name)


if __name__ == "__main__":
    main()
