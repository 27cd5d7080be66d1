"""The series page's notes on new normals: one line per rebaseline (``alerts.rebaseline``) of the series."""

from __future__ import annotations

from datetime import datetime

from alerts.rebaseline import Rebaseline, learned_by


def rebaseline_notes(records: list[Rebaseline], trained_at: datetime | None) -> list[str]:
    """One line per new normal of the series: level, since, $ a month, and whether the model learned it."""
    notes = []
    for r in records:
        learned = (
            "learned by the stored model"
            if trained_at is not None and learned_by(r, trained_at)
            else "the band is scaled until the next training learns it"
        )
        how = "feedback “expected”" if r.reason == "feedback" else "a step that lasted"
        notes.append(
            f"New normal since {r.since:%Y-%m-%d %H:%M} UTC: {r.ratio:.2f}× the old baseline, adding "
            f"{r.month_impact:,.2f} {r.currency} a month (from {how}; {learned})."
        )
    return notes
