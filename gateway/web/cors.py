"""CORS for the endpoints browser-based MCP clients call: /mcp, the .well-known documents, /token, /register, /revoke.

Never for /authorize or the login form: those are pages, not APIs, and must not be readable cross-origin.
Only origins listed in ``server.cors_origins`` get CORS headers; credentials travel in the Authorization header,
never in cookies, so ``Access-Control-Allow-Credentials`` is not needed. A preflight is never authenticated:
browsers send it without the Authorization header, and a 401 there breaks the MCP Inspector.

Usage (one policy per group of routes)::

    policy = CorsPolicy.from_settings(settings, methods=("POST",), allow_headers=("Content-Type",))
    policy.route(app, "/token", POST=token_handler)
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from functools import wraps
from typing import TYPE_CHECKING, TypeGuard

from aiohttp import web

if TYPE_CHECKING:
    from gateway.config import Settings


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

PREFLIGHT_MAX_AGE = 600


def normalise_origin(value: str) -> str:
    """An origin as compared everywhere (CORS, the /mcp Origin check, the login form): scheme and host are
    case-insensitive, and a trailing slash some configurations carry is not part of an origin."""
    return value.strip().rstrip("/").lower()


@dataclass(frozen=True)
class CorsPolicy:
    origins: frozenset[str]
    methods: tuple[str, ...]
    allow_headers: tuple[str, ...] = ()
    expose_headers: tuple[str, ...] = ()

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        methods: Iterable[str],
        allow_headers: Iterable[str] = (),
        expose_headers: Iterable[str] = (),
    ) -> CorsPolicy:
        return cls(
            origins=frozenset(normalise_origin(o) for o in settings.server.cors_origins),
            methods=tuple(methods),
            allow_headers=tuple(allow_headers),
            expose_headers=tuple(expose_headers),
        )

    def allows(self, origin: str | None) -> TypeGuard[str]:
        return origin is not None and normalise_origin(origin) in self.origins

    def decorate(self, request: web.Request, response: web.StreamResponse) -> None:
        """Add the CORS headers an actual (non-preflight) response needs."""
        response.headers.add("Vary", "Origin")
        origin = request.headers.get("Origin")
        if self.allows(origin):
            response.headers["Access-Control-Allow-Origin"] = origin
            if self.expose_headers:
                response.headers["Access-Control-Expose-Headers"] = ", ".join(self.expose_headers)

    async def preflight(self, request: web.Request) -> web.Response:
        """Answer OPTIONS: 204 with the allowed methods and headers for a listed origin, 403 otherwise."""
        origin = request.headers.get("Origin")
        if not self.allows(origin):
            return web.Response(status=403, text="CORS: this origin is not allowed", headers={"Vary": "Origin"})
        return web.Response(
            status=204,
            headers={
                "Access-Control-Allow-Origin": origin,
                "Access-Control-Allow-Methods": ", ".join((*self.methods, "OPTIONS")),
                "Access-Control-Allow-Headers": ", ".join(self.allow_headers),
                "Access-Control-Max-Age": str(PREFLIGHT_MAX_AGE),
                "Vary": "Origin",
            },
        )

    def wrap(self, handler: Handler) -> Handler:
        """The handler, marked so that every answer it gives (errors and streams included) gets CORS headers."""

        @wraps(handler)
        async def with_cors(request: web.Request) -> web.StreamResponse:
            request[_POLICY] = self
            return await handler(request)

        return with_cors

    def route(self, app: web.Application, path: str, **handlers: Handler) -> None:
        """Register `handlers` (keyword = HTTP method) on `path`, each wrapped, plus the unauthenticated preflight."""
        if _decorate_marked not in app.on_response_prepare:
            app.on_response_prepare.append(_decorate_marked)
        for method, handler in handlers.items():
            app.router.add_route(method, path, self.wrap(handler))
        app.router.add_route("OPTIONS", path, self.preflight)


_POLICY = web.RequestKey("cors_policy", CorsPolicy)


async def _decorate_marked(request: web.Request, response: web.StreamResponse) -> None:
    """Runs just before any response's headers are sent, so raised HTTP errors and SSE streams are covered too."""
    policy = request.get(_POLICY)
    if policy is not None:
        policy.decorate(request, response)
