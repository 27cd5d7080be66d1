"""Plain-text renderings of a notification for human receivers (tickets, comments, chat)."""

from __future__ import annotations

from typing import Any

from alerts.notification import Notification
from alerts.summary import cause_title

_HEADLINE = {"open": "Opened", "update": "Updated", "resolve": "Resolved"}


def money(value: Any, currency: str) -> str:
    try:
        return f"{float(value):,.2f} {currency}"
    except (TypeError, ValueError):
        return "n/a"


def render_text(n: Notification, *, markdown: bool = True) -> str:
    """A short report: headline, the numbers that matter, the root causes, the dashboard link."""
    d = n.details
    bullet = "- " if markdown else "• "
    lines = [
        f"{_HEADLINE[n.action]}: {n.summary}",
        "",
        f"{bullet}Product: {n.product}",
        f"{bullet}Cost line: {n.cost_line}",
        f"{bullet}Severity: {n.severity}",
        f"{bullet}Actual: {money(d.get('actual'), n.currency)}",
        f"{bullet}Expected: {money(d.get('expected'), n.currency)}",
        f"{bullet}Impact: {money(d.get('impact'), n.currency)}",
        f"{bullet}Projected month impact: {money(d.get('projected_month_impact'), n.currency)}",
    ]
    settled = d.get("new_normal")
    if isinstance(settled, dict):
        lines.append(
            f"{bullet}New normal: {float(settled['ratio']):.2f}x since {str(settled['since'])[:10]}, adding "
            f"{money(settled.get('month_impact'), n.currency)} a month (learned: it no longer alerts)"
        )
    burn = d.get("burn_rate")
    if isinstance(burn, int | float):
        lines.append(f"{bullet}Burn rate: {burn:.2f}x")
    causes = d.get("root_causes") or []
    if causes:
        lines += ["", "Root causes:"]
        for cause in causes[:10]:
            # A label from the export's descriptions leads; the pairs stay beside it, for filtering.
            line = f"{bullet}{cause_title(cause)}: {money(cause.get('contribution'), n.currency)}"
            usage, price = cause.get("usage_effect"), cause.get("price_effect")
            if isinstance(usage, int | float) and isinstance(price, int | float):
                line += (
                    f" (usage {money(usage, n.currency)}, price {money(price, n.currency)}:"
                    f" {cause.get('driver')})"
                )
            lines.append(line)
            for res in (cause.get("resources") or [])[:5]:
                what = " ".join(str(res[k]) for k in ("resource_name", "resource_type") if res.get(k))
                lines.append(
                    f"    - {res.get('resource_id')}{f' ({what})' if what else ''}: "
                    f"{money(res.get('excess'), n.currency)} over its baseline"
                )
    if n.link:
        lines += ["", f"Dashboard: {n.link}"]
    return "\n".join(lines)
