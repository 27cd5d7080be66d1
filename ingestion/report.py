"""What an ingestion did: rows read and kept, spend per currency, coverage, rejects by reason."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class RejectClass:
    reason: str  # "<Column>: <why>"
    rows: int
    files: list[str]


@dataclass
class IngestReport:
    run_id: str
    files: list[str] = field(default_factory=list)
    rows_read: int = 0
    rows_kept: int = 0
    rejected: list[RejectClass] = field(default_factory=list)
    # currency -> usage spend kept, in the configured cost basis
    usage_spend: dict[str, float] = field(default_factory=dict)
    # currency -> {charge category -> spend}, for everything that is not Usage
    other_charges: dict[str, dict[str, float]] = field(default_factory=dict)
    # currency -> % of usage spend attributed to a product
    coverage_pct: dict[str, float] = field(default_factory=dict)
    cost_basis: str = "EffectiveCost"
    partitions_written: int = 0
    partitions_unchanged: int = 0
    partitions_skipped_older: list[str] = field(default_factory=list)
    rows_with_invalid_tags: int = 0
    rejects_file: str | None = None
    seconds: float = 0.0

    @property
    def rows_rejected(self) -> int:
        return sum(r.rows for r in self.rejected)

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["rows_rejected"] = self.rows_rejected
        return out

    def lines(self) -> list[str]:
        """The human summary the CLI prints."""
        out = [
            f"files: {len(self.files)}",
            f"rows read: {self.rows_read:,}",
            f"rows kept: {self.rows_kept:,}",
            f"rows rejected: {self.rows_rejected:,}",
        ]
        for cur, spend in sorted(self.usage_spend.items()):
            out.append(f"usage spend kept ({self.cost_basis}): {spend:,.2f} {cur}")
        for cur, pct in sorted(self.coverage_pct.items()):
            out.append(f"attribution coverage ({cur}): {pct:.1f}% of usage spend has a product")
        for cur, cats in sorted(self.other_charges.items()):
            for cat, spend in sorted(cats.items()):
                out.append(f"non-usage charges kept apart: {cat} {spend:,.2f} {cur}")
        for rej in self.rejected:
            out.append(f"rejected {rej.rows:,} rows: {rej.reason} (in {', '.join(rej.files)})")
        if self.rows_with_invalid_tags:
            out.append(f"warning: {self.rows_with_invalid_tags:,} rows have Tags that are not a JSON object")
        out.append(
            f"partitions: {self.partitions_written} written, {self.partitions_unchanged} unchanged"
            + (
                f", {len(self.partitions_skipped_older)} older than stored (skipped)"
                if self.partitions_skipped_older
                else ""
            )
        )
        if self.rejects_file:
            out.append(f"rejected rows written to {self.rejects_file}")
        return out
