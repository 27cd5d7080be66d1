"""Building and running the MCP server: ``spendsentry mcp`` serves it over stdio.

The token is checked once before serving (a missing or unknown one stops the command with exit 2, naming
``SPENDSENTRY_MCP_TOKEN``: an assistant's client shows the reason instead of a server that refuses
every call), then again on every tool call, as the HTTP API checks every request.
"""

from __future__ import annotations

import logging

from mcp.server.mcpserver import MCPServer

from api.mcp_server import incident_tools, series_tools, write_tools
from api.mcp_server.access import Access
from api.mcp_server.context import ToolContext
from core.clock import Clock, SystemClock
from core.db import make_engine, migrate
from core.settings import Settings
from ingestion.fact_store import FactStore

log = logging.getLogger(__name__)

INSTRUCTIONS = (
    "spendsentry watches cloud spend per product and cost line and opens incidents for anomalies, with "
    "root causes, $ impact and culprit resources. Start with list_incidents, then explain_incident; "
    "list_series, series_spend and score_series look at the spend itself. give_feedback and "
    "declare_expected_change change what alerts (they need a token with the write scope). Amounts are in "
    "each series' currency."
)


def tool_context(settings: Settings, clock: Clock | None = None) -> ToolContext:
    engine = make_engine(settings.database_url)
    migrate(engine)
    store = FactStore(
        settings.facts_dir, memory_limit=settings.duckdb_memory_limit, threads=settings.duckdb_threads
    )
    return ToolContext(
        settings, engine, clock or SystemClock(), store, Access.from_settings(settings, engine)
    )


def build_server(ctx: ToolContext) -> MCPServer:
    from importlib.metadata import PackageNotFoundError, version

    try:
        ours = version("spendsentry")
    except PackageNotFoundError:  # run from a source tree that was never installed
        ours = "0"
    server: MCPServer = MCPServer("spendsentry", version=ours, instructions=INSTRUCTIONS)
    incident_tools.register(server, ctx)
    series_tools.register(server, ctx)
    write_tools.register(server, ctx)
    return server


def serve_stdio(settings: Settings) -> int:
    """Check the token, then serve until the client closes stdin. ``InputError`` (exit 2) on a bad token."""
    ctx = tool_context(settings)
    principal = ctx.access.principal()
    if principal.source == "open":
        log.warning("no token exists anywhere: MCP access is open, as the HTTP API is (a local demo)")
    log.info("MCP server on stdio as %r (%s)", principal.name, ", ".join(sorted(principal.scopes)))
    build_server(ctx).run("stdio")
    return 0
