"""A scorecard as text: one row per injected change, one per trap, the false alerts and the criteria."""

from __future__ import annotations

from bench.incident_score import Alert, Outcome, Scorecard


def _periods(value: float | None, unit: str) -> str:
    return "-" if value is None else f"{value:+.0f} {unit}" if value else f"0 {unit}"


def _yes(value: bool | None) -> str:
    return "-" if value is None else "yes" if value else "**no**"


def _cause(alert: Alert) -> str:
    if not alert.root_causes:
        return "-"
    dims = alert.root_causes[0].get("dimensions", {})
    return " & ".join(f"{k}={v}" for k, v in dims.items()) or "-"


def _when(alerts: list[Alert]) -> str:
    firsts = sorted(a.notified_at for a in alerts if a.notified_at is not None)
    return ", ".join(f"{t:%m-%d %H:%M}" if t.hour else f"{t:%m-%d}" for t in firsts) or "-"


def outcome_rows(card: Scorecard) -> list[str]:
    unit = "d" if card.manifest.period_hours == 24 else "h"
    rows = [
        "| change | kind | product / cost line | expected | got | alerts | noticed (periods late) | "
        "top cause at first alert | cause named | resolved (periods after end) | new normal |",
        "|---|---|---|---|---|---:|---|---|---|---|---|",
    ]
    for o in card.outcomes:
        inj = o.injected
        first = min(o.notified, key=lambda a: a.notified_at or a.opened_at) if o.notified else None
        resolved = _yes(o.resolved)
        if o.resolve_periods is not None:
            resolved += f" ({o.resolve_periods:+.0f} {unit})"
        severity = o.got if o.got == inj.expected else f"**{o.got}**"
        alerts = str(len(o.notified)) if len(o.notified) <= 1 else f"**{len(o.notified)}**"
        notice = _yes(o.noticed) if o.notice_periods is None else f"{_periods(o.notice_periods, unit)}"
        rows.append(
            f"| {inj.id} | {inj.kind} | {inj.products[0]} / {', '.join(inj.cost_lines)} | {inj.expected}"
            f"{' → ' + inj.resolution if inj.resolution else ''} | {severity} | {alerts} | {notice} | "
            f"{_cause(first) if first else '-'} | {o.root_cause} | {resolved} | {_yes(o.new_normal)} |"
        )
    return rows


def trap_rows(card: Scorecard) -> list[str]:
    rows = [
        "| trap | lines | windows | pages | tickets | watched | when |",
        "|---|---|---:|---:|---:|---:|---|",
    ]
    for t in card.traps:
        inj = t.injected
        lines = ", ".join(inj.cost_lines) or "every line"
        pages = sum(1 for a in t.notified if a.severity == "page")
        tickets = sum(1 for a in t.notified if a.severity == "ticket")
        watched = len(t.alerts) - len(t.notified)
        rows.append(
            f"| {inj.id} | {', '.join(inj.products)} / {lines} | {len(inj.windows)} | {pages} | {tickets} | "
            f"{watched} | {_when(t.notified)} |"
        )
    return rows


def unexplained_rows(card: Scorecard) -> list[str]:
    if not card.unexplained:
        return ["No alert outside the injected changes and traps."]
    rows = ["| opened | severity | product / cost line | top cause |", "|---|---|---|---|"]
    for a in sorted(card.unexplained, key=lambda a: a.opened_at):
        rows.append(
            f"| {a.opened_at:%Y-%m-%d %H:%M} | {a.severity} | {a.product} / {a.cost_line} | {_cause(a)} |"
        )
    return rows


def criteria_rows(card: Scorecard) -> list[str]:
    rows = ["| criterion | met |", "|---|---|"]
    rows += [f"| {name} | {_yes(ok)} |" for name, ok in card.criteria().items()]
    median = card.median_notice
    unit = "days" if card.manifest.period_hours == 24 else "hours"
    rows += [
        "",
        f"False pages: {card.false_alerts('page')}; false tickets: {card.false_alerts('ticket')} "
        f"(on traps or on no change at all); incidents watched without notifying: {card.watched}; "
        f"median time to notice: {'-' if median is None else f'{median:g}'} {unit} after the first "
        "affected period closed.",
    ]
    return rows


def noticed(outcomes: list[Outcome]) -> str:
    return f"{sum(1 for o in outcomes if o.noticed)}/{len(outcomes)}"
