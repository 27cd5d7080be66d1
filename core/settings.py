"""Settings from the environment (prefix ``SPENDSENTRY_``) and an optional ``.env`` file.

``get_settings()`` is cached so that every part of the process sees one object; tests build their own
``Settings(...)`` and pass it explicitly (or override the FastAPI dependency) instead of mutating it.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

CostBasis = Literal["EffectiveCost", "BilledCost", "ListCost", "ContractedCost"]


class Settings(BaseSettings):
    """Every knob of the service. Field names map to ``SPENDSENTRY_<NAME>`` variables."""

    model_config = SettingsConfigDict(
        env_prefix="SPENDSENTRY_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    database_url: str = "sqlite:///var/state.db"
    data_dir: Path = Path("var")
    model_dir: Path | None = None

    # Ingestion and attribution.
    cost_basis: CostBasis = "EffectiveCost"
    # NoDecode: a plain "a,b" in the environment is split by the validator below, not parsed as JSON.
    product_tag_keys: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: ["product", "application", "app"]
    )
    attribution_file: Path | None = None
    cost_line_column: str = "ServiceName"
    dimension_tag_keys: Annotated[list[str], NoDecode] = Field(default_factory=list)
    # Monitors beside product × cost line (core.monitors); without a file, product totals.
    monitors_file: Path | None = None
    duckdb_memory_limit: str = "1GB"
    # Facts keep each leaf's quantity and unit (to split a change into usage and unit price).
    keep_quantities: bool = True
    # A compact resource-day table beside the facts, to name the resources behind a root cause.
    keep_resources: bool = True
    # Resources kept by name per leaf-day (day × series × base dimensions); the rest is one "other" row.
    # 0 keeps every resource.
    resources_per_leaf_day: int = Field(default=10, ge=0)
    # Each usage type's ChargeDescription (price and tier stripped) beside the facts, to name root causes.
    keep_descriptions: bool = True
    duckdb_threads: int | None = None

    # Notifications (later issues use these; secrets stay SecretStr so they never print).
    pagerduty_routing_key: SecretStr | None = None
    pagerduty_url: str = "https://events.pagerduty.com/v2/enqueue"
    ticket_kind: Literal["jira", "github", "webhook"] | None = None
    ticket_url: str | None = None
    ticket_token: SecretStr | None = None
    ticket_project: str | None = None  # Jira project key (TICKET_KIND=jira)
    routes_file: Path | None = None
    budgets_file: Path | None = None
    # No silent failure: a notification given up for good opens a delivery incident notified to this
    # receiver (a name from the routes file, or `pagerduty` / `tickets` without one).
    delivery_fallback_receiver: str | None = None
    # A dead man's switch: this receiver hears from every successful sweep (webhook, slack, teams, email).
    heartbeat_receiver: str | None = None

    # Alert policy: burn-rate severity, incident lifecycle and re-notification.
    page_burn_factor: float = 3.0
    ticket_burn_factor: float = 1.5
    burn_long_hours: float = 24.0
    burn_short_hours: float = 6.0
    budget_page_share: float = 0.9
    budget_growth_factor: float = 1.2
    materiality_floor: float = 100.0
    # Ticket by money (under the rate rule): both windows above this factor and a projected month impact of
    # at least this many $ and this % of the product's monthly spend (0 switches either check off).
    sustained_burn_factor: float = Field(default=1.2, gt=1.0)
    ticket_month_impact: float = Field(default=1000.0, ge=0)
    ticket_month_impact_pct: float = Field(default=2.0, ge=0)
    # ... and early, by a detector event that has lasted this many hours and two periods at least, above the
    # sustained factor, whose excess rate crosses those thresholds over a month (0 switches it off).
    ticket_event_min_hours: float = Field(default=2.0, ge=0)
    # New spend (a series in cold start spending materially) pages at this % of its product's monthly spend.
    new_spend_page_pct: float = Field(default=25.0, gt=0)
    resolve_after_hours: float = 12.0
    # A lasting step is learned as the new normal (its incident resolves saying so) after this many hours;
    # 0 switches it off. At most 312 (13 days): hourly series are judged on their last 14 days.
    rebaseline_after_hours: float = Field(default=168.0, ge=0, le=312)
    renotify_impact_step: float = 1000.0
    renotify_impact_pct: float = 50.0
    # Quiet updates: impact growth re-notifies at most this often, unless the impact doubled (this %).
    renotify_min_interval_hours: float = Field(default=24.0, ge=0)
    renotify_urgent_pct: float = Field(default=100.0, gt=0)
    pagerduty_events_per_minute: float = 120.0

    # Unit economics and cost SLOs (issue 10). Severity is the burn-rate policy above applied to each
    # SLO's error-budget burn, so these monitors page and ticket by the same rules as spend.
    unit_cost_slo_pct: float = Field(default=20.0, gt=0)  # cost per unit may run this % above its baseline
    # `product:cost_line` (or `product:*`); NoDecode lets the validator split a plain comma list.
    unit_cost_lines: Annotated[list[str], NoDecode] = Field(default_factory=list)
    # % of usage spend that must have a product (e.g. 95); the coverage SLO is off when unset.
    coverage_slo: float | None = Field(default=None, gt=0, lt=100)
    api_tokens: SecretStr | None = None
    # The token `spendsentry mcp` acts with (one of API_TOKENS or from POST /v1/tokens); its scopes gate
    # the MCP tools. Unset: the MCP server starts only while the API is open (no token anywhere).
    mcp_token: SecretStr | None = None
    public_url: str = "http://127.0.0.1:8000"
    # Which pages stay open when tokens are configured (health and readiness always are).
    metrics_public: bool = False  # true: Prometheus scrapes /metrics without a token
    ui_public: bool = False  # true: the dashboard under /ui needs no token
    docs_public: bool = True  # false: /docs, /redoc and /openapi.json need a `read` token
    # A dashboard session (sign-in with a token) ends this long after it began.
    session_hours: float = Field(default=12.0, gt=0, le=24 * 30)
    # Fair use: requests per minute per token on /v1/score and writes (0 turns it off), and the burst.
    rate_limit_per_minute: float = Field(default=600.0, ge=0)
    rate_limit_burst: int = Field(default=120, ge=1)

    # Training and scheduling.
    dask_scheduler: str | None = None
    train_cron: str = "0 3 * * *"
    sweep_cron: str = "15 * * * *"
    log_format: Literal["text", "json"] = "text"
    lease_seconds: float = 60.0  # a replica that stops renewing loses its sweep/training lease after this

    # Demo: `make run` generates a demo export here when no data has been ingested yet.
    demo_days: int = 120

    # HTTP limits.
    max_body_bytes: int = 20 * 1024 * 1024
    max_spend_rows: int = 100_000
    max_rca_leaves: int = 1_000_000
    max_score_points: int = 20_000

    @field_validator("product_tag_keys", "dimension_tag_keys", "unit_cost_lines", mode="before")
    @classmethod
    def _split_csv(cls, value: object) -> object:
        # Environment variables are plain strings; accept "a,b" as well as JSON lists.
        if isinstance(value, str) and not value.strip().startswith("["):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @property
    def facts_dir(self) -> Path:
        return self.data_dir / "facts"

    @property
    def models_path(self) -> Path:
        return self.model_dir if self.model_dir is not None else self.data_dir / "models"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Return the process-wide settings, read once."""
    return Settings()
