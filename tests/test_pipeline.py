"""`tools/call` as one pipeline, over HTTP: each outcome kind in each protocol era where it exists, the request
meta the pipeline is handed, and the client capabilities a handshake-era session id carries.

Test tools come in through the catalogue's public hook (`create_app(extra_tools=…)`), so what is exercised is
the gateway as served, not a stub of it.
"""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest

from gateway.auth.identity import key_id
from gateway.auth.scopes import READ
from gateway.protocol.meta import APPS_EXTENSION, ClientCapabilities, RequestMeta
from gateway.tools.base import READ_ONLY, InputNeeded, Tool, ToolContext, ToolError
from gateway.web.transport import TRANSPORT
from tests.mcp_wire import DEMO_KEY, MODERN, modern_headers, modern_request, post, request

SCHEMA = {"type": "object", "properties": {}, "additionalProperties": False}
TRACEPARENT = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"


async def _confirming(ctx: ToolContext, args: dict[str, Any]) -> dict[str, Any]:
    """Asks the user once, then answers with what came back: the round trip a confirmation will use."""
    answer = ctx.input_responses.get("confirm")
    if answer is None:
        raise InputNeeded(
            {"confirm": {"method": "elicitation/create", "params": {
                "mode": "form", "message": "Publish?",
                "requestedSchema": {"type": "object", "properties": {"ok": {"type": "boolean"}}, "required": ["ok"]}}}},
            request_state="state-1",
        )
    return {"answer": answer, "state": ctx.request_state}


async def _partial(ctx: ToolContext, args: dict[str, Any]) -> dict[str, Any]:
    not_applied = {"text": {"asked": "a", "statuspal": "b"}}
    raise ToolError("StatusPal applied the title but not the text.", data={"applied": {"title": "T"}, "not_applied": not_applied})


TOOLS = (
    Tool("ask_first", "Ask first", "Asks the user, then answers.", SCHEMA, SCHEMA, READ_ONLY, _confirming, frozenset(),
         scope=READ, needs_upstream=False),
    Tool("half_done", "Half done", "A write applied in part.", SCHEMA, SCHEMA, READ_ONLY, _partial, frozenset(),
         scope=READ, needs_upstream=False),
)


@pytest.fixture(scope="module")
async def served(make_module_gateway):
    gateway = await make_module_gateway(extra_tools=TOOLS)
    seen: list[Any] = []
    dispatcher = gateway.app[TRANSPORT].dispatcher
    pipeline = dispatcher._tools
    run = pipeline.run

    async def spy(tool, arguments, call):
        seen.append(call)
        return await run(tool, arguments, call)

    pipeline.run = spy
    return gateway, seen


def _call(name: str, arguments: dict[str, Any] | None = None, **params: Any) -> dict[str, Any]:
    return {"name": name, "arguments": arguments or {}, **params}


async def _modern(http: aiohttp.ClientSession, url: str, name: str, **params: Any):
    return await post(http, url, modern_request("tools/call", _call(name, **params)), headers=modern_headers("tools/call", name))


async def test_complete_in_both_eras(served):
    gateway, _ = served
    async with aiohttp.ClientSession() as http:
        handshake = await post(http, gateway.mcp_url, request("tools/call", _call("search_docs", {"query": "webhook secret"})))
        modern = await _modern(http, gateway.mcp_url, "search_docs", arguments={"query": "webhook secret"})
    assert handshake.status == 200 and handshake.result["isError"] is False and "resultType" not in handshake.result
    assert modern.status == 200 and modern.result["isError"] is False and modern.result["resultType"] == "complete"
    assert handshake.result["structuredContent"] == modern.result["structuredContent"]


async def test_input_required_then_the_retry_completes_in_2026_07_28(served):
    gateway, _ = served
    async with aiohttp.ClientSession() as http:
        first = await _modern(http, gateway.mcp_url, "ask_first")
        assert first.status == 200
        assert first.result["resultType"] == "input_required"
        assert first.result["requestState"] == "state-1"
        assert first.result["inputRequests"]["confirm"]["method"] == "elicitation/create"
        retry = await _modern(http, gateway.mcp_url, "ask_first", inputResponses={"confirm": {"action": "accept", "content": {"ok": True}}},
                              requestState="state-1")
    assert retry.result["resultType"] == "complete" and retry.result["isError"] is False
    assert retry.result["structuredContent"] == {"answer": {"action": "accept", "content": {"ok": True}}, "state": "state-1"}


async def test_input_required_does_not_exist_in_the_handshake_era(served):
    gateway, _ = served
    async with aiohttp.ClientSession() as http:
        answer = await post(http, gateway.mcp_url, request("tools/call", _call("ask_first")))
    assert answer.status == 200 and answer.result["isError"] is True
    assert "2026-07-28" in answer.result["content"][0]["text"] and "nothing was changed" in answer.result["content"][0]["text"]


@pytest.mark.parametrize("modern", [False, True], ids=["handshake", "2026-07-28"])
async def test_a_tool_error_keeps_its_data_off_the_wire(served, modern):
    """The data a failure carries (what StatusPal applied and what not) stays with the outcome for later steps;
    the client gets the words, in the same bytes as before the pipeline had data."""
    gateway, _ = served
    async with aiohttp.ClientSession() as http:
        if modern:
            answer = await _modern(http, gateway.mcp_url, "half_done")
        else:
            answer = await post(http, gateway.mcp_url, request("tools/call", _call("half_done")))
    assert answer.status == 200 and answer.result["isError"] is True
    assert answer.result["content"] == [{"type": "text", "text": "StatusPal applied the title but not the text."}]
    assert "structuredContent" not in answer.result


async def test_key_refused_is_a_401_in_both_eras(served, sandbox_admin):
    gateway, _ = served
    key = "sk_test_refused_midway"
    await sandbox_admin.add_key(key)
    async with aiohttp.ClientSession() as http:
        ok = await post(http, gateway.mcp_url, request("tools/call", _call("list_status_pages")), key=key)
        assert ok.status == 200
        await sandbox_admin.add_key(key, revoked=True)
        handshake = await post(http, gateway.mcp_url, request("tools/call", _call("list_status_pages")), key=key)
        await sandbox_admin.add_key(key)
        await post(http, gateway.mcp_url, request("tools/call", _call("list_status_pages")), key=key)
        await sandbox_admin.add_key(key, revoked=True)
        modern = await post(http, gateway.mcp_url, modern_request("tools/call", _call("list_status_pages")), key=key,
                            headers=modern_headers("tools/call", "list_status_pages"))
    for answer in (handshake, modern):
        assert answer.status == 401 and answer.headers["WWW-Authenticate"].startswith('Bearer error="invalid_token"')


async def test_the_pipeline_is_handed_the_caller_and_the_request_meta(served):
    gateway, seen = served
    seen.clear()
    capabilities = {"elicitation": {"form": {}}, "extensions": {APPS_EXTENSION: {"mimeTypes": ["text/html;profile=mcp-app"]}}}
    body = modern_request("tools/call", _call("search_docs", {"query": "incident"}))
    body["params"]["_meta"].update({
        "io.modelcontextprotocol/clientCapabilities": capabilities, "progressToken": "p-1",
        "traceparent": TRACEPARENT, "tracestate": "vendor=1",
    })
    async with aiohttp.ClientSession() as http:
        await post(http, gateway.mcp_url + "/readonly", body, headers=modern_headers("tools/call", "search_docs"))
    (call,) = seen
    assert call.caller.key_id == key_id(DEMO_KEY)
    assert call.caller.credentials.kind == "direct" and call.caller.surface.readonly
    assert call.caller.credentials.api_key == DEMO_KEY
    assert call.meta == RequestMeta(
        protocol_version=MODERN, modern=True,
        capabilities=ClientCapabilities(apps=True, app_mime_types=("text/html;profile=mcp-app",), elicitation_form=True),
        progress_token="p-1", traceparent=TRACEPARENT, tracestate="vendor=1",
    )


async def test_a_malformed_trace_context_is_dropped_not_refused(served):
    gateway, seen = served
    seen.clear()
    body = modern_request("tools/call", _call("search_docs", {"query": "incident"}))
    body["params"]["_meta"].update({"traceparent": "00-" + "0" * 32 + "-b7ad6b7169203331-01", "tracestate": "x"})
    async with aiohttp.ClientSession() as http:
        answer = await post(http, gateway.mcp_url, body, headers=modern_headers("tools/call", "search_docs"))
    assert answer.result["isError"] is False
    assert seen[0].meta.traceparent is None and seen[0].meta.tracestate is None


async def test_a_handshake_session_carries_the_capabilities_initialize_stated(served):
    gateway, seen = served
    seen.clear()
    capabilities = {"elicitation": {}, "extensions": {APPS_EXTENSION: {"mimeTypes": ["text/html;profile=mcp-app"] * 50}},
                    "roots": {"listChanged": True}, "experimental": {"x": {"y": "z" * 5000}}}
    async with aiohttp.ClientSession() as http:
        opened = await post(http, gateway.mcp_url, request("initialize", {
            "protocolVersion": "2025-11-25", "capabilities": capabilities, "clientInfo": {"name": "t", "version": "1"}}))
        assert opened.status == 200 and "result" in opened.json, opened.text
        session = opened.headers["Mcp-Session-Id"]
        # Bounded however much the client declared: a session id travels on every request.
        assert len(session) < 400
        await post(http, gateway.mcp_url, request("tools/call", _call("search_docs", {"query": "incident"})),
                   headers={"Mcp-Session-Id": session, "MCP-Protocol-Version": "2025-11-25"})
        await post(http, gateway.mcp_url, request("tools/call", _call("search_docs", {"query": "incident"})),
                   headers={"MCP-Protocol-Version": "2025-11-25"})
    with_session, without = seen
    assert with_session.meta.capabilities == ClientCapabilities(
        apps=True, app_mime_types=("text/html;profile=mcp-app",) * 4, elicitation_form=True)
    assert without.meta.capabilities == ClientCapabilities()
