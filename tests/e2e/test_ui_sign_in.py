"""Dashboard sign-in in a real headless Chromium against the real ``spendsentry serve`` with tokens:
sign-in, the session's slice, a write with the CSRF token and one refused without it, sign-out."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from alerts import incident_store
from alerts.lifecycle import IncidentState
from alerts.severity import Severity
from core.db import make_engine
from tests.e2e.helpers import run_cli, serving
from tests.e2e.test_ui import CHROMIUM, LAPTOP, browser, needs_chromium
from tests.ingestion.focus_rows import hourly_rows, write_csv

__all__ = ["browser"]  # the module-scoped Chromium fixture, shared with the dashboard's other tests

ADMIN = "admin-token-0123456789abcdef"
CHECKOUT = "checkout-token-0123456789abcdef"
TOKENS = f"root:{ADMIN}:read+score+write+admin,checkout-team:{CHECKOUT}:read+score+write:product=checkout"


def _incident(product: str) -> IncidentState:
    at = datetime(2026, 9, 1, 12, tzinfo=UTC)
    return IncidentState(
        id=f"inc-{product}",
        fingerprint=f"fp-{product}",
        product=product,
        cost_line="Amazon EC2",
        currency="USD",
        scope="default",
        status="open",
        severity=Severity.TICKET,
        peak_severity=Severity.TICKET,
        opened_at=at,
        updated_at=at,
        period_start=at,
        period_end=at,
        impact=50.0,
    )


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    work = tmp_path_factory.mktemp("sign-in")
    rows = hourly_rows(48, cost=2.0, product="checkout") + hourly_rows(
        48, cost=3.0, product="search", billing_account="901"
    )
    write_csv(work / "export.csv", rows)
    assert run_cli(work, "ingest", "export.csv").returncode == 0
    with serving(work, SPENDSENTRY_API_TOKENS=TOKENS) as url:
        engine = make_engine(f"sqlite:///{work / 'var' / 'state.db'}")  # migrated by the server's start
        with engine.begin() as conn:
            for product in ("checkout", "search"):
                incident_store.save(conn, _incident(product), new=True)
        engine.dispose()
        yield url


def _audit(url: str) -> list[dict[str, Any]]:
    res = httpx.get(f"{url}/v1/audit", headers={"Authorization": f"Bearer {ADMIN}"}, timeout=30)
    res.raise_for_status()
    rows: list[dict[str, Any]] = res.json()
    return rows


@pytest.mark.slow
@needs_chromium
def test_sign_in_shows_the_slice_refuses_writes_without_csrf_and_signs_out(site: str, browser: Any) -> None:
    assert CHROMIUM is not None
    page = browser.new_page(viewport=LAPTOP)
    page.goto(f"{site}/ui/incidents/inc-checkout")
    assert "/ui/sign-in" in page.url  # no session: the page sends the browser to sign in first
    page.fill("input[name=token]", "not-a-token-of-anyone")
    page.click("form[data-role=sign-in] button")
    assert "Unknown or revoked token" in page.locator("[data-role=sign-in-error]").inner_text()
    page.fill("input[name=token]", CHECKOUT)
    page.click("form[data-role=sign-in] button")
    page.wait_for_url(f"{site}/ui/incidents/inc-checkout")
    assert page.locator("[data-role=signed-in-as]").inner_text() == "checkout-team"
    (cookie,) = [c for c in page.context.cookies() if c["name"] == "spendsentry_session"]
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
    assert page.evaluate("document.cookie") == ""  # HttpOnly: no script can read the session id

    # A write without the session's CSRF token is refused, one with it (the page's own button) goes through.
    refused = page.evaluate(
        """() => fetch("/v1/incidents/inc-checkout/feedback", {method: "POST",
             headers: {"Content-Type": "application/json"}, body: JSON.stringify({kind: "confirmed"})})
           .then(r => r.status)"""
    )
    assert refused == 403
    page.click("button[data-kind=confirmed]")
    page.wait_for_function(
        "document.querySelector('[data-role=feedback-state]').innerText.includes('confirmed')"
    )
    written = [r for r in _audit(site) if r["path"] == "/v1/incidents/{incident_id}/feedback"]
    assert [(r["token_name"], r["status"]) for r in written] == [
        ("checkout-team", 200),
        ("checkout-team", 403),
    ]

    # The session holds the token's slice: the other team's incident does not exist, its spend is not shown.
    other = page.goto(f"{site}/ui/incidents/inc-search")
    assert other is not None and other.status == 404
    page.goto(f"{site}/ui")
    assert "checkout" in page.content() and "search" not in page.content()

    page.click("form[data-role=sign-out] button")
    page.wait_for_url(f"{site}/ui/sign-in")
    assert not [c for c in page.context.cookies() if c["name"] == "spendsentry_session"]
    page.goto(f"{site}/ui")
    assert "/ui/sign-in" in page.url
    page.close()
