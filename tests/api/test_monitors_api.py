"""``GET /v1/monitors``: the configured monitors, how many series each tracks, and one monitor's series."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.ui.series_queries import find_monitor_series, series_view
from core.settings import Settings
from core.types import Granularity
from tests.ingestion.focus_rows import hourly_rows

MONITORS = """
monitors:
  - name: product
    dimensions: [product]
  - name: account
    dimensions: [account]
  - name: team
    dimensions: [tag:team]
"""


def monitored(tmp_path: Path) -> tuple[Settings, TestClient]:
    """An app watching the product, account and team monitors, with six hours of spend in two accounts
    (2.00 an hour in 111, 1.00 in 222 on another line)."""
    (tmp_path / "monitors.yaml").write_text(MONITORS)
    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 'state.db'}",
        data_dir=tmp_path / "data",
        monitors_file=tmp_path / "monitors.yaml",
        _env_file=None,  # type: ignore[call-arg]
    )
    return settings, TestClient(create_app(settings))


def post_spend(client: TestClient) -> None:
    rows = hourly_rows(6, cost=2.0, account="111") + hourly_rows(
        6, cost=1.0, account="222", service="Amazon S3"
    )
    assert client.post("/v1/spend", json={"rows": rows}).status_code == 200


def test_monitors_and_their_series_are_listed(tmp_path: Path) -> None:
    _, app_client = monitored(tmp_path)
    with app_client as client:
        post_spend(client)
        listed = {m["name"]: m for m in client.get("/v1/monitors").json()}
        assert list(listed) == ["cost_line", "product", "account", "team"]
        assert listed["cost_line"]["default"] and listed["cost_line"]["series"] == 2
        assert (listed["product"]["series"], listed["account"]["series"]) == (1, 2)
        # `team` is a tag the facts do not keep as a dimension: nothing tracked, and the reason given.
        assert listed["team"]["series"] == 0 and "DIMENSION_TAG_KEYS" in listed["team"]["note"]
        accounts = client.get("/v1/monitors/account/series").json()
        assert sorted((s["scope"], s["total_spend"]) for s in accounts) == [
            ("account:account=111", 12.0),
            ("account:account=222", 6.0),
        ]
        assert accounts[0]["dimensions"] == {"account": accounts[0]["scope"].rsplit("=", 1)[1]}
        assert client.get("/v1/monitors/nope/series").status_code == 404
        assert client.get("/v1/monitors/cost_line/series").status_code == 404


def test_a_monitor_series_has_its_own_chart_on_the_dashboard(tmp_path: Path) -> None:
    """A product total and an account are series of their own: their pages chart the summed spend
    (12 + 6 a period for the product, 12 for account 111 alone), and each line's page links its total."""
    settings, app_client = monitored(tmp_path)
    with app_client as client:
        post_spend(client)
        line = client.get("/v1/series").json()[0]
        page = client.get("/ui/series", params={"product": line["product"], "cost_line": line["cost_line"]})
        assert page.status_code == 200 and 'data-role="product-total"' in page.text
        total = client.get(
            "/ui/series",
            params={
                "product": line["product"],
                "cost_line": "(all)",
                "scope": "product",
                "granularity": "hour",
            },
        )
        assert total.status_code == 200, total.text
        assert "[product]" in total.text and 'data-role="monitor-series"' in total.text
        account = client.get(
            "/ui/series",
            params={
                "product": "(all)",
                "cost_line": "(all)",
                "scope": "account:account=111",
                "granularity": "hour",
            },
        )
        assert account.status_code == 200 and "[account:account=111]" in account.text
        # What they chart: the product total spends 3.00 an hour (2 + 1), account 111 alone 2.00.
        store = client.app.state.store  # type: ignore[attr-defined]
        engine = client.app.state.engine  # type: ignore[attr-defined]
        for scope, product, spend in (
            ("product", line["product"], 3.0),
            ("account:account=111", "(all)", 2.0),
        ):
            found = find_monitor_series(settings, store, scope, product, "(all)", None)
            assert found is not None, scope
            view = series_view(settings, engine, store, found.info, Granularity.HOUR, monitor=found)
            assert view.data.actual == pytest.approx([spend] * 6), scope
        missing = client.get("/ui/series", params={"product": "x", "cost_line": "(all)", "scope": "product"})
        assert missing.status_code == 404
