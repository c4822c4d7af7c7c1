"""The floor: a bare aiohttp handler that reads the body and returns a fixed JSON-RPC answer.

Whatever the gateway does beyond this (auth, parsing, dispatch, logging, metrics) is its own cost;
the benchmark reports the gateway as a fraction of this floor.
"""

from __future__ import annotations

import asyncio

from aiohttp import web

from bench.child import listen_and_report

ANSWER = b'{"jsonrpc":"2.0","id":1,"result":{"tools":[]}}'


async def handle(request: web.Request) -> web.Response:
    await request.read()
    return web.Response(body=ANSWER, content_type="application/json")


async def main() -> None:
    app = web.Application()
    app.router.add_post("/mcp", handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    sock = listen_and_report()
    await web.SockSite(runner, sock).start()
    await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(main())
