"""A loopback OTLP/HTTP receiver for the telemetry benchmark: decodes every export, as a collector would, keeps only
counts (a load exports far too much to keep), and answers `GET /count` with them.

    python -m bench.otlp_sink     (prints `LISTENING <url>`; point OTEL_EXPORTER_OTLP_ENDPOINT at the URL)
"""

from __future__ import annotations

import asyncio
import json

from aiohttp import web
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest, ExportMetricsServiceResponse
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest, ExportTraceServiceResponse

from bench.child import listen_and_report

COUNTS = web.AppKey("counts", dict)


async def traces(request: web.Request) -> web.Response:
    message = ExportTraceServiceRequest()
    message.ParseFromString(await request.read())
    counts = request.app[COUNTS]
    counts["exports"] += 1
    counts["spans"] += sum(len(ss.spans) for rs in message.resource_spans for ss in rs.scope_spans)
    return web.Response(body=ExportTraceServiceResponse().SerializeToString(), content_type="application/x-protobuf")


async def metrics(request: web.Request) -> web.Response:
    message = ExportMetricsServiceRequest()
    message.ParseFromString(await request.read())
    request.app[COUNTS]["metric_exports"] += 1
    return web.Response(body=ExportMetricsServiceResponse().SerializeToString(), content_type="application/x-protobuf")


async def count(request: web.Request) -> web.Response:
    return web.Response(text=json.dumps(request.app[COUNTS]), content_type="application/json")


async def main() -> None:
    app = web.Application(client_max_size=64 * 1024 * 1024)
    app[COUNTS] = {"exports": 0, "spans": 0, "metric_exports": 0}
    app.router.add_post("/v1/traces", traces)
    app.router.add_post("/v1/metrics", metrics)
    app.router.add_get("/count", count)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.SockSite(runner, listen_and_report()).start()
    await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(main())
