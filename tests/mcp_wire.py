"""Raw MCP over HTTP for tests that need to see the wire: exact statuses, headers, bodies and SSE events.

The `mcp` client hides all of that, so the transport and bad-input tests speak HTTP themselves with
aiohttp, the same way a third-party client would.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import httpx2
import orjson
from mcp.client.client import Client
from mcp.client.streamable_http import streamable_http_client
from mcp_types import CLIENT_CAPABILITIES_META_KEY, CLIENT_INFO_META_KEY, PROTOCOL_VERSION_META_KEY

DEMO_KEY = "sk_sandbox_demo"
MODERN = "2026-07-28"
ACCEPT_BOTH = "application/json, text/event-stream"


def modern_meta(version: str = MODERN, **extra: Any) -> dict[str, Any]:
    """The 2026-07-28 per-request envelope."""
    return {
        PROTOCOL_VERSION_META_KEY: version,
        CLIENT_CAPABILITIES_META_KEY: {},
        CLIENT_INFO_META_KEY: {"name": "gateway-tests", "version": "1"},
        **extra,
    }


def modern_headers(method: str, name: str | None = None, version: str = MODERN) -> dict[str, str]:
    headers = {"MCP-Protocol-Version": version, "Mcp-Method": method}
    if name is not None:
        headers["Mcp-Name"] = name
    return headers


def modern_request(method: str, params: Mapping[str, Any] | None = None, request_id: int | str = 1) -> dict[str, Any]:
    params = dict(params or {})
    return {"jsonrpc": "2.0", "id": request_id, "method": method, "params": {**params, "_meta": {**modern_meta(), **params.get("_meta", {})}}}


def request(method: str, params: Mapping[str, Any] | None = None, request_id: int | str = 1) -> dict[str, Any]:
    body: dict[str, Any] = {"jsonrpc": "2.0", "id": request_id, "method": method}
    if params is not None:
        body["params"] = dict(params)
    return body


@dataclass
class Answer:
    status: int
    headers: Mapping[str, str]
    text: str
    events: list[dict[str, Any]] = field(default_factory=list)

    @property
    def json(self) -> Any:
        return orjson.loads(self.text)

    @property
    def error(self) -> dict[str, Any]:
        return self.json["error"]

    @property
    def result(self) -> dict[str, Any]:
        return self.json["result"]


async def post(
    http: aiohttp.ClientSession,
    url: str,
    body: Any,
    *,
    key: str | None = DEMO_KEY,
    headers: Mapping[str, str] | None = None,
    raw: bytes | None = None,
) -> Answer:
    """POST one message to `url` (the /mcp URL) with sensible defaults that each test can override."""
    sent = {"Accept": ACCEPT_BOTH, "Content-Type": "application/json"}
    if key is not None:
        sent["Authorization"] = f"Bearer {key}"
    sent.update(headers or {})
    data = raw if raw is not None else orjson.dumps(body)
    async with http.post(url, data=data, headers=sent) as response:
        return await _answer(response)


async def send(http: aiohttp.ClientSession, method: str, url: str, **kwargs: Any) -> Answer:
    async with http.request(method, url, **kwargs) as response:
        return await _answer(response)


async def _answer(response: aiohttp.ClientResponse) -> Answer:
    text = await response.text()
    events = parse_sse(text) if response.content_type == "text/event-stream" else []
    return Answer(status=response.status, headers=response.headers, text=text, events=events)


def parse_sse(text: str) -> list[dict[str, Any]]:
    """Events per the SSE spec: blank-line separated, `data:` lines joined, `:` comments and unknown fields ignored."""
    events: list[dict[str, Any]] = []
    name, data = "message", []
    for line in text.replace("\r\n", "\n").split("\n"):
        if line == "":
            if data:
                events.append({"event": name, "data": orjson.loads("\n".join(data))})
            name, data = "message", []
            continue
        if line.startswith(":"):
            continue
        field_name, _, value = line.partition(":")
        value = value[1:] if value.startswith(" ") else value
        if field_name == "event":
            name = value
        elif field_name == "data":
            data.append(value)
    return events


@asynccontextmanager
async def mcp_client(url: str, mode: str, key: str = DEMO_KEY) -> AsyncIterator[Client]:
    """The reference `mcp` client on `url`, in `mode` ("legacy", "auto" or "2026-07-28"), with a bearer key."""
    async with httpx2.AsyncClient(headers={"Authorization": f"Bearer {key}"}) as http:
        async with Client(streamable_http_client(url, http_client=http), mode=mode) as client:
            yield client
