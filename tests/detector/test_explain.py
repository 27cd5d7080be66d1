"""Explaining one anomaly from leaf facts: causes ranked, the reference mix taken before the event, and the
largest contributors named when nothing stands out."""

from __future__ import annotations

import pandas as pd

from detector.explain import explain_anomaly, largest_contributors


def facts(
    days: int, spike_region: str | None = None, spike_from: int = 99, extra: float = 0.0
) -> pd.DataFrame:
    rows = []
    for d in range(days):
        t = pd.Timestamp("2026-09-01") + pd.Timedelta(days=d)
        for region, base in (("eu", 100.0), ("us", 300.0), ("ap", 50.0)):
            value = base + (extra if region == spike_region and d >= spike_from else 0.0)
            rows.append({"timestamp": t, "region": region, "value": value})
    return pd.DataFrame(rows)


def test_a_spike_in_one_region_is_named_with_its_dollars() -> None:
    f = facts(20, spike_region="eu", spike_from=19, extra=400.0)
    at = pd.Timestamp("2026-09-20")
    causes = explain_anomaly(f, [(at, 450.0)], dimensions=["region"])
    assert causes[0].dimensions == {"region": "eu"}
    assert abs(causes[0].contribution - 400.0) < 1.0


def test_reference_before_the_event_keeps_a_long_step_visible() -> None:
    # The step lasts 10 days: shares taken from inside it would call it normal.
    f = facts(30, spike_region="eu", spike_from=20, extra=200.0)
    periods = [(pd.Timestamp("2026-09-01") + pd.Timedelta(days=d), 450.0) for d in range(20, 30)]
    with_ref = explain_anomaly(f, periods, dimensions=["region"], shares_before=pd.Timestamp("2026-09-21"))
    assert with_ref and with_ref[0].dimensions == {"region": "eu"}
    assert abs(sum(c.contribution for c in with_ref[:1]) - 2000.0) < 50.0


def test_largest_contributors_follow_the_direction_and_skip_single_valued_dimensions() -> None:
    leaves = pd.DataFrame(
        {
            "region": ["eu", "us", "ap"],
            "service": ["x", "x", "x"],
            "actual": [130.0, 290.0, 60.0],
            "expected": [100.0, 300.0, 50.0],
        }
    )
    up = largest_contributors(leaves, ["region", "service"], up=True)
    assert [c.dimensions for c in up] == [{"region": "eu"}, {"region": "ap"}]
    down = largest_contributors(leaves, ["region", "service"], up=False)
    assert [c.dimensions for c in down] == [{"region": "us"}]
