"""The real ``spendsentry`` CLI in a subprocess: ingest, series, rca, demo-data and the exit codes."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pandas as pd
import pytest

from tests.e2e.helpers import run_cli


def test_ingest_the_focus_sample_prints_the_report(shared_data: Path, tmp_path: Path) -> None:
    sample = shared_data / "focus" / "focus_1.0_sample_1000.csv"
    res = run_cli(tmp_path, "ingest", str(sample))
    assert res.returncode == 0, res.stderr
    out = res.stdout
    for needle in (
        "rows read: 1,000",
        "rows kept: 1,000",
        "usage spend kept (EffectiveCost):",
        "attribution coverage (USD):",
        "non-usage charges kept apart: Credit",
    ):
        assert needle in out
    again = run_cli(tmp_path, "ingest", "--json", str(sample))
    report = json.loads(again.stdout)
    assert report["partitions_written"] == 0 and report["partitions_unchanged"] > 0
    listed = json.loads(run_cli(tmp_path, "series", "--json").stdout)
    assert listed and {
        "product",
        "cost_line",
        "granularity",
        "first_period",
        "last_period",
        "points",
        "total_spend",
        "currency",
        "model_type",
        "trained_at",
        "monitor",
        "scope",
    } <= set(listed[0])
    # Product totals are watched by default: one series per product (and currency) beside its cost lines.
    totals = [r for r in listed if r["monitor"] == "product"]
    lines = [r for r in listed if r["monitor"] == "cost_line"]
    assert {(r["product"], r["currency"]) for r in totals} == {(r["product"], r["currency"]) for r in lines}
    for total in totals:
        mine = [r for r in lines if (r["product"], r["currency"]) == (total["product"], total["currency"])]
        assert total["total_spend"] == pytest.approx(sum(r["total_spend"] for r in mine), abs=0.05)
    (tmp_path / "monitors.yaml").write_text("monitors:\n  - name: acct\n    dimensions: [acount]\n")
    bad = run_cli(tmp_path, "series", SPENDSENTRY_MONITORS_FILE=str(tmp_path / "monitors.yaml"))
    assert bad.returncode == 2 and "monitors.yaml.monitors[0].dimensions[0]" in bad.stderr


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["ingest", "missing.csv"], "no such file or folder"),
        (["ingest", "notes.txt"], "unsupported file type"),
        (["ingest", "partial.csv"], "missing mandatory FOCUS columns: BillingAccountId, BillingCurrency"),
        (["rca", "leaves.csv", "--actual", "nope", "--expected", "e"], "nope: column not found"),
        (["series", "--bogus"], "unrecognized arguments"),
    ],
)
def test_bad_input_exits_2_with_one_line(tmp_path: Path, args: list[str], needle: str) -> None:
    (tmp_path / "notes.txt").write_text("hello")
    (tmp_path / "partial.csv").write_text("ChargePeriodStart,EffectiveCost\n2026-01-01,1\n")
    (tmp_path / "leaves.csv").write_text("region,a,e\neu,1,2\n")
    res = run_cli(tmp_path, *args)
    assert res.returncode == 2, (res.stdout, res.stderr)
    assert needle in res.stderr
    assert not (tmp_path / "var" / "facts").exists() or not list(
        (tmp_path / "var" / "facts").rglob("*.parquet")
    )


def test_rca_on_a_b0_instance_finds_the_injected_set(shared_data: Path, tmp_path: Path) -> None:
    setting = shared_data / "rca-b0" / "B_cuboid_layer_2_n_ele_1"
    truth = pd.read_csv(setting / "injection_info.csv")
    instance = sorted(setting.glob("*.csv.gz"))[0]
    stamp = int(instance.name.split(".")[0])
    (tmp_path / "leaf.csv").write_bytes(gzip.decompress(instance.read_bytes()))
    res = run_cli(tmp_path, "rca", "leaf.csv", "--actual", "real", "--expected", "predict", "--json")
    assert res.returncode == 0, res.stderr
    body = json.loads(res.stdout)
    expected = truth.loc[truth["timestamp"] == stamp, "set"].iloc[0]
    want = {frozenset(part.split("&")) for part in expected.split(";")}
    got = {frozenset(f"{k}={v}" for k, v in sel["dimensions"].items()) for sel in body["selected"]}
    assert got == want
    # The contract's keys, plus additive ones (the price/usage split: unknown without quantity columns).
    assert {"dimensions", "actual", "expected", "contribution", "share"} <= set(body["root_causes"][0])
    assert body["root_causes"][0]["driver"] == "unknown"


def test_demo_data_then_ingest(tmp_path: Path) -> None:
    res = run_cli(tmp_path, "demo-data", "export", "--days", "40")
    assert res.returncode == 0, res.stderr
    truth = json.loads((tmp_path / "export" / "truth.json").read_text())
    assert truth["incidents"]
    res = run_cli(tmp_path, "ingest", "export")
    assert res.returncode == 0, res.stderr
    assert "rows rejected: 0" in res.stdout


def test_backtest_scores_a_real_file_whose_clock_steps_back(shared_data: Path, tmp_path: Path) -> None:
    # A real NAB file whose clock stood still over a DST change (12 rows at 03:00): scored in file order,
    # one output row per input row, each repeated row named.
    source = shared_data / "nab" / "data" / "realAWSCloudwatch" / "ec2_network_in_5abac7.csv"
    out = tmp_path / "out.csv"
    res = run_cli(tmp_path, "backtest", str(source), "--out", str(out))
    assert res.returncode == 0, res.stderr
    assert "timestamps out of order, scored in file order" in res.stderr
    assert "line 2120: 2014-03-09 03:00:00 repeats the previous timestamp" in res.stderr
    written = pd.read_csv(out)
    read = pd.read_csv(source)
    assert len(written) == len(read)
    assert list(written.columns) == [
        "timestamp",
        "value",
        "expected",
        "lower",
        "upper",
        "anomaly_score",
        "is_anomaly",
        "tail_score",
    ]
    assert (pd.to_datetime(written["timestamp"]) == pd.to_datetime(read["timestamp"])).all()


@pytest.mark.parametrize(
    "args",
    [
        ("sweep", "--at", "2999-01-01T00:00:00"),
        ("train", "--at", "2999-01-01"),
        ("replay", "--start", "2026-01-01", "--end", "2999-01-01", "--every", "1d", "--dry-run"),
    ],
)
def test_times_in_the_future_exit_2_naming_the_flag(tmp_path: Path, args: tuple[str, ...]) -> None:
    res = run_cli(tmp_path, *args)
    flag = "--end" if args[0] == "replay" else "--at"
    assert res.returncode == 2, res.stderr
    assert res.stderr.strip().splitlines()[-1].startswith(f"spendsentry {args[0]}: {flag}: ")
    assert "in the future" in res.stderr
