"""Versioned JSON artifacts of fitted baselines, symmetric to and from plain dicts.

An artifact is ``{"schema_version", "model_type", "params", "state", "record"}``: ``params`` rebuild
the estimator, ``state`` restores its fitted attributes (one encoder/decoder pair per model type, kept
side by side so they stay symmetric, as in Prophet's ``serialize.py``), and ``record`` is the
human-facing summary (informational; never read back). Prophet's own ``model_to_json`` nests inside.
Floats go through JSON's shortest round-trip repr, so a reloaded model predicts bit-identically.

Old artifacts are read through :func:`upgrade_artifact`, the one place that knows past schemas; a
fixture of every schema version lives in ``tests/models/fixtures`` and must keep loading.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
from sklearn.utils.validation import check_is_fitted

from core.errors import InputError
from core.types import Granularity
from models.auto import AutoBaseline
from models.base import Baseline
from models.cold_start import ColdStartBaseline
from models.fourier import DesignSpec
from models.prophet_baseline import ProphetBaseline, prophet_quiet
from models.seasonal import BatchedSeasonalBaseline

SCHEMA_VERSION = 1

MODEL_TYPES: dict[str, type[Any]] = {
    "seasonal": BatchedSeasonalBaseline,
    "prophet": ProphetBaseline,
    "cold_start": ColdStartBaseline,
    "auto": AutoBaseline,
}
_FITTED_MARK = {
    "seasonal": "regime_",
    "prophet": "regime_",
    "cold_start": "level_",
    "auto": "best_estimator_",
}


def _num(x: float) -> float | None:
    return None if x is None or not math.isfinite(x) else float(x)


def _unnum(x: float | None) -> float:
    return float("nan") if x is None else float(x)


def _ts(t: pd.Timestamp | None) -> str | None:
    return None if t is None else t.isoformat()


def _unts(s: str | None) -> pd.Timestamp | None:
    return None if s is None else pd.Timestamp(s)


def _common_to(m: Any) -> dict[str, Any]:
    return {
        "granularity": m.granularity_.value,
        "n_obs": int(m.n_obs_),
        "first_observed": _ts(m.first_observed_),
        "last_observed": _ts(m.last_observed_),
        "alerting_ready": bool(m.alerting_ready_),
    }


def _common_from(m: Any, s: dict[str, Any]) -> None:
    m.granularity_ = Granularity(s["granularity"])
    m.n_obs_ = int(s["n_obs"])
    m.first_observed_ = _unts(s["first_observed"])
    m.last_observed_ = _unts(s["last_observed"])
    m.alerting_ready_ = bool(s["alerting_ready"])


def _cold_to(m: ColdStartBaseline) -> dict[str, Any]:
    return {
        **_common_to(m),
        "level": _num(m.level_),
        "profile": [float(v) for v in m.profile_],
        "resid_lower": _num(m.resid_lower_),
        "resid_upper": _num(m.resid_upper_),
    }


def _cold_from(m: ColdStartBaseline, s: dict[str, Any]) -> None:
    _common_from(m, s)
    m.level_ = _unnum(s["level"])
    m.profile_ = np.asarray(s["profile"], dtype=np.float64)
    m.resid_lower_ = _unnum(s["resid_lower"])
    m.resid_upper_ = _unnum(s["resid_upper"])


def _seasonal_to(m: BatchedSeasonalBaseline) -> dict[str, Any]:
    state = {**_common_to(m), "regime": m.regime_}
    if m.regime_ == "cold_start":
        return {**state, "cold_start": _cold_to(m.cold_start_)}
    return {
        **state,
        "spec": m.spec_.to_dict(),
        "coef": [float(v) for v in m.coef_],
        "scale": float(m.scale_),
        "resid_lower": float(m.resid_lower_),
        "resid_upper": float(m.resid_upper_),
        "n_iter": int(m.n_iter_),
    }


def _seasonal_from(m: BatchedSeasonalBaseline, s: dict[str, Any]) -> None:
    _common_from(m, s)
    m.regime_ = s["regime"]
    if m.regime_ == "cold_start":
        m.cold_start_ = ColdStartBaseline(granularity=s["granularity"], interval_width=m.interval_width)
        _cold_from(m.cold_start_, s["cold_start"])
        return
    m.spec_ = DesignSpec.from_dict(s["spec"])
    m.coef_ = np.asarray(s["coef"], dtype=np.float64)
    m.scale_ = float(s["scale"])
    m.resid_lower_ = float(s["resid_lower"])
    m.resid_upper_ = float(s["resid_upper"])
    m.n_iter_ = int(s["n_iter"])


def _prophet_to(m: ProphetBaseline) -> dict[str, Any]:
    state = {**_common_to(m), "regime": m.regime_}
    if m.regime_ == "cold_start":
        return {**state, "cold_start": _cold_to(m.cold_start_)}
    from prophet.serialize import model_to_json

    with prophet_quiet():
        return {**state, "prophet": json.loads(model_to_json(m.prophet_))}


def _prophet_from(m: ProphetBaseline, s: dict[str, Any]) -> None:
    _common_from(m, s)
    m.regime_ = s["regime"]
    if m.regime_ == "cold_start":
        m.cold_start_ = ColdStartBaseline(granularity=s["granularity"], interval_width=m.interval_width)
        _cold_from(m.cold_start_, s["cold_start"])
        return
    from prophet.serialize import model_from_json

    with prophet_quiet():
        m.prophet_ = model_from_json(json.dumps(s["prophet"]))


def _backtest_clean(r: dict[str, Any] | None) -> dict[str, Any] | None:
    if r is None:
        return None
    origins = [{**o, "mase": _num(o["mase"])} for o in r["origins"]]
    return {**r, "mase": _num(r["mase"]), "coverage": _num(r["coverage"]), "origins": origins}


def _backtest_unclean(r: dict[str, Any] | None) -> dict[str, Any] | None:
    if r is None:
        return None
    origins = [{**o, "mase": _unnum(o["mase"])} for o in r["origins"]]
    return {**r, "mase": _unnum(r["mase"]), "coverage": _unnum(r["coverage"]), "origins": origins}


def _auto_to(m: AutoBaseline) -> dict[str, Any]:
    return {
        "selected": m.selected_,
        "selection_reason": m.selection_reason_,
        "backtest": {k: _backtest_clean(r) for k, r in m.backtest_.items()},
        "best": to_artifact(m.best_estimator_),
    }


def _auto_from(m: AutoBaseline, s: dict[str, Any]) -> None:
    m.selected_ = s["selected"]
    m.selection_reason_ = s["selection_reason"]
    m.backtest_ = {k: _backtest_unclean(r) for k, r in s["backtest"].items()}
    m.best_estimator_ = from_artifact(s["best"])
    m.alerting_ready_ = bool(m.best_estimator_.alerting_ready_)


_STATE: dict[str, tuple[Callable[[Any], dict[str, Any]], Callable[[Any, dict[str, Any]], None]]] = {
    "seasonal": (_seasonal_to, _seasonal_from),
    "prophet": (_prophet_to, _prophet_from),
    "cold_start": (_cold_to, _cold_from),
    "auto": (_auto_to, _auto_from),
}


def model_type_of(model: Baseline) -> str:
    for name, cls in MODEL_TYPES.items():
        if type(model) is cls:
            return name
    raise TypeError(f"no artifact format for {type(model).__name__}")


def _params_to(model_type: str, model: Any) -> dict[str, Any]:
    params: dict[str, Any] = model.get_params(deep=False)
    if model_type == "auto" and params["candidates"] is not None:
        params["candidates"] = [
            {"name": name, "model_type": model_type_of(est), "params": _params_to(model_type_of(est), est)}
            for name, est in params["candidates"]
        ]
    return params


def _params_from(model_type: str, params: dict[str, Any]) -> dict[str, Any]:
    out = dict(params)
    if model_type == "auto" and out.get("candidates") is not None:
        out["candidates"] = [
            (c["name"], MODEL_TYPES[c["model_type"]](**_params_from(c["model_type"], c["params"])))
            for c in out["candidates"]
        ]
    return out


def to_artifact(model: Baseline) -> dict[str, Any]:
    """The fitted ``model`` as a JSON-ready dict at the current schema version."""
    model_type = model_type_of(model)
    check_is_fitted(model, _FITTED_MARK[model_type])
    return {
        "schema_version": SCHEMA_VERSION,
        "model_type": model_type,
        "params": _params_to(model_type, model),
        "state": _STATE[model_type][0](model),
        "record": _jsonable(model.record()),  # type: ignore[attr-defined]
    }


def _jsonable(obj: Any) -> Any:
    # Records carry backtest figures that may be NaN (undefined MASE); strict JSON has no NaN.
    if isinstance(obj, dict):
        return {k: _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, float):
        return _num(obj)
    return obj


def upgrade_artifact(artifact: dict[str, Any]) -> dict[str, Any]:
    """Bring an artifact of any past schema version to the current one (the one compatibility shim).

    Each past version gets one step ``vN -> vN+1`` here; version 1 is the first, so there is none yet.
    """
    version = artifact.get("schema_version")
    if not isinstance(version, int) or version < 1:
        raise InputError("schema_version", f"not a spendsentry model artifact version: {version!r}")
    if version > SCHEMA_VERSION:
        raise InputError(
            "schema_version", f"artifact version {version} is newer than this release ({SCHEMA_VERSION})"
        )
    upgraded = dict(artifact)
    # Future steps go here, oldest first: `if upgraded["schema_version"] == 1: ...; = 2`.
    return upgraded


def from_artifact(artifact: dict[str, Any]) -> Baseline:
    """Rebuild the fitted model written by :func:`to_artifact` (any supported schema version)."""
    current = upgrade_artifact(artifact)
    model_type = current.get("model_type")
    if model_type not in MODEL_TYPES:
        raise InputError("model_type", f"unknown model type {model_type!r}")
    model = MODEL_TYPES[model_type](**_params_from(model_type, current["params"]))
    _STATE[model_type][1](model, current["state"])
    result: Baseline = model
    return result


def dumps(model: Baseline) -> str:
    """The artifact as strict JSON text (no NaN or Infinity)."""
    return json.dumps(to_artifact(model), allow_nan=False, sort_keys=True)


def loads(text: str) -> Baseline:
    return from_artifact(json.loads(text))
