"""The comparison: the `mcp` SDK's own MCPServer, stateless JSON mode, served by uvicorn.

It offers the gateway's catalogue (same names, descriptions, input schemas and annotations, so
`tools/list` answers carry the same content) and a `search_docs` that runs the gateway's own handler
(`gateway.tools.docs.search_docs`) over a `DocsIndex` of the same index, result cache included, so a
local tool call costs both servers the same work and the answer has the same content; the difference is
the MCP machinery around it. Its tools list with the gateway's own output schemas too, so `tools/list` answers
the same tools the gateway lists. With `--upstream URL` (the sandbox's status page URL without the subdomain),
`get_status_page` is forwarded there with the caller's Authorization header through one pooled aiohttp session,
as bench/bare_server.py's `/forward` does, for the forwarded-call rows of `python -m bench.peers`.

Run as `python -m bench.sdk_server INDEX_DIR [--workers N] [--upstream URL]`. With N > 1 the listening socket is
bound first and N processes forked onto it (each builds its own server and event loop after the fork), as
uvicorn's own `--workers` does; the kernel hands each connection to whichever process accepts it first.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import socket
from collections.abc import Callable
from typing import Any

import aiohttp
import uvicorn
from mcp.server.mcpserver import Context, MCPServer
from mcp_types import ToolAnnotations

from bench.child import listen_and_report
from gateway.config import load_settings
from gateway.tools import docs as docs_tool
from gateway.tools.base import ToolContext
from gateway.tools.catalogue import build_catalogue
from search.lifecycle import DocsIndex


def build_server(index_dir: str, upstream: str | None = None) -> MCPServer:
    settings = load_settings()
    index = DocsIndex.open(index_dir, settings.search)
    server = MCPServer(name="statuspal-sdk-bench", log_level="WARNING")

    context = ToolContext(docs=index)

    async def search_docs(query: str, limit: int = 5) -> dict[str, Any]:
        return await docs_tool.search_docs(context, {"query": query, "limit": limit})

    http: list[aiohttp.ClientSession] = []  # made on first use, inside the serving event loop

    async def get_status_page(subdomain: str, ctx: Context) -> dict[str, Any]:
        if upstream is None:
            raise RuntimeError("started without --upstream")
        if not http:
            http.append(aiohttp.ClientSession())
        headers = {"Authorization": (ctx.headers or {}).get("authorization", ""), "Accept": "application/json"}
        async with http[0].get(f"{upstream.rstrip('/')}/{subdomain}", headers=headers) as response:
            response.raise_for_status()
            body: dict[str, Any] = await response.json()
            return body

    def not_benchmarked(**kwargs: Any) -> dict[str, Any]:
        raise RuntimeError("only listed, never called, by the benchmark")

    handlers: dict[str, Callable[..., Any]] = {"search_docs": search_docs, "get_status_page": get_status_page}
    for tool in build_catalogue().tools:
        server.add_tool(handlers.get(tool.name, not_benchmarked), name=tool.name, title=tool.title,
                        description=tool.description)
        registered = server._tool_manager.get_tool(tool.name)
        assert registered is not None, "add_tool just registered it"
        registered.parameters = dict(tool.input_schema)
        registered.fn_metadata.output_schema = dict(tool.output_schema)
        registered.annotations = ToolAnnotations.model_validate(tool.annotations.wire())
    return server


async def serve(index_dir: str, upstream: str | None, sock: socket.socket) -> None:
    app = build_server(index_dir, upstream).streamable_http_app(json_response=True, stateless_http=True)
    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="on")
    await uvicorn.Server(config).serve(sockets=[sock])


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.sdk_server")
    parser.add_argument("index_dir")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--upstream")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    sock = listen_and_report()
    if args.workers <= 1:
        asyncio.run(serve(args.index_dir, args.upstream, sock))
        return
    children = []
    for _ in range(args.workers):
        pid = os.fork()
        if pid == 0:
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            asyncio.run(serve(args.index_dir, args.upstream, sock))
            os._exit(0)
        children.append(pid)
    sock.close()

    def stop(signum: int, frame: object) -> None:
        for child in children:
            os.kill(child, signal.SIGTERM)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    for child in children:
        os.waitpid(child, 0)


if __name__ == "__main__":
    main()
