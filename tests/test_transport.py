"""Streamable HTTP rules on a real gateway: the handshake, sessions, the GET stream, eras on one URL, CORS."""

from __future__ import annotations

import asyncio

import aiohttp
import httpx2
import pytest
from mcp.client.sse import sse_client
from mcp_types.version import HANDSHAKE_PROTOCOL_VERSIONS

from tests.mcp_wire import ACCEPT_BOTH, DEMO_KEY, MODERN, modern_headers, modern_request, post, request, send

INITIALIZE = request(
    "initialize",
    {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "gateway-tests", "version": "1"}},
)
AUTH = {"Authorization": f"Bearer {DEMO_KEY}"}


@pytest.fixture
async def http():
    async with aiohttp.ClientSession() as session:
        yield session


@pytest.fixture
def mcp_url(gateway) -> str:
    return gateway.mcp_url


async def open_session(http, url: str, key: str = DEMO_KEY) -> str:
    answer = await post(http, url, INITIALIZE, key=key)
    assert answer.status == 200, answer.text
    return answer.headers["Mcp-Session-Id"]


@pytest.mark.parametrize("requested", HANDSHAKE_PROTOCOL_VERSIONS)
async def test_initialize_answers_with_the_clients_version_when_supported(http, mcp_url, requested):
    body = {**INITIALIZE, "params": {**INITIALIZE["params"], "protocolVersion": requested}}
    answer = await post(http, mcp_url, body)
    assert answer.status == 200
    assert answer.result["protocolVersion"] == requested


@pytest.mark.parametrize("requested", ["1999-01-01", MODERN])
async def test_initialize_counter_offers_the_latest_handshake_version(http, mcp_url, requested):
    body = {**INITIALIZE, "params": {**INITIALIZE["params"], "protocolVersion": requested}}
    answer = await post(http, mcp_url, body)
    assert answer.result["protocolVersion"] == "2025-11-25"


async def test_initialize_describes_the_server(http, mcp_url):
    result = (await post(http, mcp_url, INITIALIZE)).result
    assert result["serverInfo"]["name"] == "statuspal-mcp"
    assert result["serverInfo"]["version"]
    assert result["capabilities"] == {
        "tools": {"listChanged": False},
        "resources": {},
        "prompts": {"listChanged": False},
        "logging": {},
    }
    assert "notify" in result["instructions"] and "confirm" in result["instructions"]


async def test_session_id_is_visible_ascii_and_differs_per_initialize(http, mcp_url):
    first = await open_session(http, mcp_url)
    second = await open_session(http, mcp_url)
    assert first != second
    assert all(0x21 <= ord(c) <= 0x7E for c in first)


async def test_initialized_notification_is_accepted_with_no_body(http, mcp_url):
    session = await open_session(http, mcp_url)
    answer = await post(
        http, mcp_url, {"jsonrpc": "2.0", "method": "notifications/initialized"},
        headers={"Mcp-Session-Id": session, "MCP-Protocol-Version": "2025-06-18"},
    )
    assert (answer.status, answer.text) == (202, "")


async def test_ping_answers_an_empty_result(http, mcp_url):
    answer = await post(http, mcp_url, request("ping"), headers={"MCP-Protocol-Version": "2025-11-25"})
    assert answer.status == 200
    assert answer.json == {"jsonrpc": "2.0", "id": 1, "result": {}}


async def test_logging_set_level_is_accepted(http, mcp_url):
    answer = await post(http, mcp_url, request("logging/setLevel", {"level": "debug"}))
    assert answer.json == {"jsonrpc": "2.0", "id": 1, "result": {}}


async def test_requests_without_a_session_or_version_header_are_served(http, mcp_url):
    """Stateless clients never send Mcp-Session-Id; no MCP-Protocol-Version means 2025-03-26."""
    answer = await post(http, mcp_url, request("tools/list"))
    assert answer.status == 200
    assert answer.result["tools"]


async def test_terminated_session_answers_404_everywhere(http, mcp_url):
    session = await open_session(http, mcp_url)
    with_session = {"Mcp-Session-Id": session, "MCP-Protocol-Version": "2025-06-18"}
    assert (await post(http, mcp_url, request("tools/list"), headers=with_session)).status == 200

    deleted = await send(http, "DELETE", mcp_url, headers={**AUTH, **with_session})
    assert deleted.status == 204

    after = await post(http, mcp_url, request("tools/list"), headers=with_session)
    assert after.status == 404
    assert after.error["message"].startswith("Session not found")
    notification = await post(http, mcp_url, {"jsonrpc": "2.0", "method": "notifications/initialized"}, headers=with_session)
    assert notification.status == 404
    assert (await send(http, "DELETE", mcp_url, headers={**AUTH, **with_session})).status == 404
    # A new initialize starts a new, working session.
    fresh = await open_session(http, mcp_url)
    assert (await post(http, mcp_url, request("ping"), headers={"Mcp-Session-Id": fresh})).status == 200


async def test_a_forged_session_id_is_404(http, mcp_url):
    session = await open_session(http, mcp_url)
    forged = session[:-4] + ("AAAA" if not session.endswith("AAAA") else "BBBB")
    for value in (forged, "not-a-session"):
        answer = await post(http, mcp_url, request("ping"), headers={"Mcp-Session-Id": value})
        assert answer.status == 404


async def test_a_session_is_bound_to_the_key_that_opened_it(http, mcp_url, sandbox_admin):
    await sandbox_admin.add_key("sk_test_other_tenant")
    session = await open_session(http, mcp_url)
    answer = await post(http, mcp_url, request("ping"), key="sk_test_other_tenant", headers={"Mcp-Session-Id": session})
    assert answer.status == 404
    deleted = await send(http, "DELETE", mcp_url, headers={"Authorization": "Bearer sk_test_other_tenant", "Mcp-Session-Id": session})
    assert deleted.status == 404
    # The owner's session survived the other tenant's attempt.
    assert (await post(http, mcp_url, request("ping"), headers={"Mcp-Session-Id": session})).status == 200


async def test_a_remembered_session_id_is_still_checked_on_every_request(http, make_gateway, sandbox_admin):
    """Once a session id has verified, the gateway answers its signature check from memory; the checks that
    depend on the caller, the store and the clock still run each time."""
    from gateway.web.services import GATEWAY
    from gateway.web.sessions import SESSION_TTL_SECONDS

    server = await make_gateway()
    await sandbox_admin.add_key("sk_test_other_tenant")
    session = await open_session(http, server.mcp_url)
    with_session = {"Mcp-Session-Id": session, "MCP-Protocol-Version": "2025-06-18"}
    assert (await post(http, server.mcp_url, request("ping"), headers=with_session)).status == 200  # now remembered

    other = await post(http, server.mcp_url, request("ping"), key="sk_test_other_tenant", headers=with_session)
    assert other.status == 404
    assert (await post(http, server.mcp_url, request("ping"), headers=with_session)).status == 200

    keyring = server.app[GATEWAY].keyring
    real_clock = keyring.clock
    keyring.clock = lambda: real_clock() + SESSION_TTL_SECONDS + 1  # a day later
    expired = await post(http, server.mcp_url, request("ping"), headers=with_session)
    assert expired.status == 404
    assert expired.error["message"].startswith("Session not found")
    keyring.clock = real_clock

    assert (await send(http, "DELETE", server.mcp_url, headers={**AUTH, **with_session})).status == 204
    assert (await post(http, server.mcp_url, request("ping"), headers=with_session)).status == 404


async def test_delete_without_a_session_id_is_400(http, mcp_url):
    answer = await send(http, "DELETE", mcp_url, headers=AUTH)
    assert answer.status == 400
    assert answer.error["message"] == "Bad Request: DELETE needs the Mcp-Session-Id header of the session to end"


async def test_the_2026_era_ignores_session_headers(http, mcp_url):
    answer = await post(
        http, mcp_url, modern_request("tools/list"),
        headers={**modern_headers("tools/list"), "Mcp-Session-Id": "stale-session-from-another-era"},
    )
    assert answer.status == 200
    assert "Mcp-Session-Id" not in answer.headers


@pytest.mark.parametrize("method", ["GET", "DELETE"])
async def test_get_and_delete_are_405_in_the_2026_era(http, mcp_url, method):
    answer = await send(http, method, mcp_url, headers={**AUTH, "Accept": "text/event-stream", "MCP-Protocol-Version": MODERN})
    assert answer.status == 405
    assert answer.headers["Allow"] == "POST, OPTIONS"


async def test_get_opens_an_event_stream_with_keepalive_comments(http, make_gateway, sandbox_admin):
    server = await make_gateway(server={"sse_keepalive_seconds": 0.05})
    session = await open_session(http, server.mcp_url)
    headers = {**AUTH, "Accept": "text/event-stream", "Mcp-Session-Id": session, "MCP-Protocol-Version": "2025-11-25"}
    async with http.get(server.mcp_url, headers=headers) as response:
        assert response.status == 200
        assert response.content_type == "text/event-stream"
        seen = b""
        async with asyncio.timeout(10):
            while seen.count(b": keep-alive\n\n") < 2:
                seen += await response.content.readany()


async def test_get_streams_end_when_the_server_shuts_down(http, make_gateway, sandbox_admin):
    from gateway.web.transport import TRANSPORT

    server = await make_gateway()
    headers = {**AUTH, "Accept": "text/event-stream", "MCP-Protocol-Version": "2025-11-25"}
    async with http.get(server.mcp_url, headers=headers) as response:
        assert response.status == 200
        await response.content.readuntil(b"\n\n")
        await server.app[TRANSPORT].close_streams(server.app)
        async with asyncio.timeout(10):
            rest = await response.content.read()
        assert rest == b""


async def test_get_needs_an_event_stream_accept(http, mcp_url):
    answer = await send(http, "GET", mcp_url, headers={**AUTH, "Accept": "application/json", "MCP-Protocol-Version": "2025-11-25"})
    assert answer.status == 406


@pytest.mark.parametrize("path", ["/mcp", "/mcp/readonly"])
async def test_a_deprecated_http_sse_client_gets_an_error_it_can_show_instead_of_waiting(gateway, path):
    # The SDK's own client for the HTTP+SSE transport of 2024-11-05 opens GET and waits for an `endpoint` event.
    # With no credentials too: the transport is what it must change first, not its key.
    url = gateway.url + path
    for headers in (AUTH, {}):
        with pytest.raises(httpx2.HTTPStatusError) as refused:
            async with asyncio.timeout(30):  # a guard, not a measurement: before the fix this waited forever
                async with sse_client(url, headers=headers):
                    pass
        answer = refused.value.response
        assert answer.status_code == 405 and answer.headers["Allow"] == "POST, DELETE, OPTIONS"
    async with aiohttp.ClientSession() as http:
        body = await send(http, "GET", url, headers={**AUTH, "Accept": "text/event-stream"})
    message = body.error["message"]
    assert "only the Streamable HTTP transport" in message and "deprecated HTTP+SSE" in message
    assert f"the URL {url}," in message and "--transport http" in message


async def test_the_trailing_slash_path_is_the_same_endpoint(http, gateway):
    answer = await post(http, gateway.mcp_url + "/", request("tools/list"))
    assert answer.status == 200
    assert answer.result["tools"]


async def test_preflight_is_answered_without_credentials(http, make_gateway, sandbox_admin):
    server = await make_gateway(server={"cors_origins": ("http://inspector.test",)})
    answer = await send(
        http, "OPTIONS", server.mcp_url,
        headers={"Origin": "http://inspector.test", "Access-Control-Request-Method": "POST",
                 "Access-Control-Request-Headers": "authorization,mcp-method"},
    )
    assert answer.status == 204
    assert answer.headers["Access-Control-Allow-Origin"] == "http://inspector.test"
    allowed = {h.strip().lower() for h in answer.headers["Access-Control-Allow-Headers"].split(",")}
    assert {"authorization", "content-type", "mcp-protocol-version", "mcp-session-id", "mcp-method", "mcp-name", "last-event-id"} <= allowed
    assert {"GET", "POST", "DELETE"} <= {m.strip() for m in answer.headers["Access-Control-Allow-Methods"].split(",")}


async def test_preflight_from_an_unlisted_origin_is_refused(http, make_gateway, sandbox_admin):
    server = await make_gateway(server={"cors_origins": ("http://inspector.test",)})
    answer = await send(http, "OPTIONS", server.mcp_url, headers={"Origin": "http://evil.test", "Access-Control-Request-Method": "POST"})
    assert answer.status == 403
    assert "Access-Control-Allow-Origin" not in answer.headers


async def test_cors_answers_expose_the_headers_browser_clients_need(http, make_gateway, sandbox_admin):
    server = await make_gateway(server={"cors_origins": ("http://inspector.test",)})
    origin = {"Origin": "http://inspector.test"}
    unauthorized = await post(http, server.mcp_url, request("tools/list"), key=None, headers=origin)
    assert unauthorized.status == 401
    assert unauthorized.headers["Access-Control-Allow-Origin"] == "http://inspector.test"
    exposed = {h.strip().lower() for h in unauthorized.headers["Access-Control-Expose-Headers"].split(",")}
    assert {"www-authenticate", "mcp-session-id", "mcp-protocol-version"} <= exposed

    initialized = await post(http, server.mcp_url, INITIALIZE, headers=origin)
    assert initialized.status == 200
    assert initialized.headers["Access-Control-Allow-Origin"] == "http://inspector.test"


async def test_a_same_machine_browser_origin_is_allowed(http, gateway):
    origin = gateway.url.replace("127.0.0.1", "localhost")
    answer = await post(http, gateway.mcp_url, request("ping"), headers={"Origin": origin})
    assert answer.status == 200


async def test_the_public_host_is_always_served(http, gateway):
    host = gateway.settings.server.public_url.split("://", 1)[1]
    answer = await post(http, gateway.mcp_url, request("ping"), headers={"Host": host})
    assert answer.status == 200


@pytest.mark.parametrize(
    "headers",
    [{"Content-Type": "application/json; charset=utf-8"}, {"Accept": "application/json"}, {"Accept": "*/*"}],
    ids=["json-with-charset", "accepts-only-json", "accepts-anything"],
)
async def test_ordinary_http_variations_are_served(http, mcp_url, headers):
    answer = await post(http, mcp_url, request("ping"), headers=headers)
    assert answer.status == 200, answer.text


async def test_json_is_the_default_answer(http, mcp_url):
    answer = await post(http, mcp_url, request("tools/list"), headers={"Accept": ACCEPT_BOTH})
    assert answer.headers["Content-Type"].startswith("application/json")


@pytest.mark.parametrize(
    "server, message",
    [({"tools_page_size": 0}, "bad value for server.tools_page_size: 0 (must be at least 1)"),
     ({"sse_keepalive_seconds": 0}, "bad value for server.sse_keepalive_seconds: 0.0 (must be more than 0)")],
    ids=["page-size", "keepalive"],
)
def test_transport_settings_that_cannot_work_stop_the_start(sandbox_url, server, message):
    from gateway.app import create_app
    from gateway.config import ConfigError
    from tests.conftest import gateway_settings

    with pytest.raises(ConfigError) as excinfo:
        create_app(gateway_settings(8080, sandbox_url, server=server))
    assert str(excinfo.value) == message
