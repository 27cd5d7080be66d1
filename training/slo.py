"""Cost SLOs: attribution coverage (the share of usage spend that has a product) against
``SPENDSENTRY_COVERAGE_SLO``, with error-budget burn alerts through the usual incident flow.

The error budget is the spend allowed to go unattributed, ``(100 - SLO)%`` of usage spend. Each window
reports the unattributed spend as its actual and the allowance as its expected, so ``burn_rate`` is the
SRE burn rate (1.0 = coverage exactly at the SLO) and the burn-rate policy decides ticket or page. While
the newest complete day is below the SLO, an event carries the unattributed $ beyond the allowance and
its root causes: which cost line, service, account or region lost its product tag.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pandas as pd

from core.anomaly import Anomaly, CauseRef, SeriesEvaluation, WindowSpend
from core.settings import Settings
from core.types import UNATTRIBUTED, Granularity
from detector.root_cause import rank_root_causes
from ingestion.fact_store import FactStore
from ingestion.focus_columns import USAGE
from training.unit_series import informative_dimensions

SCOPE = "slo:coverage"
COST_LINE = "(all)"
WINDOW_DAYS = (1, 3)  # the short window says it is still happening, the long one that it is material
REFERENCE_DAYS = 14  # each leaf's untagged share before the breach: what "normal" untagged spend is
BELOW = "coverage below SLO"
MET = "coverage within SLO"


@dataclass(frozen=True)
class CoverageDay:
    day: datetime
    currency: str
    spend: float
    attributed: float

    @property
    def pct(self) -> float:
        return 100.0 * self.attributed / self.spend if self.spend > 0 else 100.0


def _naive(at: datetime) -> pd.Timestamp:
    ts = pd.Timestamp(at)
    return ts.tz_convert("UTC").tz_localize(None) if ts.tzinfo else ts


def coverage_days(store: FactStore, *, end: datetime, days: int) -> list[CoverageDay]:
    """Daily coverage per currency over the complete days in the ``days`` before ``end``."""
    stop = _naive(end).floor("D")
    frame = store.query(
        """
        SELECT date_trunc('day', period_start) AS t, currency, sum(cost) AS spend,
               COALESCE(sum(cost) FILTER (WHERE product <> ?), 0) AS attributed
        FROM facts WHERE charge_category = ? AND period_start >= ? AND period_start < ?
        GROUP BY ALL ORDER BY ALL
        """,
        [UNATTRIBUTED, USAGE, (stop - pd.Timedelta(days=days)).to_pydatetime(), stop.to_pydatetime()],
    )
    records: list[dict[str, Any]] = frame.to_dict("records")  # type: ignore[assignment]
    return [
        CoverageDay(
            pd.Timestamp(r["t"]).to_pydatetime().replace(tzinfo=UTC),
            str(r["currency"]),
            float(r["spend"]),
            float(r["attributed"]),
        )
        for r in records
    ]


def evaluate_coverage(
    settings: Settings, store: FactStore, as_of: datetime, *, step: timedelta = timedelta(days=1)
) -> list[SeriesEvaluation]:
    """One evaluation per currency when ``COVERAGE_SLO`` is set (none otherwise)."""
    if settings.coverage_slo is None or not store.has_facts():
        return []
    slo = settings.coverage_slo
    allowed = (100.0 - slo) / 100.0
    days = coverage_days(store, end=as_of, days=REFERENCE_DAYS + max(WINDOW_DAYS))
    out = []
    for currency in sorted({d.currency for d in days}):
        series = [d for d in days if d.currency == currency]
        if not series:
            continue
        windows = []
        for n in WINDOW_DAYS:
            tail = series[-n:]
            spend = sum(d.spend for d in tail)
            windows.append(WindowSpend(24.0 * n, spend - sum(d.attributed for d in tail), allowed * spend))
        breach: list[CoverageDay] = []
        for d in reversed(series):  # the run of days below the SLO that reaches the newest day
            if d.pct >= slo:
                break
            breach.insert(0, d)
        anomalies = [_event(store, currency, breach, allowed, as_of)] if breach else []
        newest = series[-1]
        out.append(
            SeriesEvaluation(
                product=UNATTRIBUTED,
                cost_line=COST_LINE,
                currency=currency,
                granularity=Granularity.DAY,
                as_of=as_of,
                anomalies=anomalies,
                in_band=newest.pct >= slo,
                windows=windows,
                scope=SCOPE,
                labels={
                    "monitor": "slo",
                    "slo": "attribution_coverage",
                    "verdict": BELOW if breach else MET,
                    "coverage_pct": f"{newest.pct:.1f}",
                    "slo_target_pct": f"{slo:g}",
                },
            )
        )
    return out


def _event(
    store: FactStore, currency: str, breach: list[CoverageDay], allowed: float, as_of: datetime
) -> Anomaly:
    spend = sum(d.spend for d in breach)
    actual = spend - sum(d.attributed for d in breach)
    expected = allowed * spend
    impact = actual - expected
    start, end = breach[0].day, breach[-1].day
    return Anomaly(
        start=start,
        end=end,
        direction="up",
        actual=actual,
        expected=expected,
        impact=impact,
        impact_pct=100.0 * impact / expected if expected > 0 else 1e6,
        anomaly_score=1.0,
        root_causes=_causes(store, currency, start, end + timedelta(days=1)),
    )


def _causes(store: FactStore, currency: str, start: datetime, end: datetime) -> list[CauseRef]:
    """Where spend lost its product: every leaf's unattributed $ in the breach against what its own
    unattributed share before the breach implies, so leaves that were always untagged explain nothing."""
    dims = ["cost_line", *store.dimensions()]
    cols = ", ".join(f"COALESCE(CAST({d} AS VARCHAR), '(none)') AS {d}" for d in dims)
    begin = _naive(start).to_pydatetime()
    frame = store.query(
        f"""
        SELECT {cols},
               COALESCE(sum(cost) FILTER (WHERE period_start >= ? AND product = ?), 0) AS actual,
               COALESCE(sum(cost) FILTER (WHERE period_start >= ?), 0) AS spend_now,
               COALESCE(sum(cost) FILTER (WHERE period_start < ? AND product = ?), 0) AS untagged_before,
               COALESCE(sum(cost) FILTER (WHERE period_start < ?), 0) AS spend_before
        FROM facts WHERE charge_category = ? AND currency = ? AND period_start >= ? AND period_start < ?
        GROUP BY ALL
        """,
        [
            begin,
            UNATTRIBUTED,
            begin,
            begin,
            UNATTRIBUTED,
            begin,
            USAGE,
            currency,
            (_naive(start) - pd.Timedelta(days=REFERENCE_DAYS)).to_pydatetime(),
            _naive(end).to_pydatetime(),
        ],
    )
    if frame.empty or float(frame["actual"].sum()) <= 0:
        return []
    before = frame["spend_before"].where(frame["spend_before"] > 0)
    frame["expected"] = (frame["spend_now"] * frame["untagged_before"] / before).fillna(0.0)
    dims = informative_dimensions(frame, dims)
    result = rank_root_causes(frame[[*dims, "actual", "expected"]], dimensions=dims, top_k=5)
    return [CauseRef(c.dimensions, c.actual, c.expected, c.contribution, c.share) for c in result.root_causes]
