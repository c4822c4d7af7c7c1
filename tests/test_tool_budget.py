"""tools/list stays within the byte budget kept in tests/tool_budget.toml, per tool and per surface.

Sizes are measured on what a real gateway sends: a tools/list over HTTP, each tool re-serialised exactly as it
arrived. The table (bytes, estimated tokens, budget) is printed so a run shows what each tool costs.
"""

from __future__ import annotations

import aiohttp
import pytest

from tests.mcp_wire import post, request
from tests.tool_budget import FULL_SURFACE_CAP, Budget, over_budget, report, surface_size, tool_sizes


@pytest.fixture
async def http():
    async with aiohttp.ClientSession() as session:
        yield session


async def listed_tools(http, mcp_url: str) -> list[dict]:
    tools: list[dict] = []
    cursor = None
    while True:
        answer = (await post(http, mcp_url, request("tools/list", {"cursor": cursor} if cursor else {}))).result
        tools += answer["tools"]
        cursor = answer.get("nextCursor")
        if cursor is None:
            return tools


async def test_tools_list_fits_the_budget_per_tool_and_per_surface(gateway, http):
    tools = await listed_tools(http, gateway.mcp_url)
    sizes = tool_sizes(tools)
    # Each surface as its own URL serves it (a page scope's schemas are narrowed, so it is measured, not derived).
    surfaces = {
        "full": surface_size(tools),
        "readonly": surface_size(await listed_tools(http, gateway.url + "/mcp/readonly")),
        "page": surface_size(await listed_tools(http, gateway.url + "/mcp/pages/acme-status")),
    }
    budget = Budget.load()
    print("\n" + report(budget, sizes, surfaces))
    assert not over_budget(budget, sizes, surfaces)
    # Quality first, but the full surface's budget never passes the cap a client without MCP Apps can afford.
    assert budget.surfaces["full"] <= FULL_SURFACE_CAP


async def test_the_optional_audit_tool_keeps_the_full_surface_within_the_cap(make_gateway, http):
    """[audit] history adds list_audit_events: opt-in, so it is not in the default budget, but the full surface
    with it still fits what a client without MCP Apps can afford."""
    gateway = await make_gateway(audit={"history": True})
    tools = await listed_tools(http, gateway.mcp_url)
    assert "list_audit_events" in [t["name"] for t in tools]
    assert surface_size(tools) <= FULL_SURFACE_CAP


def test_the_budget_catches_a_tool_that_grows_and_a_tool_without_one():
    budget = Budget(tools={"list_status_pages": 900}, surfaces={"full": 37_000})
    problems = over_budget(budget, {"list_status_pages": 901, "new_tool": 10}, {"full": 37_001, "x": 1})
    assert problems == [
        "tool list_status_pages: 901 bytes, budget 900",
        "tool new_tool: no budget in tool_budget.toml",
        "surface full: 37001 bytes, budget 37000",
        "surface x: no budget",
    ]
