"""OpenTelemetry end to end: the gateway as an operator runs it (`python -m gateway serve`, sandbox embedded), turned
on by the standard OTEL_* variables only, exporting OTLP over HTTP to a real receiver on loopback
(`tests/otlp_receiver.py`, which decodes the protobufs with the OpenTelemetry proto package).

One story of requests is sent with hand-made trace contexts (a `traceparent` header, a `params._meta` context,
both, neither), the gateway is stopped with SIGTERM (which exports what is left), and then each test reads what
the receiver got: the HTTP span and the MCP span of each request, their parents and link, the conventions'
names and attributes, the StatusPal calls beneath (one span per retry), the search and verification steps, the
duration histogram, and the trace ids on the log lines. Settings and the off state are checked beside it.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import secrets
import sys
import textwrap
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import pytest

from gateway.observability.telemetry import TelemetrySettings
from tests.otlp_receiver import Received, Span, otlp_receiver
from tests.processes import sandbox_admin, serving
from tests.test_cli import assert_one_line_error, run_main

HANDSHAKE = "2025-11-25"
MODERN = "2026-07-28"
KEY = "sk_sandbox_demo"
MAX_RETRIES = 2


def trace_context() -> tuple[str, str, str]:
    """(trace id, span id, the sampled traceparent naming them): a client's span the gateway must continue."""
    trace_id, span_id = secrets.token_hex(16), secrets.token_hex(8)
    return trace_id, span_id, f"00-{trace_id}-{span_id}-01"


@dataclass
class Story:
    """What was sent, what came back, what the receiver got and what the gateway logged."""

    received: Received
    logs: list[dict[str, Any]]
    session_id: str = ""
    contexts: dict[str, tuple[str, str]] = field(default_factory=dict)  # label -> (trace id, parent span id)
    request_ids: dict[str, str] = field(default_factory=dict)  # label -> X-Request-Id of its answer

    def spans(self, name: str | None = None, trace_id: str | None = None) -> list[Span]:
        return [s for s in self.received.spans() if (name is None or s.name == name) and (trace_id is None or s.trace_id == trace_id)]

    def one(self, name: str, trace_id: str) -> Span:
        found = self.spans(name, trace_id)
        assert len(found) == 1, (name, trace_id, self.received.spans())
        return found[0]

    def children(self, parent: Span) -> list[Span]:
        return [s for s in self.received.spans() if s.trace_id == parent.trace_id and s.parent_span_id == parent.span_id]

    def http_span_of(self, label: str) -> Span:
        """The server span of the HTTP request that the access line with this label's request id logged."""
        line = self.access_line(label)
        found = [s for s in self.spans() if s.kind == "SERVER" and s.span_id == line["span_id"]]
        assert len(found) == 1, (label, line)
        return found[0]

    def access_line(self, label: str) -> dict[str, Any]:
        lines = [e for e in self.logs if e.get("logger") == "gateway.access" and e.get("request_id") == self.request_ids[label]]
        assert len(lines) == 1, (label, self.logs[-5:])
        return lines[0]


class Client:
    def __init__(self, http: aiohttp.ClientSession, mcp: str, story: Story) -> None:
        self.http, self.mcp, self.story = http, mcp, story

    async def send(self, label: str, method: str, params: dict[str, Any], *, modern: bool = False, header: str | None = None,
                   meta: dict[str, str] | None = None, session: bool = True, request_id: Any = None) -> dict[str, Any]:
        headers = {"Authorization": f"Bearer {KEY}", "Accept": "application/json, text/event-stream",
                   "Content-Type": "application/json", "MCP-Protocol-Version": MODERN if modern else HANDSHAKE,
                   "X-Request-Id": f"otel-{label}"}
        params = dict(params)
        envelope: dict[str, Any] = dict(meta or {})
        if modern:
            envelope.update({"io.modelcontextprotocol/protocolVersion": MODERN, "io.modelcontextprotocol/clientCapabilities": {}})
            headers["Mcp-Method"] = method
            if "name" in params:
                headers["Mcp-Name"] = params["name"]
        if envelope:
            params["_meta"] = envelope
        if header is not None:
            headers["traceparent"] = header
        if session and self.story.session_id:
            headers["Mcp-Session-Id"] = self.story.session_id
        body = {"jsonrpc": "2.0", "id": request_id if request_id is not None else label, "method": method, "params": params}
        async with self.http.post(self.mcp, json=body, headers=headers) as r:
            self.story.request_ids[label] = r.headers["X-Request-Id"]
            if method == "initialize":
                self.story.session_id = r.headers["Mcp-Session-Id"]
            return {"status": r.status, **await r.json()}


@pytest.fixture(scope="module")
async def story() -> Story:
    """The whole story against one traced gateway; what the receiver holds once it has stopped."""
    async with otlp_receiver() as (endpoint, received):
        env = {"OTEL_EXPORTER_OTLP_ENDPOINT": endpoint, "STATUSPAL_MCP_SANDBOX_PORT": "0",
               "STATUSPAL_MCP_STATUSPAL_MAX_RETRIES": str(MAX_RETRIES), "STATUSPAL_MCP_STATUSPAL_RETRY_BACKOFF_SECONDS": "0.01"}
        story = Story(received, [])
        async with serving(["serve", "--port", "0"], env=env) as child, aiohttp.ClientSession() as http:
            client = Client(http, child.url_after("MCP URL:"), story)
            admin = sandbox_admin(http, child)
            init = await client.send("initialize", "initialize", {"protocolVersion": HANDSHAKE, "capabilities": {},
                                                                  "clientInfo": {"name": "otel-test", "version": "1"}})
            assert init["status"] == 200, init

            # The headline: a write whose _meta carries the client's context, sent in an HTTP request whose header
            # carries another (a proxy's, say).
            meta_trace, meta_parent, meta_tp = trace_context()
            header_trace, header_parent, header_tp = trace_context()
            story.contexts["write"] = (meta_trace, meta_parent)
            story.contexts["write-http"] = (header_trace, header_parent)
            page = {"subdomain": "traced", "name": "Traced", "timezone": "UTC", "website_url": "https://example.com"}
            written = await client.send("write", "tools/call", {"name": "create_status_page", "arguments": page},
                                        header=header_tp, meta={"traceparent": meta_tp, "tracestate": "vendor=opaque"})
            assert written["result"]["isError"] is False, written

            # 2026-07-28, the header's context only: the MCP span takes the same parent as the HTTP span.
            story.contexts["header-only"] = trace_context()[:2]
            listed = await client.send("header-only", "tools/call", {"name": "list_status_pages", "arguments": {}}, modern=True,
                                       header=f"00-{story.contexts['header-only'][0]}-{story.contexts['header-only'][1]}-01")
            assert listed["result"]["isError"] is False, listed

            # No context anywhere: two new traces, one per span, and the link between them.
            assert (await client.send("no-context", "tools/list", {}, request_id=41))["status"] == 200

            story.contexts["search"] = trace_context()[:2]
            found = await client.send("search", "tools/call", {"name": "search_docs", "arguments": {"query": "rotate webhook secret"}},
                                      meta={"traceparent": f"00-{story.contexts['search'][0]}-{story.contexts['search'][1]}-01"})
            assert found["result"]["isError"] is False, found

            story.contexts["tool-error"] = trace_context()[:2]
            missing = await client.send("tool-error", "tools/call", {"name": "get_status_page", "arguments": {"subdomain": "no-such-page"}},
                                        meta={"traceparent": f"00-{story.contexts['tool-error'][0]}-{story.contexts['tool-error'][1]}-01"})
            assert missing["result"]["isError"] is True, missing

            story.contexts["unknown-tool"] = trace_context()[:2]
            unknown = await client.send("unknown-tool", "tools/call", {"name": "sk_not_a_tool_name", "arguments": {}},
                                        meta={"traceparent": f"00-{story.contexts['unknown-tool'][0]}-{story.contexts['unknown-tool'][1]}-01"})
            assert unknown["error"]["code"] == -32602, unknown

            # StatusPal answers 503 to every list: the call and each retry are spans of their own.
            await admin("faults", {"error_rate": 1.0, "error_status": 503, "only": ["status_pages_list"]})
            story.contexts["retries"] = trace_context()[:2]
            failing = await client.send("retries", "tools/call", {"name": "list_status_pages", "arguments": {}},
                                        meta={"traceparent": f"00-{story.contexts['retries'][0]}-{story.contexts['retries'][1]}-01"})
            assert failing["result"]["isError"] is True, failing
            await admin("faults", {})
        # Stopped with SIGTERM: the gateway has exported what it still held before it exited.
        story.logs = [json.loads(line) for line in child.stderr.splitlines() if line.startswith("{")]
        assert story.received.spans(), child.stderr[-2000:]
        yield story


def mcp_span(story: Story, label: str, name: str) -> Span:
    return story.one(name, story.contexts[label][0])


def test_a_traced_write_has_the_mcp_span_under_the_meta_context_linked_to_the_http_span(story: Story) -> None:
    meta_trace, meta_parent = story.contexts["write"]
    header_trace, header_parent = story.contexts["write-http"]
    http = story.http_span_of("write")
    assert (http.name, http.kind, http.trace_id, http.parent_span_id) == ("POST /mcp", "SERVER", header_trace, header_parent)
    assert http.attributes["http.request.method"] == "POST" and http.attributes["http.route"] == "/mcp"
    assert http.attributes["http.response.status_code"] == 200 and http.attributes["url.path"] == "/mcp"
    assert http.status == "UNSET"

    mcp = story.one("tools/call create_status_page", meta_trace)
    assert mcp.kind == "SERVER" and mcp.parent_span_id == meta_parent
    assert mcp.links == [(header_trace, http.span_id)]
    assert mcp.attributes == {
        "mcp.method.name": "tools/call", "gen_ai.tool.name": "create_status_page", "gen_ai.operation.name": "execute_tool",
        "jsonrpc.request.id": "write", "mcp.protocol.version": HANDSHAKE, "network.transport": "tcp", "network.protocol.name": "http",
        # Handshake era: the session, as a digest of the id the gateway issued.
        "mcp.session.id": hashlib.sha256(story.session_id.encode()).hexdigest()[:32],
    }
    assert mcp.status == "UNSET"
    assert http.start <= mcp.start and mcp.end <= http.end


def test_the_statuspal_call_and_the_verification_are_beneath_the_mcp_span(story: Story) -> None:
    mcp = story.one("tools/call create_status_page", story.contexts["write"][0])
    beneath = {s.name: s for s in story.children(mcp)}
    create = beneath["POST /status_pages"]
    assert create.kind == "CLIENT"
    assert create.attributes["http.request.method"] == "POST" and create.attributes["http.response.status_code"] == 201
    assert create.attributes["url.template"] == "/status_pages" and create.attributes["statuspal_mcp.upstream.endpoint"] == "status_pages_create"
    assert create.attributes["server.address"] == "127.0.0.1" and create.attributes["url.full"].endswith("/api/v1/status_pages")
    assert "http.request.resend_count" not in create.attributes and "error.type" not in create.attributes
    verify = beneath["verify write"]
    assert verify.kind == "INTERNAL" and verify.attributes["statuspal_mcp.verify.applied"] is True
    assert create.end <= verify.start  # the check reads StatusPal's answer to the write
    # When the answer lacked a field, the one read that filled it in is beneath the check.
    rereads = [s for s in story.children(verify) if s.kind == "CLIENT"]
    assert len(rereads) == (1 if verify.attributes["statuspal_mcp.verify.reread"] else 0)


def test_without_a_meta_context_the_mcp_span_takes_the_header_parent(story: Story) -> None:
    trace_id, parent = story.contexts["header-only"]
    http = story.http_span_of("header-only")
    mcp = story.one("tools/call list_status_pages", trace_id)
    assert (http.trace_id, http.parent_span_id) == (trace_id, parent)
    assert mcp.parent_span_id == parent and mcp.links == [(trace_id, http.span_id)]
    # 2026-07-28 has no sessions: no mcp.session.id, even though the client sent its old session header.
    assert mcp.attributes["mcp.protocol.version"] == MODERN and "mcp.session.id" not in mcp.attributes
    assert [s.name for s in story.children(mcp)] == ["GET /status_pages"]


def test_without_any_context_each_span_starts_a_trace_and_they_are_linked(story: Story) -> None:
    http = story.http_span_of("no-context")
    assert http.parent_span_id == "" and http.name == "POST /mcp"
    listed = [s for s in story.spans("tools/list") if s.links == [(http.trace_id, http.span_id)]]
    assert len(listed) == 1, story.spans("tools/list")
    assert listed[0].parent_span_id == "" and listed[0].trace_id != http.trace_id
    assert listed[0].attributes["jsonrpc.request.id"] == "41" and "gen_ai.tool.name" not in listed[0].attributes


def test_the_search_step_is_a_span_of_its_own(story: Story) -> None:
    mcp = mcp_span(story, "search", "tools/call search_docs")
    (search,) = story.children(mcp)
    assert search.name == "docs.search" and search.kind == "INTERNAL"
    assert search.attributes["statuspal_mcp.search.hits"] >= 1 and search.attributes["statuspal_mcp.search.limit"] == 5
    # The user's question is not recorded anywhere.
    assert "rotate webhook" not in story.received.text()


def test_an_is_error_result_is_a_tool_error_and_the_404_is_on_the_client_span(story: Story) -> None:
    mcp = mcp_span(story, "tool-error", "tools/call get_status_page")
    assert mcp.attributes["error.type"] == "tool_error" and mcp.status == "ERROR"
    (get,) = story.children(mcp)
    assert get.name == "GET /status_pages/{subdomain}" and get.attributes["http.response.status_code"] == 404
    assert get.attributes["error.type"] == "404" and get.status == "ERROR"


def test_a_protocol_error_is_not_a_failure_and_an_unknown_tool_is_not_a_span_name(story: Story) -> None:
    mcp = mcp_span(story, "unknown-tool", "tools/call _OTHER")
    assert mcp.attributes["rpc.response.status_code"] == "-32602"
    assert "error.type" not in mcp.attributes and mcp.status == "UNSET"
    assert not [s for s in story.spans() if "sk_not_a_tool_name" in s.name or "sk_not_a_tool_name" in str(s.attributes)]


def test_each_retry_of_a_statuspal_call_is_a_client_span(story: Story) -> None:
    mcp = mcp_span(story, "retries", "tools/call list_status_pages")
    attempts = sorted(story.children(mcp), key=lambda s: s.start)
    assert [s.name for s in attempts] == ["GET /status_pages"] * (1 + MAX_RETRIES)
    assert [s.attributes.get("http.request.resend_count") for s in attempts] == [None, *range(1, MAX_RETRIES + 1)]
    assert all(s.attributes["http.response.status_code"] == 503 and s.attributes["error.type"] == "503" for s in attempts)
    assert mcp.attributes["error.type"] == "tool_error"
    # The retry lines are logged inside the MCP span: they carry its ids.
    retry_lines = [e for e in story.logs if e.get("logger") == "gateway.upstream" and "retry" in e["msg"]]
    assert len(retry_lines) == MAX_RETRIES
    assert {(e["trace_id"], e["span_id"]) for e in retry_lines} == {(mcp.trace_id, mcp.span_id)}


def test_every_request_log_line_carries_its_trace_and_span_ids(story: Story) -> None:
    for label in story.request_ids:
        line = story.access_line(label)
        http = story.http_span_of(label)
        assert (line["trace_id"], line["span_id"]) == (http.trace_id, http.span_id)
    # Lines logged outside any request (start-up, shutdown) have none.
    assert all("trace_id" not in e for e in story.logs if e.get("logger") == "gateway.cli")


def test_the_duration_histogram_is_exported_with_the_conventions_attributes(story: Story) -> None:
    points = story.received.histogram_points("mcp.server.operation.duration")
    assert story.received.metric_units()["mcp.server.operation.duration"] == "s"

    def count(wanted: dict[str, str]) -> int:
        return sum(n for attributes, n, _ in points if all(attributes.get(k) == v for k, v in wanted.items()))

    by_tool = {a.get("gen_ai.tool.name"): a for a, _, _ in points}
    assert by_tool["create_status_page"]["gen_ai.operation.name"] == "execute_tool"
    assert "error.type" not in by_tool["create_status_page"]
    assert count({"gen_ai.tool.name": "get_status_page", "error.type": "tool_error"}) == 1
    assert count({"gen_ai.tool.name": "list_status_pages", "error.type": "tool_error"}) == 1
    assert count({"gen_ai.tool.name": "_OTHER", "rpc.response.status_code": "-32602"}) == 1
    assert count({"mcp.method.name": "tools/list"}) == 1 and count({"mcp.method.name": "initialize"}) == 1
    # No per-request values in metric attributes: no request id, no session.
    assert not any("jsonrpc.request.id" in a or "mcp.session.id" in a for a, _, _ in points)
    assert all(total > 0 for _, _, total in points)


def test_the_resource_names_the_service(story: Story) -> None:
    for resource in story.received.resources():
        assert resource["service.name"] == "statuspal-mcp" and resource["service.version"]


async def test_parent_based_sampling_follows_the_meta_context() -> None:
    """At a ratio of 0 no trace starts here, but a client's sampled `_meta` context is continued, with the upstream
    call beneath it; the histogram still counts every request."""
    env = {"OTEL_TRACES_EXPORTER": "otlp", "OTEL_METRICS_EXPORTER": "otlp", "OTEL_TRACES_SAMPLER": "parentbased_traceidratio",
           "OTEL_TRACES_SAMPLER_ARG": "0", "STATUSPAL_MCP_SANDBOX_PORT": "0"}
    async with otlp_receiver() as (endpoint, received):
        env["OTEL_EXPORTER_OTLP_ENDPOINT"] = endpoint
        story = Story(received, [])
        async with serving(["serve", "--port", "0"], env=env) as child, aiohttp.ClientSession() as http:
            client = Client(http, child.url_after("MCP URL:"), story)
            for n in range(3):
                assert (await client.send(f"unsampled-{n}", "tools/list", {}, modern=True))["status"] == 200
            trace_id, parent, traceparent = trace_context()
            listed = await client.send("sampled", "tools/call", {"name": "list_status_pages", "arguments": {}}, modern=True,
                                       meta={"traceparent": traceparent})
            assert listed["result"]["isError"] is False
    spans = received.spans()
    assert {s.trace_id for s in spans} == {trace_id}, spans
    (mcp,) = [s for s in spans if s.kind == "SERVER"]
    assert mcp.name == "tools/call list_status_pages" and mcp.parent_span_id == parent
    assert len(mcp.links) == 1  # to the HTTP span, which was not sampled and so was not exported
    assert [s.name for s in spans if s.parent_span_id == mcp.span_id] == ["GET /status_pages"]
    points = received.histogram_points("mcp.server.operation.duration")
    assert sum(n for a, n, _ in points if a["mcp.method.name"] == "tools/list") == 3


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({}, TelemetrySettings()),
        ({"OTEL_SERVICE_NAME": "gw", "OTEL_TRACES_SAMPLER": "always_on"}, TelemetrySettings(sampler="always_on")),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"}, TelemetrySettings(traces=True, metrics=True, logs=True)),
        ({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://collector:4318/v1/traces"}, TelemetrySettings(traces=True)),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318", "OTEL_METRICS_EXPORTER": "none"}, TelemetrySettings(traces=True, logs=True)),
        ({"OTEL_METRICS_EXPORTER": "otlp"}, TelemetrySettings(metrics=True)),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318", "OTEL_SDK_DISABLED": "true"}, TelemetrySettings()),
        ({"OTEL_TRACES_EXPORTER": "otlp", "OTEL_TRACES_SAMPLER": "parentbased_traceidratio", "OTEL_TRACES_SAMPLER_ARG": "0.1"},
         TelemetrySettings(traces=True, sampler="parentbased_traceidratio", ratio=0.1)),
        ({"OTEL_METRICS_EXPORTER": "otlp", "OTEL_METRIC_EXPORT_INTERVAL": "500"}, TelemetrySettings(metrics=True, metric_interval=0.5)),
        ({"OTEL_METRIC_EXPORT_INTERVAL": "soon"}, TelemetrySettings()),  # moot while metrics are off
        # http/protobuf named explicitly is what is served anyway; a protocol for a signal that is off is moot.
        ({"OTEL_TRACES_EXPORTER": "otlp", "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL": "http/protobuf", "OTEL_EXPORTER_OTLP_METRICS_PROTOCOL": "grpc"},
         TelemetrySettings(traces=True)),
    ],
)
def test_settings_come_from_the_standard_variables_and_default_to_off(env: dict[str, str], expected: TelemetrySettings) -> None:
    assert TelemetrySettings.from_environ(env) == expected


@pytest.mark.parametrize(
    ("env", "fragments"),
    [
        ({"OTEL_TRACES_EXPORTER": "console"}, ("OTEL_TRACES_EXPORTER='console'", "OTLP over HTTP only")),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4317", "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"}, ("OTEL_EXPORTER_OTLP_PROTOCOL='grpc'",)),
        ({"OTEL_TRACES_EXPORTER": "otlp", "OTEL_TRACES_SAMPLER": "jaeger_remote"}, ("OTEL_TRACES_SAMPLER='jaeger_remote'",)),
        ({"OTEL_TRACES_EXPORTER": "otlp", "OTEL_TRACES_SAMPLER": "traceidratio", "OTEL_TRACES_SAMPLER_ARG": "10%"},
         ("OTEL_TRACES_SAMPLER_ARG='10%'", "from 0 to 1")),
        ({"OTEL_METRICS_EXPORTER": "otlp", "OTEL_METRIC_EXPORT_INTERVAL": "soon"}, ("OTEL_METRIC_EXPORT_INTERVAL='soon'",)),
    ],
)
def test_what_cannot_be_honoured_is_a_one_line_start_up_error(env, fragments, monkeypatch, capsys) -> None:
    for name in [k for k in os.environ if k.startswith("OTEL_")]:
        monkeypatch.delenv(name)
    assert_one_line_error(run_main(["serve", "--port", "0"], env, monkeypatch, capsys), *fragments)


async def test_off_by_default_no_sdk_is_loaded_and_no_span_is_made() -> None:
    """A gateway without the OTEL_* variables, after answering tool calls that reach its sandbox: telemetry is off,
    no log line carries a trace id, and neither the SDK's tracing nor any exporter was even imported, so no SDK
    object can exist."""
    script = textwrap.dedent("""
        import asyncio, io, logging, sys
        from aiohttp.test_utils import TestClient, TestServer
        from gateway.app import create_app
        from gateway.config import load_settings
        from gateway.observability.logs import json_lines_handler
        from gateway.observability.tracing import ACTIVE
        from gateway.statuspal.endpoints import EndpointTable
        from sandbox.app import create_sandbox_app
        from sandbox.settings import SandboxSettings

        async def main():
            lines = io.StringIO()
            logging.getLogger().addHandler(json_lines_handler(lines))
            logging.getLogger().setLevel(logging.INFO)
            async with TestClient(TestServer(create_sandbox_app(SandboxSettings(embedded=False), EndpointTable()))) as sandbox:
                upstream = str(sandbox.make_url("/api/v1"))
                settings = load_settings(overrides={"sandbox": {"embedded": False}, "statuspal": {"base_url": upstream}})
                async with TestClient(TestServer(create_app(settings))) as client:
                    headers = {"Accept": "application/json", "Content-Type": "application/json", "Host": "127.0.0.1:8080",
                               "Authorization": "Bearer sk_sandbox_demo", "MCP-Protocol-Version": "2025-11-25",
                               "traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"}
                    for name, arguments in (("list_status_pages", {}), ("search_docs", {"query": "webhook"})):
                        body = {"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": name, "arguments": arguments,
                                "_meta": {"traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"}}}
                        r = await client.post("/mcp", json=body, headers=headers)
                        print(name, r.status, (await r.json())["result"]["isError"])
            for handler in logging.getLogger().handlers:
                handler.flush()
            print("on", ACTIVE.on, "lines", lines.getvalue().count("gateway.access"), "ids", "trace_id" in lines.getvalue())
            print("loaded", sorted(m for m in sys.modules if m.startswith(("opentelemetry.sdk.trace", "opentelemetry.exporter"))))

        asyncio.run(main())
    """)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "STATUSPAL_MCP_"))}
    proc = await asyncio.create_subprocess_exec(sys.executable, "-c", script, stdout=asyncio.subprocess.PIPE,
                                                stderr=asyncio.subprocess.PIPE, env=env)
    out, err = await proc.communicate()
    text = out.decode()
    assert proc.returncode == 0, err.decode()[-2000:]
    assert "list_status_pages 200 False" in text and "search_docs 200 False" in text, text
    assert "on False lines 2 ids False" in text and "loaded []" in text, text


async def test_the_audit_event_of_a_write_is_an_otlp_log_record_in_the_writes_trace(story: Story) -> None:
    records = [(json.loads(body), trace) for body, trace in story.received.log_records()]
    writes = [(event, trace) for event, trace in records if event.get("tool") == "create_status_page"]
    assert len(writes) == 1, records
    event, trace = writes[0]
    assert (event["event"], event["outcome"], event["targets"]) == ("tool_write", "applied", {"page": "traced"})
    meta_trace, _ = story.contexts["write"]
    assert trace == meta_trace and event["trace_id"] == meta_trace
    # Only the audit trail goes to OTLP logs: no access or retry line does.
    assert all("event" in event for event, _ in records)
