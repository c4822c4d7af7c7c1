"""The MCP methods of both protocol eras: which method a `Call` names, and the bytes of its ``result``.

`gateway.web.transport` has already applied the HTTP rules (Host, Origin, auth, headers, era) when a `Call`
arrives here; the dispatcher answers it with the bytes of a JSON-RPC ``result``, or raises `RpcError`, and
never chooses an HTTP status. ``tools/call`` is handed to `gateway.protocol.pipeline` once the tool is known and the
caller may call it.

Answers whose content is fixed for the life of the process (``initialize``, ``server/discover``, every
``tools/list`` page per version and grant) are serialised once, through `mcp_types.methods.
serialize_server_result`, at start-up; a request then costs a dictionary lookup.
"""

from __future__ import annotations

import functools
import importlib.metadata
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import orjson
from mcp_types import SERVER_INFO_META_KEY
from mcp_types.jsonrpc import INVALID_PARAMS, METHOD_NOT_FOUND
from mcp_types.methods import serialize_server_result, validate_client_request
from mcp_types.version import HANDSHAKE_PROTOCOL_VERSIONS, LATEST_HANDSHAKE_VERSION, MODERN_PROTOCOL_VERSIONS
from pydantic import ValidationError

from gateway.auth.identity import Credentials
from gateway.auth.scopes import READ, WRITE
from gateway.auth.surfaces import FULL, Surface
from gateway.observability.redaction import quotable
from gateway.observability.tracing import ACTIVE
from gateway.protocol.confirm.apps import PUBLISH_DRAFT, PUBLISH_DRAFT_NAME, app_definition, publish_problem
from gateway.protocol.confirm.flow import VIEW_URI, refused
from gateway.protocol.confirm.policy import Channel
from gateway.protocol.confirm.view import PublishView
from gateway.protocol.invocation import Caller, Invocation
from gateway.protocol.jsonrpc import Message, RpcError
from gateway.protocol.meta import NO_CAPABILITIES, ClientCapabilities, RequestMeta, parse_request_meta
from gateway.protocol.outcomes import KeyRefused, Outcome, ToolFailed
from gateway.protocol.pipeline import Notify, ToolPipeline, progress_reporter
from gateway.protocol.resources import DocsResources
from gateway.protocol.results import ResultRenderer
from gateway.protocol.spans import traced
from gateway.tools.base import Tool, ToolError
from gateway.tools.catalogue import Catalogue
from gateway.tools.cursors import decode_cursor, encode_cursor
from gateway.tools.instructions import INSTRUCTIONS
from gateway.tools.surfaces import SurfaceTools, surface_instructions

if TYPE_CHECKING:
    from gateway.config import Settings

SERVER_NAME = "statuspal-mcp"
SUPPORTED_VERSIONS = (*HANDSHAKE_PROTOCOL_VERSIONS, *MODERN_PROTOCOL_VERSIONS)
# -32002 is the handshake era's "resource not found"; 2026-07-28 uses -32602 instead.
RESOURCE_NOT_FOUND = -32002
# How long 2026-07-28 clients may cache list results. The tool set only changes with a deploy.
LIST_TTL_MS = 300_000
_TOOLS_CURSOR = "tools"
_BAD_CURSOR = "Invalid cursor: pass back exactly the nextCursor of the previous page"

# Methods each era serves; anything else is -32601. Removed in 2026-07-28: initialize, ping, logging/setLevel.
HANDSHAKE_METHODS = frozenset(
    {"initialize", "ping", "logging/setLevel", "tools/list", "tools/call", "resources/list", "resources/read",
     "resources/templates/list", "prompts/list", "prompts/get"}
)
MODERN_METHODS = frozenset(
    {"server/discover", "tools/list", "tools/call", "resources/list", "resources/read", "resources/templates/list",
     "prompts/list", "prompts/get"}
)

CAPABILITIES = {"tools": {"listChanged": False}, "resources": {}, "prompts": {"listChanged": False}}


def server_info(settings: Settings) -> dict[str, Any]:
    """Who answers: in ``initialize`` and, for 2026-07-28, in every result's ``_meta``."""
    return {
        "name": SERVER_NAME,
        "title": "StatusPal",
        "version": importlib.metadata.version("statuspal-mcp"),
        "websiteUrl": settings.search.docs_base_url,
    }


class ScopeRefused(Exception):
    """The grant lacks the scope a tool needs. Not a JSON-RPC error: the transport answers it with HTTP 403 and
    a scope challenge, which lets the client ask the user for a broader grant (RFC 6750 §3.1)."""

    def __init__(self, scope: str, description: str) -> None:
        super().__init__(description)
        self.scope = scope
        self.description = description


class UpstreamRefusedKey(Exception):
    """StatusPal refused the caller's API key while a tool ran. The transport answers HTTP 401 with the challenge
    while it still can; once an SSE answer has started, `fallback` (an isError result's bytes) is all it can send."""

    def __init__(self, status: int, fallback: bytes) -> None:
        super().__init__(status)
        self.status = status
        self.fallback = fallback


@dataclass
class Call:
    message: Message
    version: str
    credentials: Credentials
    # Sends a notification over this request's answer (progress); the transport decides how.
    notify: Notify
    # Correlates the client's "request id …" with the server log line for internal errors.
    request_id: str
    # The part of the gateway the request's URL (and narrowing headers) allows.
    surface: Surface = FULL
    # Handshake era: the client capabilities its session id carries (initialize stated them once).
    session: ClientCapabilities = NO_CAPABILITIES
    # The person set this connection to leave confirmation to the client (`X-MCP-Confirm: client`).
    confirm_by_client: bool = False
    # Handshake era: the Mcp-Session-Id the request carried (its digest goes on the MCP span).
    session_id: str | None = None
    # Set when the answer is an isError result, for the MCP span's error.type.
    tool_error: bool = False

    @functools.cached_property
    def meta(self) -> RequestMeta:
        """The request's meta, parsed once for the tool call and its MCP span."""
        return parse_request_meta(self.params, self.version, self.session, self.modern)

    @property
    def capabilities(self) -> ClientCapabilities:
        """What the client declared: on this request in 2026-07-28, in initialize (via the session) before (no
        need to parse this request's meta for that: `tools/list` asks on every call)."""
        return self.meta.capabilities if self.modern else self.session

    @property
    def modern(self) -> bool:
        return self.version in MODERN_PROTOCOL_VERSIONS

    @property
    def params(self) -> dict[str, Any]:
        return self.message.params


def _check_scope(tool: Tool, call: Call) -> None:
    """ScopeRefused when the grant lacks the tool's scope (the transport answers 403 with a step-up challenge)."""
    if tool.scope not in call.credentials.scopes:
        raise ScopeRefused(tool.scope, f"{tool.name} changes data and needs the {tool.scope} scope; this grant is read-only.")


class Dispatcher:
    """Answers `Call`s. Built once per application; holds the pre-serialised fixed answers."""

    def __init__(
        self, catalogue: Catalogue, tools: ToolPipeline, resources: DocsResources, info: Mapping[str, Any],
        tools_page_size: int, view: PublishView,
    ) -> None:
        # The catalogue as each URL's surface shows it; built here from the catalogue alone (no I/O).
        self._surfaces = SurfaceTools.of(catalogue)
        self._tools = tools
        self._results = ResultRenderer(info)
        self._resources = resources
        self._view = view
        self._page_size = tools_page_size
        self._server_info = dict(info)
        self._result_meta = {SERVER_INFO_META_KEY: self._server_info}
        self._initialize = {v: self._serialise("initialize", v, self._initialize_result(v)) for v in HANDSHAKE_PROTOCOL_VERSIONS}
        self._discover = {v: self._serialise("server/discover", v, self._discover_result()) for v in MODERN_PROTOCOL_VERSIONS}
        # Keyed by the tools shown (their names, whether they are a page scope's narrowed copies, whether the client
        # renders apps, whether confirmed tools are hidden): a handful of shapes, never one entry per page.
        self._tool_pages: dict[tuple[str, frozenset[str], bool, bool, frozenset[str], bool, bool], tuple[bytes, ...]] = {}
        for version in SUPPORTED_VERSIONS:
            for scopes in (frozenset({READ}), frozenset({READ, WRITE})):
                self._tools_pages(version, FULL, scopes, apps=False, hidden=False)
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
        # The names a span may carry: anything else a client sends is `_OTHER` there.
        self._tool_names = frozenset(t.name for t in catalogue.tools) | {PUBLISH_DRAFT_NAME}

    async def dispatch(self, call: Call) -> bytes:
        """The serialised ``result`` for `call`; RpcError, ScopeRefused or UpstreamRefusedKey."""
        if ACTIVE.on:  # with telemetry off, this one read is all the telemetry a request costs here
            return await traced(functools.partial(self._dispatch, call), call, self._methods, self._tool_names)
        return await self._dispatch(call)

    async def _dispatch(self, call: Call) -> bytes:
        method = call.message.method
        served = MODERN_METHODS if call.modern else HANDSHAKE_METHODS
        if method not in served:
            raise RpcError(METHOD_NOT_FOUND, f"Method not found: {quotable(method)}")
        return await self._methods[method](call)

    # --- lifecycle -------------------------------------------------------------------------------------

    async def _initialize_method(self, call: Call) -> bytes:
        # The client's version when we speak it, else our latest handshake version.
        requested = call.params.get("protocolVersion")
        version = requested if requested in HANDSHAKE_PROTOCOL_VERSIONS else LATEST_HANDSHAKE_VERSION
        self._validate("initialize", version, call.params)
        if call.surface.is_full:
            return self._initialize[version]
        # A narrower surface says so in its instructions (a page scope names its page, which no tool takes any
        # more); built per request, as page names are unbounded and a session initializes once.
        return self._serialise("initialize", version, self._initialize_result(version, call.surface))

    async def _discover_method(self, call: Call) -> bytes:
        if call.surface.is_full:
            return self._discover[call.version]
        return self._serialise("server/discover", call.version, self._discover_result(call.surface))

    async def _empty(self, call: Call) -> bytes:
        return b"{}"

    async def _set_level(self, call: Call) -> bytes:
        # Accepted so clients that always send it keep working; this server emits no log notifications.
        self._validate("logging/setLevel", call.version, call.params)
        return b"{}"

    def _initialize_result(self, version: str, surface: Surface = FULL) -> dict[str, Any]:
        return {
            "protocolVersion": version,
            "capabilities": {**CAPABILITIES, "logging": {}},
            "serverInfo": self._server_info,
            "instructions": surface_instructions(INSTRUCTIONS, surface),
        }

    def _discover_result(self, surface: Surface = FULL) -> dict[str, Any]:
        instructions = surface_instructions(INSTRUCTIONS, surface)
        return self._modern(
            {"supportedVersions": list(MODERN_PROTOCOL_VERSIONS), "capabilities": CAPABILITIES, "instructions": instructions},
            cache_scope="public",
        )

    # --- tools -----------------------------------------------------------------------------------------

    async def _tools_list(self, call: Call) -> bytes:
        cursor = call.params.get("cursor")
        capabilities = call.capabilities
        pages = self._tools_pages(call.version, call.surface, call.credentials.scopes, apps=capabilities.apps,
                                  hidden=self._hides_confirmed(call, capabilities))
        if cursor is None:
            return pages[0]
        index = decode_cursor(_TOOLS_CURSOR, cursor)
        if index is None or not 0 < index < len(pages):
            raise RpcError(INVALID_PARAMS, _BAD_CURSOR)
        return pages[index]

    def _hides_confirmed(self, call: Call, capabilities: ClientCapabilities) -> bool:
        policy = self._tools.confirmer.policy
        return policy.hide_unconfirmable and not call.confirm_by_client and (
            policy.channel(capabilities, call.modern, call.confirm_by_client) is Channel.CLIENT)

    def _tools_pages(self, version: str, surface: Surface, scopes: frozenset[str], *, apps: bool, hidden: bool) -> tuple[bytes, ...]:
        # Keyed on the surface's shape and the grant, which decide what it shows, never on the page (page names
        # are the caller's to invent, so they must not grow this); a hit costs one dict lookup, not a walk.
        key = (version, surface.toolsets, surface.readonly, surface.page is not None, scopes, apps, hidden)
        pages = self._tool_pages.get(key)
        if pages is None:
            policy = self._tools.confirmer.policy
            visible = [t for t in self._surfaces.visible(surface, scopes) if not (hidden and policy.confirms(t.name))]
            tools = [app_definition(t) if apps and policy.confirms(t.name) else t.definition() for t in visible]
            if apps and any(policy.confirms(t.name) for t in visible):
                tools.append(PUBLISH_DRAFT)
            size = self._page_size
            chunks = [tools[i : i + size] for i in range(0, len(tools), size)] or [[]]
            built = []
            for index, chunk in enumerate(chunks):
                result: dict[str, Any] = {"tools": chunk}
                if index + 1 < len(chunks):
                    result["nextCursor"] = encode_cursor(_TOOLS_CURSOR, index + 1)
                if version in MODERN_PROTOCOL_VERSIONS:
                    result = self._modern(result, cache_scope="private")
                built.append(self._serialise("tools/list", version, result))
            pages = self._tool_pages[key] = tuple(built)
        return pages

    async def _tools_call(self, call: Call) -> bytes:
        """Run a tool. A request that is not a CallToolRequest, or names no tool this server has, is a protocol
        error (-32602, as the tools spec lists "unknown tools" among protocol errors): the client chose the name
        from tools/list, so there is nothing for the model to correct. Arguments are the tool runner's to check."""
        params = call.params
        name = params.get("name")
        if not isinstance(name, str):
            raise RpcError(INVALID_PARAMS, 'Invalid params: "name" must be the name of a tool')
        arguments = params.get("arguments")
        if arguments is None:
            arguments = {}
        elif not isinstance(arguments, dict):
            raise RpcError(INVALID_PARAMS, 'Invalid params: "arguments" must be an object')
        if name == PUBLISH_DRAFT_NAME:
            return await self._publish_draft(call, arguments)
        surfaces = self._surfaces
        absent = surfaces.absent_reason(call.surface, name)
        if absent is not None:
            # Refused here, not only left out of tools/list: a cached list or a guessed name must not get past
            # the URL's restriction. No step-up grant can add it, so this is no 403 but an answer to read.
            raise RpcError(INVALID_PARAMS, f"Tool not available: {absent}")
        tool = surfaces.catalogue(call.surface).get(name)
        if tool is None:
            raise RpcError(INVALID_PARAMS, f"Unknown tool: {quotable(name)!r}. Call tools/list for the tools this server offers.")
        _check_scope(tool, call)
        invocation = self._invocation(call)
        if self._hides_confirmed(call, invocation.meta.capabilities) and self._tools.confirmer.policy.confirms(name):
            # Hidden from tools/list for a client that can show no confirmation, and refused here too: a cached list
            # or a guessed name must not write what no person can see first.
            raise RpcError(INVALID_PARAMS, f"Tool not available: {name} needs a person's confirmation, and this client can "
                                           "show neither a preview nor a form.")
        outcome: Outcome
        try:
            arguments = surfaces.page_arguments(call.surface, name, arguments)
        except ToolError as exc:
            outcome = self._tools.refuse(tool, str(exc))
        else:
            outcome = await self._tools.run(tool, arguments, invocation)
        return self._answer(outcome, call)

    async def _publish_draft(self, call: Call, arguments: dict[str, Any]) -> bytes:
        """The publish preview's own call: only a client that declared the apps extension has the view, so only such
        a client may publish a draft (a draft copied out of a result by anyone else is refused, unopened)."""
        invocation = self._invocation(call)
        if not invocation.meta.capabilities.apps:
            raise RpcError(INVALID_PARAMS, f"Unknown tool: {PUBLISH_DRAFT_NAME!r}. It belongs to the publish preview, which "
                                           "this client did not declare it can show; call the tool itself instead.")
        claims = self._tools.confirmer.unsealed(arguments.get("draft"))  # decrypted once, checked in full by publish
        opened = claims.get("t") if claims is not None else None
        tool = self._surfaces.catalogue(call.surface).get(opened) if isinstance(opened, str) else None
        if claims is None or tool is None or self._surfaces.absent_reason(call.surface, tool.name) is not None:
            return self._answer(refused(None, "the draft is not one this server sealed for a tool on "
                                        "this connection"), call)
        _check_scope(tool, call)
        problem = publish_problem(arguments)
        if problem is not None:
            return self._answer(refused(tool.name, problem), call)
        corrections: dict[str, Any] = {k: arguments[k] for k in ("text", "notify", "typed_name") if k in arguments}
        return self._answer(await self._tools.publish(tool, claims, corrections, invocation), call)

    def _invocation(self, call: Call) -> Invocation:
        meta = call.meta
        caller = Caller(call.credentials, call.surface, call.confirm_by_client)
        return Invocation(caller, meta, call.request_id, progress_reporter(meta.progress_token, call.notify))

    def _answer(self, outcome: Outcome, call: Call) -> bytes:
        if isinstance(outcome, KeyRefused):
            raise UpstreamRefusedKey(outcome.status, self._results.render(outcome.fallback, call.modern))
        call.tool_error = isinstance(outcome, ToolFailed)
        return self._results.render(outcome, call.modern)

    # --- resources and prompts -------------------------------------------------------------------------

    async def _resources_list(self, call: Call) -> bytes:
        self._validate("resources/list", call.version, call.params)
        try:
            items, next_cursor = self._resources.list(call.params.get("cursor"))
        except ValueError:
            raise RpcError(INVALID_PARAMS, _BAD_CURSOR) from None
        if call.capabilities.apps and call.params.get("cursor") is None:
            # The publish preview is listed, on every surface, only to a client that can render it.
            items = [self._view.listing(), *items]
        result: dict[str, Any] = {"resources": items}
        if next_cursor is not None:
            result["nextCursor"] = next_cursor
        return self._list_result(call, "resources/list", result)

    async def _resources_read(self, call: Call) -> bytes:
        self._validate("resources/read", call.version, call.params)
        uri = call.params["uri"]
        content = self._view.read() if uri == VIEW_URI and call.capabilities.apps else self._resources.read(uri)
        if content is None:
            code = INVALID_PARAMS if call.modern else RESOURCE_NOT_FOUND
            raise RpcError(code, f"Resource not found: {quotable(uri, 200)}", data={"uri": quotable(uri, 200)})
        return self._list_result(call, "resources/read", {"contents": [content]})

    async def _resource_templates(self, call: Call) -> bytes:
        self._validate("resources/templates/list", call.version, call.params)
        return self._list_result(call, "resources/templates/list", {"resourceTemplates": self._resources.templates()})

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
