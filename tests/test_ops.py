"""Operator endpoints against a real gateway and sandbox: /healthz, /readyz, /metrics after real traffic."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families

from gateway.config import load_settings
from search.build import build_index
from tests.conftest import DEMO_KEY

HEADERS = {
    "Accept": "application/json, text/event-stream",
    "Content-Type": "application/json",
    "MCP-Protocol-Version": "2025-11-25",
}


@pytest.fixture(scope="module")
def index_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    settings = load_settings(env={})
    out = tmp_path_factory.mktemp("index")
    build_index(settings.path(settings.search.corpus_dir), out, settings.search.docs_base_url)
    return out


async def call(http: aiohttp.ClientSession, url: str, method: str, params: dict[str, Any] | None = None,
               key: str | None = DEMO_KEY) -> tuple[int, dict[str, Any]]:
    headers = dict(HEADERS)
    if key:
        headers["Authorization"] = f"Bearer {key}"
    body = {"jsonrpc": "2.0", "id": 1, "method": method, **({"params": params} if params is not None else {})}
    async with http.post(f"{url}/mcp", json=body, headers=headers) as r:
        return r.status, await r.json()


def sample(metrics: str, name: str, **labels: str) -> float:
    """The value of one sample as Prometheus's own client library parses it; labels must match exactly."""
    for family in text_string_to_metric_families(metrics):
        for found in family.samples:
            if found.name == name and found.labels == labels:
                return found.value
    raise AssertionError(f"no sample {name}{labels} in:\n{metrics}")


async def test_healthz_and_readyz_with_an_index(make_gateway, sandbox_admin, index_dir: Path) -> None:
    gw = await make_gateway(search={"index_dir": str(index_dir)})
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{gw.url}/healthz") as r:
            assert r.status == 200 and await r.json() == {"status": "ok"}
        async with http.get(f"{gw.url}/readyz") as r:
            body = await r.json()
            assert r.status == 200, body
            assert body["status"] == "ready" and body["docs_index"]


async def test_readyz_is_503_with_a_reason_until_the_index_exists(make_gateway, sandbox_admin, tmp_path: Path) -> None:
    gw = await make_gateway(search={"index_dir": str(tmp_path / "not-built-yet")})
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{gw.url}/readyz") as r:
            body = await r.json()
            assert r.status == 503
        async with http.get(f"{gw.url}/healthz") as r:
            assert r.status == 200  # alive, just not ready: a restart would not help
    assert body["status"] == "not ready"
    assert any("build-index" in reason for reason in body["reasons"])


async def test_metrics_count_requests_upstream_calls_and_tools(make_gateway, sandbox_admin, index_dir: Path) -> None:
    gw = await make_gateway(search={"index_dir": str(index_dir)}, statuspal={"max_retries": 0})
    async with aiohttp.ClientSession() as http:
        for _ in range(3):
            status, body = await call(http, gw.url, "tools/list")
            assert status == 200 and body["result"]["tools"]
        status, _ = await call(http, gw.url, "tools/list", key=None)
        assert status == 401
        status, body = await call(http, gw.url, "tools/call", {"name": "list_status_pages", "arguments": {}})
        assert status == 200 and body["result"]["isError"] is False
        status, body = await call(http, gw.url, "tools/call",
                                  {"name": "search_docs", "arguments": {"query": "open an incident"}})
        assert status == 200 and body["result"]["isError"] is False
        await sandbox_admin.faults(error_rate=1.0, error_status=503)
        status, body = await call(http, gw.url, "tools/call", {"name": "get_status_page", "arguments": {"subdomain": "acme"}})
        assert status == 200 and body["result"]["isError"] is True
        await sandbox_admin.faults()

        async with http.get(f"{gw.url}/metrics") as r:
            assert r.status == 200
            assert r.headers["Content-Type"] == "text/plain; version=0.0.4; charset=utf-8"
            text = await r.text()

    # The hand-written exposition read by the reference parser: every family with its declared type, and
    # every sample line understood (a line it could not tie to its family would be missing or untyped).
    families = list(text_string_to_metric_families(text))
    assert {f.name: f.type for f in families} == {
        "statuspal_mcp_http_requests": "counter", "statuspal_mcp_http_request_duration_seconds": "histogram",
        "statuspal_mcp_upstream_calls": "counter", "statuspal_mcp_upstream_errors": "counter",
        "statuspal_mcp_tool_calls": "counter",
    }
    sample_lines = [line for line in text.splitlines() if line and not line.startswith("#")]
    assert sum(len(f.samples) for f in families) == len(sample_lines)
    assert sample(text, "statuspal_mcp_http_requests_total", route="/mcp", method="POST", status="200") == 6
    assert sample(text, "statuspal_mcp_http_requests_total", route="/mcp", method="POST", status="401") == 1
    assert sample(text, "statuspal_mcp_http_request_duration_seconds_count", route="/mcp") == 7
    assert sample(text, "statuspal_mcp_http_request_duration_seconds_bucket", route="/mcp", le="+Inf") == 7
    assert sample(text, "statuspal_mcp_tool_calls_total", tool="list_status_pages", outcome="ok") == 1
    assert sample(text, "statuspal_mcp_tool_calls_total", tool="search_docs", outcome="ok") == 1
    assert sample(text, "statuspal_mcp_tool_calls_total", tool="get_status_page", outcome="upstream_error") == 1
    # The key's one upstream check (a one-item page list, then cached) plus the list_status_pages call.
    assert sample(text, "statuspal_mcp_upstream_calls_total", endpoint="status_pages_list", status="200") == 2
    assert sample(text, "statuspal_mcp_upstream_errors_total", endpoint="status_pages_get", status="503") == 1
    # Buckets are cumulative and end at the count.
    buckets = [float(v) for v in re.findall(r'_bucket\{route="/mcp",le="[^"]+"\} (\S+)', text)]
    assert buckets == sorted(buckets) and buckets[-1] == 7
