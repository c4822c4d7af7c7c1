"""Mounts the OAuth 2.1 authorization server: discovery, registration, the login page, tokens, revocation.

CORS (`gateway.web.cors`) is on the endpoints browser-based clients call with fetch: the discovery documents,
/register, /token and /revoke. Never on /authorize: it is a page the user's browser navigates to, and
letting another origin read it would hand that origin the CSRF token.
"""

from __future__ import annotations

from aiohttp import web

from gateway.oauth import authorize, metadata, registration, tokens
from gateway.web.cors import CorsPolicy
from gateway.web.services import GATEWAY

# Authorization is allowed so clients that send their bearer everywhere are not refused at preflight.
_API_HEADERS = ("Content-Type", "Authorization", "MCP-Protocol-Version")


def setup_routes(app: web.Application) -> None:
    settings = app[GATEWAY].settings

    metadata.setup_routes(app, settings)
    api = CorsPolicy.from_settings(settings, methods=("POST",), allow_headers=_API_HEADERS)
    api.route(app, "/register", POST=registration.register)
    api.route(app, "/token", POST=tokens.token_endpoint)
    api.route(app, "/revoke", POST=tokens.revoke_endpoint)
    app.router.add_get("/authorize", authorize.authorize_get, allow_head=False)
    app.router.add_post("/authorize", authorize.authorize_post)
