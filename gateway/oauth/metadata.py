"""Discovery documents: RFC 9728 protected-resource metadata and RFC 8414 authorization-server metadata.

Both are fixed for the life of the process (they depend on `public_url` only), so they are serialised
once at start-up and every GET returns the same bytes.

Paths, deliberately:

- PRM at ``/.well-known/oauth-protected-resource/mcp`` (the path-inserted form clients try first) and at
  ``/.well-known/oauth-protected-resource`` (the root form older clients try). Both say ``resource`` is
  exactly ``<public_url>/mcp``: RFC 9728 §3.3 wants the identifier the client connected to, and the one
  MCP endpoint is ``/mcp`` (the 401 challenge names the path-inserted URL, so clients need not guess).
  The transport also answers ``/mcp/``, so the path-inserted form of *that* URL,
  ``/.well-known/oauth-protected-resource/mcp/``, serves the same document rather than a 404 that some
  clients loop on; its ``resource`` stays canonical (no slash), which is what the tokens' ``aud`` says.
- Every narrower surface (``/mcp/readonly``, ``/mcp/pages/acme/x/notices`` …) is its own protected resource,
  with its document at the path-inserted form of its URL (``/.well-known/oauth-protected-resource/mcp/readonly``)
  naming exactly that URL; a read-only surface offers only the read scope. These are built per request,
  since page names are unbounded; a path that names no surface is a JSON 404.
- AS metadata at ``/.well-known/oauth-authorization-server`` and ``/.well-known/openid-configuration``.
  The issuer is ``public_url`` with no path, so RFC 8414 puts its document at exactly that path; a
  path-suffixed probe such as ``/.well-known/oauth-authorization-server/mcp`` asks about an issuer
  ``<public_url>/mcp`` that does not exist and gets a JSON 404, so the client moves on to the right one.
- Any other ``/.well-known/*`` path, and the trailing-slash forms of the root documents, get a JSON 404,
  never an HTML page (Cursor choked on an SPA fallback's ``<``). Other methods than GET/HEAD get a JSON 405.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import orjson
from aiohttp import web

from gateway.auth.scopes import READ, SCOPES_SUPPORTED, WRITE
from gateway.auth.surfaces import FULL, Surface, SurfaceError, parse_path, resource_url
from gateway.oauth.errors import json_error
from gateway.web.cors import CorsPolicy

if TYPE_CHECKING:
    from gateway.config import Settings

PRM_PATHS = (
    "/.well-known/oauth-protected-resource",
    "/.well-known/oauth-protected-resource/mcp",
    "/.well-known/oauth-protected-resource/mcp/",
)
AS_PATHS = ("/.well-known/oauth-authorization-server", "/.well-known/openid-configuration")
# Discovery is cacheable for a short while: it only changes when the operator changes the public URL.
_CACHE = "public, max-age=300"
_CORS_HEADERS = ("MCP-Protocol-Version", "Content-Type", "Authorization")


def protected_resource(settings: Settings, surface: Surface = FULL) -> dict[str, Any]:
    server = settings.server
    return {
        "resource": resource_url(surface, server.public_url),
        "authorization_servers": [server.public_url],
        "scopes_supported": [READ] if surface.readonly else [READ, WRITE],
        "bearer_methods_supported": ["header"],
        "resource_name": "StatusPal MCP" if surface.is_full else f"StatusPal MCP ({surface.describe()})",
    }


def authorization_server(settings: Settings) -> dict[str, Any]:
    base = settings.server.public_url
    return {
        "issuer": base,
        "authorization_endpoint": f"{base}/authorize",
        "token_endpoint": f"{base}/token",
        "registration_endpoint": f"{base}/register",
        "revocation_endpoint": f"{base}/revoke",
        "scopes_supported": list(SCOPES_SUPPORTED),
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": ["authorization_code", "refresh_token"],
        "code_challenge_methods_supported": ["S256"],
        "token_endpoint_auth_methods_supported": ["none"],
        "revocation_endpoint_auth_methods_supported": ["none"],
        "client_id_metadata_document_supported": True,
        "authorization_response_iss_parameter_supported": True,
    }


def _document(body: bytes):
    async def handler(request: web.Request) -> web.Response:
        return web.Response(body=body, content_type="application/json", headers={"Cache-Control": _CACHE})

    return handler


def _surface_document(settings: Settings):
    prefix = len("/.well-known/oauth-protected-resource")

    async def handler(request: web.Request) -> web.Response:
        try:
            surface = parse_path(request.raw_path.partition("?")[0][prefix:])
        except SurfaceError as exc:
            return json_error(404, "not_found", f"No metadata document at {request.path}: {exc.message}")
        body = orjson.dumps(protected_resource(settings, surface))
        return web.Response(body=body, content_type="application/json", headers={"Cache-Control": _CACHE})

    return handler


async def _wrong_method(request: web.Request) -> web.Response:
    return json_error(405, "method_not_allowed", f"{request.path} is a metadata document: use GET", Allow="GET, HEAD")


async def _unknown(request: web.Request) -> web.Response:
    return json_error(404, "not_found", f"No metadata document at {request.path}")


def setup_routes(app: web.Application, settings: Settings) -> None:
    policy = CorsPolicy.from_settings(settings, methods=("GET", "HEAD"), allow_headers=_CORS_HEADERS)
    documents = {
        **{path: orjson.dumps(protected_resource(settings)) for path in PRM_PATHS},
        **{path: orjson.dumps(authorization_server(settings)) for path in AS_PATHS},
    }
    for path, body in documents.items():
        handler = _document(body)
        policy.route(app, path, GET=handler, HEAD=handler)
        app.router.add_route("*", path, _wrong_method)
    surface_document = _surface_document(settings)
    surfaces = "/.well-known/oauth-protected-resource/mcp/{surface:.+}"
    policy.route(app, surfaces, GET=surface_document, HEAD=surface_document)
    app.router.add_route("*", surfaces, _wrong_method)
    # The most specific resource wins in aiohttp's router, so this only sees paths nothing else serves.
    app.router.add_route("*", "/.well-known/{tail:.*}", policy.wrap(_unknown))
