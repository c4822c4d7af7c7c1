"""The MCP server card: fetched as a registry or a browser-based client would, before any connection."""

from __future__ import annotations

import aiohttp
import orjson
import pytest

from tests.conftest import DEMO_KEY, RunningServer
from tests.mcp_wire import post, request

ORIGIN = "http://registry.test:8000"
PATH = "/.well-known/mcp/server-card.json"


@pytest.fixture
async def gw(make_gateway, sandbox_admin) -> RunningServer:
    return await make_gateway(server={"cors_origins": (ORIGIN,)})


async def test_the_card_says_who_where_how_and_what_matching_the_live_server(gw: RunningServer) -> None:
    async with aiohttp.ClientSession() as http:
        async with http.get(gw.url + PATH) as answer:
            assert answer.status == 200 and answer.headers["Content-Type"].startswith("application/json")
            assert answer.headers["Cache-Control"] == "public, max-age=300"
            card = orjson.loads(await answer.read())
        initialized = (await post(http, gw.mcp_url, request("initialize", {
            "protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}))).result
        listed = (await post(http, gw.mcp_url, request("tools/list"), headers={"Authorization": f"Bearer {DEMO_KEY}"})).result
    assert card["serverInfo"]["name"] == initialized["serverInfo"]["name"] == "statuspal-mcp"
    assert card["serverInfo"]["version"] == initialized["serverInfo"]["version"]
    assert card["instructions"] == initialized["instructions"]
    # Both eras' capabilities; the handshake era adds logging, which 2026-07-28 removed.
    assert card["capabilities"] == {k: v for k, v in initialized["capabilities"].items() if k != "logging"}
    assert card["transport"] == {"type": "streamable-http", "endpoint": gw.mcp_url}
    assert [s["url"] for s in card["surfaces"]] == [gw.mcp_url]
    assert card["authentication"]["required"] is True
    assert card["authentication"]["oauth2"]["protectedResourceMetadata"] == gw.url + "/.well-known/oauth-protected-resource/mcp"
    tools = card["tools"]["items"]
    assert [t["name"] for t in tools] == [t["name"] for t in listed["tools"]]
    assert card["tools"]["count"] == len(tools)
    assert card["tools"]["readOnly"] == sum(t["annotations"]["readOnlyHint"] for t in listed["tools"])


async def test_head_cors_and_wrong_methods(gw: RunningServer) -> None:
    async with aiohttp.ClientSession() as http:
        async with http.head(gw.url + PATH) as answer:
            assert answer.status == 200
        async with http.get(gw.url + PATH, headers={"Origin": ORIGIN}) as answer:
            assert answer.headers["Access-Control-Allow-Origin"] == ORIGIN
        async with http.get(gw.url + PATH, headers={"Origin": "https://evil.example"}) as answer:
            assert "Access-Control-Allow-Origin" not in answer.headers
        async with http.options(gw.url + PATH, headers={"Origin": ORIGIN, "Access-Control-Request-Method": "GET"}) as answer:
            assert answer.status == 204 and answer.headers["Access-Control-Allow-Origin"] == ORIGIN
        async with http.post(gw.url + PATH, data=b"{}") as answer:
            assert answer.status == 405 and answer.headers["Allow"] == "GET, HEAD"
            assert (await answer.json())["error"] == "method_not_allowed"
        async with http.get(gw.url + "/.well-known/mcp/other.json") as answer:
            assert answer.status == 404
