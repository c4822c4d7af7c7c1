"""An endpoint override from the environment moves the path on both sides: the gateway's calls and the sandbox's routes.

The notice and secret-rotation paths are not confirmed by any public source, so an operator may have to correct
them without a code change. Both the StatusPal client and the sandbox read the same [statuspal.endpoints] table;
if only one of them followed an override, `make run` would break (the gateway calling a path the sandbox no
longer serves) or, worse, keep passing while a real StatusPal gets the old path.
"""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest

from tests.conftest import DEMO_KEY
from tests.processes import serving
from tests.test_cli import assert_one_line_error, run_main

RESOLVE = "POST /status_pages/{subdomain}/notices/{notice_id}/actions/resolve"
ROTATE = "PUT /outgoing_webhooks/{webhook_id}/secret"
OVERRIDES = {
    "STATUSPAL_MCP_STATUSPAL_ENDPOINTS_NOTICES_RESOLVE": RESOLVE,
    "STATUSPAL_MCP_STATUSPAL_ENDPOINTS_WEBHOOKS_ROTATE_SECRET": ROTATE,
}
HEADERS = {
    "Accept": "application/json, text/event-stream",
    "Content-Type": "application/json",
    "MCP-Protocol-Version": "2025-11-25",
    "Authorization": f"Bearer {DEMO_KEY}",
}


async def call_tool(http: aiohttp.ClientSession, mcp_url: str, name: str, arguments: dict[str, Any]) -> dict[str, Any]:
    body = {"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": name, "arguments": arguments}}
    async with http.post(mcp_url, json=body, headers=HEADERS) as r:
        answer = await r.json()
    assert r.status == 200 and answer["result"]["isError"] is False, (name, answer)
    return answer["result"]["structuredContent"]


async def test_overridden_paths_are_called_by_the_gateway_and_served_by_the_embedded_sandbox() -> None:
    async with serving(["serve", "--port", "0"], env={"STATUSPAL_MCP_SANDBOX_PORT": "0", **OVERRIDES}) as child:
        mcp_url = child.url_after("MCP URL:")
        sandbox = child.url_after("Sandbox StatusPal API at").removesuffix("/api/v1")
        async with aiohttp.ClientSession() as http:
            await call_tool(http, mcp_url, "setup_status_page", {
                "name": "Acme", "subdomain": "acme-moved", "timezone": "UTC",
                "website_url": "https://acme.example", "services": ["API"]})
            incident = await call_tool(http, mcp_url, "create_incident", {
                "subdomain": "acme-moved", "title": "Down", "severity": "minor", "message": "Looking.",
                "affected": [{"service_slug": "api"}], "notify": False})
            hook = await call_tool(http, mcp_url, "create_webhook", {
                "name": "ops", "url": "https://hooks.example/statuspal", "events": ["notice.created"]})
            async with http.delete(f"{sandbox}/_sandbox/requests") as r:
                assert r.status in (200, 204)

            resolved = await call_tool(http, mcp_url, "resolve_incident",
                                       {"subdomain": "acme-moved", "notice_id": incident["id"], "notify": False})
            rotated = await call_tool(http, mcp_url, "rotate_webhook_secret", {"webhook_id": hook["id"]})

            async with http.get(f"{sandbox}/_sandbox/requests") as r:
                sent = [(e["method"], e["path"], e["status"]) for e in (await r.json())["data"]]
            # The old paths are gone from the sandbox: only the override answers.
            async with http.post(f"{sandbox}/api/v1/status_pages/acme-moved/notices/{incident['id']}/resolve",
                                 json={"notify": False}, headers={"Authorization": f"Bearer {DEMO_KEY}"}) as r:
                old_resolve = (r.status, (await r.json())["error"])

    assert resolved["state"] == "resolved"
    assert rotated["secret"] and rotated["secret"] != hook["secret"]
    assert sent == [
        ("POST", f"/api/v1/status_pages/acme-moved/notices/{incident['id']}/actions/resolve", 200),
        ("PUT", f"/api/v1/outgoing_webhooks/{hook['id']}/secret", 200),
    ]
    assert old_resolve == (404, "route_not_found")


async def test_the_standalone_sandbox_follows_the_same_override() -> None:
    async with serving(["sandbox", "--port", "0"], env=OVERRIDES) as child:
        api = child.url_after("Sandbox StatusPal API at")
        auth = {"Authorization": f"Bearer {DEMO_KEY}"}
        async with aiohttp.ClientSession(headers=auth) as http:
            async with http.post(f"{api}/outgoing_webhooks", json={
                    "name": "ops", "url": "https://hooks.example/statuspal", "events": ["notice.created"]}) as r:
                assert r.status == 201, await r.text()
                hook = (await r.json())["data"]
            async with http.post(f"{api}/outgoing_webhooks/{hook['id']}/regenerate_secret") as r:
                assert r.status == 404 and (await r.json())["error"] == "route_not_found"
            async with http.put(f"{api}/outgoing_webhooks/{hook['id']}/secret") as r:
                assert r.status == 200, await r.text()
                assert (await r.json())["data"]["secret"] != hook["secret"]


@pytest.mark.parametrize(
    ("name", "value", "fragments"),
    [
        ("ENDPOINTS_NOTICES_RESOLVE", "RESOLVE it", ("statuspal.endpoints.notices_resolve", "'RESOLVE it'", "METHOD /path")),
        ("ENDPOINTS_NOTICES_REOPEN", "POST /notices/{notice_id}/reopen", ("unknown endpoint", "notices_reopen")),
        ("ENDPOINTS_NOTICES_GET", "GET /status_pages/{subdomain}/notices/{id}", ("notices_get", "{subdomain} {notice_id}")),
        ("NOTICES_MESSAGE_FIELD", "body", ("unknown setting(s) in [statuspal.notices]", "message_field")),
    ],
)
def test_a_bad_override_stops_start_up_with_one_line_and_exit_2(name, value, fragments, monkeypatch, capsys) -> None:
    env = {"STATUSPAL_MCP_SANDBOX_PORT": "0", f"STATUSPAL_MCP_STATUSPAL_{name}": value}
    assert_one_line_error(run_main(["serve", "--port", "0"], env, monkeypatch, capsys), *fragments)
