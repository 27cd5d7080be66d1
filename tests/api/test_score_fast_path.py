"""``/v1/score``'s request path without pandas Series or Timestamps gives, to the bit, what the pandas
reference gives: the clock's completeness (``clock_completeness`` against ``period_completeness``) and the
detection on arrays (``Detector.run_arrays`` against ``Detector.run`` on a Series), on random series.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import numpy as np
import pandas as pd
import pytest

from api.routes import score as score_route
from api.routes.score import _on_grid, clock_completeness, grid_index, parse_series, utc_naive_times
from api.score_schemas import ScorePointIn
from detector.detector import Detector
from detector.post_rules import DetectorConfig, period_completeness
from models.seasonal import BatchedSeasonalBaseline


def _grid(rng: np.random.Generator, case: int) -> tuple[pd.DatetimeIndex, pd.Timedelta]:
    hourly = case % 2 == 1
    step = pd.Timedelta(hours=1) if hourly else pd.Timedelta(days=1)
    n = int(rng.integers(3, 400))
    start = pd.Timestamp("2025-01-01") + step * int(rng.integers(0, 2000))
    index = pd.date_range(start, periods=n, freq="h" if hourly else "D")
    return pd.DatetimeIndex(index.as_unit("ns" if case % 3 == 0 else "us")), step


@pytest.mark.parametrize("case", range(60))
def test_the_clocks_completeness_is_period_completeness(case: int) -> None:
    rng = np.random.default_rng(case)
    index, step = _grid(rng, case)
    # Before, inside and after the series, on and off the period boundaries, to the microsecond.
    offset = timedelta(microseconds=int(rng.integers(-3 * 86_400_000_000, 3 * 86_400_000_000)))
    naive = index[-1].to_pydatetime() + offset
    now = naive.replace(tzinfo=UTC) if case % 4 else naive
    if case % 5 == 0:  # the same moment in another zone
        now = naive.replace(tzinfo=UTC).astimezone(timezone(timedelta(hours=case % 13 - 6)))
    got = clock_completeness(index, step, now)
    ts = pd.Timestamp(now)
    want = period_completeness(index, step, ts.tz_convert("UTC").tz_localize(None) if ts.tzinfo else ts)
    assert got.dtype == want.dtype and got.tobytes() == want.tobytes()


@pytest.mark.parametrize("case", range(40))
def test_a_series_without_gaps_is_placed_as_the_general_grid_places_it(case: int) -> None:
    rng = np.random.default_rng(200 + case)
    hourly = case % 2 == 1
    step = timedelta(hours=1) if hourly else timedelta(days=1)
    start = datetime(2025, 3, 1) + step * int(rng.integers(0, 900))
    if case % 3 == 0:  # aware timestamps, in UTC or in another zone
        start = start.replace(tzinfo=UTC).astimezone(timezone(timedelta(hours=case % 5)))
    n = int(rng.integers(3, 500))
    points = [
        ScorePointIn(
            timestamp=start + step * i,
            value=float(rng.normal(100, 10)),
            completeness=float(rng.random()) if rng.random() < 0.1 else None,
        )
        for i in range(n)
    ]
    fast = parse_series(points, None, max_points=20_000)
    times = utc_naive_times([p["timestamp"] for p in points])
    completeness = np.array([p.get("completeness") for p in points], dtype=np.float64)
    values = np.array([p["value"] for p in points])
    general = _on_grid("series", times, values, completeness, fast.granularity, 20_000)
    assert fast.granularity.value == ("hour" if hourly else "day")
    assert fast.index.equals(general.index) and fast.index.dtype == general.index.dtype
    assert fast.index.freq == general.index.freq and fast.index.name == general.index.name
    for name in ("values", "given", "at"):
        a, b = getattr(fast, name), getattr(general, name)
        assert a.dtype == b.dtype and a.tobytes() == b.tobytes(), name


@pytest.mark.parametrize("unit", ["s", "ms", "us", "ns"])
def test_the_grid_index_is_pandas_own(unit: str) -> None:
    rng = np.random.default_rng(len(unit))
    ticks = np.sort(rng.integers(0, 10**9, 300)) * {"s": 1, "ms": 10**3, "us": 10**6, "ns": 10**9}[unit]
    times = ticks.view(f"datetime64[{unit}]")
    got, want = grid_index(times), pd.DatetimeIndex(times)
    assert type(got) is type(want) and got.dtype == want.dtype and got.equals(want)
    assert got.freq == want.freq and got.name == want.name and got.tz is None and got.unit == want.unit
    assert got.asi8.tobytes() == want.asi8.tobytes()
    assert got.is_monotonic_increasing == want.is_monotonic_increasing
    assert (got[5], got[-1]) == (want[5], want[-1]) and got[10:20].equals(want[10:20])


def test_naive_times_are_numpys_own_microseconds() -> None:
    rng = np.random.default_rng(9)
    moments = rng.integers(-(10**16), 10**16, 2000)  # microseconds around the epoch, either side
    stamps = [datetime(1970, 1, 1) + timedelta(microseconds=int(m)) for m in moments]
    got = utc_naive_times(stamps)
    want = np.array(stamps, dtype="datetime64[us]")
    assert got.dtype == want.dtype and got.tobytes() == want.tobytes()


def _points(rng: np.random.Generator, case: int) -> list[ScorePointIn]:
    hourly = case % 3 == 2
    n = int(rng.choice([20, 60, 90, 200]))
    step = timedelta(hours=1) if hourly else timedelta(days=1)
    start = datetime(2026, 1, 5)
    cycle = np.sin(np.arange(n) * 2 * np.pi / (24 if hourly else 7))
    v = 1000 + 150 * cycle + rng.normal(0, 25, n)
    k = int(rng.integers(n // 2, n))
    v[k : k + 3] *= float(rng.choice([0.3, 2.0]))
    keep = rng.random(n) > (0.1 if case % 4 == 0 else 0.0)
    keep[0] = keep[-1] = True
    return [
        ScorePointIn(
            timestamp=start + step * i,
            value=float(v[i]),
            completeness=0.4 if (i == n - 1 and case % 5 == 1) else None,
        )
        for i in range(n)
        if keep[i]
    ]


@pytest.mark.parametrize("stored", [True, False], ids=["stored", "fitted"])
@pytest.mark.parametrize("case", range(16))
def test_the_detection_on_arrays_is_the_detection_on_a_series(case: int, stored: bool) -> None:
    rng = np.random.default_rng(100 + case)
    parsed = parse_series(_points(rng, case), None, max_points=20_000)
    gran = parsed.granularity.value
    y = pd.Series(parsed.values, index=parsed.index)
    clock_now = parsed.index[-1].to_pydatetime().replace(tzinfo=UTC) + timedelta(hours=5)
    step = pd.Timedelta(hours=1) if gran == "hour" else pd.Timedelta(days=1)
    given = parsed.given
    completeness = np.where(np.isfinite(given), given, clock_completeness(parsed.index, step, clock_now))
    detector = Detector(DetectorConfig(direction=["up", "down", "both"][case % 3]))

    def baseline() -> BatchedSeasonalBaseline:
        model = BatchedSeasonalBaseline(granularity=gran)
        return model.fit(y * 0.95) if stored else model

    want = detector.run(baseline(), y, completeness=completeness, fit=not stored)
    got = detector.run_arrays(
        baseline(), parsed.values, parsed.index, completeness=completeness, fit=not stored, step=step
    )
    assert list(got.columns) == list(want.columns)
    for name in want.columns:
        a, b = np.asarray(got.columns[name]), np.asarray(want.columns[name])
        assert a.dtype == b.dtype and a.tobytes() == b.tobytes(), name
    assert got.anomalies == want.anomalies
    assert got.index.equals(want.index) and got.held_back == want.held_back


def _general_times(stamps: list[datetime], monkeypatch: pytest.MonkeyPatch) -> np.ndarray:
    """utc_naive_times without its shortcut for evenly spaced timestamps."""
    with monkeypatch.context() as m:
        m.setattr(score_route, "_evenly_spaced", lambda s: None)
        return utc_naive_times(stamps)


@pytest.mark.parametrize("case", range(40))
def test_evenly_spaced_timestamps_give_the_general_paths_times(
    case: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    rng = np.random.default_rng(100 + case)
    base = datetime(1970, 1, 1) + timedelta(microseconds=int(rng.integers(-5 * 10**15, 5 * 10**15)))
    steps = [3_600_000_000, 86_400_000_000, 1, -5, 0, int(rng.integers(-(10**12), 10**12))]
    stamps = [
        base + timedelta(microseconds=steps[case % len(steps)]) * k for k in range(int(rng.integers(2, 60)))
    ]
    kind = case % 4
    if kind == 1:
        stamps = [t.replace(tzinfo=UTC) for t in stamps]
    elif kind == 2:  # another zone: its instants in UTC
        stamps = [t.replace(tzinfo=timezone(timedelta(hours=case % 13 - 6))) for t in stamps]
    elif kind == 3 and len(stamps) > 2:  # one step off by a microsecond: not evenly spaced
        stamps[len(stamps) // 2] += timedelta(microseconds=1)
    got = utc_naive_times(stamps)
    want = _general_times(stamps, monkeypatch)
    assert got.dtype == want.dtype
    assert got.view(np.int64).tolist() == want.view(np.int64).tolist()
    even = kind != 3 or len(stamps) <= 2
    assert (score_route._evenly_spaced(stamps) is not None) == even  # the shortcut answered, or declined


def test_naive_beside_aware_timestamps_are_left_to_the_general_path() -> None:
    stamps = [datetime(2026, 1, 1), datetime(2026, 1, 2, tzinfo=UTC), datetime(2026, 1, 3)]
    assert score_route._evenly_spaced(stamps) is None


@pytest.mark.parametrize("case", range(12))
def test_a_series_knows_whether_any_point_sent_its_completeness(case: int) -> None:
    """``any_given`` is False only when no point sent one: the route then takes the clock's completeness
    as it is, which is what filling every missing one from the clock gives."""
    rng = np.random.default_rng(900 + case)
    n = int(rng.integers(3, 200))
    step = timedelta(hours=1) if case % 2 else timedelta(days=1)
    start = datetime(2025, 6, 1) + step * int(rng.integers(0, 300))
    share = (0.0, 0.05, 1.0)[case % 3]
    points = [
        ScorePointIn(timestamp=start + step * i, value=float(rng.normal(50, 5)))
        if rng.random() >= share
        else ScorePointIn(timestamp=start + step * i, value=float(rng.normal(50, 5)), completeness=0.5)
        for i in range(n)
    ]
    parsed = parse_series(points, None, max_points=20_000)
    sent = any(p.get("completeness") is not None for p in points)
    assert parsed.any_given == sent
    if not sent:
        clock = rng.random(n)
        assert np.where(np.isfinite(parsed.given), parsed.given, clock).tobytes() == clock.tobytes()
