"""OAuth per surface: each URL is its own protected resource, and a token works on the surface it was issued
for and narrower ones, never on a broader one. The full journey runs with the reference `mcp` client's
OAuthClientProvider against a page-scoped read-only URL."""

from __future__ import annotations

import aiohttp
import httpx2
import pytest
from mcp.client.auth import OAuthClientProvider
from mcp.client.client import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.auth import OAuthClientMetadata

from gateway.web.services import GATEWAY
from tests.conftest import DEMO_KEY, RunningServer
from tests.mcp_wire import mcp_client, post, request
from tests.oauth_browser import Browser, TokenStore, callback_server
from tests.tokens import mint_access_token

SCOPED = "/mcp/pages/acme/readonly"
PAGE = {"name": "Acme", "timezone": "Europe/Berlin", "website_url": "https://acme.example"}


@pytest.fixture
async def http():
    async with aiohttp.ClientSession() as session:
        yield session


async def make_pages(gateway: RunningServer) -> None:
    async with mcp_client(gateway.mcp_url, "legacy") as client:
        for subdomain in ("acme", "other"):
            result = await client.call_tool("create_status_page", {**PAGE, "subdomain": subdomain})
            assert not result.is_error, result.content[0].text


def token_for(gateway: RunningServer, path: str, scope: str = "statuspal:read statuspal:write") -> str:
    return mint_access_token(
        gateway.settings, DEMO_KEY, scope, keyring=gateway.app[GATEWAY].keyring, resource=gateway.url + path
    )


async def tools_list(http: aiohttp.ClientSession, gateway: RunningServer, path: str, token: str, **headers: str):
    return await post(http, gateway.url + path, request("tools/list", {}), key=token, headers=headers)


@pytest.mark.parametrize("mode", ["legacy", "2026-07-28"])
async def test_the_oauth_journey_on_a_page_scoped_read_only_url(gateway, http, mode):
    await make_pages(gateway)
    url = gateway.url + SCOPED
    pages = []
    async with callback_server() as callback, aiohttp.ClientSession() as browser_http:
        browser = Browser(browser_http, gateway.url)

        async def approve(authorization_url: str) -> None:
            page = await browser.open(authorization_url)
            pages.append(page.html)
            # A read-only URL offers only read-only access; the URL's surface keeps the token on one page.
            await browser.authorize(authorization_url, DEMO_KEY, access="read")

        storage = TokenStore()
        provider = OAuthClientProvider(
            server_url=url,
            client_metadata=OAuthClientMetadata(
                redirect_uris=[callback.url], client_name="Surface Assistant",
                grant_types=["authorization_code", "refresh_token"], token_endpoint_auth_method="none",
            ),
            storage=storage, redirect_handler=approve, callback_handler=callback.code_result,
        )
        async with httpx2.AsyncClient(auth=provider, timeout=30) as client_http:
            async with Client(streamable_http_client(url, http_client=client_http), mode=mode) as client:
                listed = {t.name for t in (await client.list_tools()).tools}
                assert listed and not {"create_incident", "update_status_page", "list_status_pages"} & listed
                page = await client.call_tool("get_status_page", {})
                assert not page.is_error and page.structured_content["subdomain"] == "acme"
    assert len(pages) == 1 and "read-only, everything on status page acme" in pages[0]
    assert 'value="read" checked' in pages[0] and 'value="full"' not in pages[0], "a read-only URL offers only a read-only grant"
    token = storage.tokens.access_token

    # Bound to its URL: it still works there and on narrower surfaces...
    assert (await tools_list(http, gateway, SCOPED, token)).status == 200
    narrower = await tools_list(http, gateway, "/mcp/pages/acme/x/notices/readonly", token)
    assert [t["name"] for t in narrower.result["tools"]] == ["list_services", "list_containers", "list_notices", "get_notice"]
    # ...and never on another page or a broader surface: 403 with guidance and this URL's metadata.
    for path in ("/mcp/pages/other/readonly", "/mcp/pages/acme", "/mcp/readonly", "/mcp"):
        answer = await tools_list(http, gateway, path, token)
        assert answer.status == 403 and answer.json["error"] == "insufficient_scope", (path, answer.text)
        assert f"issued for {url}" in answer.json["error_description"]
        assert f'resource_metadata="{gateway.url}/.well-known/oauth-protected-resource{path}"' in answer.headers["WWW-Authenticate"]


async def test_a_write_call_on_a_read_grant_is_a_403_naming_the_scope_to_ask_for(gateway, http):
    """What a client steps up from: the HTTP status, the challenge with the missing scope, and the tool named."""
    for path in ("/mcp", "/mcp/pages/acme"):
        token = token_for(gateway, path, scope="statuspal:read")
        call = request("tools/call", {"name": "create_incident", "arguments": {"subdomain": "acme", "title": "x"}})
        refused = await post(http, gateway.url + path, call, key=token)
        assert refused.status == 403 and refused.json["error"] == "insufficient_scope", (path, refused.text)
        assert "create_incident" in refused.json["error_description"]
        assert refused.headers["WWW-Authenticate"] == (
            'Bearer error="insufficient_scope", scope="statuspal:write", '
            f'resource_metadata="{gateway.url}/.well-known/oauth-protected-resource{path}"'
        )


async def test_a_broad_token_works_on_narrower_surfaces_restricted_by_them(gateway, http):
    await make_pages(gateway)
    token = token_for(gateway, "/mcp")
    readonly = await tools_list(http, gateway, "/mcp/readonly", token)
    assert readonly.status == 200 and "create_incident" not in {t["name"] for t in readonly.result["tools"]}
    call = request("tools/call", {"name": "delete_status_page", "arguments": {"subdomain": "other"}})
    refused = await post(http, gateway.url + "/mcp/pages/acme", call, key=token)
    assert refused.error["code"] == -32602
    # A token for /mcp/x/notices is narrower than /mcp/x/notices,docs, and a header cannot lift that.
    notices = token_for(gateway, "/mcp/x/notices")
    assert (await tools_list(http, gateway, "/mcp/x/notices,docs", notices)).status == 403
    assert (await tools_list(http, gateway, "/mcp/x/notices,docs", notices, **{"X-MCP-Toolsets": "notices"})).status == 200
    # A direct API key works on every surface.
    assert (await tools_list(http, gateway, "/mcp/pages/other/x/docs", DEMO_KEY)).status == 200


async def test_each_surface_is_its_own_protected_resource(gateway, http):
    public = gateway.url
    for path, scopes in (("/mcp", ["statuspal:read", "statuspal:write"]), (SCOPED, ["statuspal:read"]),
                         ("/mcp/x/notices,docs", ["statuspal:read", "statuspal:write"])):
        async with http.get(f"{public}/.well-known/oauth-protected-resource{path}") as r:
            document = await r.json()
        assert r.status == 200 and document["resource"] == public + path and document["scopes_supported"] == scopes
        unauthenticated = await post(http, public + path, request("tools/list", {}), key=None)
        assert unauthenticated.status == 401
        challenge = unauthenticated.headers["WWW-Authenticate"]
        assert f'resource_metadata="{public}/.well-known/oauth-protected-resource{path}"' in challenge
        assert f'scope="{" ".join(scopes)}"' in challenge
    async with http.get(f"{public}/.well-known/oauth-protected-resource/mcp/x/docs,notices") as r:
        assert r.status == 404 and "/mcp/x/notices,docs" in (await r.json())["error_description"]


async def test_a_token_for_a_resource_that_is_no_surface_is_refused(gateway, http):
    token = token_for(gateway, "/mcp/x/docs,notices")
    answer = await tools_list(http, gateway, "/mcp", token)
    assert answer.status == 401 and answer.json["error"] == "invalid_token"
