"""Every kind of bad input to /mcp gets its own status and a specific message, never a 500 or a stack trace.

One table, one row per rule, each asserting the exact HTTP status, the JSON-RPC error code (or the OAuth
error for credential failures) and the message a client or a model will read.
"""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import orjson
import pytest
from multidict import CIMultiDict

from tests.mcp_wire import DEMO_KEY, MODERN, modern_headers, modern_meta, modern_request, post, request

MAX_BODY = 4096
PING = request("ping")
META = modern_meta()
UNSUPPORTED = (
    "Bad Request: unsupported MCP-Protocol-Version '1999-01-01'; this server speaks "
    "2024-11-05, 2025-03-26, 2025-06-18, 2025-11-25, 2026-07-28"
)
BAD_CURSOR = "Invalid cursor: pass back exactly the nextCursor of the previous page"
# A name no tool has is a protocol error (the client picked it, not the model); wrong arguments of a known tool are
# isError results, because only results reach the model, which can then correct itself.
UNKNOWN_TOOL = "Unknown tool: 'drop_database'. Call tools/list for the tools this server offers."
def fix(tool: str) -> str:
    return f"Correct every one and call {tool} again."


def nested(levels: int) -> Any:
    """A value with `levels` arrays inside each other."""
    value: Any = []
    for _ in range(levels - 1):
        value = [value]
    return value


def b64(text: str) -> str:
    return f"=?base64?{base64.b64encode(text.encode()).decode()}?="


@dataclass(frozen=True)
class Case:
    id: str
    status: int
    code: int | None = None  # JSON-RPC error code; None for OAuth-style credential failures
    message: str | None = None  # exact JSON-RPC error message, or the OAuth error_description
    body: Any = field(default_factory=lambda: PING)
    raw: bytes | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    key: str | None = DEMO_KEY
    oauth_error: str | None = None
    data: Any = None
    tool_error: str | None = None  # the text of an isError result: what the model reads to correct itself


CASES = [
    # --- DNS rebinding protection -------------------------------------------------------------------------
    Case("origin-not-allowed", 403, -32600, "Forbidden: Origin 'http://evil.example' is not allowed", headers={"Origin": "http://evil.example"}),
    Case("origin-null", 403, -32600, "Forbidden: Origin 'null' is not allowed", headers={"Origin": "null"}),
    Case("host-not-served", 403, -32600, "Forbidden: Host 'evil.example:80' is not served here", headers={"Host": "evil.example:80"}),
    Case("host-rebound-to-loopback-name", 403, -32600, "Forbidden: Host 'attacker.localhost' is not served here", headers={"Host": "attacker.localhost"}),
    # --- HTTP negotiation -------------------------------------------------------------------------------
    Case("accept-html-only", 406, -32600, "Not Acceptable: the Accept header must allow application/json or text/event-stream", headers={"Accept": "text/html"}),
    Case("accept-json-refused-with-q0", 406, -32600, "Not Acceptable: the Accept header must allow application/json or text/event-stream", headers={"Accept": "application/json;q=0"}),
    Case("content-type-text", 415, -32600, "Unsupported Media Type: the body must be application/json, not text/plain", headers={"Content-Type": "text/plain"}),
    Case("content-type-form", 415, -32600, "Unsupported Media Type: the body must be application/json, not application/x-www-form-urlencoded", headers={"Content-Type": "application/x-www-form-urlencoded"}),
    Case("body-over-the-limit", 413, -32600, f"Payload Too Large: the body may be at most {MAX_BODY} bytes", raw=b'{"jsonrpc":"2.0","id":1,"method":"ping","params":{"pad":"' + b"x" * MAX_BODY + b'"}}'),
    # --- credentials ------------------------------------------------------------------------------------
    Case("auth-missing", 401, key=None, oauth_error="invalid_request", message="This server needs an Authorization: Bearer header (a StatusPal API key or an OAuth access token)."),
    Case("auth-basic-scheme", 401, key=None, headers={"Authorization": "Basic dXNlcjpwYXNz"}, oauth_error="invalid_request", message="The Authorization header must be 'Bearer <token>'."),
    Case("auth-bearer-empty", 401, key=None, headers={"Authorization": "Bearer "}, oauth_error="invalid_request", message="The Authorization header must be 'Bearer <token>'."),
    Case("auth-garbage-token", 401, key="hello-world", oauth_error="invalid_token", message="The bearer token is neither a StatusPal API key (sk_…) nor a token issued by this server."),
    Case("auth-jwe-shaped-foreign-token", 401, key="eyJhbGciOiJkaXIiLCJlbmMiOiJBMjU2R0NNIiwia2lkIjoibm90LW91cnMifQ..AAAA.BBBB.CCCC", oauth_error="invalid_token", message="The bearer token is neither a StatusPal API key (sk_…) nor a token issued by this server."),
    Case("auth-malformed-key", 401, key="sk_has spaces", oauth_error="invalid_token", message="The API key is malformed: StatusPal keys look like sk_ followed by letters, digits, - or _."),
    Case("auth-unknown-key", 401, key="sk_never_issued_123", oauth_error="invalid_token", message="StatusPal rejected this API key (it is unknown or was revoked)."),
    # --- JSON-RPC envelope ------------------------------------------------------------------------------
    Case("malformed-json", 400, -32700, "Parse error: the body is not valid UTF-8 JSON", raw=b'{"jsonrpc": "2.0", "id": 1,'),
    Case("invalid-utf8", 400, -32700, "Parse error: the body is not valid UTF-8 JSON", raw=b'{"jsonrpc":"2.0","id":1,"method":"pi\xffng"}'),
    Case("empty-body", 400, -32700, "Parse error: the body is not valid UTF-8 JSON", raw=b""),
    Case("batch", 400, -32600, "Batch requests are not supported: send one JSON-RPC message per POST", body=[PING, request("tools/list", request_id=2)]),
    Case("empty-batch", 400, -32600, "Batch requests are not supported: send one JSON-RPC message per POST", body=[]),
    Case("not-an-object", 400, -32600, "Invalid request: the body must be a JSON-RPC 2.0 object", body="ping"),
    Case("jsonrpc-missing", 400, -32600, 'Invalid request: "jsonrpc" must be "2.0"', body={"id": 1, "method": "ping"}),
    Case("jsonrpc-1.0", 400, -32600, 'Invalid request: "jsonrpc" must be "2.0"', body={"jsonrpc": "1.0", "id": 1, "method": "ping"}),
    Case("id-float", 400, -32600, 'Invalid request: "id" must be a string or an integer', body={"jsonrpc": "2.0", "id": 1.5, "method": "ping"}),
    Case("id-bool", 400, -32600, 'Invalid request: "id" must be a string or an integer', body={"jsonrpc": "2.0", "id": True, "method": "ping"}),
    Case("id-null", 400, -32600, 'Invalid request: "id" must be a string or an integer', body={"jsonrpc": "2.0", "id": None, "method": "ping"}),
    Case("id-object", 400, -32600, 'Invalid request: "id" must be a string or an integer', body={"jsonrpc": "2.0", "id": {"a": 1}, "method": "ping"}),
    Case("method-missing", 400, -32600, 'Invalid request: "method" must be a non-empty string', body={"jsonrpc": "2.0", "id": 1}),
    Case("method-not-a-string", 400, -32600, 'Invalid request: "method" must be a non-empty string', body={"jsonrpc": "2.0", "id": 1, "method": 7}),
    Case("params-array", 400, -32600, 'Invalid request: "params" must be an object', body={"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": []}),
    # --- handshake era ----------------------------------------------------------------------------------
    Case("version-header-unsupported", 400, -32600, UNSUPPORTED, headers={"MCP-Protocol-Version": "1999-01-01"}),
    Case("method-unknown", 200, -32601, "Method not found: resources/subscribe", body=request("resources/subscribe", {"uri": "x"})),
    Case("discover-is-2026-only", 200, -32601, "Method not found: server/discover", body=request("server/discover")),
    Case("set-level-bad-level", 200, -32602, "Invalid params for logging/setLevel: level: Input should be 'alert', 'critical', 'debug', 'emergency', 'error', 'info', 'notice' or 'warning'", body=request("logging/setLevel", {"level": "loud"})),
    Case("tool-unknown", 200, -32602, UNKNOWN_TOOL, body=request("tools/call", {"name": "drop_database", "arguments": {}})),
    Case("tool-name-missing", 200, -32602, 'Invalid params: "name" must be the name of a tool', body=request("tools/call", {"arguments": {}})),
    Case("tool-arguments-not-object", 200, -32602, 'Invalid params: "arguments" must be an object', body=request("tools/call", {"name": "get_status_page", "arguments": ["acme"]})),
    Case("tool-argument-missing", 200, tool_error=f"Invalid arguments for get_status_page: subdomain is missing (Page subdomain, not name (list_status_pages)). {fix('get_status_page')}", body=request("tools/call", {"name": "get_status_page", "arguments": {}})),
    Case("tool-argument-wrong-type", 200, tool_error=f"Invalid arguments for list_status_pages: per_page: must be a whole number, not a string. {fix('list_status_pages')}", body=request("tools/call", {"name": "list_status_pages", "arguments": {"per_page": "ten"}})),
    Case("tool-argument-unexpected", 200, tool_error=f"Invalid arguments for list_status_pages: colour is not an argument of list_status_pages. {fix('list_status_pages')}", body=request("tools/call", {"name": "list_status_pages", "arguments": {"colour": "red"}})),
    Case("tool-argument-display-name", 200, tool_error=f"Invalid arguments for get_service: slug: 'Web Console' is not an identifier (a display name, or malformed): pass the slug or id as list_services shows it, never a name. {fix('get_service')}", body=request("tools/call", {"name": "get_service", "arguments": {"subdomain": "acme", "slug": "Web Console"}})),
    Case("tool-argument-page-name", 200, tool_error=f"Invalid arguments for list_notices: subdomain: 'Acme Status' is not an identifier (a display name, or malformed): pass the slug or id as list_status_pages shows it, never a name. {fix('list_notices')}", body=request("tools/call", {"name": "list_notices", "arguments": {"subdomain": "Acme Status"}})),
    Case("tools-list-bad-cursor", 200, -32602, BAD_CURSOR, body=request("tools/list", {"cursor": "not-a-cursor"})),
    Case("tools-list-forged-cursor", 200, -32602, BAD_CURSOR, body=request("tools/list", {"cursor": base64.urlsafe_b64encode(b"tools:99").decode().rstrip("=")})),
    Case("tools-list-non-ascii-cursor", 200, -32602, BAD_CURSOR, body=request("tools/list", {"cursor": "dG9vbHM6MQ\u00e9"})),
    Case("tools-list-unicode-digit-cursor", 200, -32602, BAD_CURSOR, body=request("tools/list", {"cursor": base64.urlsafe_b64encode("tools:\u00b2".encode()).decode()})),
    Case("message-nested-too-deep", 400, -32600, "Invalid request: the message nests arrays and objects more than 64 levels deep", raw=b'{"jsonrpc":"2.0","method":"tools/call","params":{"name":"list_status_pages","arguments":{"x":' + b"[" * 974 + b"]" * 974 + b"}}}"),
    Case("tool-argument-nested-deep-but-allowed", 200, tool_error=f"Invalid arguments for list_status_pages: x is not an argument of list_status_pages. {fix('list_status_pages')}", body=request("tools/call", {"name": "list_status_pages", "arguments": {"x": nested(58)}})),
    Case("resource-unknown", 200, -32002, "Resource not found: statuspal-docs://nope", body=request("resources/read", {"uri": "statuspal-docs://nope"}), data={"uri": "statuspal-docs://nope"}),
    Case("resource-uri-missing", 200, -32602, "Invalid params for resources/read: uri: Field required", body=request("resources/read", {})),
    Case("prompt-unknown", 200, -32602, "Unknown prompt: 'summarise'. This server offers no prompts.", body=request("prompts/get", {"name": "summarise"})),
    # --- 2026-07-28 ------------------------------------------------------------------------------------
    Case("modern-meta-missing", 400, -32602, "params._meta must be an object carrying the required 'io.modelcontextprotocol/protocolVersion' and 'io.modelcontextprotocol/clientCapabilities' envelope keys", body=request("tools/list"), headers=modern_headers("tools/list")),
    Case("modern-capabilities-missing", 400, -32602, "params._meta is missing the required envelope key(s): io.modelcontextprotocol/clientCapabilities", body=request("tools/list", {"_meta": {"io.modelcontextprotocol/protocolVersion": MODERN}}), headers=modern_headers("tools/list")),
    Case("modern-version-header-missing", 400, -32020, "mcp-protocol-version header does not match the request envelope's protocol version", body=modern_request("tools/list"), headers={"Mcp-Method": "tools/list"}),
    Case("modern-version-header-mismatch", 400, -32020, "mcp-protocol-version header does not match the request envelope's protocol version", body=request("tools/list", {"_meta": modern_meta("v999")}), headers=modern_headers("tools/list")),
    Case("modern-method-header-missing", 400, -32020, "mcp-method header does not match the request body's method", body=modern_request("tools/list"), headers={"MCP-Protocol-Version": MODERN}),
    Case("modern-method-header-mismatch", 400, -32020, "mcp-method header does not match the request body's method", body=modern_request("tools/list"), headers=modern_headers("prompts/list")),
    Case("modern-method-header-case", 400, -32020, "mcp-method header does not match the request body's method", body=modern_request("tools/list"), headers=modern_headers("TOOLS/LIST")),
    Case("modern-name-header-missing", 400, -32020, "mcp-name header does not match the request body's 'name' parameter", body=modern_request("tools/call", {"name": "list_status_pages", "arguments": {}}), headers=modern_headers("tools/call")),
    Case("modern-name-header-mismatch", 400, -32020, "mcp-name header does not match the request body's 'name' parameter", body=modern_request("tools/call", {"name": "list_status_pages", "arguments": {}}), headers=modern_headers("tools/call", "get_status_page")),
    Case("modern-name-header-bad-base64", 400, -32020, "mcp-name header does not match the request body's 'name' parameter", body=modern_request("tools/call", {"name": "list_status_pages", "arguments": {}}), headers=modern_headers("tools/call", "=?base64?bGlzdF9zdGF0dXNfcGFnZXM?=")),
    Case("modern-uri-header-mismatch", 400, -32020, "mcp-name header does not match the request body's 'uri' parameter", body=modern_request("resources/read", {"uri": "statuspal-docs://webhooks"}), headers=modern_headers("resources/read", "statuspal-docs://other")),
    Case("modern-version-unsupported", 400, -32022, "Unsupported protocol version", body=request("server/discover", {"_meta": modern_meta("v999")}), headers=modern_headers("server/discover", version="v999"), data={"supported": [MODERN], "requested": "v999"}),
    Case("modern-method-unknown", 404, -32601, "Method not found: tools/destroy", body=modern_request("tools/destroy"), headers=modern_headers("tools/destroy")),
    Case("modern-ping-removed", 404, -32601, "Method not found: ping", body=modern_request("ping"), headers=modern_headers("ping")),
    Case("modern-initialize-removed", 404, -32601, "Method not found: initialize", body=modern_request("initialize"), headers=modern_headers("initialize")),
    Case("modern-set-level-removed", 404, -32601, "Method not found: logging/setLevel", body=modern_request("logging/setLevel", {"level": "info"}), headers=modern_headers("logging/setLevel")),
    Case("modern-tool-unknown", 400, -32602, UNKNOWN_TOOL, body=modern_request("tools/call", {"name": "drop_database", "arguments": {}}), headers=modern_headers("tools/call", "drop_database")),
    Case("modern-tool-arguments-bad", 200, tool_error=f"Invalid arguments for get_status_page: subdomain is missing (Page subdomain, not name (list_status_pages)). {fix('get_status_page')}", body=modern_request("tools/call", {"name": "get_status_page", "arguments": {}}), headers=modern_headers("tools/call", "get_status_page")),
    Case("modern-resource-unknown", 400, -32602, "Resource not found: statuspal-docs://nope", body=modern_request("resources/read", {"uri": "statuspal-docs://nope"}), headers=modern_headers("resources/read", "statuspal-docs://nope"), data={"uri": "statuspal-docs://nope"}),
    Case("modern-non-ascii-cursor", 400, -32602, BAD_CURSOR, body=modern_request("tools/list", {"cursor": "\u00e9\u00e9\u00e9\u00e9"}), headers=modern_headers("tools/list")),
    Case("modern-bad-cursor", 400, -32602, BAD_CURSOR, body=modern_request("tools/list", {"cursor": "zzz"}), headers=modern_headers("tools/list")),
]


@pytest.fixture(scope="module")
async def small_gateway(sandbox_url) -> AsyncIterator[str]:
    """One gateway for the whole table (nothing in it changes state), with a small body limit."""
    from gateway.app import create_app
    from tests.conftest import bound_socket, gateway_settings, serve_app, shared_arguments

    sock = bound_socket()
    settings = gateway_settings(sock.getsockname()[1], sandbox_url, server={"max_body_bytes": MAX_BODY})
    async with serve_app(create_app(settings, arguments=shared_arguments()), sock) as url:
        yield f"{url}/mcp"


@pytest.fixture(scope="module")
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
async def test_bad_input_is_refused_precisely(case: Case, small_gateway, http):
    answer = await post(http, small_gateway, case.body, key=case.key, headers=case.headers, raw=case.raw)
    assert answer.status == case.status, answer.text
    assert answer.headers["Content-Type"].startswith("application/json")
    if case.oauth_error is not None:
        assert answer.json == {"error": case.oauth_error, "error_description": case.message}
        challenge = answer.headers["WWW-Authenticate"]
        assert challenge.startswith("Bearer ")
        assert f'resource_metadata="{small_gateway.rsplit("/mcp", 1)[0]}/.well-known/oauth-protected-resource/mcp"' in challenge
        assert ('error="invalid_token"' in challenge) == (case.oauth_error == "invalid_token")
        return
    if case.tool_error is not None:
        result = answer.result
        assert result["isError"] is True
        assert result["content"] == [{"type": "text", "text": case.tool_error}]
        assert "structuredContent" not in result
        return
    error = answer.error
    assert (error["code"], error["message"]) == (case.code, case.message)
    assert error.get("data") == case.data
    # The request's id is echoed once the body was read and the id itself is valid; refusals made from the
    # headers alone (403, 406, 413, 415) come before the body is read, so their id is null.
    sent_id = case.body.get("id") if isinstance(case.body, dict) and case.raw is None else None
    valid_id = isinstance(sent_id, (int, str)) and not isinstance(sent_id, bool)
    expected_id = sent_id if valid_id and case.status not in (403, 406, 413, 415) else None
    assert answer.json["id"] == expected_id


async def test_a_streamed_body_over_the_limit_is_413(small_gateway, http):
    """No Content-Length to check up front: the limit still holds while the body is read."""

    async def chunks():
        yield b'{"jsonrpc":"2.0","id":1,"method":"ping","params":{"pad":"'
        for _ in range(4):
            yield b"x" * 2048
        yield b'"}}'

    headers = {"Authorization": f"Bearer {DEMO_KEY}", "Accept": "application/json", "Content-Type": "application/json"}
    async with http.post(small_gateway, data=chunks(), headers=headers) as response:
        assert response.status == 413
        assert (await response.json())["error"]["message"] == f"Payload Too Large: the body may be at most {MAX_BODY} bytes"


async def test_a_duplicated_routing_header_is_a_mismatch(small_gateway, http):
    """Two Mcp-Method lines: first-copy and last-copy readers would disagree, so neither is trusted."""
    headers = CIMultiDict({"Authorization": f"Bearer {DEMO_KEY}", "Accept": "application/json", "Content-Type": "application/json",
                           **modern_headers("tools/list")})
    headers.add("Mcp-Method", "tools/list")
    async with http.post(small_gateway, data=orjson.dumps(modern_request("tools/list")), headers=headers) as response:
        assert response.status == 400
        error = (await response.json())["error"]
    assert (error["code"], error["message"]) == (-32020, "mcp-method header appears more than once")


@pytest.mark.parametrize(
    "headers",
    [modern_headers("tools/call", "  list_status_pages  "), modern_headers("tools/call", b64("list_status_pages")),
     {"mcp-protocol-version": MODERN, "MCP-METHOD": "tools/call", "mcp-name": "list_status_pages"}],
    ids=["whitespace-around-value", "base64-sentinel", "header-names-in-any-case"],
)
async def test_routing_headers_are_read_as_http_says(small_gateway, http, headers):
    answer = await post(http, small_gateway, modern_request("tools/call", {"name": "list_status_pages", "arguments": {}}), headers=headers)
    assert answer.status == 200, answer.text
    assert "result" in answer.json


async def test_a_notification_and_a_client_response_are_accepted_without_a_body(small_gateway, http):
    for body in ({"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": 3}},
                 {"jsonrpc": "2.0", "id": 9, "result": {}}):
        answer = await post(http, small_gateway, body)
        assert (answer.status, answer.text) == (202, "")


# --- upstream failures: isError results whose text says what happened and what to do -----------------------

NEW_PAGE = {"name": "Acme", "subdomain": "acme-status", "timezone": "UTC", "website_url": "https://acme.example"}
NEW_HOOK = {"name": "Bridge", "url": "https://hooks.example/statuspal", "events": ["notice.created"]}
# A create that names its resource (a page's subdomain) is settled by one read of that name ...
SETTLED = (
    "StatusPal gave no usable answer to the create ({}), so one read settled it: there is no status page "
    "'acme-status', so the create did not take effect. It is safe to call create_status_page again."
)
# ... one that does not (a webhook gets its id from StatusPal) says which read would settle it.
UNKNOWN_OUTCOME = (
    "The request reached StatusPal but no usable answer came back ({}), so it is unknown whether it took effect. "
    "Do not repeat it blindly: first call list_webhooks (or the matching get tool) to see whether the webhook "
    "change is there, and call the tool again only if the change is missing."
)
UPSTREAM_CASES = [
    ("get-5xx", {"error_rate": 1.0, "error_status": 502}, "get_status_page", {"subdomain": "acme-status"},
     "StatusPal is temporarily unavailable (502 service_unavailable: Injected upstream failure). This is temporary: try again in a little while."),
    ("get-429", {"rate_limit_rate": 1.0, "retry_after_seconds": 0}, "get_status_page", {"subdomain": "acme-status"},
     "StatusPal is rate limiting requests (429). This is temporary: try again in a little while."),
    ("get-429-long-retry-after", {"rate_limit_rate": 1.0, "retry_after_seconds": 7}, "get_status_page", {"subdomain": "acme-status"},
     "StatusPal is rate limiting requests (429). This is temporary: try again in 7 seconds."),
    ("get-dropped", {"drop_rate": 1.0}, "get_status_page", {"subdomain": "acme-status"},
     "StatusPal could not be reached (connection_error: the connection dropped before StatusPal answered). This is temporary: try again in a little while."),
    ("get-timeout", {"latency_ms": 1500}, "get_status_page", {"subdomain": "acme-status"},
     "StatusPal could not be reached (timeout: no answer within 0.3 s). This is temporary: try again in a little while."),
    ("post-5xx", {"error_rate": 1.0, "error_status": 503}, "create_status_page", NEW_PAGE,
     SETTLED.format("503 service_unavailable: Injected upstream failure")),
    ("post-dropped", {"drop_rate": 1.0}, "create_status_page", NEW_PAGE,
     SETTLED.format("connection_error: the connection dropped before StatusPal answered")),
    ("post-timeout", {"latency_ms": 1500}, "create_status_page", NEW_PAGE,
     SETTLED.format("timeout: no answer within 0.3 s")),
    ("post-5xx-unnamed", {"error_rate": 1.0, "error_status": 503}, "create_webhook", NEW_HOOK,
     UNKNOWN_OUTCOME.format("503 service_unavailable: Injected upstream failure")),
    ("post-timeout-unnamed", {"latency_ms": 1500}, "create_webhook", NEW_HOOK,
     UNKNOWN_OUTCOME.format("timeout: no answer within 0.3 s")),
]


@pytest.mark.parametrize("faults, tool, arguments, text", [c[1:] for c in UPSTREAM_CASES], ids=[c[0] for c in UPSTREAM_CASES])
async def test_an_upstream_failure_is_a_result_the_model_can_act_on(make_gateway, sandbox_admin, http, faults, tool, arguments, text):
    server = await make_gateway(statuspal={"max_retries": 1, "total_timeout_seconds": 0.3})
    assert (await post(http, server.mcp_url, request("tools/list"))).status == 200  # the key check is cached now
    endpoint = {"create_status_page": "status_pages_create", "create_webhook": "webhooks_create"}.get(tool, "status_pages_get")
    await sandbox_admin.faults(**faults, only=[endpoint])
    await sandbox_admin.clear_requests()

    answer = await post(http, server.mcp_url, request("tools/call", {"name": tool, "arguments": arguments}))
    assert answer.status == 200
    assert answer.result == {"content": [{"type": "text", "text": text}], "isError": True}
    if tool.startswith("create_"):  # a POST that may have reached StatusPal is never sent again, at most read
        sent = [r["method"] for r in await sandbox_admin.requests()]
        assert sent == (["POST", "GET"] if tool == "create_status_page" else ["POST"])
