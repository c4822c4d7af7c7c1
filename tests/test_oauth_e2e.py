"""The whole OAuth journey a web assistant makes, with the reference `mcp` client's OAuthClientProvider.

401 → protected-resource metadata → authorization-server metadata → registration (DCR, or a Client ID
Metadata Document served over https from a loopback test host) → our login page, where the test plays the
browser (reads the page, posts the form with the sandbox key, follows the 302 to the client's loopback
callback) → token → tool calls; then a refresh, then a revocation. In both protocol eras on one endpoint.
"""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import aiohttp
import httpx2
import pytest
from mcp.client.auth import OAuthClientProvider
from mcp.client.client import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.auth import OAuthClientMetadata

from tests.conftest import DEMO_KEY, RunningServer
from tests.oauth_browser import Browser, Callback, TokenStore, callback_server, document_server, make_tls

MODES = ["legacy", "2026-07-28"]
WRITE_TOOLS = {"create_status_page", "delete_status_page", "create_incident"}


class Assistant:
    """An MCP client with OAuth, whose user approves on our page with `key`, choosing `accesses` in turn."""

    def __init__(self, gateway: RunningServer, callback: Callback, key: str, accesses: list[str], client_metadata_url: str | None = None):
        self.storage = TokenStore()
        self.browser_http = aiohttp.ClientSession()
        self.browser = Browser(self.browser_http, gateway.url)
        self.accesses = list(accesses)
        self.logins = 0
        self.provider = OAuthClientProvider(
            server_url=gateway.mcp_url,
            client_metadata=OAuthClientMetadata(
                redirect_uris=[callback.url], client_name="Test Assistant",
                grant_types=["authorization_code", "refresh_token"], token_endpoint_auth_method="none",
            ),
            storage=self.storage,
            redirect_handler=self._approve,
            callback_handler=callback.code_result,
            client_metadata_url=client_metadata_url,
        )
        self.key = key

    async def _approve(self, authorization_url: str) -> None:
        self.logins += 1
        await self.browser.authorize(authorization_url, self.key, access=self.accesses.pop(0))

    @asynccontextmanager
    async def connect(self, gateway: RunningServer, mode: str) -> AsyncIterator[Client]:
        http = httpx2.AsyncClient(auth=self.provider, timeout=30)
        async with http, Client(streamable_http_client(gateway.mcp_url, http_client=http), mode=mode) as client:
            yield client

    async def close(self) -> None:
        await self.browser_http.close()


async def call_ok(client: Client, name: str, arguments: dict) -> dict:
    result = await client.call_tool(name, arguments)
    assert not result.is_error, result.content[0].text
    return result.structured_content


async def bearer_call(gateway: RunningServer, token: str) -> tuple[int, str, dict]:
    """tools/list with a raw bearer, to see the exact HTTP answer."""
    async with aiohttp.ClientSession() as http:
        async with http.post(
            gateway.mcp_url,
            json={"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {}},
            headers={"Authorization": f"Bearer {token}", "Accept": "application/json, text/event-stream",
                     "MCP-Protocol-Version": "2025-06-18"},
        ) as r:
            body = await r.json(content_type=None)
            return r.status, r.headers.get("WWW-Authenticate", ""), body


async def refresh_now(assistant: Assistant) -> None:
    """Make the client treat its access token as expired, so its next request refreshes first."""
    assistant.provider.context.token_expiry_time = 1.0  # 1970: long past (0 would mean "no expiry")


async def run_journey(gateway: RunningServer, assistant: Assistant, mode: str) -> None:
    async with assistant.connect(gateway, mode) as client:
        tools = {t.name for t in (await client.list_tools()).tools}
        assert WRITE_TOOLS <= tools
        subdomain = f"oauth-{secrets.token_hex(3)}"
        created = await call_ok(client, "create_status_page", {
            "name": "OAuth Page", "subdomain": subdomain, "timezone": "UTC", "website_url": "https://example.com"})
        assert created["subdomain"] == subdomain
    assert assistant.logins == 1
    first = assistant.storage.tokens
    assert first is not None and first.refresh_token and first.scope == "statuspal:read statuspal:write"
    assert first.expires_in == gateway.settings.oauth.access_token_ttl_seconds

    # Refresh: the client rotates both tokens without sending anyone back to the login page.
    await refresh_now(assistant)
    async with assistant.connect(gateway, mode) as client:
        listed = await call_ok(client, "list_status_pages", {})
        assert subdomain in {p["subdomain"] for p in listed["items"]}
    second = assistant.storage.tokens
    assert assistant.logins == 1
    assert second.access_token != first.access_token and second.refresh_token != first.refresh_token

    # Revoke (RFC 7009): the whole grant stops working, access and refresh tokens alike.
    async with aiohttp.ClientSession() as http:
        async with http.post(f"{gateway.url}/revoke", data={"token": second.refresh_token, "token_type_hint": "refresh_token"}) as r:
            assert r.status == 200
        status, challenge, body = await bearer_call(gateway, second.access_token)
        assert status == 401 and body["error"] == "invalid_token" and "revoked" in body["error_description"]
        assert f'resource_metadata="{gateway.settings.server.resource_metadata_url}"' in challenge
        async with http.post(f"{gateway.url}/token", data={"grant_type": "refresh_token", "refresh_token": second.refresh_token}) as r:
            assert r.status == 400 and (await r.json())["error"] == "invalid_grant"


@pytest.mark.parametrize("mode", MODES)
async def test_dcr_client_signs_in_calls_tools_refreshes_and_revokes(make_gateway, sandbox_admin, mode: str) -> None:
    gateway = await make_gateway()
    async with callback_server() as callback:
        assistant = Assistant(gateway, callback, DEMO_KEY, ["full"])
        try:
            await run_journey(gateway, assistant, mode)
            # Dynamic registration happened, and its client_id is our signed registration, not a URL.
            assert assistant.storage.client is not None and not assistant.storage.client.client_id.startswith("https://")
        finally:
            await assistant.close()


@pytest.mark.parametrize("mode", MODES)
async def test_metadata_document_client_signs_in_without_registering(make_gateway, sandbox_admin, tmp_path, monkeypatch, mode: str) -> None:
    tls = make_tls(tmp_path)
    # The gateway's fetch trusts the system store; the test host's CA is made the system store for this test.
    monkeypatch.setenv("SSL_CERT_FILE", tls.ca)
    gateway = await make_gateway(oauth={"cimd_allow_loopback": True})
    async with callback_server() as callback, document_server(tls) as docs:
        url = f"{docs.url}/oauth/client.json"
        docs.publish("/oauth/client.json", {
            "client_id": url, "client_name": "Metadata Assistant", "redirect_uris": [callback.url],
            "grant_types": ["authorization_code", "refresh_token"], "response_types": ["code"], "token_endpoint_auth_method": "none",
        }, headers={"Cache-Control": "max-age=600"})
        assistant = Assistant(gateway, callback, DEMO_KEY, ["full"], client_metadata_url=url)
        try:
            await run_journey(gateway, assistant, mode)
            assert assistant.storage.client.client_id == url
            # The login page named the client as its document says and where that document lives.
            page = await assistant.browser.open(assistant.browser.visited[0])
            assert "Metadata Assistant" in page.html and "127.0.0.1" in page.html
            # Fetched once: the authorize page and the token exchange both used the cached document.
            assert docs.fetches == ["/oauth/client.json"]
        finally:
            await assistant.close()


async def test_read_only_grant_hides_write_tools_and_steps_up_on_a_write(make_gateway, sandbox_admin) -> None:
    """Read-only on the page → no write tools listed; a write call is 403 insufficient_scope, and the client's
    step-up sends the user back to the page, where granting full access lets the call through."""
    gateway = await make_gateway()
    async with callback_server() as callback:
        assistant = Assistant(gateway, callback, DEMO_KEY, ["read", "full"])
        try:
            async with assistant.connect(gateway, "legacy") as client:
                tools = {t.name for t in (await client.list_tools()).tools}
                assert "list_status_pages" in tools and not (WRITE_TOOLS & tools)
                assert assistant.storage.tokens.scope == "statuspal:read"
                created = await call_ok(client, "create_status_page", {
                    "name": "Stepped Up", "subdomain": f"up-{secrets.token_hex(3)}", "timezone": "UTC", "website_url": "https://example.com"})
                assert created["name"] == "Stepped Up"
            assert assistant.logins == 2
            assert assistant.storage.tokens.scope == "statuspal:read statuspal:write"
        finally:
            await assistant.close()
