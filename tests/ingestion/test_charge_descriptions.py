"""Usage-type descriptions: ChargeDescription without its price and tier, kept per usage type at ingestion."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine

from core.clock import FixedClock
from core.settings import Settings
from ingestion.charge_descriptions import (
    cause_name,
    descriptions_dir,
    stable_description,
    usage_type_labels,
)
from ingestion.fact_store import FactStore
from ingestion.ingest import Ingestor
from tests.ingestion.focus_rows import row, write_csv

CLOCK = FixedClock(datetime(2026, 11, 1, tzinfo=UTC))


@pytest.mark.parametrize(
    ("text", "stable"),
    [
        # AWS: the price, what it is per, and the pricing tier lead; the tier changes with the price.
        ("$0.085 per GB - next 40 TB / month data transfer out", "data transfer out"),
        (
            "$0.090 per GB - first 10 TB / month data transfer out beyond the global free tier",
            "data transfer out",
        ),
        ("$0.050 per GB - over 150 TB / month data transfer out", "data transfer out"),
        ("$0.000 per GB - data transfer out under the monthly global free tier", "data transfer out"),
        (
            "€0.0952 per GB-month of General Purpose (gp3) provisioned storage - EU (Frankfurt)",
            "General Purpose (gp3) provisioned storage - EU (Frankfurt)",
        ),
        ("$0.023 per GB - first 50 TB / month of storage used", "storage used"),
        ("$1.624 per On Demand Linux g5.4xlarge Instance Hour", "On Demand Linux g5.4xlarge Instance Hour"),
        (
            "$0.40 per million Amazon SQS standard requests in Tier1 in US West (Oregon)",
            "Amazon SQS standard requests in Tier1 in US West (Oregon)",
        ),
        ("$0.004 per 10,000 GET and all other requests", "GET and all other requests"),
        (
            "USD 0.09 per GB for DataTransfer-Out-Bytes in EU (Stockholm)",
            "DataTransfer-Out-Bytes in EU (Stockholm)",
        ),
        (
            "USD0.0595 per GB-Mo for EBS:SnapshotUsage in Africa (Cape Town)",
            "EBS:SnapshotUsage in Africa (Cape Town)",
        ),
        ("0.12 EUR per GB - next 40 TB / month data transfer out", "data transfer out"),
        (
            "$0.30 per metric-month for the first 10,000 metrics - US West (Oregon)",
            "metric-month - US West (Oregon)",
        ),
        # Text that only looks like a tier or a price stays.
        (
            "First 1,000,000 Amazon SNS API Requests per month are free",
            "First 1,000,000 Amazon SNS API Requests per month are free",
        ),
        ("AWS Fargate - vCPU  - US West 2 (Oregon)", "AWS Fargate - vCPU - US West 2 (Oregon)"),
        # Azure (meter names) and GCP (SKU descriptions) carry no price; a tier range is dropped.
        ("Tables - LRS Data Stored", "Tables - LRS Data Stored"),
        (
            "Virtual Machines Dv2/DSv2 Series - D11 v2/DS11 v2 - US East 2",
            "Virtual Machines Dv2/DSv2 Series - D11 v2/DS11 v2 - US East 2",
        ),
        ("Standard Data Transfer Out (0-10 TB)", "Standard Data Transfer Out"),
        (
            "N1 Predefined Instance Core running in Americas",
            "N1 Predefined Instance Core running in Americas",
        ),
        (
            "Network Internet Egress from Americas to Americas",
            "Network Internet Egress from Americas to Americas",
        ),
        # Nothing left: no description.
        ("  ", None),
        (None, None),
    ],
)
def test_the_price_and_tier_are_stripped_from_a_description(text: str | None, stable: str | None) -> None:
    assert stable_description(text) == stable


def test_a_label_names_the_service_once() -> None:
    assert cause_name("Amazon CloudFront", "data transfer out") == "Amazon CloudFront: data transfer out"
    assert cause_name("Virtual Machines", "Virtual Machines Dv2 Series") == "Virtual Machines Dv2 Series"
    assert cause_name(None, "data transfer out") == "data transfer out"


def ingest(tmp_path: Path, engine: Engine, rows: list[dict[str, object]], **overrides: object) -> Settings:
    tmp_path.mkdir(parents=True, exist_ok=True)
    settings = Settings(data_dir=tmp_path / "data", _env_file=None, **overrides)  # type: ignore[call-arg]
    Ingestor(settings, engine, CLOCK).ingest_paths([write_csv(tmp_path / "x.csv", rows)], force=True)
    return settings


def test_each_usage_type_keeps_its_stable_descriptions_and_the_dearest_names_it(
    tmp_path: Path, engine: Engine
) -> None:
    cdn = {"service": "Amazon CloudFront", "SkuId": "cf-dto"}
    rows = [
        # The price rose mid-month: two priced texts, one stable description.
        row(cost=8.5, ChargeDescription="$0.085 per GB - next 40 TB / month data transfer out", **cdn),
        row(cost=20.0, ChargeDescription="$0.200 per GB - next 40 TB / month data transfer out", **cdn),
        row(
            cost=1.0,
            ChargeDescription="$0.010 per 10,000 HTTPS requests",
            service="Amazon CloudFront",
            SkuId="cf-req",
        ),
        row(cost=3.0, ChargeDescription="$0.34 per On Demand Linux c5.2xlarge Instance Hour", SkuId="c5"),
        row(cost=2.0, ChargeDescription="", SkuId="ebs"),  # no description: none kept
        row(cost=9.0, category="Tax", ChargeDescription="Tax for product code AmazonEC2", SkuId="tax"),
    ]
    settings = ingest(tmp_path, engine, rows)
    store = FactStore(descriptions_dir(settings.data_dir))
    kept = store.query("SELECT sku, description, cost FROM facts ORDER BY sku")
    assert [tuple(r) for r in kept.itertuples(index=False)] == [
        ("c5", "On Demand Linux c5.2xlarge Instance Hour", 3.0),
        ("cf-dto", "data transfer out", 28.5),
        ("cf-req", "HTTPS requests", 1.0),
    ]
    labels = usage_type_labels(store, ["cf-dto", "c5", "unknown"])
    assert labels[("Amazon CloudFront", "cf-dto")] == "Amazon CloudFront: data transfer out"
    assert labels[("", "cf-dto")] == "Amazon CloudFront: data transfer out"  # the cause fixes no service
    assert labels[("", "c5")] == "Amazon EC2: On Demand Linux c5.2xlarge Instance Hour"
    assert not any(sku == "unknown" for _, sku in labels)


def test_a_newer_export_replaces_the_descriptions_and_the_setting_turns_them_off(
    tmp_path: Path, engine: Engine
) -> None:
    old = [row(ChargeDescription="$0.085 per GB - data transfer out", SkuId="dto")]
    settings = ingest(tmp_path, engine, old)
    ingest(tmp_path, engine, [row(ChargeDescription="$0.09 per GB - egress to the internet", SkuId="dto")])
    store = FactStore(descriptions_dir(settings.data_dir))
    assert store.query("SELECT description FROM facts")["description"].tolist() == ["egress to the internet"]
    ingest(tmp_path, engine, [row(SkuId="dto")])  # no ChargeDescription column at all
    assert not store.has_facts()
    off = ingest(tmp_path / "off", engine, old, keep_descriptions=False)
    assert not FactStore(descriptions_dir(off.data_dir)).has_facts()
