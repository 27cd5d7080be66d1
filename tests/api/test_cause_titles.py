"""The incident page names root causes as notifications do: a usage type's description label first,
its ``key=value`` pairs beside it; the pairs alone without one."""

from __future__ import annotations

from api.ui.series_queries import cause_bar


def test_a_described_cause_is_named_by_its_label_with_its_pairs() -> None:
    bar = cause_bar(
        {
            "dimensions": {"service": "Amazon CloudFront", "sku": "cf-dto"},
            "label": "Amazon CloudFront: data transfer out",
            "contribution": 900.0,
            "share": 0.9,
        }
    )
    assert bar.label == "Amazon CloudFront: data transfer out (service=Amazon CloudFront & sku=cf-dto)"
    assert bar.value == 900.0


def test_without_a_description_the_pairs_stand_alone() -> None:
    # Stored incidents carry no label (None) or the values alone; neither says more than the pairs.
    assert (
        cause_bar({"dimensions": {"sku": "cf-dto"}, "label": None, "contribution": 1.0}).label == "sku=cf-dto"
    )
    assert (
        cause_bar({"dimensions": {"sku": "cf-dto"}, "label": "cf-dto", "contribution": 1.0}).label
        == "sku=cf-dto"
    )
    assert cause_bar({"dimensions": {}, "contribution": 1.0}).label == "(whole series)"
