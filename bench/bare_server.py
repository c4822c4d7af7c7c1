"""The floor: a bare aiohttp handler that reads the body and returns a fixed JSON-RPC answer.

`POST /mcp` answers a small fixed result (the classic "hello world" floor). `POST /fixed/{name}` answers
the bytes registered with `PUT /fixed/{name}`: the benchmark registers exactly what the gateway answered
for a scenario, so the floor pays for the same response size (a 70 KB `tools/list` costs the socket
far more than a 50-byte answer) and nothing else. Whatever the gateway does beyond this (auth, parsing,
dispatch, logging, metrics) is its own cost.
"""

from __future__ import annotations

import asyncio

from aiohttp import web

from bench.child import listen_and_report

SMALL = b'{"jsonrpc":"2.0","id":1,"result":{"tools":[]}}'
ANSWERS = web.AppKey("answers", dict)


async def small(request: web.Request) -> web.Response:
    await request.read()
    return web.Response(body=SMALL, content_type="application/json")


async def fixed(request: web.Request) -> web.Response:
    await request.read()
    return web.Response(body=request.app[ANSWERS][request.match_info["name"]], content_type="application/json")


async def register(request: web.Request) -> web.Response:
    request.app[ANSWERS][request.match_info["name"]] = await request.read()
    return web.Response(status=204)


async def main() -> None:
    app = web.Application(client_max_size=16 * 1024 * 1024)
    app[ANSWERS] = {}
    app.router.add_post("/mcp", small)
    app.router.add_post("/fixed/{name}", fixed)
    app.router.add_put("/fixed/{name}", register)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    sock = listen_and_report()
    await web.SockSite(runner, sock).start()
    await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(main())
