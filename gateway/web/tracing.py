"""The HTTP server span of every request, by the OpenTelemetry HTTP conventions; added only when traces are on.

Its parent is the context of the request's `traceparent` header (W3C Trace Context), or none. It wraps the
access middleware, so the access line and every line logged while the request runs carry its trace and span
ids. The header's context is also kept in the OpenTelemetry context (`HEADER_PARENT`), because the MCP span of
a request whose `params._meta` carries no context takes that same parent, and only links to this span.

Nothing a stranger chose becomes an attribute unscrubbed: the path goes through `redact_text` (a key pasted into
a URL is replaced, as in the access line), the query string is never recorded, nor any header but the
traceparent itself.
"""

from __future__ import annotations

import asyncio

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware
from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace import SpanKind
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from gateway.observability.redaction import redact_text
from gateway.observability.tracing import ACTIVE, HEADER_PARENT, failed, keeps_root, unsampled_context

_METHODS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"})
_PROPAGATOR = TraceContextTextMapPropagator()
_NO_PARENT = otel_context.Context()


def server_spans() -> Middleware:
    """The middleware; put it before the access middleware, so the access line is logged inside the span."""

    @web.middleware
    async def server_span(request: web.Request, handler: Handler) -> web.StreamResponse:
        tracer = ACTIVE.tracer
        if tracer is None:  # telemetry stopped (shutdown) or never started
            return await handler(request)
        headers = request.headers
        if "traceparent" not in headers and not keeps_root():
            # A new trace the sampler would drop: no SDK span, only an unsampled context, so the MCP span can link to
            # it and log lines still carry ids, as they would for a span the SDK had created and dropped.
            dropped = otel_context.attach(unsampled_context(otel_context.get_current()))
            try:
                return await handler(request)
            finally:
                otel_context.detach(dropped)
        parent = _PROPAGATOR.extract(headers) if "traceparent" in headers else _NO_PARENT
        method = request.method if request.method in _METHODS else "_OTHER"
        resource = request.match_info.route.resource
        route = resource.canonical if resource is not None else None
        span = tracer.start_span(f"{method} {route}" if route else method, context=parent, kind=SpanKind.SERVER)
        if span.is_recording():  # an unsampled request costs no attribute work
            span.set_attributes({
                "http.request.method": method,
                "url.scheme": request.scheme,
                "url.path": redact_text(request.path),
                "network.protocol.version": f"{request.version.major}.{request.version.minor}",
            })
            if route:
                span.set_attribute("http.route", route)
            if request.remote:
                span.set_attribute("client.address", request.remote)
        current = trace.set_span_in_context(span, parent)
        if parent is not _NO_PARENT:
            current = otel_context.set_value(HEADER_PARENT, parent, current)
        token = otel_context.attach(current)
        status = 500
        try:
            response = await handler(request)
            status = response.status
            return response
        except web.HTTPException as exc:
            status = exc.status
            raise
        except asyncio.CancelledError:
            status = 499  # as the access line says it: the client left, or the server stopped, before an answer
            raise
        finally:
            if span.is_recording():
                span.set_attribute("http.response.status_code", status)
                if status >= 500:  # on a server span only 5xx are failures (4xx are the caller's)
                    failed(span, str(status))
            span.end()
            otel_context.detach(token)

    return server_span
