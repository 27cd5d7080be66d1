"""Causal replay: contract columns, scores in [0, 1], causality, refit schedule and bad files."""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar, Self

import numpy as np
import pandas as pd
import pytest

from core.errors import InputError
from detector.backtest import (
    BACKTEST_CONFIG,
    OUTPUT_COLUMNS,
    _schedule,
    backtest_csv,
    backtest_series,
    read_series_csv,
)
from detector.post_rules import DetectorConfig


def daily(n: int = 120, seed: int = 0) -> pd.Series:
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    v = 100 + 10 * np.sin(2 * np.pi * t / 7) + rng.normal(0, 1.5, n)
    return pd.Series(v, index=pd.date_range("2024-01-01", periods=n, freq="D"))


def write(y: pd.Series, path: Path) -> Path:
    pd.DataFrame({"timestamp": y.index.strftime("%Y-%m-%d"), "value": y.to_numpy()}).to_csv(path, index=False)
    return path


def test_csv_round_trip_has_the_contract_columns(tmp_path: Path) -> None:
    y = daily()
    y.iloc[100] += 80
    out = tmp_path / "out.csv"
    summary = backtest_csv(write(y, tmp_path / "in.csv"), out)
    frame = pd.read_csv(out)
    assert tuple(frame.columns) == OUTPUT_COLUMNS and len(frame) == len(y)
    assert frame["anomaly_score"].between(0, 1).all()
    assert set(frame["is_anomaly"].unique()) <= {0, 1}
    assert frame.loc[100, "is_anomaly"] == 1
    assert summary.points == 120 and summary.anomalous_points == int(frame["is_anomaly"].sum())
    assert summary.refits > 10
    assert frame["expected"].iloc[:2].isna().all()  # nothing is forecast before a first fit
    assert frame["is_anomaly"].iloc[:14].eq(0).all()  # no alert before two weekly cycles are seen


def test_a_point_is_not_changed_by_later_points() -> None:
    y = daily()
    changed = y.copy()
    changed.iloc[90:] *= 3.0
    a = backtest_series(y)[0].points
    b = backtest_series(changed)[0].points
    cols = ["expected", "lower", "upper", "anomaly_score", "is_anomaly"]
    pd.testing.assert_frame_equal(a.iloc[:90][cols], b.iloc[:90][cols])
    assert not a.iloc[90:][cols].equals(b.iloc[90:][cols])


class Recorder:
    """Test double: predicts the mean of what it was fitted on and records the history lengths."""

    seen: ClassVar[list[int]] = []

    def fit(self, y: pd.Series) -> Self:
        Recorder.seen.append(len(y))
        self.level_ = float(y.mean())
        return self

    def predict(self, index: pd.DatetimeIndex) -> pd.DataFrame:
        n = len(index)
        return pd.DataFrame(
            {
                "expected": self.level_,
                "lower": self.level_ - 1,
                "upper": self.level_ + 1,
                "trend": self.level_,
                "seasonal": np.zeros(n),
            },
            index=index,
        )

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        return {}


def test_each_fit_sees_only_the_history_before_its_chunk() -> None:
    Recorder.seen = []
    backtest_series(daily(40), refit_every=7, first_fit=3, make_baseline=Recorder)
    assert Recorder.seen == [3, 6, 12, 19, 26, 33]


def test_schedule_doubles_then_follows_the_refit_period() -> None:
    assert _schedule(100, 10, 24) == [(10, 20), (20, 40), (40, 64), (64, 88), (88, 100)]


@pytest.mark.parametrize(
    ("content", "field"),
    [
        ("time,value\n2024-01-01,1\n", "timestamp"),
        ("timestamp,amount\n2024-01-01,1\n", "value"),
        ("timestamp,value\n2024-01-01,1\n2024-01-02,abc\n", "value"),
        ("timestamp,value\nnot a date,1\n", "timestamp"),
        ("timestamp,value\n", "file"),
    ],
)
def test_bad_files_raise_input_error_naming_the_field(tmp_path: Path, content: str, field: str) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(content)
    with pytest.raises(InputError) as err:
        read_series_csv(path)
    assert err.value.field == field


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(InputError):
        backtest_csv(tmp_path / "nope.csv", tmp_path / "out.csv")


def test_repeated_timestamps_each_get_a_verdict(tmp_path: Path) -> None:
    path = tmp_path / "dup.csv"
    path.write_text("timestamp,value\n2024-01-01,1\n2024-01-02,1\n2024-01-02,1\n2024-01-03,1\n")
    assert len(read_series_csv(path)) == 4
    with pytest.raises(InputError):
        read_series_csv(path, allow_duplicates=False)


def test_timestamps_that_step_back_are_scored_in_file_order_with_a_warning(tmp_path: Path) -> None:
    y = daily()
    stamps = list(y.index.strftime("%Y-%m-%d %H:%M:%S"))
    stamps[60] = stamps[58]  # a clock reset: line 62 steps back two days
    stamps[80] = stamps[79]  # and line 82 repeats the one before it
    path = tmp_path / "reset.csv"
    pd.DataFrame({"timestamp": stamps, "value": y.to_numpy()}).to_csv(path, index=False)
    out = tmp_path / "out.csv"
    summary = backtest_csv(path, out)
    frame = pd.read_csv(out)
    assert len(frame) == len(y) and frame["timestamp"].tolist() == stamps  # one row per input row
    assert [w.split(":")[0] for w in summary.warnings] == ["line 62", "line 82"]
    assert "steps back" in summary.warnings[0] and "repeats" in summary.warnings[1]
    assert frame["anomaly_score"].notna().all() and frame["tail_score"].notna().all()


def test_anomaly_score_is_low_while_an_event_just_goes_on(tmp_path: Path) -> None:
    y = daily()
    y.iloc[90:96] += 80  # a six-day incident
    out = tmp_path / "out.csv"
    backtest_csv(write(y, tmp_path / "in.csv"), out)
    frame = pd.read_csv(out)
    event = frame.iloc[90:96]
    assert (event["tail_score"] >= 0.5).all()  # the evidence is high all along ...
    assert event["anomaly_score"].iloc[0] >= 0.5  # ... the alarm is raised on the first day ...
    tail = frame["tail_score"].to_numpy()
    for i in range(91, 96):  # ... and after it only where the evidence tops the last two days
        raised = frame["anomaly_score"].iloc[i] > 0
        assert raised == (tail[i] > tail[i - 2 : i].max()), i
    assert (event["anomaly_score"].iloc[1:] == 0).any()
    assert (frame["anomaly_score"] <= frame["tail_score"] + 1e-9).all()


def test_backtest_writes_one_alarm_per_incident_by_default(tmp_path: Path) -> None:
    y = daily()
    y.iloc[90:96] += 80  # a six-day incident
    out = tmp_path / "out.csv"
    backtest_csv(write(y, tmp_path / "in.csv"), out)
    frame = pd.read_csv(out)
    assert BACKTEST_CONFIG.alarm == "onset"
    incident = frame.iloc[90:96]
    assert incident["is_anomaly"].iloc[0] == 1 and frame["is_anomaly"].iloc[80:90].eq(0).all()
    # After the first, an alarm within the incident is an escalation: stronger than every one before it.
    alarmed = incident.loc[incident["is_anomaly"] == 1, "anomaly_score"].to_numpy()
    assert (np.diff(alarmed) > 0).all() and incident["is_anomaly"].sum() < len(incident)
    onset, _, _ = backtest_series(y)
    every_row, _, _ = backtest_series(
        y, config=DetectorConfig(direction="both", threshold=BACKTEST_CONFIG.threshold)
    )
    # Same decisions, different marking: the alarms are a subset of the flagged periods.
    assert every_row.points["is_anomaly"].tolist() == onset.points["flagged"].tolist()
    assert not (onset.points["is_anomaly"] & ~onset.points["flagged"]).any()
