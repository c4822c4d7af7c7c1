"""A loopback proxy that adds credentials, so tools that cannot send them can test the gateway's /mcp.

The MCP conformance suite's `server` command has no option for an Authorization header, and every request to
our /mcp needs one. This proxy adds `Authorization: Bearer <key>` (unless the request already carries one) and
forwards everything else byte for byte: method, path and query, every header including Host, Origin and the MCP
headers, and the body. Answers are streamed back chunk by chunk, so SSE responses arrive as the gateway writes
them and a client that hangs up closes the upstream request too.

Host is deliberately passed through: the suite's dns-rebinding-protection scenario sends a foreign Host and Origin
and expects the gateway (not the proxy) to refuse them. The gateway must therefore allow the proxy's own address,
which is what the suite's legitimate requests carry (see `proxy_allowances`).
"""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import aiohttp
from aiohttp import web
from multidict import CIMultiDict
from yarl import URL

# Connection-level headers (RFC 9110 §7.6.1) belong to one hop and are never forwarded.
HOP_BY_HOP = frozenset(
    h.lower()
    for h in (
        "Connection", "Keep-Alive", "Proxy-Authenticate", "Proxy-Authorization", "TE", "Trailer",
        "Transfer-Encoding", "Upgrade", "Content-Length",
    )
)
# aiohttp's client adds these when absent; the proxy must not invent an Accept the suite did not send.
CLIENT_AUTO_HEADERS = ("Accept", "Accept-Encoding", "User-Agent", "Content-Type")
# Far above the gateway's own limit, so the gateway's 413 is what a client sees.
MAX_BODY = 64 * 1024 * 1024
UPSTREAM = web.AppKey("upstream", str)
SESSION = web.AppKey("session", aiohttp.ClientSession)
AUTHORIZATION = web.AppKey("authorization", str)


def proxy_allowances(sock: socket.socket) -> dict[str, tuple[str, ...]]:
    """`server` settings that let requests addressed to the proxy through the gateway's Host/Origin checks."""
    port = sock.getsockname()[1]
    hosts = (f"127.0.0.1:{port}", f"localhost:{port}")
    return {"allowed_hosts": hosts, "allowed_origins": tuple(f"http://{h}" for h in hosts)}


async def forward(request: web.Request) -> web.StreamResponse:
    headers = CIMultiDict((k, v) for k, v in request.headers.items() if k.lower() not in HOP_BY_HOP)
    headers.setdefault("Authorization", request.app[AUTHORIZATION])
    body = await request.read()
    url = URL(request.app[UPSTREAM] + request.raw_path, encoded=True)
    try:
        upstream = await request.app[SESSION].request(
            request.method,
            url,
            headers=headers,
            data=body if body or request.method not in ("GET", "HEAD", "DELETE") else None,
            skip_auto_headers=[h for h in CLIENT_AUTO_HEADERS if h not in headers],
            allow_redirects=False,
        )
    except aiohttp.ClientError as exc:
        return web.Response(status=502, text=f"proxy: gateway unreachable: {exc}")
    async with upstream:
        response = web.StreamResponse(status=upstream.status, reason=upstream.reason)
        for name, value in upstream.headers.items():
            if name.lower() not in HOP_BY_HOP:
                response.headers.add(name, value)
        if upstream.content_length is not None:
            response.content_length = upstream.content_length
        await response.prepare(request)
        async for chunk in upstream.content.iter_any():
            await response.write(chunk)
        await response.write_eof()
    return response


@asynccontextmanager
async def auth_proxy(sock: socket.socket, upstream_url: str, token: str) -> AsyncIterator[str]:
    """Serve the proxy on the pre-bound `sock`, forwarding to `upstream_url`; yields the proxy's base URL."""
    app = web.Application(client_max_size=MAX_BODY)
    app[UPSTREAM] = upstream_url.rstrip("/")
    app[AUTHORIZATION] = f"Bearer {token}"
    # auto_decompress off: the body goes back exactly as the gateway encoded it, with its Content-Encoding.
    async with aiohttp.ClientSession(auto_decompress=False, timeout=aiohttp.ClientTimeout(total=None)) as session:
        app[SESSION] = session
        app.router.add_route("*", "/{tail:.*}", forward)
        # handler_cancellation: when the client hangs up, the forwarding handler is cancelled at once, which
        # closes the upstream request (a GET /mcp SSE stream would otherwise idle until the next keep-alive).
        runner = web.AppRunner(app, access_log=None, handler_cancellation=True, shutdown_timeout=2)
        await runner.setup()
        await web.SockSite(runner, sock).start()
        host, port = sock.getsockname()[:2]
        try:
            yield f"http://{host}:{port}"
        finally:
            await runner.cleanup()
