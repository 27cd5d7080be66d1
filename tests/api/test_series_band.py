"""The series chart's band is the detector's alarm boundary, and the page says so.

Three weeks of hourly spend with a daily cycle and a late spike go in through ``POST /v1/spend``; the
series page is fetched, and its SVG is read back: the band's upper edge is drawn at the alarm boundary the
detector gives for that series (computed here on its own, from the same facts), it reaches down to the
chart's floor (falling spend does not alarm), and the points marked ▲ are exactly those beyond it.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
from fastapi.testclient import TestClient

from api.app import create_app
from api.ui.series_queries import series_view
from api.ui.svg import HEIGHT, MARGIN_BOTTOM, MARGIN_TOP
from core.settings import Settings
from core.types import Granularity
from detector.alarm_boundary import alarm_boundary, alerting_ready
from detector.detector import Detector
from models.seasonal import BatchedSeasonalBaseline
from tests.ingestion.focus_rows import row
from training.sweep_job import LOOKBACK

START = datetime(2026, 8, 1)
HOURS = 21 * 24
SPIKE = HOURS - 30
DAYS = 5


def spend() -> list[float]:
    rng = np.random.default_rng(4)
    hour = np.arange(HOURS) % 24
    values = 40.0 + 15.0 * np.sin(2 * np.pi * hour / 24) + rng.normal(0.0, 1.5, HOURS)
    values[SPIKE] *= 2.5
    return [round(float(v), 4) for v in values]


def points(attribute: str) -> list[tuple[float, float]]:
    return [(float(x), float(y)) for x, y in (p.split(",") for p in attribute.split())]


def test_the_band_is_drawn_at_the_alarm_boundary_and_flagged_points_leave_it(tmp_path: Path) -> None:
    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 'state.db'}",
        data_dir=tmp_path / "data",
        _env_file=None,  # type: ignore[call-arg]
    )
    rows = [row(start=START + timedelta(hours=h), cost=v) for h, v in enumerate(spend())]
    with TestClient(create_app(settings)) as client:
        assert client.post("/v1/spend", json={"rows": rows}).status_code == 200
        line = client.get("/v1/series").json()[0]
        params = {"product": line["product"], "cost_line": line["cost_line"], "granularity": "hour"}
        html = client.get("/ui/series", params={**params, "days": str(DAYS)}).text
        store = client.app.state.store  # type: ignore[attr-defined]
        engine = client.app.state.engine  # type: ignore[attr-defined]
        info = next(i for i in store.list_series() if i.cost_line == line["cost_line"])
        view = series_view(settings, engine, store, info, Granularity.HOUR, days=DAYS)

        # The boundary, on its own: the detector over the same facts (no stored model: one fitted on them).
        stop = pd.Timestamp(store.last_period()) + pd.Timedelta(hours=1)
        begin = stop - pd.Timedelta(days=DAYS)
        y = store.series(
            info.product,
            info.cost_line,
            info.currency,
            Granularity.HOUR,
            start=(begin - pd.Timedelta(LOOKBACK[Granularity.HOUR])).to_pydatetime(),
            end=stop.to_pydatetime(),
        )
    model = BatchedSeasonalBaseline(granularity="hour")
    detection = Detector().run(model, y, as_of=stop)
    boundary = alarm_boundary(detection, Detector().config, alerting_ready=alerting_ready(model, detection))
    shown = np.asarray(detection.index >= begin)
    upper = np.array([np.inf if u is None else u for u in view.data.upper])
    assert len(upper) == DAYS * 24 and np.isfinite(upper).all()
    np.testing.assert_allclose(upper, boundary.upper[shown], rtol=1e-9)
    assert all(low is None for low in view.data.lower)  # dips do not alarm on this monitor

    # ▲ marks exactly the periods beyond the band, and there is one: the spike.
    actual = np.asarray(view.data.actual)
    assert list(view.data.anomaly) == list(actual >= upper)
    assert view.data.anomaly[SPIKE - (HOURS - DAYS * 24)]
    assert html.count('data-role="anomaly-marker"') == sum(view.data.anomaly)

    # The drawing: pixels are an affine map of amounts (read off the actual-spend line), and the band's upper
    # edge is the boundary under that map (clipped where it leaves the chart), its lower edge the floor.
    line_px = points(re.search(r'class="actual" data-role="actual" points="([^"]+)"', html).group(1))  # type: ignore[union-attr]
    slope, offset = np.polyfit(actual, [y for _, y in line_px], 1)
    assert np.allclose(slope * actual + offset, [y for _, y in line_px], atol=0.15)
    [edge] = re.findall(r'data-role="alarm-upper" points="([^"]+)"', html)
    top, floor = MARGIN_TOP, HEIGHT - MARGIN_BOTTOM
    clip = 0.02 * (floor - top)
    drawn = np.clip(slope * upper + offset, top - clip, floor + clip)
    assert np.allclose([y for _, y in points(edge)], drawn, atol=0.15)
    [band] = re.findall(r'<polygon class="band" data-role="band" points="([^"]+)"', html)
    outline = points(band)
    assert outline[: len(upper)] == points(edge)
    assert {y for _, y in outline[len(upper) :]} == {float(floor)}
    assert "alarm boundary" in re.search(r'data-role="band-legend">([^<]+)<', html).group(1)  # type: ignore[union-attr]
