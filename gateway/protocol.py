"""JSON-RPC and MCP methods, for both protocol eras.

`gateway.transport` has already applied the HTTP rules (Host, Origin, auth, headers, era) when a `Call`
arrives here; this module answers it with the bytes of a JSON-RPC ``result``, or raises `RpcError`.

Answers whose content is fixed for the life of the process (``initialize``, ``server/discover``, every
``tools/list`` page per version and grant) are serialised once, through `mcp_types.methods.
serialize_server_result`, at start-up; a request then costs a dictionary lookup. ``tools/call`` results are
built by hand in exactly the shape ``serialize_server_result`` produces (a test compares the two), because
running pydantic over every result would cost more than the rest of the call.
"""

from __future__ import annotations

import base64
import functools
import importlib.metadata
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Awaitable, Callable, Mapping, Protocol

import fastjsonschema
import orjson
from jsonschema import Draft202012Validator
from jsonschema.exceptions import best_match
from mcp_types import SERVER_INFO_META_KEY
from mcp_types.jsonrpc import INVALID_PARAMS, INVALID_REQUEST, METHOD_NOT_FOUND, PARSE_ERROR
from mcp_types.methods import serialize_server_result, validate_client_request
from mcp_types.version import HANDSHAKE_PROTOCOL_VERSIONS, LATEST_HANDSHAKE_VERSION, MODERN_PROTOCOL_VERSIONS
from pydantic import ValidationError

from gateway.config import ConfigError
from gateway.identity import AuthError, Credentials
from gateway.redaction import quotable, redact_text, redact_value
from gateway.scopes import READ, WRITE
from gateway.statuspal.errors import UpstreamAuthError, UpstreamError, describe
from gateway.tools.base import Tool, ToolContext, ToolError

if TYPE_CHECKING:
    from gateway.state import Gateway

log = logging.getLogger("gateway.protocol")

SERVER_NAME = "statuspal-mcp"
SUPPORTED_VERSIONS = (*HANDSHAKE_PROTOCOL_VERSIONS, *MODERN_PROTOCOL_VERSIONS)
# -32002 is the handshake era's "resource not found"; 2026-07-28 uses -32602 instead.
RESOURCE_NOT_FOUND = -32002
# The deepest nesting of arrays and objects a message may have (see _nests_deeper_than).
MAX_NESTING = 64
# How long 2026-07-28 clients may cache list results. The tool set only changes with a deploy.
LIST_TTL_MS = 300_000

INSTRUCTIONS = (
    "Manages StatusPal status pages on the caller's own StatusPal account: status pages, services, regions "
    "(containers), incidents and scheduled maintenance (notices), outgoing webhooks, plus a search of the "
    "StatusPal API docs. Read tools are safe to call at any time. Every tool that creates, changes or deletes "
    "something acts on the live account: confirm the change with the user first. Tools that can email or "
    "otherwise notify a page's subscribers take a required `notify` flag: ask the user whether subscribers "
    "should be notified, never assume."
)

# Methods each era serves; anything else is -32601. Removed in 2026-07-28: initialize, ping, logging/setLevel.
HANDSHAKE_METHODS = frozenset(
    {"initialize", "ping", "logging/setLevel", "tools/list", "tools/call", "resources/list", "resources/read",
     "resources/templates/list", "prompts/list", "prompts/get"}
)
MODERN_METHODS = frozenset(
    {"server/discover", "tools/list", "tools/call", "resources/list", "resources/read", "resources/templates/list",
     "prompts/list", "prompts/get"}
)

_CAPABILITIES = {"tools": {"listChanged": False}, "resources": {}, "prompts": {"listChanged": False}}


class RpcError(Exception):
    """A JSON-RPC error answer. `status` pins the HTTP status; None lets the transport pick it by era.

    `request_id` is set when the error is found while the envelope is read (its id is valid even if the
    rest is not), so the client can still match the answer to its request.
    """

    def __init__(self, code: int, message: str, data: Any = None, status: int | None = None, request_id: Any = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.data = data
        self.status = status
        self.request_id = request_id

    def body(self, request_id: Any) -> dict[str, Any]:
        # Messages quote caller input through quotable(); scrubbing the whole error again here also covers
        # text worded by libraries (the SDK's header checks, pydantic) that quote whatever they were given.
        error: dict[str, Any] = {"code": self.code, "message": redact_text(self.message)}
        if self.data is not None:
            error["data"] = redact_value(self.data)
        return {"jsonrpc": "2.0", "id": request_id, "error": error}


@dataclass(slots=True)
class Message:
    """One JSON-RPC message from the client. `id` is None for notifications and for client responses."""

    method: str | None
    id: int | str | None
    params: dict[str, Any]
    is_response: bool = False

    @property
    def is_request(self) -> bool:
        return self.id is not None and not self.is_response


def _nests_deeper_than(value: Any, limit: int) -> bool:
    """Whether `value` has arrays or objects nested more than `limit` levels deep, found without recursion.

    orjson accepts up to 1,024 levels, but everything after the parse that walks a value by recursion (the
    schema validators, repr() wording their messages) hits Python's recursion limit long before that; bounding
    the depth once, here, keeps every later step safe. No MCP message nests anywhere near this deep.
    """
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if depth > limit:
            return True
        children = item.values() if isinstance(item, dict) else item
        stack.extend((child, depth + 1) for child in children if isinstance(child, (dict, list)))
    return False


def parse_message(body: bytes) -> Message:
    """Decode and check the JSON-RPC 2.0 envelope; every failure is a 400 with its own message."""
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise RpcError(PARSE_ERROR, "Parse error: the body is not valid UTF-8 JSON", status=400) from None
    if isinstance(data, list):
        raise RpcError(
            INVALID_REQUEST, "Batch requests are not supported: send one JSON-RPC message per POST", status=400
        )
    if not isinstance(data, dict):
        raise RpcError(INVALID_REQUEST, "Invalid request: the body must be a JSON-RPC 2.0 object", status=400)
    request_id = data.get("id")
    if "id" in data and (isinstance(request_id, bool) or not isinstance(request_id, (int, str))):
        raise RpcError(INVALID_REQUEST, 'Invalid request: "id" must be a string or an integer', status=400)
    if data.get("jsonrpc") != "2.0":
        raise RpcError(INVALID_REQUEST, 'Invalid request: "jsonrpc" must be "2.0"', status=400, request_id=request_id)
    params = data.get("params", {})
    if not isinstance(params, dict):
        raise RpcError(INVALID_REQUEST, 'Invalid request: "params" must be an object', status=400, request_id=request_id)
    if _nests_deeper_than(data, MAX_NESTING):
        raise RpcError(INVALID_REQUEST, f"Invalid request: the message nests arrays and objects more than {MAX_NESTING} levels deep", status=400, request_id=request_id)
    method = data.get("method")
    if method is None and request_id is not None and ("result" in data or "error" in data):
        return Message(method=None, id=request_id, params={}, is_response=True)
    if not isinstance(method, str) or not method:
        raise RpcError(INVALID_REQUEST, 'Invalid request: "method" must be a non-empty string', status=400, request_id=request_id)
    return Message(method=method, id=request_id, params=params)


class Reply(Protocol):
    """The transport's side of one answer: progress notifications go out over SSE once `notify` is called."""

    @property
    def streaming(self) -> bool: ...

    async def notify(self, message: Mapping[str, Any]) -> None: ...


@dataclass
class Call:
    message: Message
    version: str
    credentials: Credentials
    reply: Reply
    # Correlates the client's "request id …" with the server log line for internal errors.
    request_id: str

    @property
    def modern(self) -> bool:
        return self.version in MODERN_PROTOCOL_VERSIONS

    @property
    def params(self) -> dict[str, Any]:
        return self.message.params


class Dispatcher:
    """Answers `Call`s. Built once per application; holds the pre-serialised fixed answers."""

    def __init__(self, gateway: "Gateway") -> None:
        self._gateway = gateway
        settings = gateway.settings
        # Arguments are checked by code fastjsonschema generates from each inputSchema, once here; jsonschema,
        # several times slower per call, only runs when that check fails, to word the error (see _tools_call).
        self._argument_checks = {tool.name: _compile_check(tool.input_schema) for tool in gateway.catalogue.tools}
        self._page_size = settings.server.tools_page_size
        if self._page_size < 1:
            raise ConfigError(f"bad value for server.tools_page_size: {self._page_size} (must be at least 1)")
        self.server_info = {
            "name": SERVER_NAME,
            "title": "StatusPal",
            "version": importlib.metadata.version("statuspal-mcp"),
            "websiteUrl": settings.search.docs_base_url,
        }
        self._result_meta = {SERVER_INFO_META_KEY: self.server_info}
        self._call_result_tail = b',"resultType":"complete","_meta":' + orjson.dumps(self._result_meta) + b"}"
        self._initialize = {v: self._serialise("initialize", v, self._initialize_result(v)) for v in HANDSHAKE_PROTOCOL_VERSIONS}
        self._discover = {v: self._serialise("server/discover", v, self._discover_result()) for v in MODERN_PROTOCOL_VERSIONS}
        self._tool_pages: dict[tuple[str, frozenset[str]], tuple[bytes, ...]] = {}
        for version in SUPPORTED_VERSIONS:
            for scopes in (frozenset({READ}), frozenset({READ, WRITE})):
                self._tools_pages(version, scopes)
        self._methods: dict[str, Callable[[Call], Awaitable[bytes]]] = {
            "initialize": self._initialize_method,
            "ping": self._empty,
            "logging/setLevel": self._set_level,
            "server/discover": self._discover_method,
            "tools/list": self._tools_list,
            "tools/call": self._tools_call,
            "resources/list": self._resources_list,
            "resources/read": self._resources_read,
            "resources/templates/list": self._resource_templates,
            "prompts/list": self._prompts_list,
            "prompts/get": self._prompts_get,
        }

    async def dispatch(self, call: Call) -> bytes:
        """The serialised ``result`` for `call`, or RpcError / AuthError."""
        method = call.message.method
        served = MODERN_METHODS if call.modern else HANDSHAKE_METHODS
        if method not in served:
            raise RpcError(METHOD_NOT_FOUND, f"Method not found: {quotable(method)}")
        return await self._methods[method](call)  # type: ignore[index]

    # --- lifecycle -------------------------------------------------------------------------------------

    def negotiate(self, requested: Any) -> str:
        """The handshake answer: the client's version when we speak it, else our latest handshake version."""
        return requested if requested in HANDSHAKE_PROTOCOL_VERSIONS else LATEST_HANDSHAKE_VERSION

    async def _initialize_method(self, call: Call) -> bytes:
        version = self.negotiate(call.params.get("protocolVersion"))
        self._validate("initialize", version, call.params)
        return self._initialize[version]

    async def _discover_method(self, call: Call) -> bytes:
        return self._discover[call.version]

    async def _empty(self, call: Call) -> bytes:
        return b"{}"

    async def _set_level(self, call: Call) -> bytes:
        # Accepted so clients that always send it keep working; this server emits no log notifications.
        self._validate("logging/setLevel", call.version, call.params)
        return b"{}"

    def _initialize_result(self, version: str) -> dict[str, Any]:
        return {
            "protocolVersion": version,
            "capabilities": {**_CAPABILITIES, "logging": {}},
            "serverInfo": self.server_info,
            "instructions": INSTRUCTIONS,
        }

    def _discover_result(self) -> dict[str, Any]:
        return self._modern(
            {"supportedVersions": list(MODERN_PROTOCOL_VERSIONS), "capabilities": _CAPABILITIES, "instructions": INSTRUCTIONS},
            cache_scope="public",
        )

    # --- tools -----------------------------------------------------------------------------------------

    async def _tools_list(self, call: Call) -> bytes:
        cursor = call.params.get("cursor")
        pages = self._tools_pages(call.version, call.credentials.scopes)
        if cursor is None:
            return pages[0]
        index = _page_index(cursor)
        if index is None or not 0 < index < len(pages):
            raise RpcError(INVALID_PARAMS, "Invalid cursor: pass back exactly the nextCursor of the previous page")
        return pages[index]

    def _tools_pages(self, version: str, scopes: frozenset[str]) -> tuple[bytes, ...]:
        key = (version, scopes)
        pages = self._tool_pages.get(key)
        if pages is None:
            tools = [t.definition() for t in self._gateway.catalogue.visible(scopes)]
            size = self._page_size
            chunks = [tools[i : i + size] for i in range(0, len(tools), size)] or [[]]
            built = []
            for index, chunk in enumerate(chunks):
                result: dict[str, Any] = {"tools": chunk}
                if index + 1 < len(chunks):
                    result["nextCursor"] = _cursor(index + 1)
                if version in MODERN_PROTOCOL_VERSIONS:
                    result = self._modern(result, cache_scope="private")
                built.append(self._serialise("tools/list", version, result))
            pages = self._tool_pages[key] = tuple(built)
        return pages

    async def _tools_call(self, call: Call) -> bytes:
        """Run a tool. A request that is not a CallToolRequest is a protocol error (-32602); a wrong tool name
        or arguments that fail the tool's inputSchema are `isError` results, because only those reach the model,
        which can then correct itself (tools spec 2025-11-25, "Error Handling"; SEP-1303)."""
        params = call.params
        name = params.get("name")
        if not isinstance(name, str):
            raise RpcError(INVALID_PARAMS, 'Invalid params: "name" must be the name of a tool')
        arguments = params.get("arguments")
        if arguments is None:
            arguments = {}
        elif not isinstance(arguments, dict):
            raise RpcError(INVALID_PARAMS, 'Invalid params: "arguments" must be an object')
        tool = self._gateway.catalogue.get(name)
        if tool is None:
            return self._call_result(call, f"Unknown tool {quotable(name)!r}: this server has no tool by that name. Use one of the tools it lists.", None, True)
        if tool.scope not in call.credentials.scopes:
            # An HTTP 403 with a scope challenge lets the client step up to a write grant (RFC 6750 §3.1).
            raise AuthError(403, "insufficient_scope", f"{name} changes data and needs the {tool.scope} scope; this grant is read-only.", scope=tool.scope)
        problem = self._argument_problem(name, arguments)
        if problem is not None:
            return self._tool_failure(
                call, tool, "invalid_arguments",
                f"Invalid arguments for {name}: {_describe_schema_error(problem)}. Correct them to match the tool's input schema and call it again.",
            )
        return await self._run_tool(call, tool, arguments)

    def _argument_problem(self, name: str, arguments: dict[str, Any]) -> Any:
        """None when `arguments` satisfy the tool's inputSchema, else jsonschema's most relevant error.

        The generated check is only trusted to say "valid"; a rejection is re-checked by the catalogue's
        jsonschema Draft 2020-12 validator, which words the error and has the last word, so the two can never
        disagree in a way that refuses good arguments (tests/test_argument_checks.py holds them to agree).
        """
        try:
            self._argument_checks[name](arguments)
        except fastjsonschema.JsonSchemaException:
            return best_match(self._gateway.catalogue.validator(name).iter_errors(arguments))
        return None

    async def _run_tool(self, call: Call, tool: Tool, arguments: dict[str, Any]) -> bytes:
        gateway = self._gateway
        try:
            # Inside the try: for_key refuses a key no StatusPal key can look like (one sealed into a token)
            # exactly as StatusPal would refuse it, and that answer must take the same path.
            ctx = ToolContext(
                api=gateway.upstream.for_key(call.credentials.api_key) if tool.needs_upstream else None,
                docs=gateway.docs,
                progress=_progress_reporter(call),
            )
            structured = orjson.dumps(dict(await tool.handler(ctx, arguments)))
        except ToolError as exc:
            return self._tool_failure(call, tool, "tool_error", str(exc))
        except UpstreamAuthError as exc:
            if not call.reply.streaming:
                # StatusPal refused the key itself (a 401; a 403 on one resource is an ordinary tool error, since
                # the key still works elsewhere). HTTP 401 with the challenge makes the client re-authorise. Once
                # an SSE answer has started its status is already sent, so the failure can only be an isError result.
                self._count(tool.name, "unauthorized")
                gateway.credentials.forget(call.credentials)
                raise AuthError(401, "invalid_token", f"StatusPal refused the API key of this connection ({exc.status}: revoked, expired or not allowed).") from None
            return self._tool_failure(call, tool, "upstream_error", describe(exc))
        except UpstreamError as exc:
            return self._tool_failure(call, tool, "upstream_error", describe(exc))
        except Exception:
            # Logged with the stack here; the client gets only the id to quote, never internals.
            log.exception("tool %s failed (request id %s)", tool.name, call.request_id)
            return self._tool_failure(
                call, tool, "internal_error",
                f"The gateway hit an internal error running {tool.name} (request id {call.request_id}). "
                "Nothing more is known about whether it took effect; check with a read tool before retrying.",
            )
        self._count(tool.name, "ok")
        return self._call_result(call, None, structured, False)

    def _tool_failure(self, call: Call, tool: Tool, outcome: str, text: str) -> bytes:
        self._count(tool.name, outcome)
        # An error text may quote an argument or an upstream message that echoes one; it goes to the model.
        return self._call_result(call, redact_text(text), None, True)

    def _call_result(self, call: Call, text: str | None, structured: bytes | None, is_error: bool) -> bytes:
        """A CallToolResult in the shape serialize_server_result gives for the call's version.

        The text content is `text`, or when that is None the structured content itself (spec: a tool with an
        outputSchema also returns its JSON as text). Joined from parts rather than dumped as one dict, so the
        structured content is serialised once, not a second time inside the result.
        """
        literal = orjson.dumps(text) if text is not None else _json_string(structured)  # type: ignore[arg-type]
        parts = [b'{"content":[{"type":"text","text":', literal, b'}],"isError":', b"true" if is_error else b"false"]
        if structured is not None:
            parts += (b',"structuredContent":', structured)
        parts.append(self._call_result_tail if call.modern else b"}")
        return b"".join(parts)

    def _count(self, name: str, outcome: str) -> None:
        self._gateway.metrics.tool_call(name, outcome)

    # --- resources and prompts -------------------------------------------------------------------------

    async def _resources_list(self, call: Call) -> bytes:
        self._validate("resources/list", call.version, call.params)
        cursor = call.params.get("cursor")
        resources = self._gateway.resources
        items: list[Any] = []
        next_cursor = None
        if resources is not None:
            try:
                items, next_cursor = resources.list(cursor)
            except ValueError:
                raise RpcError(INVALID_PARAMS, "Invalid cursor: pass back exactly the nextCursor of the previous page") from None
        elif cursor is not None:
            raise RpcError(INVALID_PARAMS, "Invalid cursor: pass back exactly the nextCursor of the previous page")
        result: dict[str, Any] = {"resources": items}
        if next_cursor is not None:
            result["nextCursor"] = next_cursor
        return self._list_result(call, "resources/list", result)

    async def _resources_read(self, call: Call) -> bytes:
        self._validate("resources/read", call.version, call.params)
        uri = call.params["uri"]
        resources = self._gateway.resources
        content = resources.read(uri) if resources is not None else None
        if content is None:
            code = INVALID_PARAMS if call.modern else RESOURCE_NOT_FOUND
            raise RpcError(code, f"Resource not found: {quotable(uri, 200)}", data={"uri": quotable(uri, 200)})
        return self._list_result(call, "resources/read", {"contents": [content]})

    async def _resource_templates(self, call: Call) -> bytes:
        self._validate("resources/templates/list", call.version, call.params)
        resources = self._gateway.resources
        templates = list(resources.templates()) if resources is not None else []
        return self._list_result(call, "resources/templates/list", {"resourceTemplates": templates})

    async def _prompts_list(self, call: Call) -> bytes:
        # The server offers no prompts; the empty list keeps clients that always ask from failing.
        self._validate("prompts/list", call.version, call.params)
        return self._list_result(call, "prompts/list", {"prompts": []})

    async def _prompts_get(self, call: Call) -> bytes:
        self._validate("prompts/get", call.version, call.params)
        raise RpcError(INVALID_PARAMS, f"Unknown prompt: {quotable(call.params['name'])!r}. This server offers no prompts.")

    def _list_result(self, call: Call, method: str, result: dict[str, Any]) -> bytes:
        if call.modern:
            result = self._modern(result, cache_scope="private")
        return self._serialise(method, call.version, result)

    # --- helpers ---------------------------------------------------------------------------------------

    def _modern(self, result: dict[str, Any], cache_scope: str) -> dict[str, Any]:
        """The fields every 2026-07-28 result carries: resultType, cache hints, and who answered."""
        return {**result, "resultType": "complete", "ttlMs": LIST_TTL_MS, "cacheScope": cache_scope, "_meta": self._result_meta}

    @staticmethod
    def _serialise(method: str, version: str, result: Mapping[str, Any]) -> bytes:
        return orjson.dumps(serialize_server_result(method, version, result))

    @staticmethod
    def _validate(method: str, version: str, params: dict[str, Any]) -> None:
        try:
            validate_client_request(method, version, params)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"] if p not in ("params",)) or "params"
            raise RpcError(INVALID_PARAMS, f"Invalid params for {method}: {quotable(where, 200)}: {quotable(first['msg'], 200)}") from None


def _json_string(compact_json: bytes) -> bytes:
    """`compact_json` as a JSON string literal: the bytes orjson.dumps(compact_json.decode()) gives, without
    decoding and escaping it all again (that was the largest cost of a cached search_docs call).

    Only for orjson's own output: it has no whitespace between tokens and no raw control character (inside
    strings they are already escape sequences), so a backslash and a quote are the only bytes that need escaping.
    """
    return b'"' + compact_json.replace(b"\\", b"\\\\").replace(b'"', b'\\"') + b'"'


def _progress_reporter(call: Call) -> Callable[..., Awaitable[None]]:
    """ctx.progress for a tool: a notifications/progress message per step, when the client asked for them."""
    meta = call.params.get("_meta")
    token = meta.get("progressToken") if isinstance(meta, dict) else None
    if isinstance(token, bool) or not isinstance(token, (str, int)):
        return _ignore_progress

    async def report(progress: float, total: float | None = None, message: str | None = None) -> None:
        params: dict[str, Any] = {"progressToken": token, "progress": progress}
        if total is not None:
            params["total"] = total
        if message is not None:
            params["message"] = message
        await call.reply.notify({"jsonrpc": "2.0", "method": "notifications/progress", "params": params})

    return report


async def _ignore_progress(progress: float, total: float | None = None, message: str | None = None) -> None:
    return None


def _cursor(index: int) -> str:
    return base64.urlsafe_b64encode(f"tools:{index}".encode()).decode().rstrip("=")


def _page_index(cursor: Any) -> int | None:
    """The page a cursor we issued points at, or None for anything else a client may send.

    b64decode refuses a non-ASCII str with a bare ValueError (not binascii.Error), and str.isdigit accepts
    digits like '²' that int() then refuses, so both are ruled out before they can escape as a 500.
    """
    if not isinstance(cursor, str) or len(cursor) > 64 or not cursor.isascii():
        return None
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode("ascii")
    except (ValueError, UnicodeDecodeError):
        return None
    prefix, _, number = text.partition(":")
    return int(number) if prefix == "tools" and number.isascii() and number.isdigit() and len(number) < 6 else None


def _compile_check(schema: Mapping[str, Any]) -> Callable[[Any], Any]:
    """fastjsonschema's generated check for an inputSchema, raising JsonSchemaException when it fails.

    Our schemas use only keywords that mean the same in draft 7 (fastjsonschema's newest) and 2020-12; formats
    are delegated to jsonschema's own format checker so both accept the same strings, and defaults are never
    written into the caller's arguments (use_default=False).
    """
    checker = Draft202012Validator.FORMAT_CHECKER
    # Every format the schema names, including ones jsonschema cannot check here (it accepts those): left to
    # itself, fastjsonschema would apply its own regex for date-time or uri and refuse what jsonschema accepts.
    formats = {name: functools.partial(checker.conforms, format=name) for name in _formats(schema)}
    return fastjsonschema.compile(dict(schema), formats=formats, use_default=False)


def _formats(schema: Any) -> set[str]:
    if isinstance(schema, dict):
        found = {schema["format"]} if isinstance(schema.get("format"), str) else set()
        return found.union(*(_formats(v) for v in schema.values()))
    if isinstance(schema, list):
        return set().union(*(_formats(v) for v in schema))
    return set()


def _describe_schema_error(error: Any) -> str:
    """'<field path>: <what is wrong>', short enough for a model to act on (huge values are cut)."""
    path = ""
    for part in error.absolute_path:
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    message = quotable(error.message, 300)
    return f"{quotable(path, 200)}: {message}" if path else message
