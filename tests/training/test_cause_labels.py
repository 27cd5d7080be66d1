"""Causes named by the export's descriptions: from ingestion, through the sweep's labels, to the summary line."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine

from alerts.burn_rate import BurnRatePolicy, classify_severity
from alerts.lifecycle import IncidentPolicy, advance
from alerts.notifiers.text import render_text
from alerts.summary import build_notification
from core.anomaly import CauseRef
from core.clock import FixedClock
from core.settings import Settings
from ingestion.ingest import Ingestor
from tests.alerts.factories import T0, evaluation
from tests.ingestion.focus_rows import row, write_csv
from training.cause_labels import label_of, with_labels

LABELS = {
    ("Amazon CloudFront", "cf-dto"): "Amazon CloudFront: data transfer out",
    ("", "cf-dto"): "Amazon CloudFront: data transfer out",
}


@pytest.mark.parametrize(
    ("dimensions", "label"),
    [
        ({"sku": "cf-dto"}, "Amazon CloudFront: data transfer out"),
        ({"service": "Amazon CloudFront", "sku": "cf-dto"}, "Amazon CloudFront: data transfer out"),
        # The cause's other values follow the name.
        (
            {"sku": "cf-dto", "region": "eu-west-1", "tag_team": "web"},
            "Amazon CloudFront: data transfer out (eu-west-1, web)",
        ),
        ({"service": "Amazon S3", "sku": "cf-dto"}, None),  # that service never described it
        ({"sku": "undescribed"}, None),
        ({"region": "eu-west-1"}, None),  # not a usage type
    ],
)
def test_a_usage_type_cause_is_named_by_its_description(
    dimensions: dict[str, str], label: str | None
) -> None:
    assert label_of(dimensions, LABELS) == label


def cause(dimensions: dict[str, str], contribution: float, driver: str = "usage", **split: float) -> CauseRef:
    return CauseRef(dimensions, 100.0 + contribution, 100.0, contribution, 0.5, driver=driver, **split)  # type: ignore[arg-type]


def test_the_summary_line_and_the_notification_name_causes_by_their_descriptions(
    tmp_path: Path, engine: Engine
) -> None:
    # A CDN's price rose mid-month: AWS priced descriptions, two prices, one name.
    rows = [
        row(
            cost=8.5,
            service="Amazon CloudFront",
            SkuId="cf-dto",
            ChargeDescription="$0.085 per GB - next 40 TB / month data transfer out",
        ),
        row(
            cost=21.0,
            service="Amazon CloudFront",
            SkuId="cf-dto",
            ChargeDescription="$0.210 per GB - next 40 TB / month data transfer out",
        ),
        row(
            cost=3.0,
            service="Amazon CloudFront",
            SkuId="cf-req",
            ChargeDescription="$0.0100 per 10,000 HTTPS Requests",
        ),
    ]
    settings = Settings(data_dir=tmp_path / "data", _env_file=None)  # type: ignore[call-arg]
    Ingestor(settings, engine, FixedClock(datetime(2026, 11, 1, tzinfo=UTC))).ingest_paths(
        [write_csv(tmp_path / "export.csv", rows)]
    )
    base = evaluation(T0 + timedelta(hours=2), burn=(2.0, 2.0), impact=800.0, cost_line="Amazon CloudFront")
    price = cause({"sku": "cf-dto"}, 600.0, "price", usage_change_pct=1.0, price_change_pct=147.0)
    requests = cause({"sku": "cf-req", "region": "us-east-1"}, 150.0)
    other = cause({"region": "eu-west-1"}, 50.0)
    [anomaly] = with_labels(
        settings, [dataclasses.replace(base.anomalies[0], root_causes=[price, requests, other])]
    )
    assert [c.label for c in anomaly.root_causes] == [
        "Amazon CloudFront: data transfer out",
        "Amazon CloudFront: HTTPS Requests (us-east-1)",
        None,
    ]

    def notify(causes: list[CauseRef]) -> tuple[str, dict[str, object], str]:
        ev = dataclasses.replace(base, anomalies=[dataclasses.replace(anomaly, root_causes=causes)])
        step = advance(
            None,
            ev,
            classify_severity(ev, BurnRatePolicy()),
            fingerprint="fp",
            new_id="i",
            policy=IncidentPolicy(),
        )
        assert step.state is not None
        n = build_notification(step.state, "open", seq=1, link="", labels={})
        return n.summary, n.details, render_text(n)

    summary, details, text = notify(anomaly.root_causes)
    assert "top cause Amazon CloudFront: data transfer out: +147% price, usage flat" in summary
    labels = [c["label"] for c in details["root_causes"]]  # type: ignore[attr-defined]
    assert labels == [
        "Amazon CloudFront: data transfer out",
        "Amazon CloudFront: HTTPS Requests (us-east-1)",
        "eu-west-1",
    ]  # a cause without a description keeps its values
    assert (
        "- Amazon CloudFront: HTTPS Requests (us-east-1) (sku=cf-req & region=us-east-1): 150.00 USD" in text
    )
    assert "- region=eu-west-1: 50.00 USD" in text
    # A usage cause on top: named by its description too, not sku=…; without one, by its pairs as before.
    summary, _, _ = notify(anomaly.root_causes[1:])
    assert "top cause Amazon CloudFront: HTTPS Requests (us-east-1) (150.00 USD)" in summary
    summary, _, _ = notify(anomaly.root_causes[2:])
    assert "top cause region=eu-west-1 (50.00 USD)" in summary
