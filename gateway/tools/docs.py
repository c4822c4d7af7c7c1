"""`search_docs`: answer questions about the StatusPal Next API from our own docs, without calling StatusPal.

The search runs in-process against the index the gateway keeps open (`search.lifecycle.DocsIndex`), so it costs
well under a millisecond and works even when the caller's key cannot reach StatusPal. The MCP request itself
is still authenticated by the transport like any other tool call.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from gateway.auth.scopes import READ
from gateway.observability.redaction import quotable, redact_text
from gateway.observability.tracing import span
from gateway.tools.base import Annotations, Tool, ToolContext, ToolError
from search.lifecycle import IndexNotReady

DEFAULT_LIMIT = 5
MAX_LIMIT = 20
# The query is echoed back (through quotable: a pasted key is not shown to the model again); a pasted page is
# not worth returning in full.
ECHO_MAX = 300

_HIT = {
    "type": "object",
    "properties": {
        "title": {"type": "string"},
        "section": {"type": "string", "description": "Heading trail."},
        "url": {"type": "string", "description": "Quote it when answering."},
        "snippet": {"type": "string", "description": "From the answering sentence; matched words **bold**."},
        "score": {"type": "number"},
    },
    "required": ["title", "section", "url", "snippet", "score"],
}

INPUT_SCHEMA = {
    "type": "object",
    "properties": {
        "query": {
            "type": "string",
            "minLength": 1,
            "description": (
                'Plain words, e.g. `rotate webhook secret`; "quotes" favour a phrase; no operators.'
            ),
        },
        "limit": {
            "type": "integer",
            "minimum": 1,
            "maximum": MAX_LIMIT,
            "default": DEFAULT_LIMIT,
            "description": "Sections to return, best first.",
        },
    },
    "required": ["query"],
    "additionalProperties": False,
}

OUTPUT_SCHEMA = {
    "type": "object",
    "properties": {
        "query": {"type": "string"},
        "results": {"type": "array", "items": _HIT},
        "message": {"type": "string", "description": "No match, spelling corrected or query shortened."},
    },
    "required": ["query", "results"],
}

DESCRIPTION = (
    "Search the StatusPal API docs for how-to and reference questions (keys, limits, errors, webhook signatures): "
    "best sections, each with a link and an excerpt that starts at the answering sentence or code line. Not for "
    "live data: use the list_/get_ tools. Never calls StatusPal. Knows synonyms and typos; if `message` says "
    "nothing matched, rephrase."
)


async def search_docs(ctx: ToolContext, arguments: Mapping[str, Any]) -> dict[str, Any]:
    query: str = arguments["query"]
    limit: int = arguments.get("limit", DEFAULT_LIMIT)
    if ctx.docs is None:
        raise ToolError("Docs search is not available on this server (no docs index is configured).")
    try:
        # The query is the user's own words: the span records how many hits came back, never what was asked.
        with span("docs.search", {"statuspal_mcp.search.limit": limit}) as current:
            results = ctx.docs.search(query, limit)
            if current is not None:
                current.set_attribute("statuspal_mcp.search.hits", len(results))
    except IndexNotReady:
        raise ToolError(
            "The docs index is not built yet, so docs search is unavailable; the server operator must run "
            "`statuspal-mcp build-index`. The other tools still work."
        ) from None
    structured: dict[str, Any] = {
        "query": quotable(query, ECHO_MAX + 1),
        "results": [hit.as_dict() for hit in results],
    }
    if results.message:
        structured["message"] = redact_text(results.message)  # it may quote words of the query
    return structured


# The toolsets of a surface URL that include these tools (`gateway.auth.surfaces.TOOLSETS`).
TOOLSETS = frozenset({"docs"})

TOOLS: tuple[Tool, ...] = (
    Tool(
        toolsets=TOOLSETS,
        name="search_docs",
        title="Search the StatusPal API docs",
        description=DESCRIPTION,
        input_schema=INPUT_SCHEMA,
        output_schema=OUTPUT_SCHEMA,
        annotations=Annotations(read_only=True, destructive=False, idempotent=True, open_world=False),
        handler=search_docs,
        scope=READ,
        needs_upstream=False,
    ),
)
