"""A new user's first hour, for real: ``make run``'s bootstrap on the demo, the dashboard in Chromium
(open the page incident, give feedback, see it change), then ``spendsentry init`` for one's own data."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from tests.e2e.helpers import run_cli, serving
from tests.e2e.test_ui import CHROMIUM, CHROMIUM_ARGS, LAPTOP, needs_chromium


class Demo:
    def __init__(self, work: Path, url: str, boot: str) -> None:
        self.work, self.url, self.boot = work, url, boot

    def api(self, path: str) -> Any:
        res = httpx.get(self.url + path, timeout=30)
        res.raise_for_status()
        return res.json()


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    work = tmp_path_factory.mktemp("first-hour")
    boot = run_cli(work, "bootstrap", timeout=900, SPENDSENTRY_DEMO_DAYS="60")
    assert boot.returncode == 0, boot.stderr
    with serving(work) as url:
        yield Demo(work, url, boot.stdout)


@pytest.mark.slow
def test_the_demo_ends_with_an_open_page_and_ticket_budgets_a_change_and_feedback(demo: Demo) -> None:
    incidents = demo.api("/v1/incidents?limit=1000")
    open_now = [i for i in incidents if i["status"] == "open" and not i.get("linked_to")]
    by_peak = {i["peak_severity"]: i for i in open_now}
    assert {"page", "ticket"} <= set(by_peak), [(i["product"], i["peak_severity"]) for i in open_now]
    assert by_peak["page"]["product"] == "search" and by_peak["ticket"]["product"] == "data-platform"
    assert by_peak["page"]["root_causes"][0]["dimensions"] == {"region": "eu-west-1"}
    assert by_peak["ticket"]["root_causes"][0]["dimensions"] == {"region": "us-west-2"}
    shipped = yaml.safe_load((Path(__file__).parents[2] / "ingestion" / "demo_budgets.yaml").read_text())
    assert len(demo.api("/v1/budgets")) == len(shipped["budgets"])
    assert len(demo.api("/v1/expected-changes")) == 1
    with_feedback = [i for i in incidents if i["feedback"]]
    assert [(i["status"], i["feedback"]) for i in with_feedback] == [("resolved", "confirmed")]
    assert "this is demo data" in demo.boot


@pytest.mark.slow
@needs_chromium
def test_open_the_page_give_feedback_and_see_it_change(demo: Demo) -> None:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = chromium.new_page(viewport=LAPTOP)
            page.goto(f"{demo.url}/ui")
            assert "Demo data" in page.locator("[data-role=demo-note]").inner_text()
            assert "spendsentry init" in page.locator("[data-role=demo-note]").inner_text()
            assert page.locator("[data-role=budget]").count() >= 6
            # The page card counts the open page; its row leads to the incident.
            card = page.locator("[data-role=severity-card][data-severity=page] [data-role=open-count]")
            assert int(card.inner_text()) >= 1
            target = next(
                i
                for i in demo.api("/v1/incidents?status=open&limit=100")
                if i["peak_severity"] == "page" and not i.get("linked_to")
            )
            page.click(f"[data-role=incident-row][data-incident='{target['id']}'] a")
            page.wait_for_url(f"**/ui/incidents/{target['id']}")
            assert "no feedback yet" in page.locator("[data-role=feedback-state]").inner_text()
            page.fill("input[name=note]", "checked: eu-west-1 re-index")
            with page.expect_navigation():
                page.click("button[data-kind=confirmed]")
            assert "confirmed" in page.locator("[data-role=feedback-state]").inner_text()
            after = demo.api(f"/v1/incidents/{target['id']}")
            assert after["feedback"] == "confirmed"
            assert after["feedback_history"][-1]["note"] == "checked: eu-west-1 re-index"
        finally:
            chromium.close()


@pytest.mark.slow
def test_init_writes_templates_from_the_ingested_data_and_no_secret(demo: Demo, tmp_path: Path) -> None:
    done = run_cli(
        demo.work, "init", "--out", str(tmp_path), SPENDSENTRY_PAGERDUTY_ROUTING_KEY="R0UT1NGKEY0000SECRET"
    )
    assert done.returncode == 0, done.stderr
    env = (tmp_path / ".env").read_text()
    assert "SPENDSENTRY_PRODUCT_TAG_KEYS=product" in env
    assert "team" in env and "R0UT1NGKEY" not in env
    attribution = yaml.safe_load((tmp_path / "spendsentry" / "attribution.yaml").read_text())
    assert attribution["product_tag_keys"] == ["product"]
    assert set(attribution["dimension_tag_keys"]) >= {"team", "env"}
    budgets = yaml.safe_load((tmp_path / "spendsentry" / "budgets.yaml").read_text())["budgets"]
    assert {b["product"] for b in budgets} >= {"checkout", "search", "media"}
    routes = yaml.safe_load((tmp_path / "spendsentry" / "routes.yaml").read_text())
    assert routes["route"]["receiver"] == "finops-tickets"
    assert "replay --dry-run" in done.stdout
    again = run_cli(demo.work, "init", "--out", str(tmp_path))
    assert again.returncode == 2 and ".env" in again.stderr
    # The preset dry run works as printed.
    command = next(line.split() for line in done.stdout.splitlines() if "replay --dry-run" in line)
    dry = run_cli(demo.work, *command[1:], timeout=600)
    assert dry.returncode == 0, dry.stderr


def test_init_before_any_ingest_exits_2_naming_the_data(tmp_path: Path) -> None:
    done = run_cli(tmp_path, "init", "--out", str(tmp_path))
    assert done.returncode == 2
    assert "ingest" in done.stderr
