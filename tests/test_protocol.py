"""MCP methods in both eras, through the reference `mcp` client and on the raw wire."""

from __future__ import annotations

import logging
from typing import Any

import aiohttp
import orjson
import pytest
from mcp.shared.exceptions import MCPError
from mcp_types.methods import serialize_server_result
from mcp_types.version import HANDSHAKE_PROTOCOL_VERSIONS

from gateway.auth.identity import Credentials
from gateway.auth.scopes import READ, WRITE
from gateway.auth.surfaces import FULL
from gateway.observability.audit import AuditSettings, AuditTrail
from gateway.protocol.arguments import ArgumentValidator
from gateway.protocol.confirm.drafts import Drafts
from gateway.protocol.confirm.flow import Confirmer
from gateway.protocol.confirm.policy import ConfirmPolicy
from gateway.protocol.confirm.settings import ConfirmSettings
from gateway.protocol.confirm.view import PublishView
from gateway.protocol.dispatcher import Call, Dispatcher, ScopeRefused, server_info
from gateway.protocol.jsonrpc import parse_message
from gateway.protocol.pipeline import ToolPipeline
from gateway.protocol.results import json_string
from gateway.tools.base import READ_ONLY, Tool, ToolError
from gateway.tools.catalogue import Catalogue, build_catalogue
from gateway.tools.surfaces import SurfaceTools
from gateway.web.services import GATEWAY
from gateway.web.transport import TRANSPORT
from tests.mcp_wire import MODERN, mcp_client, modern_headers, modern_request, post, request

MODES = ["legacy", MODERN, "auto"]
SERVER_INFO_KEY = "io.modelcontextprotocol/serverInfo"


@pytest.fixture
async def http():
    async with aiohttp.ClientSession() as session:
        yield session


def tool_names(server, scopes=frozenset({READ, WRITE})) -> list[str]:
    return [t.name for t in SurfaceTools.of(server.app[GATEWAY].catalogue).visible(FULL, scopes)]


async def create_pages(http, server, count: int) -> None:
    for n in range(count):
        answer = await post(http, server.mcp_url, request("tools/call", {"name": "create_status_page", "arguments": {
            "name": f"Page {n}", "subdomain": f"page-{n}", "timezone": "Europe/Berlin", "website_url": "https://example.com"}}))
        assert answer.result["isError"] is False, answer.text


@pytest.mark.parametrize("mode", MODES)
async def test_the_reference_client_works_in_every_mode(gateway, mode):
    async with mcp_client(gateway.mcp_url, mode) as client:
        assert client.protocol_version == ("2025-11-25" if mode == "legacy" else MODERN)
        listed = await client.list_tools()
        assert [t.name for t in listed.tools] == tool_names(gateway)
        if mode == MODERN:  # pinned without server/discover: the server names itself in every result's _meta
            assert listed.meta[SERVER_INFO_KEY]["name"] == "statuspal-mcp"
        else:
            assert client.server_info is not None and client.server_info.name == "statuspal-mcp"
        result = await client.call_tool("list_status_pages", {})
        assert result.is_error is False
        assert result.structured_content["items"] == []
        wrong = await client.call_tool("get_status_page", {"subdomain": 5})
        assert wrong.is_error is True
        assert wrong.content[0].text.startswith("Invalid arguments for get_status_page: subdomain: must be a string, not a number")
        with pytest.raises(MCPError) as excinfo:
            await client.read_resource("statuspal-docs://pages/no-such-page")
        assert excinfo.value.error.code == (-32002 if mode == "legacy" else -32602)

        assert (await client.list_prompts()).prompts == []


@pytest.mark.parametrize("mode", ["legacy", MODERN])
async def test_docs_pages_are_resources(gateway, mode):
    async with mcp_client(gateway.mcp_url, mode) as client:
        listed = await client.list_resources()
        assert listed.resources
        first = listed.resources[0]
        read = await client.read_resource(first.uri)
        assert read.contents[0].mime_type == "text/markdown"
        assert read.contents[0].text.startswith("#")
        templates = await client.list_resource_templates()
        assert templates.resource_templates[0].uri_template.endswith("{slug}")


@pytest.mark.parametrize("mode", ["legacy", MODERN])
async def test_progress_reaches_the_reference_client(gateway, http, mode):
    await create_pages(http, gateway, 3)
    seen: list[tuple[float, float | None, str | None]] = []

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        seen.append((progress, total, message))

    async with mcp_client(gateway.mcp_url, mode) as client:
        result = await client.call_tool("list_status_pages", {"all": True, "per_page": 1}, progress_callback=on_progress)
    assert len(result.structured_content["items"]) == 3
    assert len(seen) >= 2
    assert [p for p, _, _ in seen] == sorted(p for p, _, _ in seen)


@pytest.mark.parametrize("era", ["handshake", "modern"])
async def test_multi_page_work_answers_as_server_sent_events(gateway, http, era):
    await create_pages(http, gateway, 3)
    params = {"name": "list_status_pages", "arguments": {"all": True, "per_page": 1}, "_meta": {"progressToken": "tok-7"}}
    if era == "modern":
        answer = await post(http, gateway.mcp_url, modern_request("tools/call", params, request_id="c1"),
                            headers=modern_headers("tools/call", "list_status_pages"))
    else:
        answer = await post(http, gateway.mcp_url, request("tools/call", params, request_id="c1"))
    assert answer.status == 200
    assert answer.headers["Content-Type"].startswith("text/event-stream")
    messages = [event["data"] for event in answer.events]
    assert all(event["event"] == "message" for event in answer.events)
    *progress, final = messages
    assert len(progress) >= 2
    for note in progress:
        assert note["method"] == "notifications/progress"
        assert note["params"]["progressToken"] == "tok-7"
    values = [note["params"]["progress"] for note in progress]
    assert values == sorted(values) and len(set(values)) == len(values)
    assert final["id"] == "c1"
    assert len(final["result"]["structuredContent"]["items"]) == 3


@pytest.mark.parametrize(
    "headers, meta",
    [({"Accept": "application/json"}, {"progressToken": "t"}), ({}, {})],
    ids=["client-accepts-only-json", "no-progress-token"],
)
async def test_multi_page_work_answers_json_when_no_stream_is_wanted(gateway, http, headers, meta):
    await create_pages(http, gateway, 2)
    params = {"name": "list_status_pages", "arguments": {"all": True, "per_page": 1}, "_meta": meta}
    answer = await post(http, gateway.mcp_url, request("tools/call", params), headers=headers)
    assert answer.headers["Content-Type"].startswith("application/json")
    assert len(answer.result["structuredContent"]["items"]) == 2


@pytest.mark.parametrize("era", ["handshake", "modern"])
async def test_tools_list_pages_with_an_opaque_cursor(make_gateway, sandbox_admin, http, era):
    server = await make_gateway(server={"tools_page_size": 4})
    names: list[str] = []
    cursor = None
    pages = 0
    while True:
        params = {} if cursor is None else {"cursor": cursor}
        if era == "modern":
            answer = await post(http, server.mcp_url, modern_request("tools/list", params), headers=modern_headers("tools/list"))
        else:
            answer = await post(http, server.mcp_url, request("tools/list", params))
        result = answer.result
        pages += 1
        assert len(result["tools"]) <= 4
        names += [t["name"] for t in result["tools"]]
        if era == "modern":
            assert (result["resultType"], result["cacheScope"]) == ("complete", "private")
            assert result["ttlMs"] > 0
            assert result["_meta"][SERVER_INFO_KEY]["name"] == "statuspal-mcp"
        cursor = result.get("nextCursor")
        if cursor is None:
            break
        assert "tools" not in cursor and "4" not in cursor  # opaque, not a readable offset
    assert names == tool_names(server)
    assert pages == -(-len(names) // 4)


async def test_the_reference_client_follows_the_cursor(make_gateway, sandbox_admin):
    server = await make_gateway(server={"tools_page_size": 5})
    async with mcp_client(server.mcp_url, "legacy") as client:
        names: list[str] = []
        cursor = None
        while True:
            page = await client.list_tools(cursor=cursor)
            names += [t.name for t in page.tools]
            cursor = page.next_cursor
            if cursor is None:
                break
    assert names == tool_names(server)


# Calls answered with a result (an unknown tool name is a -32602 error: tests/test_bad_inputs.py).
RAW_CALLS = [
    ("initialize", {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}),
    ("ping", {}),
    ("tools/list", {}),
    ("tools/call", {"name": "list_status_pages", "arguments": {}}),
    ("tools/call", {"name": "get_status_page", "arguments": {"subdomain": "missing-page"}}),
    ("tools/call", {"name": "update_status_page", "arguments": {"subdomain": "missing-page"}}),
    ("tools/call", {"name": "get_status_page", "arguments": {}}),
    ("resources/list", {}),
    ("resources/templates/list", {}),
    ("prompts/list", {}),
]
MODERN_CALLS = [("server/discover", {})] + [c for c in RAW_CALLS if c[0] not in ("initialize", "ping")]


@pytest.mark.parametrize("version", HANDSHAKE_PROTOCOL_VERSIONS)
async def test_handshake_answers_are_exactly_what_mcp_types_serialises(gateway, http, version):
    """serialize_server_result validates and dumps: our bytes must survive it unchanged, field for field."""
    for method, params in RAW_CALLS:
        answer = await post(http, gateway.mcp_url, request(method, params), headers={"MCP-Protocol-Version": version})
        result = answer.result
        assert serialize_server_result(method, version, result) == result, method
        assert "resultType" not in result and "ttlMs" not in result


async def test_modern_answers_are_exactly_what_mcp_types_serialises(gateway, http):
    for method, params in MODERN_CALLS:
        name = params.get("name") or params.get("uri")
        answer = await post(http, gateway.mcp_url, modern_request(method, params), headers=modern_headers(method, name))
        result = answer.result
        assert serialize_server_result(method, MODERN, result) == result, method
        assert result["resultType"] == "complete", method
        assert result["_meta"][SERVER_INFO_KEY]["name"] == "statuspal-mcp", method


async def test_discover_describes_the_server(gateway, http):
    result = (await post(http, gateway.mcp_url, modern_request("server/discover"), headers=modern_headers("server/discover"))).result
    assert result["supportedVersions"] == [MODERN]
    assert set(result["capabilities"]) == {"tools", "resources", "prompts"}
    assert result["cacheScope"] == "public" and result["ttlMs"] > 0
    assert "notify" in result["instructions"]
    # The vocabulary every tool relies on is said here once, not in each tool definition.
    for rule in ("subdomain", "slug", "never the display names", "notification cannot be recalled",
                 "replaces the whole list", "before a write"):
        assert rule in result["instructions"], rule


async def test_tool_results_carry_structured_content_and_the_same_json_as_text(gateway, http):
    await create_pages(http, gateway, 1)
    result = (await post(http, gateway.mcp_url, request("tools/call", {"name": "get_status_page", "arguments": {"subdomain": "page-0"}}))).result
    assert result["isError"] is False
    assert result["structuredContent"]["subdomain"] == "page-0"
    assert orjson.loads(result["content"][0]["text"]) == result["structuredContent"]


async def test_an_upstream_error_is_an_is_error_result_the_model_can_act_on(gateway, http):
    result = (await post(http, gateway.mcp_url, request("tools/call", {"name": "get_status_page", "arguments": {"subdomain": "missing-page"}}))).result
    assert result["isError"] is True
    assert "structuredContent" not in result
    text = result["content"][0]["text"]
    assert "missing-page" in text and "list_status_pages" in text


async def test_a_tool_error_is_an_is_error_result_with_its_text(gateway, http):
    result = (await post(http, gateway.mcp_url, request("tools/call", {"name": "update_status_page", "arguments": {"subdomain": "missing-page"}}))).result
    assert result["isError"] is True
    assert result["content"][0]["text"].startswith("Nothing to change")


async def test_tool_calls_are_counted_by_outcome(make_gateway, sandbox_admin, http):
    gateway = await make_gateway()  # its own: the counts start at zero
    await post(http, gateway.mcp_url, request("tools/call", {"name": "list_status_pages", "arguments": {}}))
    await post(http, gateway.mcp_url, request("tools/call", {"name": "get_status_page", "arguments": {"subdomain": "missing-page"}}))
    await post(http, gateway.mcp_url, request("tools/call", {"name": "get_status_page", "arguments": {}}))
    rendered = gateway.app[GATEWAY].metrics.render().splitlines()
    assert 'statuspal_mcp_tool_calls_total{tool="list_status_pages",outcome="ok"} 1' in rendered
    assert 'statuspal_mcp_tool_calls_total{tool="get_status_page",outcome="upstream_error"} 1' in rendered
    assert 'statuspal_mcp_tool_calls_total{tool="get_status_page",outcome="invalid_arguments"} 1' in rendered


async def test_a_key_revoked_upstream_gets_http_401_so_the_client_reauthorises(gateway, http, sandbox_admin):
    await sandbox_admin.add_key("sk_test_soon_revoked")
    ok = await post(http, gateway.mcp_url, request("tools/call", {"name": "list_status_pages", "arguments": {}}), key="sk_test_soon_revoked")
    assert ok.result["isError"] is False
    await sandbox_admin.add_key("sk_test_soon_revoked", revoked=True)

    revoked = await post(http, gateway.mcp_url, request("tools/call", {"name": "list_status_pages", "arguments": {}}), key="sk_test_soon_revoked")
    assert revoked.status == 401
    assert revoked.json == {"error": "invalid_token",
                            "error_description": "StatusPal refused the API key of this connection (401: revoked, expired or not allowed)."}
    assert revoked.headers["WWW-Authenticate"].startswith('Bearer error="invalid_token", scope="statuspal:read statuspal:write", resource_metadata="')
    # The cached check was dropped: the next request asks StatusPal again and is refused up front.
    again = await post(http, gateway.mcp_url, request("tools/list"), key="sk_test_soon_revoked")
    assert again.status == 401
    assert again.json["error_description"] == "StatusPal rejected this API key (it is unknown or was revoked)."


# --- the dispatcher's own guarantees, on the running gateway's services ----------------------------------


def _call(method: str, params: dict[str, Any], scopes: frozenset[str], version: str = "2025-11-25") -> Call:
    message = parse_message(orjson.dumps(request(method, params)))
    credentials = Credentials(api_key="sk_sandbox_demo", scopes=scopes, kind="sealed", key_id="0" * 16)
    return Call(message, version, credentials, _no_notifications, request_id="req-1")


async def _no_notifications(message: Any) -> None:
    return None


async def test_a_read_only_grant_sees_and_calls_only_read_tools(gateway):
    dispatcher = gateway.app[TRANSPORT].dispatcher
    read_only = frozenset({READ})
    for version in ("2025-11-25", MODERN):
        listed = orjson.loads(await dispatcher.dispatch(_call("tools/list", {}, read_only, version)))
        names = [t["name"] for t in listed["tools"]]
        assert names == tool_names(gateway, read_only)
        assert "list_status_pages" in names and "delete_status_page" not in names
    with pytest.raises(ScopeRefused) as excinfo:
        await dispatcher.dispatch(_call("tools/call", {"name": "delete_status_page", "arguments": {"subdomain": "x"}}, read_only))
    assert excinfo.value.scope == WRITE and "delete_status_page" in excinfo.value.description


async def test_an_unexpected_tool_failure_is_logged_and_answered_without_internals(gateway, caplog):
    async def broken(ctx, args):
        raise RuntimeError("internal detail: pool exhausted at 0x7f")

    async def refusing(ctx, args):
        raise ToolError("Pick a subdomain first.")

    schema = {"type": "object", "properties": {}}
    tools = [Tool("broken_tool", "Broken", "Fails.", schema, schema, READ_ONLY, broken, frozenset(), needs_upstream=False),
             Tool("refusing_tool", "Refusing", "Refuses.", schema, schema, READ_ONLY, refusing, frozenset(), needs_upstream=False)]
    services = gateway.app[GATEWAY]
    info = server_info(services.settings)
    confirmer = Confirmer(ConfirmPolicy(ConfirmSettings(tools=()), tools), Drafts(services.keyring, services.store, 600, 2000))
    pipeline = ToolPipeline(ArgumentValidator(tools), services.upstream, services.docs, services.metrics, confirmer,
                            AuditTrail(AuditSettings(), None))
    dispatcher = Dispatcher(Catalogue.of(tools), pipeline, services.resources, info, services.settings.server.tools_page_size,
                            PublishView())
    with caplog.at_level(logging.ERROR, logger="gateway.protocol.pipeline"):
        result = orjson.loads(await dispatcher.dispatch(_call("tools/call", {"name": "broken_tool"}, frozenset({READ}))))
    assert result["isError"] is True
    text = result["content"][0]["text"]
    assert "request id req-1" in text
    assert "pool exhausted" not in text and "RuntimeError" not in text
    assert any("req-1" in r.getMessage() and r.exc_info for r in caplog.records)

    refused = orjson.loads(await dispatcher.dispatch(_call("tools/call", {"name": "refusing_tool"}, frozenset({READ}))))
    assert refused == {"content": [{"type": "text", "text": "Pick a subdomain first."}], "isError": True}


async def test_only_the_key_check_turns_an_upstream_403_into_http_401(gateway, http, sandbox_admin):
    """A 403 to the key check refuses the key itself; a 403 on one resource only says this key cannot reach
    it, so it is an ordinary tool error and the connection keeps its credentials."""
    await sandbox_admin.faults(error_rate=1.0, error_status=403, only=["services_list"])
    refused = await post(http, gateway.mcp_url, request("tools/call", {"name": "list_services", "arguments": {"subdomain": "forbidden-co"}}))
    assert refused.status == 200 and refused.result["isError"] is True
    assert refused.result["content"][0]["text"].startswith("This API key cannot reach the services of status page 'forbidden-co'")
    assert (await post(http, gateway.mcp_url, request("tools/call", {"name": "list_status_pages", "arguments": {}}))).result["isError"] is False

    await sandbox_admin.add_key("sk_test_limited")
    await sandbox_admin.faults(error_rate=1.0, error_status=403, only=["status_pages_list"])
    checked = await post(http, gateway.mcp_url, request("tools/call", {"name": "list_status_pages", "arguments": {}}), key="sk_test_limited")
    assert checked.status == 401
    assert checked.json == {"error": "invalid_token", "error_description": "StatusPal rejected this API key (it is unknown or was revoked)."}
    assert checked.headers["WWW-Authenticate"].startswith('Bearer error="invalid_token", scope="statuspal:read statuspal:write", resource_metadata="')


def test_structured_content_as_text_is_exactly_what_escaping_it_again_would_give() -> None:
    """The text content of a tool result is its structured JSON as a string literal, built without decoding it;
    it must be byte-for-byte what serialising the decoded text gives, for every character a tool can return."""
    every_ascii = "".join(chr(c) for c in range(128))
    values = [
        {"text": every_ascii, "nested": [every_ascii, {"k\\\"ey": every_ascii[::-1]}]},
        {"unicode": "café → ü 漢字 😀 \u2028\u2029 \ufeff", "quote": '"', "backslash": "\\", "both": '\\"\\\\"'},
        {"numbers": [0, -1, 1.5, 1e300, True, False, None], "empty": {}, "list": []},
        {"snippet": "Rotate with `POST /webhooks/{id}/rotate_secret`:\n\t\"secret\": \"whs_…\"\r\n"},
    ]
    for value in values:
        compact = orjson.dumps(value)
        literal = json_string(compact)
        assert literal == orjson.dumps(compact.decode())
        assert orjson.loads(orjson.loads(literal)) == value


def test_an_argument_validator_compiled_for_other_tools_is_refused(sandbox_url) -> None:
    """A validator handed to create_app must check exactly the catalogue's tools: one missing a tool would
    fail that tool's every call."""
    from gateway.app import create_app
    from gateway.tools.catalogue import build_catalogue
    from tests.conftest import gateway_settings

    partial = ArgumentValidator(build_catalogue().tools[:3])
    with pytest.raises(ValueError, match="compiled for other tools"):
        create_app(gateway_settings(8080, sandbox_url), arguments=partial)


def test_a_confirmed_write_must_have_a_preview_to_show() -> None:
    # Listed as confirmed while its calls ran unconfirmed: a write with no target to preview cannot be confirmed.
    tools = build_catalogue().tools
    with pytest.raises(ValueError, match="update_service"):
        ConfirmPolicy(ConfirmSettings(tools=("create_incident", "update_service")), tools)
    every = ConfirmPolicy(ConfirmSettings(tools=(), all_writes=True), tools).confirmed
    assert "create_incident" in every and "delete_webhook" in every
    assert not every & {"update_service", "create_status_page", "setup_status_page", "create_webhook"}
