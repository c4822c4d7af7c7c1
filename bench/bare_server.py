"""The floors: bare aiohttp handlers that do the least a server must, so the gateway's own cost shows.

`POST /mcp` answers a small fixed result (the classic "hello world" floor). `POST /fixed/{name}` answers
the bytes registered with `PUT /fixed/{name}`: the benchmark registers exactly what the gateway answered
for a scenario, so the floor pays for the same response size (a 70 KB `tools/list` costs the socket
far more than a 50-byte answer) and nothing else. Whatever the gateway does beyond this (auth, parsing,
dispatch, logging, metrics) is its own cost.

`POST /forward` is the floor for a forwarded tool call: one GET to the upstream URL given on the command
line, through one pooled `aiohttp.ClientSession` with the caller's Authorization header, its body wrapped
in a JSON-RPC result. That is the hop any aiohttp gateway makes (a second server turn and a client
exchange on loopback), so the gap between this floor and calling the upstream directly is what the
machine charges for the hop itself, and the gap between the gateway and this floor is the gateway's.
"""

from __future__ import annotations

import asyncio
import sys

import aiohttp
from aiohttp import web

from bench.child import listen_and_report

SMALL = b'{"jsonrpc":"2.0","id":1,"result":{"tools":[]}}'
ANSWERS = web.AppKey("answers", dict)
UPSTREAM = web.AppKey("upstream", str)
SESSION = web.AppKey("session", aiohttp.ClientSession)


async def small(request: web.Request) -> web.Response:
    await request.read()
    return web.Response(body=SMALL, content_type="application/json")


async def fixed(request: web.Request) -> web.Response:
    await request.read()
    return web.Response(body=request.app[ANSWERS][request.match_info["name"]], content_type="application/json")


async def register(request: web.Request) -> web.Response:
    request.app[ANSWERS][request.match_info["name"]] = await request.read()
    return web.Response(status=204)


async def forward(request: web.Request) -> web.Response:
    await request.read()
    headers = {"Authorization": request.headers.get("Authorization", ""), "Accept": "application/json"}
    async with request.app[SESSION].get(request.app[UPSTREAM], headers=headers) as upstream:
        body = await upstream.read()
    return web.Response(body=b'{"jsonrpc":"2.0","id":1,"result":{"structuredContent":' + body + b"}}",
                        content_type="application/json")


async def main(upstream: str | None) -> None:
    app = web.Application(client_max_size=16 * 1024 * 1024)
    app[ANSWERS] = {}
    app.router.add_post("/mcp", small)
    app.router.add_post("/fixed/{name}", fixed)
    app.router.add_put("/fixed/{name}", register)
    async with aiohttp.ClientSession() as session:
        if upstream:
            app[UPSTREAM] = upstream
            app[SESSION] = session
            app.router.add_post("/forward", forward)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        sock = listen_and_report()
        await web.SockSite(runner, sock).start()
        await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1] if len(sys.argv) > 1 else None))
