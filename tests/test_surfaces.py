"""Surfaces chosen by URL: what each one lists, what it lets a call do, and what it refuses, through the
reference `mcp` client in both eras and raw HTTP where the exact status matters."""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest
from mcp.client.client import Client

from gateway.auth.surfaces import TOOLSETS
from gateway.tools.catalogue import build_catalogue
from tests.mcp_wire import mcp_client, modern_headers, modern_request, post, request

MODES = ["legacy", "2026-07-28"]
PAGE = {"name": "Acme", "timezone": "Europe/Berlin", "website_url": "https://acme.example"}
WRITE_TOOLS = {"create_incident", "delete_notice", "create_webhook", "update_status_page", "create_service"}


@pytest.fixture
async def http():
    async with aiohttp.ClientSession() as session:
        yield session


async def names(client: Client) -> list[str]:
    return [tool.name for tool in (await client.list_tools()).tools]


async def ok(client: Client, name: str, arguments: dict[str, Any]) -> dict[str, Any]:
    result = await client.call_tool(name, arguments)
    assert not result.is_error, f"{name} failed: {result.content[0].text}"
    return result.structured_content


async def refused(client: Client, name: str, arguments: dict[str, Any]) -> str:
    result = await client.call_tool(name, arguments)
    assert result.is_error, f"{name} unexpectedly succeeded: {result.structured_content}"
    return result.content[0].text


async def two_pages(url: str) -> str:
    """Pages acme and other, each with a service; the service's slug."""
    async with mcp_client(url + "/mcp", "legacy") as client:
        for subdomain in ("acme", "other"):
            await ok(client, "create_status_page", {**PAGE, "subdomain": subdomain})
            service = await ok(client, "create_service", {"subdomain": subdomain, "name": "API"})
    return service["slug"]


@pytest.mark.parametrize("mode", MODES)
async def test_each_url_lists_only_its_tools(gateway, mode):
    async with mcp_client(gateway.mcp_url, mode) as client:
        everything = await names(client)
    async with mcp_client(gateway.url + "/mcp/readonly", mode) as client:
        readonly = await names(client)
    assert readonly and not WRITE_TOOLS & set(readonly)
    assert set(readonly) < set(everything) and "get_notice" in readonly and "search_docs" in readonly

    async with mcp_client(gateway.url + "/mcp/x/notices,docs", mode) as client:
        listed = await names(client)
    toolsets = {tool.name: tool.toolsets for tool in build_catalogue().tools}
    assert listed == [n for n in everything if toolsets[n] & {"notices", "docs"}]
    # A write's lookups stay (issue 19: what a tool's text points at exists on the surface), other writes go.
    assert "create_incident" in listed and "search_docs" in listed and "list_services" in listed
    assert "create_service" not in listed and "get_service" not in listed

    async with mcp_client(gateway.url + "/mcp/pages/acme/x/notices/readonly", mode) as client:
        listed = await names(client)
    # A notice names services and regions by slug: their lookups stay on a notices surface (issue 19).
    assert listed == ["list_services", "list_containers", "list_notices", "get_notice"]


@pytest.mark.parametrize("mode", MODES)
async def test_a_page_scope_drops_subdomain_and_the_tools_that_reach_other_pages(gateway, mode):
    async with mcp_client(gateway.url + "/mcp/pages/acme", mode) as client:
        tools = (await client.list_tools()).tools
    listed = {tool.name for tool in tools}
    assert not {"list_status_pages", "create_status_page", "setup_status_page", "delete_status_page"} & listed
    assert {"get_status_page", "update_status_page", "create_incident", "list_webhooks", "search_docs"} <= listed
    for tool in tools:
        properties = tool.input_schema.get("properties", {})
        assert "subdomain" not in properties and "subdomain" not in tool.input_schema.get("required", []), tool.name
    webhook_tools = {t.name: t.input_schema["properties"] for t in tools if t.name in ("create_webhook", "update_webhook")}
    for properties in webhook_tools.values():
        assert "all_status_pages" not in properties and "status_page_subdomains" not in properties


@pytest.mark.parametrize("mode", MODES)
async def test_a_page_scope_supplies_its_page_and_refuses_another(gateway, mode):
    slug = await two_pages(gateway.url)
    incident = {
        "title": "API errors", "severity": "minor", "message": "Investigating.",
        "affected": [{"service_slug": slug}], "notify": False,
    }
    async with mcp_client(gateway.url + "/mcp/pages/acme/x/notices", mode) as client:
        created = await ok(client, "create_incident", incident)
        # A client with an old cached schema may still name the page: its own page is served...
        listed = await ok(client, "list_notices", {"subdomain": "acme"})
        assert [n["id"] for n in listed["items"]] == [created["id"]]
        # ...another page is refused before anything reaches StatusPal.
        text = await refused(client, "create_incident", {**incident, "subdomain": "other"})
        assert "limited to status page 'acme'" in text and "'other'" in text
    async with mcp_client(gateway.mcp_url, mode) as client:
        assert (await ok(client, "list_notices", {"subdomain": "acme"}))["items"][0]["id"] == created["id"]
        assert (await ok(client, "list_notices", {"subdomain": "other"}))["items"] == []


async def test_webhooks_on_a_page_scope_are_that_pages_only(gateway):
    await two_pages(gateway.url)
    hook = {"url": "https://example.com/hook", "events": ["notice.created"]}
    async with mcp_client(gateway.mcp_url, "legacy") as client:
        everywhere = await ok(client, "create_webhook", {**hook, "name": "every page"})
        both = await ok(client, "create_webhook", {**hook, "name": "both", "status_page_subdomains": ["acme", "other"]})
        own = await ok(client, "create_webhook", {**hook, "name": "acme only", "status_page_subdomains": ["acme"]})
    async with mcp_client(gateway.url + "/mcp/pages/acme", "2026-07-28") as client:
        listed = await ok(client, "list_webhooks", {})
        assert [w["id"] for w in listed["items"]] == [own["id"]] and listed["total_count"] == 1
        assert (await ok(client, "get_webhook", {"webhook_id": own["id"]}))["name"] == "acme only"
        for other in (everywhere, both):
            text = await refused(client, "delete_webhook", {"webhook_id": other["id"]})
            assert "not limited to status page 'acme'" in text
            assert "not limited" in await refused(client, "get_webhook", {"webhook_id": other["id"]})
        made = await ok(client, "create_webhook", {**hook, "name": "made here"})
        assert made["all_status_pages"] is False and made["status_page_subdomains"] == ["acme"]
        text = await refused(client, "create_webhook", {**hook, "name": "sneaky", "all_status_pages": True})
        assert "every status page" in text
    async with mcp_client(gateway.mcp_url, "legacy") as client:
        remaining = {w["name"] for w in (await ok(client, "list_webhooks", {}))["items"]}
    assert remaining == {"every page", "both", "acme only", "made here"}, "the refused calls changed nothing"


@pytest.mark.parametrize("era", ["legacy", "modern"])
async def test_an_absent_tool_is_refused_at_the_call(gateway, http, era):
    """Not only left out of tools/list: a call by name is refused too, and nothing reaches StatusPal."""
    await two_pages(gateway.url)
    cases = [
        ("/mcp/readonly", "create_status_page", {**PAGE, "subdomain": "third"}, "changes data"),
        ("/mcp/x/docs", "list_notices", {"subdomain": "acme"}, "notices toolset"),
        ("/mcp/pages/acme", "delete_status_page", {"subdomain": "other"}, "reaches status pages other than acme"),
    ]
    for path, name, arguments, why in cases:
        body = request("tools/call", {"name": name, "arguments": arguments})
        headers = {}
        if era == "modern":
            body = modern_request("tools/call", {"name": name, "arguments": arguments})
            headers = modern_headers("tools/call", name)
        answer = await post(http, gateway.url + path, body, headers=headers)
        assert answer.json["error"]["code"] == -32602, answer.text
        assert why in answer.error["message"] and path in answer.error["message"]
    async with mcp_client(gateway.mcp_url, "legacy") as client:
        pages = {p["subdomain"] for p in (await ok(client, "list_status_pages", {}))["items"]}
    assert pages == {"acme", "other"}


async def test_headers_narrow_but_never_widen(gateway, http):
    listing = request("tools/list", {})
    narrowed = await post(http, gateway.url + "/mcp/x/notices,docs", listing, headers={"X-MCP-Toolsets": "docs"})
    assert [t["name"] for t in narrowed.result["tools"]] == ["search_docs"]
    readonly = await post(http, gateway.url + "/mcp/x/notices", listing, headers={"X-MCP-Readonly": "true"})
    assert [t["name"] for t in readonly.result["tools"]] == ["list_status_pages", "list_services", "list_containers", "list_notices", "get_notice"]
    # The header's narrowing holds at the call as well.
    call = request("tools/call", {"name": "list_notices", "arguments": {"subdomain": "acme"}})
    assert (await post(http, gateway.url + "/mcp/x/notices,docs", call, headers={"X-MCP-Toolsets": "docs"})).error["code"] == -32602

    wider = await post(http, gateway.url + "/mcp/x/docs", listing, headers={"X-MCP-Toolsets": "docs,webhooks"})
    assert wider.status == 400 and "may only narrow" in wider.error["message"] and "webhooks" in wider.error["message"]
    unread = await post(http, gateway.url + "/mcp/readonly", listing, headers={"X-MCP-Readonly": "false"})
    assert unread.status == 400 and "cannot widen" in unread.error["message"]
    unknown = await post(http, gateway.mcp_url, listing, headers={"X-MCP-Toolsets": "incidents"})
    assert unknown.status == 400 and all(t in unknown.error["message"] for t in TOOLSETS)


@pytest.mark.parametrize(
    ("path", "says"),
    [
        ("/mcp/x/incidents", "unknown toolsets 'incidents'"),
        ("/mcp/x/docs,notices", "/mcp/x/notices,docs"),
        ("/mcp/x/docs,docs", "/mcp/x/docs"),
        ("/mcp/x/pages,services,containers,notices,webhooks,docs", "this one's is /mcp "),
        ("/mcp/readonly/x/docs", "not of the form"),
        ("/mcp/pages/", "subdomain"),
        ("/mcp/pages/bad_page", "subdomain"),
        ("/mcp/pages/" + "a" * 64, "subdomain"),
        ("/mcp/pages/a%2Fb", "subdomain"),
        ("/mcp/x/", "toolsets"),
        ("/mcp/anything", "not of the form"),
        ("/mcp/pages/a/", "this one's is /mcp/pages/a, without the trailing slash"),
        ("/mcp/readonly/", "this one's is /mcp/readonly, without"),
        ("/mcp/pages/acme/x/notices/readonly/", "this one's is /mcp/pages/acme/x/notices/readonly, without"),
    ],
)
async def test_a_url_that_names_no_surface_is_404_naming_the_valid_ones(gateway, http, path, says):
    answer = await post(http, gateway.url + path, request("tools/list", {}))
    assert answer.status == 404 and answer.error["code"] == -32600
    message = answer.error["message"]
    assert says in message and all(t in message for t in TOOLSETS)


async def test_the_instructions_say_what_the_connection_is_limited_to(gateway, http):
    url = gateway.url + "/mcp/pages/acme/x/notices/readonly"
    async with mcp_client(url, "legacy") as client:
        handshake = client.instructions
    modern = await post(http, url, modern_request("server/discover"), headers=modern_headers("server/discover"))
    full = await post(http, gateway.mcp_url, modern_request("server/discover"), headers=modern_headers("server/discover"))
    for instructions in (handshake, modern.result["instructions"]):
        assert "limited to: read-only, notices on status page acme" in instructions
        assert "status page 'acme', which the gateway supplies" in instructions
    assert "limited to" not in full.result["instructions"]
