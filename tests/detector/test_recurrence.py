"""The recurrence cap: rarity counted in blocks (hours), checked against its definition and on bursts."""

from __future__ import annotations

import numpy as np
import pandas as pd

from detector.recurrence import block_points, recurrence_cap, recurrences
from detector.scoring import ScoreConfig, anomaly_scores


def reference(m: np.ndarray, window: int, block: int) -> tuple[np.ndarray, np.ndarray]:
    """Blocks ending at t-1, t-1-block, ... inside the window before t; each block's max vs m[t], counted
    only for blocks that end before the run of points >= m[t] that ends at t."""
    reached = np.zeros(m.size, dtype=np.int64)
    blocks = np.zeros(m.size, dtype=np.int64)
    for t in range(m.size):
        start = t
        while start > 0 and np.isfinite(m[start - 1]) and m[start - 1] >= m[t]:
            start -= 1
        for end in range(t - 1, t - 1 - window, -block):
            if end < max(t - window, 0):
                break
            values = m[max(end - block + 1, 0) : end + 1]
            values = values[np.isfinite(values)]
            if values.size == 0:
                continue
            blocks[t] += 1
            reached[t] += int(values.max() >= m[t] and end < start)
    return reached, blocks


def test_recurrences_equal_the_definition() -> None:
    rng = np.random.default_rng(5)
    for _ in range(30):
        n = int(rng.integers(5, 200))
        m = rng.exponential(1.0, n)
        m[rng.integers(0, n, 3)] = np.nan
        window, block = int(rng.choice([6, 24, 60])), int(rng.choice([1, 3, 12]))
        got = recurrences(m, window=window, block=block)
        want = reference(m, window, block)
        np.testing.assert_array_equal(got[0], want[0])
        np.testing.assert_array_equal(got[1], want[1])


def test_block_points_are_an_hour_and_at_least_one() -> None:
    assert block_points(288.0, 1.0) == 12 and block_points(24.0, 1.0) == 1 and block_points(1.0, 1.0) == 1


def test_a_burst_is_capped_once_three_earlier_hours_reached_it() -> None:
    m = np.zeros(24 * 12 * 4)  # four days of five-minute points
    starts = [300, 500, 700, 900, 1100]  # bursts of two points, hours apart
    for s in starts:
        m[s : s + 2] = 10.0
    reached, _ = recurrences(m, window=2016, block=12)
    assert [int(reached[s]) for s in starts] == [0, 1, 2, 3, 4]
    cap = recurrence_cap(m, window=2016, block=12, min_count=3)
    assert np.isinf(cap[starts[:3]]).all()  # the first three keep their extrapolated surprise
    assert 1.0 < cap[starts[3]] < 2.0 and cap[starts[4]] < cap[starts[3]]  # -log10((k + 1) / (blocks + 1))
    assert np.isinf(recurrence_cap(m * 1.01 ** np.arange(m.size), window=2016, block=12, min_count=3)[1100])


def test_a_recurring_burst_stops_alarming_in_the_score() -> None:
    step = pd.Timedelta(minutes=5)
    n = 288 * 10
    y = np.abs(np.random.default_rng(2).normal(0.0, 1.0, n))
    bursts = list(range(288 * 3, n, 250))  # a burst of the same height every ~21 hours
    for b in bursts:
        y[b : b + 3] += 30.0
    times = np.asarray(pd.date_range("2024-01-01", periods=n, freq=step).as_unit("ns").asi8)
    on = anomaly_scores(y, np.zeros(n), times_ns=times, step=step)
    off = anomaly_scores(
        y, np.zeros(n), times_ns=times, step=step, config=ScoreConfig(recurrence_min_count=10**6)
    )
    late = [b for b in bursts if b > 288 * 7]
    # The cap makes a recurring burst ordinary; without it, point-level extrapolation alarms on each.
    assert np.median([on.tail[b : b + 3].max() for b in late]) < 0.5
    assert np.median([off.tail[b : b + 3].max() for b in late]) >= 0.5


def test_the_days_of_a_lasting_incident_are_not_recurrences_of_each_other() -> None:
    m = np.r_[np.zeros(60), np.full(6, 80.0), np.zeros(5)]
    reached, _ = recurrences(m, window=56, block=1)
    assert (reached[60:66] == 0).all()
    assert np.isinf(recurrence_cap(m, window=56, block=1, min_count=3, min_blocks=24)[60:66]).all()


def test_a_jump_recurs_only_among_jumps_on_its_own_side() -> None:
    step = pd.Timedelta(minutes=5)
    n = 288 * 10
    y = np.abs(np.random.default_rng(2).normal(0.0, 1.0, n))
    expected = np.zeros(n)
    dips = list(range(288 * 3, 288 * 9, 250))  # the forecast overshoots by 40 every ~21 hours
    for d in dips:
        expected[d : d + 3] += 40.0
    y[288:291] += 35.0
    expected[288:291] += 35.0  # a forecast jump the series made (so 30 is within the range seen)
    spike = 288 * 9 + 100
    y[spike : spike + 3] += 30.0  # then the series jumps 30 above its forecast, for the first time
    times = np.asarray(pd.date_range("2024-01-01", periods=n, freq=step).as_unit("ns").asi8)
    both = anomaly_scores(y, expected, times_ns=times, step=step, direction="both")
    up = anomaly_scores(y, expected, times_ns=times, step=step, direction="up")
    # The larger overshoots below are no precedent for a jump above: both sides alarm on it, as the upper
    # side alone does.
    assert both.tail[spike : spike + 3].max() >= 0.5
    assert up.tail[spike : spike + 3].max() >= 0.5
    # ...while a repeat on the lower side is still capped on both sides.
    late = [d for d in dips if d > 288 * 7]
    assert np.median([both.tail[d : d + 3].max() for d in late]) < 0.5
