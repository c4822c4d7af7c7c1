"""The comparison: the `mcp` SDK's own MCPServer, stateless JSON mode, served by uvicorn.

It offers the gateway's catalogue (same names, descriptions, input schemas and annotations, so
`tools/list` answers carry the same content) and a `search_docs` that runs the gateway's own handler
(`gateway.tools.docs.search_docs`) over a `DocsIndex` of the same index, result cache included, so a
local tool call costs both servers the same work and the answer has the same content; the difference is
the MCP machinery around it. Run as `python -m bench.sdk_server INDEX_DIR`.
"""

from __future__ import annotations

import asyncio
import logging
import sys
from typing import Any

import uvicorn
from mcp.server.mcpserver import MCPServer
from mcp_types import ToolAnnotations

from bench.child import listen_and_report
from gateway.config import load_settings
from gateway.tools import docs as docs_tool
from gateway.tools.base import ToolContext
from gateway.tools.catalogue import build_catalogue
from search.lifecycle import DocsIndex


def build_server(index_dir: str) -> MCPServer:
    settings = load_settings()
    index = DocsIndex.open(index_dir, settings.search)
    server = MCPServer(name="statuspal-sdk-bench", log_level="WARNING")

    context = ToolContext(docs=index)

    async def search_docs(query: str, limit: int = 5) -> dict[str, Any]:
        return await docs_tool.search_docs(context, {"query": query, "limit": limit})

    def not_benchmarked(**kwargs: Any) -> dict[str, Any]:
        raise RuntimeError("only listed, never called, by the benchmark")

    for tool in build_catalogue().tools:
        fn = search_docs if tool.name == "search_docs" else not_benchmarked
        server.add_tool(fn, name=tool.name, title=tool.title, description=tool.description)
        registered = server._tool_manager.get_tool(tool.name)
        assert registered is not None, "add_tool just registered it"
        registered.parameters = dict(tool.input_schema)
        registered.annotations = ToolAnnotations.model_validate(tool.annotations.wire())
    return server


async def main(index_dir: str) -> None:
    app = build_server(index_dir).streamable_http_app(json_response=True, stateless_http=True)
    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="on")
    sock = listen_and_report()
    await uvicorn.Server(config).serve(sockets=[sock])


if __name__ == "__main__":
    logging.basicConfig(level=logging.WARNING)
    asyncio.run(main(sys.argv[1]))
