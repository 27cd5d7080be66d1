"""Read tools on incidents: ``list_incidents`` (a compact page) and ``explain_incident`` (causes, $, resources).

Both read through ``alerts.incidents``, as ``GET /v1/incidents`` does. The explanation adds a plain-language
summary line for the assistant to quote, and leaves out what is noise to it (fingerprints, delivery
errors of notifications, which may quote a receiver's reply).
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Annotated, Any, Literal

from mcp.server.mcpserver import MCPServer
from mcp.types import ToolAnnotations
from pydantic import Field

from alerts.incidents import get_incident
from alerts.incidents import list_incidents as query_incidents
from alerts.summary import cause_details
from api.mcp_server.context import ToolContext, cleaned
from ingestion.fact_store import FactStore
from ingestion.resource_facts import resources_dir, top_resources

log = logging.getLogger(__name__)
READ_ONLY = ToolAnnotations(read_only_hint=True, open_world_hint=False)
MAX_HISTORY = 20
TOP_CAUSES = 5

IncidentId = Annotated[str, Field(min_length=1, max_length=64, description="the incident's id")]
Name = Annotated[str, Field(min_length=1, max_length=256)]


def _top_cause(view: dict[str, Any]) -> dict[str, Any] | None:
    causes = view.get("root_causes") or []
    if not causes:
        return None
    top = causes[0]
    return {
        "dimensions": top["dimensions"],
        "contribution": top.get("contribution"),
        "share": top.get("share"),
    }


def incident_row(view: dict[str, Any]) -> dict[str, Any]:
    """One line of ``list_incidents``: enough to pick the incident to explain."""
    keys = (
        "id",
        "product",
        "cost_line",
        "scope",
        "currency",
        "status",
        "severity",
        "peak_severity",
        "opened_at",
        "updated_at",
        "resolved_at",
        "period_start",
        "period_end",
        "actual",
        "expected",
        "impact",
        "burn_rate",
        "projected_month_impact",
        "feedback",
        "muted_by",
        "resolution",
    )
    return cleaned({**{k: view.get(k) for k in keys}, "top_cause": _top_cause(view)})


def _cause_text(cause: dict[str, Any], currency: str) -> str:
    dims = " & ".join(f"{k}={v}" for k, v in cause["dimensions"].items())
    share = cause.get("share")
    pct = f", {float(share):.0%} of the excess" if isinstance(share, int | float) else ""
    driver = cause.get("driver")
    why = f", driven by {driver}" if driver in ("usage", "price", "both") else ""
    return f"{dims} ({float(cause['contribution']):+,.2f} {currency}{pct}{why})"


def summary_text(view: dict[str, Any], causes: list[dict[str, Any]]) -> str:
    """One paragraph: what, when, how much, how bad, why, and which resources to look at first."""
    cur = view["currency"]
    expected = float(view["expected"] or 0.0)
    impact = float(view["impact"] or 0.0)
    pct = f" ({impact / expected:+.0%})" if expected > 0 else ""
    parts = [
        f"{view['product']} / {view['cost_line']} ({view['status']}): spent {float(view['actual']):,.2f} {cur} "
        f"against {expected:,.2f} expected, {impact:+,.2f} {cur}{pct}, "
        f"periods {str(view['period_start'])[:16]} to {str(view['period_end'])[:16]}.",
        f"Severity {view['severity']} (peak {view['peak_severity']})"
        + (f", burn rate {float(view['burn_rate']):.2f}x" if view.get("burn_rate") is not None else "")
        + (
            f", {float(view['projected_month_impact']):+,.2f} {cur} projected by month end if it goes on."
            if view.get("projected_month_impact")
            else "."
        ),
    ]
    if causes:
        parts.append("Root causes: " + "; ".join(_cause_text(c, cur) for c in causes[:3]) + ".")
        resources = causes[0].get("resources") or []
        if resources:
            parts.append(
                "Top resources: "
                + ", ".join(f"{r['resource_id']} ({float(r['excess']):+,.2f} {cur})" for r in resources[:3])
                + "."
            )
    else:
        parts.append("No root cause was found in the attributed dimensions.")
    if view.get("feedback"):
        parts.append(f"Feedback: {view['feedback']}.")
    if view.get("resolution"):
        parts.append(f"Resolved as: {view['resolution']}.")
    return " ".join(parts)


def _resources_now(ctx: ToolContext, view: dict[str, Any], top: dict[str, Any]) -> list[dict[str, Any]]:
    """Culprit resources for an incident whose sweep stored none (older incidents): read them now."""
    if not ctx.settings.keep_resources or view.get("scope") != "default" or float(top["contribution"]) <= 0:
        return []
    try:
        start = datetime.fromisoformat(str(view["period_start"]))
        end = datetime.fromisoformat(str(view["period_end"])) + timedelta(days=1)  # resource facts are daily
        store = FactStore(
            resources_dir(ctx.settings.data_dir),
            memory_limit=ctx.settings.duckdb_memory_limit,
            threads=ctx.settings.duckdb_threads,
        )
        series = (str(view["product"]), str(view["cost_line"]), str(view["currency"]))
        return [c.to_dict() for c in top_resources(store, series, top["dimensions"], start=start, end=end)]
    except Exception:  # the explanation stands without them, as a notification does
        log.exception("culprit resources unavailable for incident %s", view.get("id"))
        return []


def explain(ctx: ToolContext, incident_id: str) -> dict[str, Any]:
    view = get_incident(ctx.engine, incident_id)
    causes = [cause_details(c) for c in (view.get("root_causes") or [])[:TOP_CAUSES]]
    if causes and not causes[0]["resources"]:
        causes[0]["resources"] = _resources_now(ctx, view, causes[0])
    return cleaned(
        {
            **incident_row(view),
            "summary": summary_text(view, causes),
            "root_causes": causes,
            "reasons": view.get("reasons"),
            "labels": view.get("labels"),
            "level_shift": view.get("level_shift"),
            "linked_to": view.get("linked_to"),
            "linked": view.get("linked"),
            "history": view.get("history", [])[-MAX_HISTORY:],
            "feedback_history": view.get("feedback_history", []),
            "notifications": [
                {
                    k: n.get(k)
                    for k in ("receiver", "action", "status", "attempts", "created_at", "finished_at")
                }
                for n in view.get("notifications", [])
            ],
            "link": f"{ctx.settings.public_url.rstrip('/')}/incidents/{view['id']}",
        }
    )


def register(server: MCPServer, ctx: ToolContext) -> None:
    @server.tool(annotations=READ_ONLY)
    def list_incidents(
        status: Literal["open", "resolved"] | None = None,
        product: Name | None = None,
        cost_line: Name | None = None,
        severity: Annotated[
            Literal["page", "ticket", "none"] | None, Field(description="filters on the peak severity")
        ] = None,
        since: Annotated[
            datetime | None, Field(description="only incidents updated since (ISO-8601)")
        ] = None,
        limit: Annotated[int, Field(ge=1, le=200)] = 20,
        offset: Annotated[int, Field(ge=0)] = 0,
    ) -> dict[str, Any]:
        """Spend incidents, newest first: product, cost line, severity, $ impact, burn rate and top
        root cause. Use explain_incident with an id for the causes, the resources and the history."""
        with ctx.call("read"):
            views = query_incidents(
                ctx.engine,
                status=status,
                product=product,
                cost_line=cost_line,
                severity=severity,
                since=since,
                limit=limit,
                offset=offset,
            )
            return {"incidents": [incident_row(v) for v in views], "count": len(views), "offset": offset}

    @server.tool(annotations=READ_ONLY)
    def explain_incident(incident_id: IncidentId) -> dict[str, Any]:
        """Explain one incident: a summary to quote, actual vs expected spend, $ impact and month-end
        projection, root causes with their $ and usage/price split, the culprit resources of the top
        cause, its history, feedback and notifications, and its dashboard link."""
        with ctx.call("read"):
            return explain(ctx, incident_id)
