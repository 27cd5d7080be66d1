"""The dashboard in a real headless Chromium against the real ``spendsentry serve``.

Demo export → ingest → replay (with local PagerDuty and ticket receivers, so notifications exist) → serve;
then the overview, a series and an incident are checked in the browser, a feedback click is verified
through the JSON API, and a screenshot of each view is written under ``tests/artifacts/`` (CI keeps it).
With ``SPENDSENTRY_UPDATE_SCREENSHOTS=1`` the README screenshots under ``docs/screenshots/`` are
refreshed too.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote_plus

import httpx
import pytest

from api.ui.svg import SeriesData, Span, money, nice_ticks, spend_chart
from tests.alerts.receiver_server import Receiver, running
from tests.e2e.helpers import run_cli, serving

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "tests" / "artifacts"
SCREENSHOTS = ROOT / "docs" / "screenshots"
CHROMIUM = shutil.which("chromium") or ("/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None)
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
LAPTOP = {"width": 1280, "height": 860}
BUDGETS = [
    {"product": "checkout", "monthly_amount": 100_000},
    {"product": "search", "monthly_amount": 120_000},
    {"product": "media", "monthly_amount": 60_000, "currency": "EUR"},
]
PHONE = {"width": 390, "height": 844}

needs_chromium = pytest.mark.skipif(
    CHROMIUM is None, reason="Chromium is not installed (apt-get install chromium); .ci/run installs it"
)


class Site:
    def __init__(self, url: str, truth: dict[str, Any]) -> None:
        self.url = url
        self.truth = truth

    def api(self, path: str) -> Any:
        res = httpx.get(self.url + path, timeout=30)
        res.raise_for_status()
        return res.json()


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    work = tmp_path_factory.mktemp("ui")
    assert run_cli(work, "demo-data", "export").returncode == 0
    truth = json.loads((work / "export" / "truth.json").read_text())
    assert run_cli(work, "ingest", "export").returncode == 0
    starts = sorted(datetime.fromisoformat(i["start"]) for i in truth["incidents"])
    # Replay from just before the first injected incident to a few days into the last one, so the
    # dashboard shows resolved incidents, notifications, and incidents still open. Every second day and
    # the seasonal model only keep this under half a minute; every injected incident is still raised.
    first, last = starts[0] - timedelta(days=3), starts[-1] + timedelta(days=3)
    with running(Receiver()) as receiver:
        notify = {
            "SPENDSENTRY_PAGERDUTY_ROUTING_KEY": "R0UT1NGKEY0000000000000000000000",
            "SPENDSENTRY_PAGERDUTY_URL": f"{receiver.url}/pagerduty/v2/enqueue",
            "SPENDSENTRY_TICKET_KIND": "webhook",
            "SPENDSENTRY_TICKET_URL": f"{receiver.url}/webhook",
        }
        res = run_cli(
            work,
            "replay",
            "--start",
            first.isoformat(),
            "--end",
            last.isoformat(),
            "--every",
            "2d",
            "--model",
            "seasonal",
            timeout=240,
            **notify,
        )
        assert res.returncode == 0, res.stderr
    with serving(work) as url:
        for budget in BUDGETS:
            httpx.put(f"{url}/v1/budgets", json=budget, timeout=30).raise_for_status()
        yield Site(url, truth)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


README_VIEWS = {"overview", "series", "incident"}


def shoot(page: Any, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"ui-{name}.png"), full_page=True)
    if os.environ.get("SPENDSENTRY_UPDATE_SCREENSHOTS") == "1" and name in README_VIEWS:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        # The top of the page, at most one and a half laptop screens: enough to show the view in a README.
        height = min(int(page.evaluate("document.documentElement.scrollHeight")), 1300)
        page.screenshot(
            path=str(SCREENSHOTS / f"{name}.png"),
            full_page=True,
            clip={"x": 0, "y": 0, "width": LAPTOP["width"], "height": height},
        )


WIDER_THAN_SCREEN = """() => document.documentElement.scrollWidth <= window.innerWidth + 1 ? [] :
  [...document.querySelectorAll("body *")]
    .filter(el => el.getBoundingClientRect().right > window.innerWidth + 1 && !el.closest(".scroll"))
    .map(el => el.tagName + "." + el.getAttribute("class")).slice(0, 10)"""


def assert_fits_the_phone(page: Any) -> None:
    # Wide charts and tables scroll inside their own box; the page itself must fit the phone's width.
    wider: list[str] = page.evaluate(WIDER_THAN_SCREEN)
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1"), wider


@pytest.mark.slow
@needs_chromium
def test_overview_lists_the_demo_incidents(site: Site, browser: Any) -> None:
    page = browser.new_page(viewport=LAPTOP)
    page.goto(f"{site.url}/ui")
    rows = page.locator("[data-role=incident-row]")
    shown = {r.inner_text() for r in rows.all()}
    api = site.api("/v1/incidents?limit=1000")
    # Every injected incident the replay raised (page or ticket) is listed, with its $ impact.
    raised = {(i["product"], i["cost_line"]) for i in api if i["peak_severity"] in ("page", "ticket")}
    injected = {(i["product"], i["cost_line"]) for i in site.truth["incidents"]}
    assert raised and raised <= injected
    for product, cost_line in raised:
        assert any(f"{product} / {cost_line}" in s for s in shown), (product, cost_line)
    open_now = [i for i in api if i["status"] == "open"]
    assert open_now, "the replay ends inside an incident"
    for card in page.locator("[data-role=severity-card]").all():
        severity = card.get_attribute("data-severity")
        count = int(card.locator("[data-role=open-count]").inner_text())
        assert count == sum(1 for i in open_now if i["peak_severity"] == severity)
    # Open incidents that never reached a ticket are watched apart from incidents.
    watched = sum(1 for i in open_now if i["peak_severity"] == "none")
    assert int(page.locator("[data-role=watching-count]").inner_text()) == watched
    assert "USD" in page.locator("[data-role=severity-card]").first.inner_text() or not any(
        i["severity"] == "page" for i in open_now
    )
    budgets = page.locator("[data-role=budget]")
    assert budgets.count() == len(BUDGETS)
    assert any("checkout" in text and "%" in text for text in budgets.all_inner_texts())
    assert page.locator("[data-role=coverage]").count() >= 1
    assert "Last training" in page.locator("[data-role=status]").inner_text()
    shoot(page, "overview")
    phone = browser.new_page(viewport=PHONE)
    phone.goto(f"{site.url}/ui")
    assert_fits_the_phone(phone)
    shoot(phone, "overview-phone")


@pytest.mark.slow
@needs_chromium
def test_series_chart_has_band_and_anomaly_markers(site: Site, browser: Any) -> None:
    spike = next(i for i in site.truth["incidents"] if i["kind"] == "spike")
    page = browser.new_page(viewport=LAPTOP)
    page.goto(
        f"{site.url}/ui/series?product={quote_plus(spike['product'])}"
        f"&cost_line={quote_plus(spike['cost_line'])}&currency={spike['currency']}"
    )
    chart = page.locator("svg[data-role=spend-chart]")
    assert chart.count() == 1
    assert chart.locator("[data-role=band]").count() >= 1
    assert chart.locator("[data-role=actual]").count() == 1
    assert chart.locator("[data-role=expected]").count() >= 1
    assert chart.locator("[data-role=anomaly-marker]").count() >= 1
    assert chart.locator("[data-role=incident-span]").count() >= 1
    # The band is drawn, not degenerate: its polygon spans some height.
    assert chart.locator("[data-role=band]").first.bounding_box()["height"] > 10
    # It is the detector's alarm boundary (its upper edge drawn as such), and the legend says so.
    assert chart.locator("[data-role=alarm-upper]").count() >= 1
    assert "alarm boundary" in page.locator("[data-role=band-legend]").inner_text()
    # Trend and seasonal parts are there on demand.
    parts = page.locator("[data-role=parts]")
    assert not parts.locator("svg[data-role=parts-chart]").is_visible()
    parts.locator("summary").click()
    assert parts.locator("svg[data-role=parts-chart] [data-role=trend]").count() >= 1
    # The pickers: another product's cost lines load when the product changes.
    other = next(
        p for p in page.locator("select[name=product] option").all_inner_texts() if p != spike["product"]
    )
    page.select_option("select[name=product]", other)
    page.wait_for_url(f"**product={quote_plus(other)}**")
    assert other in page.locator("h1").inner_text()
    page.goto(
        f"{site.url}/ui/series?product={quote_plus(spike['product'])}"
        f"&cost_line={quote_plus(spike['cost_line'])}&currency={spike['currency']}"
    )
    shoot(page, "series")
    phone = browser.new_page(viewport=PHONE)
    phone.goto(page.url)
    assert_fits_the_phone(phone)
    shoot(phone, "series-phone")


@pytest.mark.slow
@needs_chromium
def test_incident_shows_causes_timeline_and_deliveries(site: Site, browser: Any) -> None:
    incidents = site.api("/v1/incidents?limit=1000")
    paged = next(i for i in incidents if i["peak_severity"] == "page")
    detail = site.api(f"/v1/incidents/{paged['id']}")
    page = browser.new_page(viewport=LAPTOP)
    page.goto(f"{site.url}/ui/incidents/{paged['id']}")
    assert paged["cost_line"] in page.locator("h1").inner_text()
    bars = page.locator("[data-role=bar-chart] [data-role=bar]")
    assert bars.count() == len(detail["root_causes"]) >= 1
    top = detail["root_causes"][0]
    assert f"{next(iter(top['dimensions'].values()))}" in bars.first.inner_text()
    assert f"{top['contribution']:+,.0f}" in bars.first.inner_text()
    assert page.locator("[data-role=timeline] li").count() == len(detail["history"])
    rows = page.locator("[data-role=notifications] tbody tr")
    assert rows.count() == len(detail["notifications"]) >= 1
    assert "delivered" in rows.first.inner_text()
    assert page.locator("svg[data-role=spend-chart] [data-role=anomaly-marker]").count() >= 1
    shoot(page, "incident")


@pytest.mark.slow
@needs_chromium
def test_feedback_click_changes_the_incident(site: Site, browser: Any) -> None:
    incidents = site.api("/v1/incidents?limit=1000")
    target = next(
        i for i in sorted(incidents, key=lambda i: i["status"] != "open") if i["peak_severity"] != "none"
    )
    assert target["feedback"] is None
    page = browser.new_page(viewport=LAPTOP)
    page.goto(f"{site.url}/ui/incidents/{target['id']}")
    assert target["product"] in page.locator("h1").inner_text()
    page.fill("input[name=note]", "planned re-index")
    with page.expect_navigation():
        page.click("button[data-kind=expected]")
    after = site.api(f"/v1/incidents/{target['id']}")
    assert after["feedback"] == "expected"
    assert after["feedback_history"][-1]["note"] == "planned re-index"
    assert "expected" in page.locator("[data-role=feedback-state]").inner_text()
    # Declaring an expected change from the incident creates the window, shaded on the chart after reload.
    page.locator("details.declare summary").click()
    with page.expect_navigation():
        page.click("details.declare button[type=submit]")
    changes = site.api("/v1/expected-changes")
    assert any(f'product="{target["product"]}"' in c["matchers"] for c in changes)
    assert page.locator("svg[data-role=spend-chart] [data-role=expected-change]").count() >= 1
    shoot(page, "incident-feedback")
    phone = browser.new_page(viewport=PHONE)
    phone.goto(page.url)
    assert_fits_the_phone(phone)
    shoot(phone, "incident-phone")


@pytest.mark.slow
def test_unknown_incident_is_a_404_page(site: Site) -> None:
    res = httpx.get(f"{site.url}/ui/incidents/no-such-incident", timeout=30)
    assert res.status_code == 404 and "not found" in res.text
    assert httpx.get(f"{site.url}/ui/static/../app.py", timeout=30).status_code == 404


@pytest.mark.parametrize(
    ("low", "high", "first", "last"),
    [(0, 6300, 0, 8000), (0, 1, 0, 1), (540, 1500, 500, 1500), (-130, 60, -150, 100)],
)
def test_axis_ticks_are_round_and_cover_the_data(low: float, high: float, first: float, last: float) -> None:
    ticks = nice_ticks(low, high)
    assert ticks[0] == first and ticks[-1] == last
    assert ticks[0] <= low and ticks[-1] >= high


def test_chart_escapes_free_text_and_marks_what_it_draws() -> None:
    t0 = datetime(2026, 9, 1)
    times = [t0 + timedelta(days=d) for d in range(5)]
    data = SeriesData(
        times=times,
        actual=[10, 11, 10, 40, 10],
        expected=[10, 10, 10, 10, None],
        lower=[8, 8, 8, 8, None],
        upper=[12, 12, 12, 12, None],
        anomaly=[False, False, False, True, False],
        windows=[Span(times[1], times[2], "<script>x</script>")],
    )
    html = str(spend_chart(data, currency="USD", title="a <b> title"))
    assert "<script>" not in html and "&lt;script&gt;" in html and "a &lt;b&gt; title" in html
    assert html.count('data-role="anomaly-marker"') == 1
    assert html.count('data-role="band"') == 1  # the missing forecast ends the band, it is not drawn as 0
    assert money(-1234.4, "EUR", signed=True) == "-1,234 EUR" and money(None) == "–"
