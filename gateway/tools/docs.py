"""`search_docs`: answer questions about the StatusPal Next API from our own docs, without calling StatusPal.

The search runs in-process against the index the gateway keeps open (`search.lifecycle.DocsIndex`), so it costs
well under a millisecond and works even when the caller's key cannot reach StatusPal. The MCP request itself
is still authenticated by the dispatcher like any other tool call.
"""

from __future__ import annotations

from typing import Any, Mapping

from gateway.redaction import quotable, redact_text
from gateway.scopes import READ
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
        "title": {"type": "string", "description": "Title of the docs page."},
        "section": {"type": "string", "description": "Heading trail of the section, e.g. `Outgoing webhooks › The signing secret`."},
        "url": {"type": "string", "description": "Link to the section (page URL with the heading's anchor)."},
        "snippet": {"type": "string", "description": "Up to 300 characters of the section, matched words in **bold**."},
        "score": {"type": "number", "description": "Relevance; only meaningful to compare hits of one search."},
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
                "The question or keywords in plain words, e.g. `rotate a webhook signing secret` or `max per_page`. "
                'Put an exact phrase in double quotes to favour sections containing it. No operators: AND, OR, *, '
                "and field: are read as ordinary words. Only the first 1000 characters are used."
            ),
        },
        "limit": {
            "type": "integer",
            "minimum": 1,
            "maximum": MAX_LIMIT,
            "default": DEFAULT_LIMIT,
            "description": "How many sections to return, best first (1-20, default 5).",
        },
    },
    "required": ["query"],
    "additionalProperties": False,
}

OUTPUT_SCHEMA = {
    "type": "object",
    "properties": {
        "query": {"type": "string", "description": "The query as searched."},
        "results": {"type": "array", "items": _HIT},
        "message": {
            "type": "string",
            "description": "Present when something needs saying: no match, spelling corrected, query shortened.",
        },
    },
    "required": ["query", "results"],
}

DESCRIPTION = (
    "Search the StatusPal Next API documentation and return the best-matching sections, each with a link to the "
    "exact heading and a short highlighted excerpt. Use it to answer how-to and reference questions (authentication "
    "and API keys, pagination limits, error bodies, rate limits, which statuses or webhook events exist, how "
    "regions/containers or notices work, which endpoint a tool calls) or to check a field's meaning before a write. "
    "Do not use it to read live data: for the user's pages, services, incidents or webhooks call the list_/get_ "
    "tools. It never calls StatusPal and changes nothing. Matching understands word forms, common synonyms "
    "(outage→incident, region→container) and small typos; if `message` says nothing matched, rephrase with other "
    "words. Quote the returned `url` when answering so the user can read the full section."
)


async def search_docs(ctx: ToolContext, arguments: Mapping[str, Any]) -> dict[str, Any]:
    query: str = arguments["query"]
    limit: int = arguments.get("limit", DEFAULT_LIMIT)
    if ctx.docs is None:
        raise ToolError("Docs search is not available on this server (no docs index is configured).")
    try:
        results = ctx.docs.search(query, limit)
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


TOOLS: tuple[Tool, ...] = (
    Tool(
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
