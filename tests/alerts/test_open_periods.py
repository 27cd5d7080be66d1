"""Which periods of open incidents training leaves out: new spend is learned, anything else is not."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from alerts.open_periods import excluded_span

D = [datetime(2026, 5, 1, tzinfo=UTC) + timedelta(days=i) for i in range(10)]


def events(*spans: tuple[int, int, str]) -> dict[str, dict[str, object]]:
    return {D[a].isoformat(): {"end": D[b].isoformat(), "kind": kind} for a, b, kind in spans}


@pytest.mark.parametrize(
    ("start", "end", "anomalies", "expected"),
    [
        # an ordinary incident: its whole period stays out
        (0, 3, events((0, 3, "anomaly")), (0, 3)),
        (0, 5, events((0, 2, "anomaly"), (4, 5, "sustained")), (0, 5)),
        # the latest reading of its excess starts later than the incident did: still its whole period
        (0, 5, events((2, 5, "sustained")), (0, 5)),
        # new spend only: nothing is left out, the new line is its own baseline
        (0, 6, events((0, 6, "new_spend")), None),
        # new spend, then an anomaly on top once trained: from the anomaly on
        (0, 8, events((0, 5, "new_spend"), (7, 8, "anomaly")), (7, 8)),
        # an incident stored without events (older rows): its period
        (2, 4, {}, (2, 4)),
        # no period at all: nothing
        (None, None, {}, None),
    ],
)
def test_excluded_span(start, end, anomalies, expected) -> None:
    got = excluded_span(None if start is None else D[start], None if end is None else D[end], anomalies)
    assert got == (None if expected is None else (D[expected[0]], D[expected[1]]))
