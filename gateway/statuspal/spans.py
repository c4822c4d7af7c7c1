"""The CLIENT span of each request sent to StatusPal (the call, and each retry of it), by the OpenTelemetry HTTP
client conventions; the client runs an attempt through `traced_attempt` only while traces are on.

What a span says of the request: the method, the endpoint's path template (`url.template`, and the name in the
endpoint table), the host and port, and the URL with every query value replaced by `REDACTED` (a query never
carries the key, but a filter could carry what a user typed) and its path scrubbed like a log line. Never a
header: the key travels only in `Authorization`, which no span reads. What came back: the status and, for a
failure, `error.type` (the status, or the client's own word when no status arrived: `timeout`,
`connection_error`, `tls_error`, `unexpected_redirect`, `bad_response`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any, Protocol

from opentelemetry.trace import SpanKind

from gateway.observability.redaction import redact_text
from gateway.observability.tracing import failed
from gateway.statuspal.endpoints import Endpoint
from gateway.statuspal.errors import UpstreamError

if TYPE_CHECKING:
    from opentelemetry.trace import Span, Tracer
    from yarl import URL


class Attempted(Protocol):
    """What `traced_attempt` reads of the client's call."""

    # The HTTP status of the latest attempt, 0 while none has arrived.
    status: int

    @property
    def endpoint(self) -> Endpoint: ...

    @property
    def url(self) -> URL: ...

    @property
    def query(self) -> Mapping[str, str]: ...


async def traced_attempt(tracer: Tracer, call: Attempted, attempt: Callable[[], Awaitable[Any]], resend: int) -> Any:
    """`attempt()` inside a CLIENT span; `resend` is 0 for the first send of a call, n for its n-th retry."""
    endpoint = call.endpoint
    with tracer.start_as_current_span(f"{endpoint.method} {endpoint.path}", kind=SpanKind.CLIENT, record_exception=False,
                                      set_status_on_exception=False) as span:
        if span.is_recording():
            url = call.url
            full = redact_text(str(url))
            if call.query:
                full += "?" + "&".join(f"{name}=REDACTED" for name in call.query)
            span.set_attributes({
                "http.request.method": endpoint.method,
                "url.full": full,
                "url.template": endpoint.path,
                "server.address": url.host or "",
                "server.port": url.port or 0,
                "statuspal_mcp.upstream.endpoint": endpoint.name,
            })
            if resend:
                span.set_attribute("http.request.resend_count", resend)
        call.status = 0
        try:
            outcome = await attempt()
        except UpstreamError as err:
            _answered(span, call.status, err)
            raise
        except BaseException as exc:
            failed(span, type(exc).__qualname__)
            raise
        # A retryable failure comes back as (error, Retry-After) rather than raised.
        _answered(span, call.status, outcome[0] if isinstance(outcome, tuple) else None)
        return outcome


def _answered(span: Span, status: int, error: UpstreamError | None) -> None:
    if not span.is_recording():
        return
    if status:
        span.set_attribute("http.response.status_code", status)
    if status >= 400:  # on a client span, 4xx are failures too
        failed(span, str(status))
    elif error is not None:
        failed(span, error.code or "_OTHER")
