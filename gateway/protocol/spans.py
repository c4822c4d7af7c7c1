"""The MCP span and the `mcp.server.operation.duration` measurement of a JSON-RPC request, by the OpenTelemetry
MCP semantic conventions; the dispatcher runs a request through `traced` only while telemetry is on.

The span is named `{mcp.method.name} {target}` (the tool, on `tools/call`) and is a SERVER span. Its parent is
the context the client put in `params._meta` (`traceparent`, `tracestate`: SEP-414), else the context of the
HTTP request's `traceparent` header, and it links to the HTTP server span, whose context is independent of it
(one MCP request could be retried over several HTTP requests).

`error.type` is set if and only if the request failed: `tool_error` for an `isError` result, else the JSON-RPC
code, or the class of what was raised instead of an answer (`ScopeRefused`, `UpstreamRefusedKey`). The
protocol's own answers to a malformed request (parse error, invalid request, unknown method, invalid params,
resource not found) are the server working as it should: they carry `rpc.response.status_code` only.

Names and values a client chose are bounded before they become attributes or span names: a method or tool the
server does not have is `_OTHER` (no span name per typo, no secret pasted as a tool name), the request id is
scrubbed like any quoted text, and the handshake-era session id is recorded as a digest, never as itself.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Awaitable, Callable, Container
from typing import Any, Protocol

from mcp_types.jsonrpc import INVALID_PARAMS, INVALID_REQUEST, METHOD_NOT_FOUND, PARSE_ERROR
from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace import Link, SpanKind, StatusCode
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from gateway.observability.redaction import quotable, redact_text
from gateway.observability.tracing import ACTIVE, HEADER_PARENT, keeps_root, unsampled_context
from gateway.protocol.jsonrpc import Message, RpcError
from gateway.protocol.meta import ClientCapabilities, RequestMeta

# Not failures on the server side (the conventions' list): -32002 is the handshake era's "resource not found".
NOT_FAILURES = frozenset({PARSE_ERROR, INVALID_REQUEST, METHOD_NOT_FOUND, INVALID_PARAMS, -32002})
OTHER = "_OTHER"
_PROPAGATOR = TraceContextTextMapPropagator()


class TracedCall(Protocol):
    """What `traced` reads of the dispatcher's `Call`."""

    message: Message
    version: str
    session: ClientCapabilities
    session_id: str | None
    tool_error: bool

    @property
    def modern(self) -> bool: ...

    @property
    def params(self) -> dict[str, Any]: ...

    @property
    def meta(self) -> RequestMeta: ...


async def traced(dispatch: Callable[[], Awaitable[bytes]], call: TracedCall, methods: Container[str], tools: Container[str]) -> bytes:
    """`dispatch()` inside the request's MCP span (current while it runs, so upstream calls nest beneath it),
    with its duration recorded in the histogram."""
    asked = call.message.method
    method = asked if asked is not None and asked in methods else OTHER
    measured: dict[str, Any] = {"mcp.method.name": method, "mcp.protocol.version": call.version, "network.transport": "tcp",
                                "network.protocol.name": "http"}
    name = method
    if method == "tools/call":
        tool = call.params.get("name")
        tool = tool if isinstance(tool, str) and tool in tools else OTHER
        measured["gen_ai.tool.name"] = tool
        measured["gen_ai.operation.name"] = "execute_tool"
        name = f"{method} {tool}"
    tracer = ACTIVE.tracer
    span = None
    token = None
    if tracer is not None:
        attributes = dict(measured)
        if call.message.id is not None:
            request_id = call.message.id  # an integer needs no scrubbing; a string is the client's text
            attributes["jsonrpc.request.id"] = str(request_id) if isinstance(request_id, int) else quotable(request_id, 128)
        if not call.modern and call.session_id:
            # The conventions set it only where sessions exist: the handshake era, never 2026-07-28. A digest, so a
            # trace store holds no usable session id.
            attributes["mcp.session.id"] = hashlib.sha256(call.session_id.encode()).hexdigest()[:32]
        ambient = otel_context.get_current()
        parent = _parent(call, ambient)
        if parent is _NEW_TRACE and not keeps_root():
            # A new trace the sampler would drop: no span, only a context its children follow (dropped too).
            token = otel_context.attach(unsampled_context(ambient))
        else:
            http_span = trace.get_current_span(ambient).get_span_context()
            span = tracer.start_span(name, context=parent, kind=SpanKind.SERVER, attributes=attributes,
                                     links=[Link(http_span)] if http_span.is_valid else None)
            token = otel_context.attach(trace.set_span_in_context(span, ambient))
    started = time.perf_counter()
    code: int | None = None
    error: str | None = None
    description: str | None = None
    try:
        result = await dispatch()
    except RpcError as exc:
        code = exc.code
        if code not in NOT_FAILURES:
            error, description = str(code), redact_text(exc.message)
        raise
    except BaseException as exc:
        error = type(exc).__qualname__
        raise
    else:
        if call.tool_error:
            error = "tool_error"
        return result
    finally:
        elapsed = time.perf_counter() - started
        if code is not None:
            measured["rpc.response.status_code"] = str(code)
        if error is not None:
            measured["error.type"] = error
        if span is not None:
            if span.is_recording():
                if code is not None:
                    span.set_attribute("rpc.response.status_code", str(code))
                if error is not None:
                    span.set_attribute("error.type", error)
                    span.set_status(StatusCode.ERROR, description)
            span.end()
        if token is not None:
            otel_context.detach(token)
        if ACTIVE.operation_duration is not None:
            ACTIVE.operation_duration.record(elapsed, measured)


def _parent(call: TracedCall, ambient: otel_context.Context) -> otel_context.Context:
    """The context in `params._meta` when the client sent a well-formed one (checked by `parse_request_meta`),
    else the one the HTTP request's traceparent header gave, else none (a new trace)."""
    meta = call.meta if "_meta" in call.params else None
    if meta is not None and meta.traceparent is not None:
        carrier = {"traceparent": meta.traceparent}
        if meta.tracestate is not None:
            carrier["tracestate"] = meta.tracestate
        return _PROPAGATOR.extract(carrier)
    header = otel_context.get_value(HEADER_PARENT, ambient)
    return header if isinstance(header, otel_context.Context) else _NEW_TRACE


# No parent: the MCP span starts a new trace (one Context object, shared, so `traced` can tell it by identity).
_NEW_TRACE = otel_context.Context()
