"""The MCP server card at `/.well-known/mcp/server-card.json`: what a registry or client can learn before it
connects (SEP-1649 draft shape): who the server is, where it listens and on which surfaces, how to
authenticate, and a summary of its tools.

It is built once at start-up from the same settings, catalogue and instructions the MCP endpoint serves, so it
cannot drift from what `initialize` and `tools/list` say. It is public: nothing in it depends on the caller,
and it names no secret (the catalogue and the OAuth endpoints are public already).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import orjson
from aiohttp import web

from gateway.auth.scopes import READ, WRITE
from gateway.auth.surfaces import url_forms
from gateway.protocol.dispatcher import CAPABILITIES, LATEST_HANDSHAKE_VERSION, SUPPORTED_VERSIONS, server_info
from gateway.tools.base import Tool
from gateway.tools.instructions import INSTRUCTIONS
from gateway.web.cors import CorsPolicy
from gateway.web.services import GATEWAY

if TYPE_CHECKING:
    from gateway.config import Settings

PATH = "/.well-known/mcp/server-card.json"
# Like the OAuth discovery documents: it only changes with a deploy or a new public URL.
_CACHE = "public, max-age=300"


@dataclass(frozen=True)
class Surface:
    """One URL an MCP client can connect to, and what it exposes there."""

    path: str
    description: str


# Every kind of surface the gateway serves, relative to the public URL, from the grammar itself.
SURFACES: tuple[Surface, ...] = tuple(Surface(path, what) for path, what in url_forms())


def server_card(settings: Settings, tools: Iterable[Tool]) -> dict[str, Any]:
    base = settings.server.public_url
    tools = tuple(tools)
    return {
        "version": "1.0",
        "protocolVersion": LATEST_HANDSHAKE_VERSION,
        "supportedProtocolVersions": list(SUPPORTED_VERSIONS),
        # initialize's serverInfo, less the website, which the card gives as documentationUrl.
        "serverInfo": {k: v for k, v in server_info(settings).items() if k != "websiteUrl"},
        "description": "Manage StatusPal status pages, services, regions, incidents, maintenance and webhooks, "
        "and search the StatusPal API docs.",
        "documentationUrl": settings.search.docs_base_url,
        "transport": {"type": "streamable-http", "endpoint": settings.server.resource_url},
        "surfaces": [{"url": base + s.path, "description": s.description} for s in SURFACES],
        "capabilities": CAPABILITIES,
        "authentication": {
            "required": True,
            "schemes": ["bearer", "oauth2"],
            "bearer": "A StatusPal Next API key (sk_…) in `Authorization: Bearer`, for clients that can send headers.",
            "oauth2": {
                "protectedResourceMetadata": settings.server.resource_metadata_url,
                "authorizationServer": base,
                "scopes": [READ, WRITE],
            },
        },
        "instructions": INSTRUCTIONS,
        "tools": {
            "count": len(tools),
            "readOnly": sum(1 for t in tools if t.annotations.read_only),
            "items": [
                {"name": t.name, "title": t.title, "readOnly": t.annotations.read_only, "scope": t.scope}
                for t in tools
            ],
        },
    }


def setup_routes(app: web.Application) -> None:
    gateway = app[GATEWAY]
    body = orjson.dumps(server_card(gateway.settings, gateway.catalogue.tools))

    async def card(request: web.Request) -> web.Response:
        return web.Response(body=body, content_type="application/json", headers={"Cache-Control": _CACHE})

    async def wrong_method(request: web.Request) -> web.Response:
        return web.json_response(
            {"error": "method_not_allowed", "error_description": f"{PATH} is a discovery document: use GET"},
            status=405, headers={"Allow": "GET, HEAD"},
        )

    # CORS like the other .well-known documents: browser-based clients fetch it before they connect.
    policy = CorsPolicy.from_settings(gateway.settings, methods=("GET", "HEAD"), allow_headers=("MCP-Protocol-Version", "Content-Type"))
    policy.route(app, PATH, GET=card, HEAD=card)
    app.router.add_route("*", PATH, wrong_method)
