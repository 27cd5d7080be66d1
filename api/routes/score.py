"""``POST /v1/score`` and ``POST /v1/score/batch``: ad hoc scoring of a series sent in the request.

The baseline is the stored one when ``product`` and ``cost_line`` name a trained series
(the model registry, through the app's cached ``StoredModels``), else a
``BatchedSeasonalBaseline`` fitted on the request. Everything a client can get wrong is a 422 naming
the point (``series.3.value``) or a 413 for too many points; the detector itself lives in
:mod:`detector` and knows nothing of HTTP.
"""

from __future__ import annotations

import asyncio
import operator
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache, partial
from typing import Any, NoReturn

import numpy as np
import pandas as pd
from fastapi import APIRouter, Request, Response
from pandas.arrays import DatetimeArray
from pydantic_core import to_json
from starlette.concurrency import run_in_threadpool

from api.auth import Guard, bearer_security
from api.direct_route import DirectRoute
from api.json_body import body_schema, json_body
from api.model_cache import StoredModels
from api.scoping import ALL, Slice, slice_of
from api.score_points import points_json_bytes
from api.score_schemas import (
    RootCauseOut,
    ScoreBatchRequest,
    ScoreBatchResponse,
    ScorePointIn,
    ScoreRequest,
    ScoreResponse,
)
from core.anomaly import Anomaly
from core.clock import Clock
from core.errors import InputError, TooLargeError
from core.types import Granularity
from detector.detector import Detection, Detector
from detector.explain import explain_anomaly
from detector.nan_arrays import nan_to_num
from detector.post_rules import DetectorConfig, period_completeness
from models.base import Baseline

# Direct routes (api.direct_route): the endpoints parse, guard and serialise themselves.
router = APIRouter(prefix="/v1/score", tags=["score"], route_class=DirectRoute)

INLINE_MAX_POINTS = 500  # scored on the event loop when no I/O is needed (a few ms at most)
INLINE_MAX_BATCH_POINTS = 1_000  # a batch's points in all, likewise (about 10 ms at most)
DEFAULT_MAX_POINTS = 20_000  # per series; settings.max_score_points overrides when it exists
MIN_POINTS = 3
_STEP = {Granularity.HOUR: pd.Timedelta(hours=1), Granularity.DAY: pd.Timedelta(days=1)}


StoredLookup = Callable[[str | None, str | None, Granularity], Baseline | None]

# A detector holds only its (frozen) settings: one per direction serves every request.
_DETECTORS = {d: Detector(DetectorConfig(direction=d)) for d in ("up", "down", "both")}
# A stored model never changes once loaded (api.model_cache keeps it by version): its record is worked out
# once per model object, and forgotten with it.
_RECORDS: weakref.WeakKeyDictionary[Any, dict[str, Any]] = weakref.WeakKeyDictionary()


def _record(baseline: Baseline, stored: bool) -> dict[str, Any]:
    if not hasattr(baseline, "record"):
        return {}
    if not stored:
        return baseline.record()  # type: ignore[no-any-return]
    found = _RECORDS.get(baseline)
    if found is None:
        found = _RECORDS[baseline] = baseline.record()
    return found


def _utc_naive(ts: pd.Timestamp) -> pd.Timestamp:
    return ts.tz_convert("UTC").tz_localize(None) if ts.tzinfo is not None else ts


@dataclass(frozen=True)
class ParsedSeries:
    """A validated request series: ``values`` on the full period grid ``index`` (NaN where no point was
    sent), the completeness sent with each period (NaN: not sent), and where each sent point sits on the
    grid. Arrays and one index, no Series: a Series costs more than the rest of the parsing."""

    values: np.ndarray
    index: pd.DatetimeIndex
    granularity: Granularity
    given: np.ndarray
    at: np.ndarray
    any_given: bool = True  # False: no point sent its completeness (``given`` is all NaN)


_EPOCH = datetime(1970, 1, 1)
_MICROSECOND = timedelta(microseconds=1)


def utc_naive_times(stamps: list[datetime]) -> np.ndarray:
    """The contract's time axis as datetime64 values: aware timestamps converted to UTC, naive ones taken
    as UTC already (microseconds for naive ones, nanoseconds for aware ones, as pandas parses them)."""
    even = _evenly_spaced(stamps)
    if even is not None:
        return even
    try:
        # Microseconds since the epoch in integer arithmetic: the same datetime64[us] values numpy's
        # own conversion gives, several times faster on the few hundred points of a request (from the
        # timedelta's fields: its floor division by a microsecond costs as much again). An aware
        # timestamp cannot be subtracted from the naive epoch: the first one ends this path.
        ticks = np.array(
            [
                (d := t - _EPOCH).days * 86_400_000_000 + d.seconds * 1_000_000 + d.microseconds
                for t in stamps
            ],
            dtype=np.int64,
        )
        return ticks.view("datetime64[us]")
    except TypeError:
        pass
    return pd.DatetimeIndex(pd.to_datetime(stamps, utc=True)).tz_localize(None).to_numpy()


_EPOCH_UTC = _EPOCH.replace(tzinfo=UTC)
_NS_RANGE = (-(2**63) + 1, 2**63 - 1)  # what datetime64[ns] holds (its smallest value is NaT)


def _microseconds(d: timedelta) -> int:
    return d.days * 86_400_000_000 + d.seconds * 1_000_000 + d.microseconds


@lru_cache(maxsize=1)
def _aware_unit() -> str:
    """The unit pandas gives aware datetimes converted to UTC (microseconds from pandas 3, nanoseconds
    before): the general path's, asked of pandas itself."""
    return str(pd.DatetimeIndex(pd.to_datetime([_EPOCH_UTC], utc=True)).unit)


def _evenly_spaced(stamps: list[datetime]) -> np.ndarray | None:
    """:func:`utc_naive_times` of timestamps one fixed step apart (what clients almost always send), from
    the first one and the step: the differences come from one C-level ``map``, where the general path
    works out every timestamp's fields in Python. ``None`` for anything else (naive beside aware, uneven
    steps, times beyond what the unit holds): the general path then answers, as before."""
    if len(stamps) < 2:
        return None
    try:
        gaps = list(map(operator.sub, stamps[1:], stamps[:-1]))
    except TypeError:
        return None
    step = gaps[0]
    if gaps.count(step) != len(gaps):
        return None
    first = stamps[0]
    try:
        start, unit = _microseconds(first - _EPOCH), "us"  # naive: taken as UTC
    except TypeError:
        start, unit = _microseconds(first - _EPOCH_UTC), _aware_unit()  # aware: its instant, in UTC
    if unit not in ("us", "ns"):
        return None
    scale = 1000 // _NS_PER_TICK[unit]  # ticks per microsecond
    per = _microseconds(step) * scale
    start *= scale
    last = start + per * (len(stamps) - 1)
    bounds_kept = _NS_RANGE[0] <= min(start, last) and max(start, last) <= _NS_RANGE[1]
    if not bounds_kept or abs(last - start) > _NS_RANGE[1]:  # every product below fits in 64 bits
        return None
    ticks = start + per * np.arange(len(stamps), dtype=np.int64)
    return ticks.view(f"datetime64[{unit}]")


_NS_PER_TICK = {"s": 1_000_000_000, "ms": 1_000_000, "us": 1_000, "ns": 1}
# The granularity of points a fixed gap apart, by (gap in ticks, unit): what _infer_granularity finds.
_EVEN = {
    (_STEP[g].value // _NS_PER_TICK[unit], unit): g
    for g in (Granularity.HOUR, Granularity.DAY)
    for unit in ("us", "ns")
}


def _ticks_per(step: pd.Timedelta, unit: str) -> int:
    """How many ticks of a ``unit`` index make one ``step`` (an hour or a day: a whole number of ticks),
    in integers: Timedelta division costs microseconds."""
    return int(step.value) // _NS_PER_TICK[unit]


def parse_series(
    points: list[ScorePointIn], granularity: Granularity | None, *, max_points: int, prefix: str = ""
) -> ParsedSeries:
    """Validate the points and place them on their period grid.

    Checked column-wise, and the first offending point (by position) is the one named, as a point-by-point
    loop would: this runs on every scoring request.
    """
    field = f"{prefix}series"
    if len(points) > max_points:
        raise TooLargeError(field, f"{len(points)} points; at most {max_points} per series")
    if len(points) < MIN_POINTS:
        raise InputError(field, f"at least {MIN_POINTS} points are needed to fit a baseline")
    times = utc_naive_times([p["timestamp"] for p in points])
    unit = str(np.datetime_data(times.dtype)[0])
    values = np.array([p["value"] for p in points], dtype=np.float64)
    ticks = times.view(np.int64)
    gaps = ticks[1:] - ticks[:-1]
    least, most = int(gaps.min()), int(gaps.max())
    if least <= 0 or not np.isfinite(values).all():
        _reject(field, times, values, gaps)
    # One point an hour or a day apart throughout (what clients almost always send) is that granularity,
    # as the inference finds it, without its checks over every gap.
    gran = granularity or (_EVEN.get((least, unit)) if least == most else None)
    gran = gran or _infer_granularity(gaps, unit, field)
    step = _STEP[gran]
    per_step = _ticks_per(step, unit)
    given = [p.get("completeness") for p in points]
    # None becomes NaN; a series that gives none (what clients almost always send) skips numpy's
    # conversion of a list of objects.
    completeness = (
        np.full(len(given), np.nan) if given.count(None) == len(given) else np.array(given, dtype=np.float64)
    )
    if least == most == per_step and int(ticks[0]) % per_step == 0:
        # One point per period, none missing (what clients almost always send): the points are the grid.
        sent = given.count(None) != len(given)
        return ParsedSeries(values, grid_index(times), gran, completeness, np.arange(len(points)), sent)
    return _on_grid(field, times, values, completeness, gran, max_points)


def grid_index(times: np.ndarray) -> pd.DatetimeIndex:
    """``pd.DatetimeIndex(times)`` for tz-naive datetime64 values: pandas' own ``_simple_new``
    constructors, without the public constructor's inference (which cost more than the rest of placing a
    series on its grid); the public constructor where pandas lacks them."""
    try:
        array = DatetimeArray._simple_new(times, dtype=times.dtype)  # type: ignore[attr-defined]
        index: pd.DatetimeIndex = pd.DatetimeIndex._simple_new(array)  # type: ignore[attr-defined]
        return index
    except (AttributeError, TypeError):
        return pd.DatetimeIndex(times)


def _reject(field: str, times: np.ndarray, values: np.ndarray, gaps: np.ndarray) -> NoReturn:
    """Raise for the first point (by position) with a value that is not finite or a timestamp that is
    not later than the one before (at the same position: the value first)."""
    problems = [
        # (position, order at the same position, field suffix, reason)
        *((int(i), 0, "value", "not a finite number") for i in np.flatnonzero(~np.isfinite(values))[:1]),
        *((int(i) + 1, 1, "timestamp", "duplicate") for i in np.flatnonzero(gaps == 0)[:1]),
        *((int(i) + 1, 2, "timestamp", "unsorted") for i in np.flatnonzero(gaps < 0)[:1]),
    ]
    i, _, suffix, what = min(problems)
    if what == "duplicate":
        raise InputError(f"{field}.{i}.timestamp", f"duplicate timestamp {_iso(times[i])}")
    if what == "unsorted":
        raise InputError(f"{field}.{i}.timestamp", "earlier than the point before: send oldest first")
    raise InputError(f"{field}.{i}.{suffix}", what)


def _on_grid(
    field: str,
    times: np.ndarray,
    values: np.ndarray,
    completeness: np.ndarray,
    gran: Granularity,
    max_points: int,
) -> ParsedSeries:
    """Sorted, distinct points (any spacing) on their period grid, or a 422 / 413 naming the problem."""
    ticks = times.view(np.int64)
    per_step = _ticks_per(_STEP[gran], str(np.datetime_data(times.dtype)[0]))
    off_grid = np.flatnonzero(ticks % per_step != 0)
    if off_grid.size:
        i = int(off_grid[0])
        raise InputError(
            f"{field}.{i}.timestamp",
            f"{_iso(times[i])} is not the start of {'an hour' if gran is Granularity.HOUR else 'a day'} "
            f"(granularity {gran.value}): mixed granularity",
        )
    periods = int((ticks[-1] - ticks[0]) // per_step) + 1
    if periods > max_points:
        raise TooLargeError(field, f"the points span {periods} {gran.value}s; at most {max_points}")
    # The period grid from first to last point (``pd.date_range``'s values, built from integers).
    grid = grid_index((ticks[0] + per_step * np.arange(periods, dtype=np.int64)).view(times.dtype))
    at = (ticks - ticks[0]) // per_step
    full = np.full(periods, np.nan)
    full[at] = values
    given = np.full(periods, np.nan)
    given[at] = completeness
    return ParsedSeries(full, grid, gran, given, at)


def clock_completeness(index: pd.DatetimeIndex, step: pd.Timedelta, now: datetime) -> np.ndarray:
    """``period_completeness(index, step, now as UTC-naive)``: the same integer arithmetic on a naive
    index in microseconds or nanoseconds (what :func:`parse_series` builds) without its Timestamps; any
    other index goes to ``period_completeness`` itself."""
    unit = str(index.unit)
    if type(now) is not datetime or index.tz is not None or unit not in ("us", "ns") or len(index) == 0:
        return period_completeness(index, step, _utc_naive(pd.Timestamp(now)))
    naive = now.astimezone(UTC).replace(tzinfo=None) if now.tzinfo is not None else now
    ticks = (naive - _EPOCH) // _MICROSECOND * (1000 if unit == "ns" else 1)
    elapsed = np.asarray((ticks - index.asi8) / float(_ticks_per(step, unit)), dtype=np.float64)
    # np.clip's answer (elapsed is never NaN), without its dispatch.
    return np.minimum(np.maximum(elapsed, 0.0), 1.0)


def _iso(time: np.datetime64) -> str:
    return pd.Timestamp(time).isoformat()


def _infer_granularity(diffs: np.ndarray, unit: str, field: str) -> Granularity:
    """Hourly or daily, from the gaps between the points (in ticks of ``unit``)."""
    per_hour = _ticks_per(_STEP[Granularity.HOUR], unit)
    least = int(diffs.min())  # in ticks: compared as integers, a Timedelta only for the message
    hourly = bool((diffs % per_hour == 0).all())
    if least < per_hour or not hourly:
        smallest = pd.Timedelta(least * (pd.Timedelta(hours=1) / per_hour))
        raise InputError(field, f"points {smallest} apart: only hourly or daily series are scored")
    if least < 24 * per_hour:
        day_gaps = int((diffs >= 24 * per_hour).sum())
        # Hourly points mixed with daily totals (not an outage now and then): reject rather than guess.
        if day_gaps >= 2 and day_gaps >= 0.2 * len(diffs):
            raise InputError(field, "points 1 hour apart and points a day or more apart: mixed granularity")
        return Granularity.HOUR
    return Granularity.DAY


@dataclass(frozen=True)
class _Scored:
    """One series scored: what its answer is made of."""

    parsed: ParsedSeries
    detection: Detection
    rest: dict[str, Any]  # the answer's fields after ``points``, in ScoreResponse's order


def _score(
    req: ScoreRequest,
    *,
    clock: Clock,
    max_points: int,
    prefix: str,
    stored_lookup: StoredLookup | None,
) -> _Scored:
    parsed = parse_series(req.series, req.granularity, max_points=max_points, prefix=prefix)
    gran, given, index = parsed.granularity, parsed.given, parsed.index
    step = _STEP[gran]
    by_clock = clock_completeness(index, step, clock.now())
    # Where a point sent none, the clock's; a series that sent none (the usual one) is the clock's.
    completeness = np.where(np.isfinite(given), given, by_clock) if parsed.any_given else by_clock
    stored = stored_lookup(req.product, req.cost_line, gran) if stored_lookup is not None else None
    baseline: Baseline
    if stored is not None:
        baseline, source = stored, "stored"
    else:
        from models.seasonal import BatchedSeasonalBaseline

        baseline, source = BatchedSeasonalBaseline(granularity=gran.value), "fitted_on_request"
    detector = _DETECTORS[req.direction]
    detection = detector.run_arrays(
        baseline, parsed.values, index, completeness=completeness, fit=stored is None, step=step
    )
    record = _record(baseline, stored is not None)
    model: dict[str, Any] = {
        **record,
        "source": source,
        "granularity": gran.value,
        "direction": req.direction,
    }
    rest = {
        "anomalies": [_anomaly_out(a, req, detection, step) for a in detection.anomalies],
        "model": model,
        "completeness": detection.completeness_note(),  # CompletenessOut's fields, in its order
    }
    return _Scored(parsed, detection, rest)


def score_answer(
    req: ScoreRequest,
    *,
    clock: Clock,
    max_points: int,
    prefix: str = "",
    stored_lookup: StoredLookup | None = None,
) -> dict[str, Any]:
    """Validate, fit (or load), score, decide, and add root causes: one series, one answer.

    The answer is :class:`ScoreResponse`'s fields as plain values (points, anomalies and the completeness
    note as dicts in their models' field order; root causes as their models), serialised once by
    :func:`answer_json`: validating 90 output points again against the response model cost more than
    building them.
    ``tests/api/test_score_answer.py`` checks that the bytes are those of the validated model.
    """
    done = _score(req, clock=clock, max_points=max_points, prefix=prefix, stored_lookup=stored_lookup)
    return {"points": _points_out(done.detection, req.series, done.parsed.at), **done.rest}


def score_answer_json(
    req: ScoreRequest,
    *,
    clock: Clock,
    max_points: int,
    prefix: str = "",
    stored_lookup: StoredLookup | None = None,
) -> bytes:
    """``answer_json(score_answer(...))`` with the points written column by column
    (:func:`api.score_points.points_json_bytes`): what the routes send. ``tests/api/test_score_answer.py``
    checks that the bytes are the same."""
    done = _score(req, clock=clock, max_points=max_points, prefix=prefix, stored_lookup=stored_lookup)
    points = points_json_bytes(done.detection.columns, req.series, done.parsed.at)
    # ``points`` is the first field: the rest's JSON object follows it, without its opening brace.
    return b'{"points":[' + points + b"]," + answer_json(done.rest)[1:]


def score_one(
    req: ScoreRequest,
    *,
    clock: Clock,
    max_points: int,
    prefix: str = "",
    stored_lookup: StoredLookup | None = None,
) -> ScoreResponse:
    """:func:`score_answer` as the validated response model (for callers that want objects, not bytes)."""
    return ScoreResponse.model_validate(
        score_answer(req, clock=clock, max_points=max_points, prefix=prefix, stored_lookup=stored_lookup)
    )


def answer_json(answer: object) -> bytes:
    """The JSON of an answer built by :func:`score_answer` (or a list of them in a dict): what the
    response model's ``model_dump_json`` writes (non-finite floats as null), in one pass."""
    return to_json(answer, inf_nan_mode="null")


def _num(v: float) -> float | None:
    return float(v) if np.isfinite(v) else None


def _points_out(detection: Detection, sent: list[ScorePointIn], at: np.ndarray) -> list[dict[str, Any]]:
    """One output point per point sent (``at``: its row in the detection), column-wise then zipped: this is
    the hot path of ``/v1/score`` with a stored model. Plain dicts in :class:`ScoredPointOut`'s field
    order, values already of its types (scores clipped to its bounds), so they are serialised as they
    are."""
    cols = detection.columns
    # Every row is a sent point (a series without gaps, what clients send): no rows to pick.
    every = len(at) == len(detection.index)

    def rows(*names: str) -> np.ndarray:
        block = np.stack([np.asarray(cols[n], dtype=np.float64) for n in names])
        return block if every else block[:, at]

    # Stacked by kind, so each numpy step runs once per kind rather than once per column.
    band = rows("expected", "lower", "upper")
    expected, lower, upper = (
        [v if v == v else None for v in column]
        for column in np.where(np.isfinite(band), band, np.nan).tolist()
    )
    scores, tails = np.clip(nan_to_num(rows("anomaly_score", "tail_score")), 0.0, 1.0).tolist()
    flags = np.asarray(cols["is_anomaly"], dtype=bool)
    held = np.asarray(cols["held_back"], dtype=bool)
    flags, held = (flags.tolist(), held.tolist()) if every else (flags[at].tolist(), held[at].tolist())
    (complete,) = rows("completeness").tolist()
    return [
        {
            "timestamp": p["timestamp"],
            "value": p["value"],
            "expected": e,
            "lower": lo,
            "upper": hi,
            "anomaly_score": sc,
            "is_anomaly": f,
            "tail_score": tl,
            "completeness": c,
            "held_back": h,
        }
        for p, e, lo, hi, sc, tl, f, c, h in zip(
            sent,
            expected,
            lower,
            upper,
            scores,
            tails,
            flags,
            complete,
            held,
            strict=True,
        )
    ]


def _anomaly_out(a: Anomaly, req: ScoreRequest, detection: Detection, step: pd.Timedelta) -> dict[str, Any]:
    """:class:`AnomalyOut`'s fields in its order, values already of its types (the events' floats and
    datetimes), so they are serialised as they are, as the points are."""
    causes = _root_causes(a, req, detection) if req.breakdown else []
    return {
        "start": a.start,
        "end": a.end,
        "actual": a.actual,
        "expected": a.expected,
        "impact": a.impact,
        "impact_pct": a.impact_pct,
        "anomaly_score": a.anomaly_score,
        "root_causes": causes,
        "direction": a.direction,
        "expected_trend": a.expected_trend,
        "expected_seasonal": a.expected_seasonal,
        "projected_month_impact": a.projected_month_impact,
        "completeness": a.completeness,
    }


def _root_causes(a: Anomaly, req: ScoreRequest, detection: Detection) -> list[RootCauseOut]:
    """Split the event's excess over the breakdown's leaves, period by period, and rank the causes."""
    assert req.breakdown is not None
    rows = [
        {"timestamp": _utc_naive(pd.Timestamp(b.timestamp)), **b.dimensions, "value": b.value}
        for b in req.breakdown
    ]
    facts = pd.DataFrame(rows)
    if any(b.quantity is not None for b in req.breakdown):
        # A leaf without a quantity in some period has an unknown split (NaN), not a zero one.
        facts["quantity"] = [float("nan") if b.quantity is None else b.quantity for b in req.breakdown]
    dims = sorted({k for b in req.breakdown for k in b.dimensions})
    facts[dims] = facts[dims].fillna("")
    span = detection.points.loc[pd.Timestamp(a.start) : pd.Timestamp(a.end)]
    # A partial period's expected total is scaled by its completeness, as its actual is partial too.
    totals = [
        (at, float(exp) * float(c))
        for at, exp, c in zip(
            pd.DatetimeIndex(span.index), span["expected"], span["completeness"], strict=True
        )
    ]
    return [RootCauseOut.model_validate(c.to_dict()) for c in explain_anomaly(facts, totals, dimensions=dims)]


def _max_points(settings: object) -> int:
    return int(getattr(settings, "max_score_points", DEFAULT_MAX_POINTS))


def _lookup(request: Request, scope: Slice = ALL) -> StoredLookup | None:
    """The stored models the caller may use: a scoped token scores a series outside its slice as an
    unknown one (fitted on the request), so the answer tells nothing of another team's models."""
    models = getattr(request.app.state, "stored_models", None)
    if models is None:
        return None
    if not scope.restricted:
        lookup: StoredLookup = models.get
        return lookup

    def in_slice(product: str | None, cost_line: str | None, gran: Granularity) -> Any:
        if product is None or cost_line is None or not scope.allows_series(product, cost_line, ""):
            return None
        return models.get(product, cost_line, gran)

    return in_slice


# The routes read the state the dependencies would give (settings, clock, the caller's slice) from the app
# and the request directly, and parse their body from its bytes (api.json_body): each FastAPI dependency
# and the two-step body parsing cost more per request than a stored-model scoring's whole numpy work.
# The token check is the same guard (api.auth.Guard, scope `score`), called first by each handler instead
# of as a router dependency: FastAPI's dependency solving cost more than the check itself. The app includes
# this router without dependencies; bearer_security() documents the scheme as the dependency would.
BODY_MODELS = (ScoreRequest, ScoreBatchRequest)
GUARD = Guard("score")


@router.post(
    "", response_model=ScoreResponse, openapi_extra={**body_schema(ScoreRequest), **bearer_security()}
)
async def score(request: Request) -> Response:
    """Score every point of a series and group the anomalous ones into events.
    The stored baseline is used when ``product`` and ``cost_line`` name a trained series."""
    await GUARD.check(request)
    await take_turn()
    body = await json_body(request, ScoreRequest)
    state = request.app.state
    scope = slice_of(getattr(request.state, "principal", None))
    models: StoredModels | None = getattr(state, "stored_models", None)
    run = partial(
        score_answer_json,
        body,
        clock=state.clock,
        max_points=_max_points(state.settings),
        stored_lookup=_lookup(request, scope),
    )
    if len(body.series) <= INLINE_MAX_POINTS and _without_io(models, scope, body):
        # A short series with a cached stored model, or one fitted on the request without a registry
        # look-up: a few milliseconds of numpy and no I/O (about 2.5 ms for 90 days, 6.5 ms for 500 hours,
        # fit included), cheaper on the event loop than the hop to a worker thread. A worker thread would
        # not free the loop either: the fit holds the GIL, and eight of them at once contending for it
        # cost a third of the throughput (bench.bench_score_api, fit on request). Long series and registry
        # look-ups go to the thread pool, so they never hold up other requests.
        answer = run()
    else:
        answer = await run_in_threadpool(run)
    return _json(answer)


async def take_turn() -> None:
    """Let the event loop read the sockets once more before this request's body and scoring run on it.

    Under load the loop runs, in one turn, every callback that was ready when the turn began, and reads
    its sockets only between turns, taking the readable ones in the poller's fixed order of sockets, not
    in the order their requests came. A scoring request handled in one step is then a whole scoring in
    that turn; the request whose answer went out last in a turn is read just after the next poll, and
    waits for every scoring of the next turn and for those read with it but ahead of it: about two
    turns' worth of queue, the tail of the latency under load. Yielding once after the token check (the
    step that costs little) puts a poll between the checks and the scorings, so a request that came in
    the meantime joins the scorings of this turn, behind the ones read before it. The body is parsed
    after the yield, so eight queued requests do not hold eight parsed bodies at once (which would wake
    the garbage collector far more often). It costs one turn of the loop (a few microseconds) and
    changes nothing in what is answered. Measured side by side with and without it (four rounds of
    ``bench.bench_score_api``'s stored-model load, both servers running at once), p99 fell by about an
    eighth at the same throughput (``bench/results/score_api.md``)."""
    await asyncio.sleep(0)


def _without_io(models: StoredModels | None, scope: Slice, body: ScoreRequest) -> bool:
    """True when scoring ``body`` needs no registry look-up: no registry, a series outside the caller's
    slice (fitted on the request), or one whose look-up is remembered (a model, or none)."""
    if models is None:
        return True
    if scope.restricted and not scope.allows_series(body.product or "", body.cost_line or "", ""):
        return True
    return models.answers_without_io(body.product, body.cost_line, body.granularity or _guess(body))


def _guess(body: ScoreRequest) -> Granularity:
    """The likely granularity, only to pick where to run (``parse_series`` decides and validates)."""
    s = body.series
    try:
        hourly = len(s) > 1 and abs(s[1]["timestamp"] - s[0]["timestamp"]) < timedelta(days=1)
    except TypeError:  # naive beside aware: parse_series sorts that out
        hourly = False
    return Granularity.HOUR if hourly else Granularity.DAY


def _json(answer: bytes) -> Response:
    return Response(answer, media_type="application/json")


@router.post(
    "/batch",
    response_model=ScoreBatchResponse,
    openapi_extra={**body_schema(ScoreBatchRequest), **bearer_security()},
)
async def score_batch(request: Request) -> Response:
    """Score many series in one request; an error names the item (``items.2.series.5.value``)."""
    await GUARD.check(request)
    await take_turn()
    body = await json_body(request, ScoreBatchRequest)
    state = request.app.state
    limit = _max_points(state.settings)
    total = sum(len(item.series) for item in body.items)
    if total > 10 * limit:
        raise TooLargeError("items", f"{total} points in all; at most {10 * limit} per batch")
    scope = slice_of(getattr(request.state, "principal", None))
    lookup = _lookup(request, scope)
    clock = state.clock
    models: StoredModels | None = getattr(state, "stored_models", None)

    def run() -> bytes:
        # The JSON of {"results": [answer, ...]}: each answer's bytes as score_answer_json writes them.
        results = [
            score_answer_json(item, clock=clock, max_points=limit, prefix=f"items.{k}.", stored_lookup=lookup)
            for k, item in enumerate(body.items)
        ]
        return b'{"results":[' + b",".join(results) + b"]}"

    if total <= INLINE_MAX_BATCH_POINTS and all(_without_io(models, scope, item) for item in body.items):
        # As for one series (see score): without I/O, the loop is the cheaper place (+23% batches a second
        # in one run of bench.bench_score_api's batch of ten 90-day series).
        return _json(run())
    return _json(await run_in_threadpool(run))
