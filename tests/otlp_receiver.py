"""A real OTLP/HTTP receiver on a loopback port: what a collector does with the gateway's exports, minus the rest.

It answers `POST /v1/traces`, `/v1/metrics` and `/v1/logs` as the OTLP/HTTP specification says (protobuf in,
an empty protobuf response out, gzip accepted), decodes every body with the OpenTelemetry proto package, and
keeps the decoded requests and the raw bodies, so a test can assert on spans and metrics and grep everything
that was exported for a secret.
"""

from __future__ import annotations

import gzip
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from google.protobuf import json_format
from google.protobuf.message import Message
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest, ExportLogsServiceResponse
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest, ExportMetricsServiceResponse
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest, ExportTraceServiceResponse
from opentelemetry.proto.common.v1.common_pb2 import AnyValue

_SIGNALS: dict[str, tuple[type[Message], type[Message]]] = {
    "traces": (ExportTraceServiceRequest, ExportTraceServiceResponse),
    "metrics": (ExportMetricsServiceRequest, ExportMetricsServiceResponse),
    "logs": (ExportLogsServiceRequest, ExportLogsServiceResponse),
}


@dataclass
class Span:
    """One received span, with what a test asks of it in plain Python values."""

    name: str
    kind: str
    trace_id: str
    span_id: str
    parent_span_id: str
    attributes: dict[str, Any]
    links: list[tuple[str, str]]
    status: str
    start: int
    end: int

    def __repr__(self) -> str:
        return f"Span({self.name!r}, {self.kind}, {self.trace_id[:8]}/{self.span_id} <- {self.parent_span_id or '-'})"


@dataclass
class Received:
    requests: dict[str, list[Message]] = field(default_factory=lambda: {name: [] for name in _SIGNALS})
    bodies: list[bytes] = field(default_factory=list)

    def spans(self) -> list[Span]:
        found = []
        for request in self.requests["traces"]:
            for resource_spans in request.resource_spans:  # type: ignore[attr-defined]
                for scope_spans in resource_spans.scope_spans:
                    for s in scope_spans.spans:
                        found.append(Span(
                            name=s.name, kind=_KINDS[s.kind], trace_id=s.trace_id.hex(), span_id=s.span_id.hex(),
                            parent_span_id=s.parent_span_id.hex(), attributes={a.key: value_of(a.value) for a in s.attributes},
                            links=[(link.trace_id.hex(), link.span_id.hex()) for link in s.links],
                            status=_STATUS[s.status.code], start=s.start_time_unix_nano, end=s.end_time_unix_nano,
                        ))
        return found

    def resources(self) -> Iterator[dict[str, Any]]:
        for signal in ("traces", "metrics"):
            for request in self.requests[signal]:
                groups = request.resource_spans if signal == "traces" else request.resource_metrics  # type: ignore[attr-defined]
                for group in groups:
                    yield {a.key: value_of(a.value) for a in group.resource.attributes}

    def histogram_points(self, name: str) -> list[tuple[dict[str, Any], int, float]]:
        """Every data point of histogram `name`: (attributes, count, sum)."""
        points = []
        for request in self.requests["metrics"]:
            for resource_metrics in request.resource_metrics:  # type: ignore[attr-defined]
                for scope_metrics in resource_metrics.scope_metrics:
                    for metric in scope_metrics.metrics:
                        if metric.name == name:
                            for p in metric.histogram.data_points:
                                points.append(({a.key: value_of(a.value) for a in p.attributes}, p.count, p.sum))
        return points

    def log_records(self) -> list[tuple[str, str]]:
        """Every log record received: (its body as text, its trace id in hex, empty without one)."""
        return [(r.body.string_value, r.trace_id.hex()) for request in self.requests["logs"]
                for rl in request.resource_logs for sl in rl.scope_logs for r in sl.log_records]  # type: ignore[attr-defined]

    def metric_units(self) -> dict[str, str]:
        return {m.name: m.unit for request in self.requests["metrics"] for rm in request.resource_metrics  # type: ignore[attr-defined]
                for sm in rm.scope_metrics for m in sm.metrics}

    def text(self) -> str:
        """Everything received, decoded, as JSON text: what a secret search reads (the raw bodies are searched too)."""
        return "\n".join(json_format.MessageToJson(r) for requests in self.requests.values() for r in requests)


_KINDS = {0: "UNSPECIFIED", 1: "INTERNAL", 2: "SERVER", 3: "CLIENT", 4: "PRODUCER", 5: "CONSUMER"}
_STATUS = {0: "UNSET", 1: "OK", 2: "ERROR"}


def value_of(value: AnyValue) -> Any:
    kind = value.WhichOneof("value")
    if kind == "array_value":
        return [value_of(v) for v in value.array_value.values]
    return getattr(value, kind) if kind else None


@asynccontextmanager
async def otlp_receiver() -> AsyncIterator[tuple[str, Received]]:
    """(the endpoint to put in OTEL_EXPORTER_OTLP_ENDPOINT, what has been received so far)."""
    received = Received()

    async def export(request: web.Request) -> web.Response:
        signal = request.match_info["signal"]
        if signal not in _SIGNALS:
            return web.Response(status=404)
        if request.content_type != "application/x-protobuf":
            return web.Response(status=415)
        body = await request.read()
        if request.headers.get("Content-Encoding") == "gzip":
            body = gzip.decompress(body)
        request_type, response_type = _SIGNALS[signal]
        message = request_type()
        message.ParseFromString(body)
        received.bodies.append(body)
        received.requests[signal].append(message)
        return web.Response(body=response_type().SerializeToString(), content_type="application/x-protobuf")

    app = web.Application(client_max_size=64 * 1024 * 1024)
    app.router.add_post("/v1/{signal}", export)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        yield f"http://127.0.0.1:{port}", received
    finally:
        await runner.cleanup()
