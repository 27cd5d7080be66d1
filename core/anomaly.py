"""The detector's verdict, as the alerts package consumes it: anomaly events and per-series evaluations.

Defined in ``core`` because ``detector`` produces these and ``alerts`` consumes them, and neither
package may import the other.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any, Literal

from core.types import Granularity

Direction = Literal["up", "down"]
# What found the event: the detector's score ("anomaly"), an excess that adds up under every period's band
# ("sustained"), or spend where there was none before ("new_spend": a series still in cold start).
AnomalyKind = Literal["anomaly", "sustained", "new_spend"]
HOURS_PER_MONTH = 730.0  # 365 × 24 / 12: what "a month" of a run rate means


@dataclass(frozen=True)
class CauseRef:
    """One root-cause element: dimension values it fixes and the $ it explains.

    ``usage_effect`` + ``price_effect`` = ``contribution`` (midpoint rule, ``detector.price_usage``);
    both are ``None`` and ``driver`` is ``unknown`` when the facts have no quantities.
    """

    dimensions: dict[str, str]
    actual: float
    expected: float
    contribution: float
    share: float
    usage_effect: float | None = None
    price_effect: float | None = None
    driver: str = "unknown"  # usage | price | mix | unknown
    usage_change_pct: float | None = None
    price_change_pct: float | None = None
    # The top cause's culprit resources by excess $ (resource_id, resource_name, resource_type, actual,
    # expected, excess), from the resource-day facts.
    resources: list[dict[str, Any]] = field(default_factory=list)
    # A readable name of a usage-type cause ("Amazon CloudFront: data transfer out"), from the export's
    # ChargeDescription without its price; None when the export describes none (the values name it).
    label: str | None = None


@dataclass(frozen=True)
class Anomaly:
    """An anomaly event: a run of unusual periods of one series, not a single point."""

    start: datetime  # first anomalous period (inclusive)
    end: datetime  # last anomalous period (inclusive)
    direction: Direction
    actual: float  # spend over the event
    expected: float  # baseline spend over the event
    impact: float  # actual - expected, in the series' currency
    impact_pct: float  # impact / expected * 100 (inf-safe: expected near 0 gives a capped value)
    anomaly_score: float  # in [0, 1]
    projected_month_impact: float = 0.0  # extra spend to the end of the month if it continues
    expected_trend: float | None = None  # the expected value split into trend and seasonal parts
    expected_seasonal: float | None = None
    completeness: float | None = None  # share of the newest period's data believed present
    root_causes: list[CauseRef] = field(default_factory=list)
    kind: AnomalyKind = "anomaly"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class WindowSpend:
    """Actual and expected spend over a trailing window that ends at the evaluation time."""

    hours: float
    actual: float
    expected: float

    @property
    def burn_rate(self) -> float:
        """Spend rate over expected rate (1.0 is normal); 0 expected with spend counts as very high."""
        if self.expected > 0:
            return self.actual / self.expected
        return float("inf") if self.actual > 0 else 1.0


@dataclass(frozen=True)
class LevelShift:
    """A lasting step in a series' spend: it has run above its baseline since ``since``, by ``ratio``.

    The sweep reads it from the newest periods (``detector.level_shift``); alerts keeps an incident open
    while it lasts and, once it has lasted long enough, learns it as the series' new normal.
    """

    since: datetime  # first period at the new level
    hours: float  # how long it has lasted, to the end of the newest judged period
    ratio: float  # actual / expected spend since ``since``
    month_impact: float  # the $ a month the new level adds over the baseline (HOURS_PER_MONTH of its rate)


@dataclass(frozen=True)
class SeriesEvaluation:
    """One sweep's verdict on one series at ``as_of``: what alerts turns into incidents."""

    product: str
    cost_line: str
    currency: str
    granularity: Granularity
    as_of: datetime
    anomalies: list[Anomaly]  # events still open at as_of, newest last
    in_band: bool  # the newest complete period is inside the expected band
    windows: list[WindowSpend] = field(default_factory=list)  # e.g. 6 h, 24 h, 72 h trailing windows
    month_to_date_actual: float = 0.0
    month_projection: float = 0.0  # projected month-end spend at the current rate
    scope: str = "default"  # the monitor scope, part of the incident fingerprint
    labels: dict[str, str] = field(default_factory=dict)  # e.g. team, env: used by routing
    level_shift: LevelShift | None = None  # a lasting step still going on at as_of (spend series only)
    # A monitor's series (core.monitors) other than product × cost line: the monitor's name and the fact
    # values it fixes, e.g. "account" and {"account": "123"}. None for product × cost line and unit costs.
    monitor: str | None = None
    dimensions: dict[str, str] = field(default_factory=dict)
