"""Causal replay of one series: every point is scored by a model that saw only earlier points.

The replay does what the service does over time: it trains on the history known so far on a schedule
(by default once a day's worth of periods, as the daily training job does), forecasts the periods up to
the next training from that one fit, and scores each new point against that forecast. The score itself
only looks backwards (:mod:`detector.scoring`) and the post-rules never look ahead
(:mod:`detector.post_rules`), so changing a later point never changes an earlier verdict.

Two scores per row: ``anomaly_score`` is the signal the service alarms on — high where an alarm is raised
or escalated, 0 while an event that already raised one just goes on — and ``tail_score`` is the raw
evidence (how unusual the row is, high through a whole event). ``is_anomaly`` marks the alarms at the
service's threshold, see :data:`BACKTEST_CONFIG`. Benchmarks that count every row at or above a threshold
as a detection (NAB) read ``anomaly_score``.

Real exports are not always in time order (a clock reset steps back an hour; a retry repeats a row):
rows are scored in file order, one output row per input row, and the rows that step back or repeat are
named in :attr:`BacktestSummary.warnings`.

``backtest_csv`` is what ``spendsentry backtest FILE.csv --out OUT.csv`` calls.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from core.anomaly import Anomaly
from core.errors import InputError
from detector.detector import Detection, Detector, infer_step
from detector.post_rules import DetectorConfig, min_alert_span
from models.base import FORECAST_COLUMNS, Baseline

OUTPUT_COLUMNS: tuple[str, ...] = (
    "timestamp",
    "value",
    "expected",
    "lower",
    "upper",
    "anomaly_score",
    "is_anomaly",
    "tail_score",
)
BaselineFactory = Callable[[], Baseline]

# What a replay decides with unless told otherwise. It judges a metric, not a monitored spend line, so
# both directions alert. ``is_anomaly`` marks *alarms* (where one is raised or escalated), because an alarm
# is what a person acts on and what alerting benchmarks (NAB) score; the threshold is the service's.
BACKTEST_CONFIG = DetectorConfig(direction="both", alarm="onset")


def default_baseline() -> Baseline:
    from models.seasonal import BatchedSeasonalBaseline  # the batched robust model is the service default

    return BatchedSeasonalBaseline()


def default_refit_every(step: pd.Timedelta) -> int:
    """Periods between two trainings: the service retrains daily, so a day's worth (at least one)."""
    return max(int(pd.Timedelta(days=1) / step), 1)


@dataclass(frozen=True)
class BacktestSummary:
    """What a replay did: points read and scored, fits, anomalous points and the events."""

    points: int
    scored: int
    refits: int
    refit_every: int
    anomalous_points: int
    anomalies: list[Anomaly] = field(default_factory=list)
    out_path: Path | None = None
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "points": self.points,
            "scored": self.scored,
            "refits": self.refits,
            "refit_every": self.refit_every,
            "anomalous_points": self.anomalous_points,
            "anomalies": [a.to_dict() for a in self.anomalies],
            "out_path": None if self.out_path is None else str(self.out_path),
            "warnings": list(self.warnings),
        }

    def lines(self) -> list[str]:
        return [
            f"points read: {self.points}, scored: {self.scored}",
            f"refits: {self.refits} (every {self.refit_every} periods)",
            f"alarms (is_anomaly = 1): {self.anomalous_points}, anomaly events: {len(self.anomalies)}",
            *(
                f"  {a.start:%Y-%m-%d %H:%M} → {a.end:%Y-%m-%d %H:%M} {a.direction} "
                f"impact {a.impact:+.2f} ({a.impact_pct:+.1f}%) score {a.anomaly_score:.2f}"
                for a in self.anomalies[:20]
            ),
            *([f"  … and {len(self.anomalies) - 20} more"] if len(self.anomalies) > 20 else []),
            *([f"written to {self.out_path}"] if self.out_path else []),
        ]


def causal_forecast(
    y: pd.Series,
    *,
    refit_every: int,
    first_fit: int,
    max_history: int | None,
    make_baseline: BaselineFactory,
    min_span: pd.Timedelta | None = None,
) -> tuple[pd.DataFrame, np.ndarray, int]:
    """Forecast every point from a fit on earlier points only: ``(forecast, alerting_ready, fits)``."""
    n = len(y)
    index = pd.DatetimeIndex(y.index)
    forecast = pd.DataFrame(np.nan, index=index, columns=list(FORECAST_COLUMNS))
    ready = np.zeros(n, dtype=bool)
    fits = 0
    for cut, upto in _schedule(n, first_fit, refit_every):
        lo = 0 if max_history is None else max(0, cut - max_history)
        history = y.iloc[lo:cut]
        if history.notna().sum() < 2:
            continue
        model = make_baseline().fit(history)
        fits += 1
        chunk = index[cut:upto]
        forecast.iloc[cut:upto] = model.predict(chunk)[list(FORECAST_COLUMNS)].to_numpy()
        seen = pd.DatetimeIndex(history.dropna().index)
        # Alarms need the history span only, not the baseline's own readiness: a metric replayed here has no
        # product around it to say what a young series should look like, and the score's model-free views
        # (robust z, same-phase twins, range) judge a young series without the seasonal fit.
        ready[cut:upto] = min_span is None or (seen[-1] - seen[0]) >= min_span
    return forecast, ready, fits


def _schedule(n: int, first_fit: int, refit_every: int) -> list[tuple[int, int]]:
    """Fit cuts and the end of the stretch each fit forecasts.

    A new series is refitted each time its history doubles until it reaches the regular schedule, as a
    service that trains daily would see a young series grow: the first days are not left unscored.
    """
    cuts: list[int] = []
    cut = max(first_fit, 1)
    while cut < refit_every and cut < n:
        cuts.append(cut)
        cut *= 2
    cut = max(cut, refit_every) if cuts else cut
    while cut < n:
        cuts.append(cut)
        cut += refit_every
    return [(c, cuts[i + 1] if i + 1 < len(cuts) else n) for i, c in enumerate(cuts)]


def backtest_series(
    y: pd.Series,
    *,
    refit_every: int | None = None,
    first_fit: int | None = None,
    max_history: int | None = None,
    config: DetectorConfig | None = None,
    make_baseline: BaselineFactory | None = None,
) -> tuple[Detection, int, int]:
    """Replay ``y`` causally: ``(detection, fits, refit_every)``."""
    index = pd.DatetimeIndex(y.index)
    step = infer_step(index)
    every = refit_every or default_refit_every(step)
    if every < 1:
        raise InputError("refit_every", "must be at least 1")
    forecast, ready, fits = causal_forecast(
        y,
        refit_every=every,
        first_fit=first_fit if first_fit is not None else min(max(every, 2), 14),
        max_history=max_history,
        make_baseline=make_baseline or default_baseline,
        min_span=min_alert_span(step),
    )
    detector = Detector(config or BACKTEST_CONFIG)
    scored = detector.score(y, forecast, step=step)
    return detector.detect(scored, alerting_ready=ready, step=step), fits, every


def read_series_csv(path: Path, *, allow_duplicates: bool = True) -> pd.Series:
    """Read ``timestamp,value`` into a float series on a tz-naive UTC index; ``InputError`` if unusable.

    Rows stay in file order: a timestamp that repeats or steps back (a clock reset) is kept where it is
    and every row gets its own verdict (:func:`out_of_order_rows` names them). ``allow_duplicates=False``
    refuses repeated timestamps instead.
    """
    try:
        frame = pd.read_csv(path)
    except FileNotFoundError as exc:
        raise InputError("file", f"{path}: no such file") from exc
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise InputError("file", f"{path}: not a readable CSV ({exc})") from exc
    for column in ("timestamp", "value"):
        if column not in frame.columns:
            raise InputError(column, f"column missing in {path} (need timestamp,value)")
    if frame.empty:
        raise InputError("file", f"{path}: no rows")
    try:
        times = pd.DatetimeIndex(pd.to_datetime(frame["timestamp"], utc=True)).tz_localize(None)
    except (ValueError, TypeError) as exc:
        raise InputError("timestamp", f"not a timestamp: {exc}") from exc
    values = pd.to_numeric(frame["value"], errors="coerce")
    bad = values.isna() & frame["value"].notna()
    if bad.any():
        row = int(np.flatnonzero(bad.to_numpy())[0]) + 2  # 1-based, after the header
        raise InputError("value", f"line {row}: not a number: {frame['value'].iloc[row - 2]!r}")
    if np.isinf(values.to_numpy(dtype=np.float64)).any():
        raise InputError("value", "infinite value")
    if times.has_duplicates and not allow_duplicates:
        raise InputError("timestamp", f"duplicate timestamp {times[times.duplicated()][0]}")
    return pd.Series(values.to_numpy(dtype=np.float64), index=times, name="value")


def out_of_order_rows(times: pd.DatetimeIndex) -> list[str]:
    """One line per row (1-based file line, after the header) whose timestamp does not move forward."""
    stamps = np.asarray(times.as_unit("ns").asi8, dtype=np.int64)
    if stamps.size < 2:
        return []
    latest = np.maximum.accumulate(stamps)
    back = [int(i) + 1 for i in np.flatnonzero(stamps[1:] < latest[:-1])]
    same = [int(i) + 1 for i in np.flatnonzero(stamps[1:] == latest[:-1])]
    lines = [f"line {i + 2}: {times[i]} steps back before {pd.Timestamp(latest[i - 1])}" for i in back]
    lines += [f"line {i + 2}: {times[i]} repeats the previous timestamp" for i in same]
    return sorted(lines, key=lambda line: int(line.split(":", 1)[0].removeprefix("line ")))


def write_backtest_csv(detection: Detection, out_path: Path) -> None:
    points = detection.points
    out = pd.DataFrame(
        {
            "timestamp": pd.DatetimeIndex(points.index).strftime("%Y-%m-%d %H:%M:%S"),
            "value": points["value"].to_numpy(),
            "expected": points["expected"].to_numpy(),
            "lower": points["lower"].to_numpy(),
            "upper": points["upper"].to_numpy(),
            "anomaly_score": points["anomaly_score"].round(6).to_numpy(),
            "is_anomaly": points["is_anomaly"].astype(int).to_numpy(),
            "tail_score": points["tail_score"].round(6).to_numpy(),
        },
        columns=list(OUTPUT_COLUMNS),
    )
    out_path.parent.mkdir(parents=True, exist_ok=True)
    out.to_csv(out_path, index=False)


def backtest_csv(in_path: Path, out_path: Path, **options: Any) -> BacktestSummary:
    """``spendsentry backtest``: read ``in_path``, replay it causally, write the contract's columns.

    ``options`` are :func:`backtest_series`'s keywords (``refit_every``, ``max_history``, ``config``...).
    """
    y = read_series_csv(Path(in_path))
    warnings = out_of_order_rows(pd.DatetimeIndex(y.index))
    detection, fits, every = backtest_series(y, **options)
    write_backtest_csv(detection, Path(out_path))
    expected = detection.points["expected"].to_numpy(dtype=np.float64)
    return BacktestSummary(
        points=len(y),
        scored=int(np.isfinite(expected).sum()),
        refits=fits,
        refit_every=every,
        anomalous_points=int(detection.points["is_anomaly"].sum()),
        anomalies=detection.anomalies,
        out_path=Path(out_path),
        warnings=warnings,
    )
