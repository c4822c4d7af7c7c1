"""`list_audit_events`: what this caller's assistant changed on StatusPal, from the gateway's own audit trail.

Served only when `[audit] history` is on. It reads the events kept for the caller's own key (the store keys
history by key id, so no argument can name another key's), and on a page-scoped connection only that page's.
"""

from __future__ import annotations

from typing import Any

from gateway.tools.base import READ_ONLY, Tool, ToolContext, ToolError
from gateway.tools.schemas import obj

_EVENT = {"type": "object", "additionalProperties": True}
_LIMIT = {"type": "integer", "minimum": 1, "maximum": 50, "description": "Default 20; older kept writes only count in total_kept."}


async def _list(ctx: ToolContext, args: dict[str, Any]) -> dict[str, Any]:
    if ctx.audit_history is None:
        raise ToolError("The audit history is off on this gateway ([audit] history); ask its operator to turn it on.")
    # The key's history also holds its sign-ins and token grants; this tool answers what was changed.
    events = [e for e in await ctx.audit_history() if e.get("event") == "tool_write"]
    if ctx.page is not None:
        events = [e for e in events if (e.get("targets") or {}).get("page") == ctx.page]
    limit = args.get("limit", 20)
    return {"items": events[:limit], "total_kept": len(events)}


TOOL = Tool(
    toolsets=frozenset({"pages", "services", "containers", "notices", "webhooks"}),
    name="list_audit_events",
    title="List what was changed",
    description=(
        "List the writes made through this gateway with your own API key, newest first (kept 14 days, at most 200, "
        "by default): tool, time, assistant, page and record, how it was confirmed, and whether StatusPal "
        "applied all of it (applied, partly_applied with what was not, refused, failed, unknown). Reads the "
        "gateway's own record, not StatusPal; on a page URL only that page's. Changes made in StatusPal itself or "
        "with other keys: list_notices."
    ),
    input_schema=obj({"limit": _LIMIT}),
    output_schema=obj({"items": {"type": "array", "items": _EVENT}, "total_kept": {"type": "integer"}}, ("items", "total_kept")),
    annotations=READ_ONLY,
    handler=_list,
    needs_upstream=False,
)
