"""Write tools (``write`` scope): feedback on an incident, and declaring or listing expected changes.

They call ``alerts.feedback.record_feedback`` and ``alerts.expected_changes`` as
``POST /v1/incidents/{id}/feedback`` and ``POST /v1/expected-changes`` do, so a change made by an
assistant has the same effects (re-notification stops, periods stay out of training, a new normal is
learned, alerts are muted in the window). Each is recorded under the token's name unless one is given.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from mcp.server.mcpserver import MCPServer
from mcp.types import ToolAnnotations
from pydantic import Field

from alerts.expected_changes import create_expected_change
from alerts.expected_changes import list_expected_changes as query_expected_changes
from alerts.feedback import record_feedback
from api.mcp_server.context import ToolContext, author_of, cleaned

WRITES = ToolAnnotations(read_only_hint=False, destructive_hint=False, open_world_hint=False)
READ_ONLY = ToolAnnotations(read_only_hint=True, open_world_hint=False)

Author = Annotated[
    str | None, Field(max_length=200, description="who to record it as; default: the token's name")
]


def register(server: MCPServer, ctx: ToolContext) -> None:
    @server.tool(annotations=WRITES)
    def give_feedback(
        incident_id: Annotated[str, Field(min_length=1, max_length=64)],
        kind: Annotated[
            Literal["expected", "not_anomaly", "confirmed"],
            Field(
                description="expected: a known change (an open step becomes the new normal); "
                "not_anomaly: the model was wrong; confirmed: a real problem being handled"
            ),
        ],
        note: Annotated[str | None, Field(max_length=4000)] = None,
        author: Author = None,
    ) -> dict[str, Any]:
        """Record feedback on an incident. Any feedback stops re-notification; expected and
        not_anomaly also keep the incident's periods out of training. Needs the `write` scope."""
        with ctx.call("write") as principal:
            return cleaned(
                record_feedback(
                    ctx.engine,
                    ctx.clock,
                    incident_id,
                    kind,
                    note=note,
                    author=author_of(principal, author),
                    public_url=ctx.settings.public_url,
                )
            )

    @server.tool(annotations=WRITES)
    def declare_expected_change(
        name: Annotated[str, Field(min_length=1, max_length=200, description="e.g. 'EU migration'")],
        matchers: Annotated[
            list[str],
            Field(
                min_length=1,
                max_length=50,
                description='label matchers, as in routes: ["product=checkout", "cost_line=~Amazon.*"]',
            ),
        ],
        starts_at: Annotated[datetime, Field(description="ISO-8601 with a timezone offset")],
        ends_at: Annotated[datetime, Field(description="ISO-8601 with a timezone offset; after starts_at")],
        mute: Annotated[bool, Field(description="mute matching incidents while active")] = True,
        exclude_from_training: bool = True,
        created_by: Author = None,
    ) -> dict[str, Any]:
        """Declare a planned spend change (a migration, a load test, a launch): matching incidents
        are muted while it is active and its periods stay out of training. Needs the `write` scope."""
        with ctx.call("write") as principal:
            change = create_expected_change(
                ctx.engine,
                ctx.clock,
                name=name,
                matchers=matchers,
                starts_at=starts_at,
                ends_at=ends_at,
                mute=mute,
                exclude_from_training=exclude_from_training,
                created_by=author_of(principal, created_by),
            )
            return cleaned(change.to_dict())

    @server.tool(annotations=READ_ONLY)
    def list_expected_changes(
        active_at: Annotated[datetime | None, Field(description="only windows active then")] = None,
    ) -> dict[str, Any]:
        """The declared expected-change windows (all, or those active at a time)."""
        with ctx.call("read"):
            changes = query_expected_changes(ctx.engine, active_at=active_at)
            return cleaned({"expected_changes": [c.to_dict() for c in changes]})
