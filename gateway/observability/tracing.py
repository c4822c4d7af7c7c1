"""The request path's side of OpenTelemetry: one attribute read when telemetry is off, spans when it is on.

`ACTIVE` holds what `gateway.observability.telemetry` turned on at start-up (the tracer, the MCP duration
histogram), or None for each. Every call site checks it first and does nothing else when it is None, so a
gateway without the OTEL_* variables creates no span, no context and no SDK object on any request.

Spans here never carry an exception's message or a value a caller chose without going through redaction: an
error is recorded by its class name (`error.type`), and text that can quote a request is scrubbed by
`redact_text` before it becomes an attribute, exactly as a log line would be.
"""

from __future__ import annotations

import random
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, nullcontext
from typing import TYPE_CHECKING, Any

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace import NonRecordingSpan, SpanContext, SpanKind, StatusCode, TraceFlags

if TYPE_CHECKING:
    from opentelemetry.trace import Span, Tracer

    from gateway.observability.durations import Durations

# Where the HTTP server span keeps the context its `traceparent` header gave (or an empty one), so the MCP span
# of a request without a `params._meta` context can take that same parent rather than the HTTP span itself.
HEADER_PARENT = otel_context.create_key("statuspal-mcp.http-header-parent")


class Active:
    """What telemetry has turned on in this process; None for what is off."""

    __slots__ = ("tracer", "operation_duration", "root_ratio")

    def __init__(self) -> None:
        self.tracer: Tracer | None = None
        self.operation_duration: Durations | None = None
        # With a parent-based ratio sampler, the share of new traces kept; None when the SDK's sampler decides.
        self.root_ratio: float | None = None

    @property
    def on(self) -> bool:
        return self.tracer is not None or self.operation_duration is not None


ACTIVE = Active()


def keeps_root() -> bool:
    """Whether a span that starts a new trace would be sampled. With a parent-based ratio sampler this is decided
    here, by the same ratio, before the SDK is asked: creating a span the SDK then drops (trace and span ids, the
    sampler, a non-recording span) cost as much as most of a request, so a new trace that would be dropped gets no
    span at all. Spans with a parent still go through the SDK, which follows the parent's decision."""
    ratio = ACTIVE.root_ratio
    return ratio is None or random.random() < ratio


def unsampled_context(ambient: Any) -> Any:
    """`ambient` with a span that is not sampled: what the children of a dropped root follow, so they are dropped
    too, by the parent-based sampler, rather than start traces of their own."""
    context = SpanContext(random.getrandbits(128) or 1, random.getrandbits(64) or 1, is_remote=False, trace_flags=TraceFlags(0))
    return trace.set_span_in_context(NonRecordingSpan(context), ambient)

# What `span` hands back when tracing is off: one shared, reusable context manager, so the off path allocates nothing.
_NO_SPAN: nullcontext[None] = nullcontext()


def span(name: str, attributes: Mapping[str, Any] | None = None, kind: SpanKind = SpanKind.INTERNAL) -> Any:
    """A span around a step (the docs search, the check after a write), current while the step runs; a no-op
    when tracing is off. An exception ends it with `error.type` = the exception's class name, never its text."""
    tracer = ACTIVE.tracer
    if tracer is None:
        return _NO_SPAN
    return _step(tracer, name, attributes, kind)


@contextmanager
def _step(tracer: Tracer, name: str, attributes: Mapping[str, Any] | None, kind: SpanKind) -> Iterator[Span]:
    with tracer.start_as_current_span(name, kind=kind, attributes=attributes, record_exception=False,
                                      set_status_on_exception=False) as current:
        try:
            yield current
        except BaseException as exc:
            failed(current, type(exc).__qualname__)
            raise


def failed(current: Span, error_type: str) -> None:
    """Mark a span as failed the way the conventions ask: `error.type`, and an ERROR status without a description
    (descriptions would carry messages, which may quote what a caller sent)."""
    if current.is_recording():
        current.set_attribute("error.type", error_type)
        current.set_status(StatusCode.ERROR)


def current_ids() -> tuple[str, str] | None:
    """The trace and span ids of the current span, as the W3C hex strings, for a log line; None without one."""
    if ACTIVE.tracer is None:
        return None
    context = trace.get_current_span().get_span_context()
    if not context.is_valid:
        return None
    return format(context.trace_id, "032x"), format(context.span_id, "016x")
