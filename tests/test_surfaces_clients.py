"""Independent clients on every kind of surface: the TypeScript SDK's client and the Inspector CLI `--strict`.

Each must see exactly the tools the surface allows, with schemas it accepts (the page scope's narrowed ones
included), and meet the surface's refusals the way a user of that client would.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conformance.node import INSPECTOR, NODE_DIR, Completed, require, run_node
from tests.conftest import DEMO_KEY
from tests.mcp_wire import mcp_client

pytestmark = pytest.mark.node

TS_CLIENT = Path(__file__).parent / "conformance" / "ts_client.mjs"
SDK_DIR = NODE_DIR / "conformance-0.2" / "node_modules" / "@modelcontextprotocol" / "sdk"
PAGE = {"name": "Acme", "timezone": "Europe/Berlin", "website_url": "https://acme.example"}
# path -> the tools it must list (in catalogue order), checked against what the reference client sees.
SURFACES = ["/mcp", "/mcp/readonly", "/mcp/x/notices,docs", "/mcp/pages/acme", "/mcp/pages/acme/x/notices/readonly"]


async def ts_client(gateway, tmp_path, path: str, call: dict | None = None, key: str = DEMO_KEY, headers: dict | None = None) -> dict:
    require(SDK_DIR / "package.json")
    args = [gateway.url + path, key] + ([json.dumps(call)] if call is not None else [])
    env = {"MCP_SDK_DIR": str(SDK_DIR), "MCP_EXTRA_HEADERS": json.dumps(headers or {})}
    run = await run_node(TS_CLIENT, *args, home=tmp_path, env=env)
    return _json(run)


def _json(run: Completed) -> dict:
    assert run.returncode == 0, run.describe()
    try:
        return json.loads(run.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        pytest.fail(f"no JSON from the client:\n{run.describe()}")


async def reference_tools(url: str) -> list[str]:
    async with mcp_client(url, "2026-07-28") as client:
        return [t.name for t in (await client.list_tools()).tools]


@pytest.mark.parametrize("path", SURFACES)
async def test_the_typescript_client_sees_each_surface(gateway, tmp_path, path):
    seen = await ts_client(gateway, tmp_path, path)
    names = [t["name"] for t in seen["tools"]]
    assert names == await reference_tools(gateway.url + path)
    if "/pages/" in path:
        assert all("subdomain" not in t["properties"] for t in seen["tools"])
    if path.endswith("/readonly"):
        assert not {"create_incident", "delete_notice"} & set(names)


async def test_the_typescript_client_on_a_page_scope(gateway, tmp_path):
    async with mcp_client(gateway.mcp_url, "legacy") as client:
        for subdomain in ("acme", "other"):
            assert not (await client.call_tool("create_status_page", {**PAGE, "subdomain": subdomain})).is_error
    got = await ts_client(gateway, tmp_path, "/mcp/pages/acme", {"name": "get_status_page", "arguments": {}})
    assert got["call"].get("isError") is not True and got["call"]["structuredContent"]["subdomain"] == "acme"
    other = await ts_client(gateway, tmp_path, "/mcp/pages/acme", {"name": "get_status_page", "arguments": {"subdomain": "other"}})
    assert other["call"]["isError"] is True and "limited to status page 'acme'" in other["call"]["content"][0]["text"]
    absent = await ts_client(gateway, tmp_path, "/mcp/pages/acme/readonly", {"name": "update_status_page", "arguments": {"name": "X"}})
    assert absent["callError"]["code"] == -32602 and "changes data" in absent["callError"]["message"]
    # A header that tries to widen the URL, and an unknown toolset: the client cannot even connect, and says why.
    wider = await ts_client(gateway, tmp_path, "/mcp/x/docs", headers={"X-MCP-Toolsets": "docs,pages"})
    assert "may only narrow" in wider["connectError"]
    unknown = await ts_client(gateway, tmp_path, "/mcp/x/incidents")
    assert "unknown toolsets" in unknown["connectError"]


@pytest.mark.parametrize("path", SURFACES)
async def test_the_inspector_strict_lint_passes_on_each_surface(gateway, tmp_path, path):
    require(INSPECTOR)
    run = await run_node(
        INSPECTOR, "--cli", gateway.url + path, "--transport", "http", "--method", "tools/list",
        "--header", f"Authorization: Bearer {DEMO_KEY}", "--strict", home=tmp_path,
    )
    assert run.returncode == 0, f"Inspector --strict on {path}:\n{run.describe()}"
    names = [t["name"] for t in json.loads(run.stdout)["tools"]]
    assert names == await reference_tools(gateway.url + path)
