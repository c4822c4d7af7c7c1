"""A canary key through every path, then a search of every log line and every response for it (no secret is ever written).

The gateway runs as an operator runs it (`python -m gateway serve`, sandbox embedded, DEBUG logging so
nothing is filtered out by level), and its whole stderr is kept. The canary is a real key the sandbox
accepts, so it travels the real paths: direct bearer calls in both eras, tool calls that succeed, fail
upstream (404, 422, 5xx, 429, dropped connections) or stream progress, malformed requests of every kind
that carry it, the OAuth login form, token exchange, refresh and revocation, and webhook secrets. The
secrets the gateway itself hands out (webhook secrets, authorization codes, access and refresh tokens)
must not be logged either.

Telemetry is on throughout, exporting to a real OTLP/HTTP receiver on loopback at 100% sampling: every span,
attribute, event and metric point the gateway exports, decoded and raw, is searched for the same secrets.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode, urlsplit

import aiohttp

from tests.oauth_browser import Page, pkce, query_of
from tests.otlp_receiver import otlp_receiver
from tests.processes import sandbox_admin, serving

CANARY = f"sk_canary_{secrets.token_hex(12)}"
REVOKED_CANARY = f"sk_canary_revoked_{secrets.token_hex(12)}"
HANDSHAKE = "2025-11-25"
MODERN = "2026-07-28"


@dataclass
class Exchange:
    method: str
    url: str
    status: int
    headers: str
    body: str
    header: dict[str, str]


@dataclass
class Recorder:
    """Every HTTP exchange with the gateway, kept whole so the test can search responses afterwards."""

    http: aiohttp.ClientSession
    seen: list[Exchange] = field(default_factory=list)

    async def send(self, method: str, url: str, **kwargs: Any) -> Exchange:
        kwargs.setdefault("allow_redirects", False)
        async with self.http.request(method, url, **kwargs) as r:
            body = await r.text(errors="replace")
            headers = "\n".join(f"{k}: {v}" for k, v in r.headers.items())
            exchange = Exchange(method, url, r.status, headers, body, {k.lower(): v for k, v in r.headers.items()})
        self.seen.append(exchange)
        return exchange

    async def mcp(self, url: str, method: str, params: dict[str, Any] | None = None, *, key: str | None = CANARY,
                  modern: bool = False, name: str | None = None, headers: dict[str, str] | None = None,
                  raw: str | None = None) -> Exchange:
        send = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json",
                "MCP-Protocol-Version": MODERN if modern else HANDSHAKE}
        if key is not None:
            send["Authorization"] = f"Bearer {key}"
        body: dict[str, Any] = {"jsonrpc": "2.0", "method": method}
        if not method.startswith("notifications/"):
            body["id"] = 1
        if modern:
            params = dict(params or {})
            params["_meta"] = {"io.modelcontextprotocol/protocolVersion": MODERN,
                               "io.modelcontextprotocol/clientCapabilities": {}}
            send["Mcp-Method"] = method
            if name:
                send["Mcp-Name"] = name
        if params is not None:
            body["params"] = params
        send.update(headers or {})
        return await self.send("POST", url, data=raw if raw is not None else json.dumps(body), headers=send)

    async def tool(self, url: str, name: str, arguments: dict[str, Any], **kwargs: Any) -> Exchange:
        return await self.mcp(url, "tools/call", {"name": name, "arguments": arguments}, name=name, **kwargs)


def result_of(exchange: Exchange) -> dict[str, Any]:
    assert exchange.status == 200, (exchange.url, exchange.status, exchange.body)
    return json.loads(exchange.body)["result"]


async def direct_key_paths(rec: Recorder, mcp: str, faults) -> list[str]:
    """Bearer calls with the canary: success, upstream failures, odd requests. Returns secrets handed out."""
    handed_out: list[str] = []
    init = await rec.mcp(mcp, "initialize", {"protocolVersion": HANDSHAKE, "capabilities": {},
                                            "clientInfo": {"name": "canary", "version": "1"}})
    session = {"Mcp-Session-Id": init.header["mcp-session-id"]} if "mcp-session-id" in init.header else {}
    assert (await rec.mcp(mcp, "notifications/initialized", None, headers=session)).status == 202
    assert result_of(await rec.mcp(mcp, "tools/list", headers=session))["tools"]
    assert result_of(await rec.mcp(mcp, "ping", headers=session)) == {}
    assert result_of(await rec.mcp(mcp, "server/discover", {}, modern=True))

    page = {"subdomain": "canary", "name": "Canary", "timezone": "UTC", "website_url": "https://example.com"}
    assert result_of(await rec.tool(mcp, "create_status_page", page))["isError"] is False
    assert result_of(await rec.tool(mcp, "create_status_page", page))["isError"] is True  # 422: subdomain taken
    assert result_of(await rec.tool(mcp, "get_status_page", {"subdomain": "no-such-page"}))["isError"] is True  # 404
    assert result_of(await rec.tool(mcp, "get_status_page", {"subdomain": "canary"}, modern=True))["isError"] is False
    assert result_of(await rec.tool(mcp, "get_status_page", {"subdomain": "Bad Subdomain!"}))["isError"] is True
    # Progress notifications over SSE for a multi-page read.
    streamed = await rec.mcp(mcp, "tools/call", {"name": "list_status_pages", "arguments": {"all": True},
                                                 "_meta": {"progressToken": "p1"}})
    assert streamed.status == 200

    hook = result_of(await rec.tool(mcp, "create_webhook", {"name": "Canary hook", "url": "https://example.com/hook",
                                                           "events": ["notice.created"]}))
    assert hook["isError"] is False, hook
    created = hook["structuredContent"]
    rotated = result_of(await rec.tool(mcp, "rotate_webhook_secret", {"webhook_id": _find(created, "wbk_")}))
    assert rotated["isError"] is False, rotated
    handed_out += [s for s in _strings(created) + _strings(rotated["structuredContent"]) if s.startswith("whs_")]

    for fault in ({"error_rate": 1.0, "error_status": 503}, {"rate_limit_rate": 1.0, "retry_after_seconds": 0},
                  {"drop_rate": 1.0}):
        await faults(**fault)
        assert result_of(await rec.tool(mcp, "list_status_pages", {}))["isError"] is True
    await faults()

    # The key in places it does not belong, and requests that fail before or after credentials.
    await rec.send("POST", f"{mcp}?api_key={CANARY}&key={CANARY}", data="{}", headers={"Content-Type": "application/json"})
    await rec.send("GET", f"{mcp.removesuffix('/mcp')}/{CANARY}?token={CANARY}")
    await rec.mcp(mcp, "tools/list", raw='{"jsonrpc": "2.0", "id": 1, "method": ')  # broken JSON
    await rec.mcp(mcp, "tools/list", headers={"MCP-Protocol-Version": "1999-01-01"})
    await rec.mcp(mcp, "tools/list", headers={"Accept": "text/html"})
    await rec.mcp(mcp, "tools/list", headers={"Origin": "https://evil.example"})
    await rec.mcp(mcp, "tools/list", headers={"Authorization": CANARY})  # no scheme
    await rec.mcp(mcp, "tools/list", headers={"Authorization": f"Basic {CANARY}"})
    await rec.mcp(mcp, "tools/list", key=CANARY + "\u00e9")
    await rec.mcp(mcp, "tools/list", key=CANARY[:-1])  # unknown to StatusPal
    assert (await rec.mcp(mcp, "tools/list", key=REVOKED_CANARY)).status == 401
    await rec.mcp(mcp, "tools/call", {"name": "no_such_tool", "arguments": {"key": CANARY}})
    await rec.send("DELETE", mcp, headers={"Authorization": f"Bearer {CANARY}", **session})
    return handed_out


async def oauth_paths(rec: Recorder, origin: str) -> list[str]:
    """The browser flow with the canary pasted on the login page, then token, refresh and revocation."""
    handed_out: list[str] = []
    redirect = "http://127.0.0.1:9/callback"
    reg = await rec.send("POST", f"{origin}/register", json={
        "redirect_uris": [redirect], "client_name": "Canary Client", "token_endpoint_auth_method": "none",
        "grant_types": ["authorization_code", "refresh_token"]})
    assert reg.status == 201, reg.body
    client_id = json.loads(reg.body)["client_id"]
    verifier, challenge = pkce()

    async def login(key: str, form_overrides: dict[str, str] | None = None) -> Exchange:
        query = urlencode({"response_type": "code", "client_id": client_id, "redirect_uri": redirect, "state": "s1",
                           "code_challenge": challenge, "code_challenge_method": "S256",
                           "resource": f"{origin}/mcp", "scope": "statuspal:read statuspal:write"})
        opened = await rec.send("GET", f"{origin}/authorize?{query}")
        assert opened.status == 200, opened.body
        form = {**Page.parse(opened.status, {}, opened.body).fields, "access": "full", "action": "allow", "key": key,
                **(form_overrides or {})}
        return await rec.send("POST", f"{origin}/authorize", data=form,
                              headers={"Origin": origin, "Sec-Fetch-Site": "same-origin"})

    assert (await login(REVOKED_CANARY)).status != 302  # StatusPal refuses it: the page says so
    assert (await login(CANARY + " x")).status != 302
    assert (await login(CANARY, {"csrf": "forged"})).status != 302
    approved = await login(CANARY)
    assert approved.status == 302, approved.body
    location = approved.header["location"]
    code = query_of(location)["code"]
    handed_out.append(code)

    def token_form(**fields: str) -> dict[str, str]:
        return {"client_id": client_id, "resource": f"{origin}/mcp", **fields}

    issued = await rec.send("POST", f"{origin}/token", data=token_form(
        grant_type="authorization_code", code=code, redirect_uri=redirect, code_verifier=verifier))
    assert issued.status == 200, issued.body
    tokens = json.loads(issued.body)
    handed_out += [tokens["access_token"], tokens["refresh_token"]]

    assert result_of(await rec.mcp(f"{origin}/mcp", "tools/list", key=tokens["access_token"]))["tools"]
    assert result_of(await rec.tool(f"{origin}/mcp", "list_status_pages", {}, key=tokens["access_token"]))["isError"] is False

    refreshed = await rec.send("POST", f"{origin}/token", data=token_form(
        grant_type="refresh_token", refresh_token=tokens["refresh_token"]))
    assert refreshed.status == 200, refreshed.body
    renewed = json.loads(refreshed.body)
    handed_out += [renewed["access_token"], renewed["refresh_token"]]
    await rec.send("POST", f"{origin}/token", data=token_form(grant_type="refresh_token", refresh_token=CANARY))

    assert (await rec.send("POST", f"{origin}/revoke", data={"client_id": client_id,
                                                             "token": renewed["refresh_token"]})).status == 200
    assert (await rec.mcp(f"{origin}/mcp", "tools/list", key=renewed["access_token"])).status == 401
    await rec.send("POST", f"{origin}/revoke", data={"client_id": client_id, "token": CANARY})
    # Last, because a replayed code revokes everything issued from it: the code again, a made-up code.
    replay = await rec.send("POST", f"{origin}/token", data=token_form(
        grant_type="authorization_code", code=code, redirect_uri=redirect, code_verifier=verifier))
    assert replay.status == 400, replay.body
    await rec.send("POST", f"{origin}/token", data=token_form(
        grant_type="authorization_code", code=CANARY, redirect_uri=redirect, code_verifier=CANARY))
    return handed_out


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for v in value.values() for s in _strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return []


def _find(value: Any, prefix: str) -> str:
    return next(s for s in _strings(value) if s.startswith(prefix))


async def test_canary_key_never_reaches_a_log_a_response_or_telemetry() -> None:
    env = {"STATUSPAL_MCP_SANDBOX_PORT": "0", "STATUSPAL_MCP_LOGGING_LEVEL": "DEBUG",
           "STATUSPAL_MCP_STATUSPAL_RETRY_BACKOFF_SECONDS": "0.01", "OTEL_TRACES_SAMPLER": "always_on"}
    async with otlp_receiver() as (endpoint, received), serving(["serve", "--port", "0"], env={**env, "OTEL_EXPORTER_OTLP_ENDPOINT": endpoint}) as child:
        mcp = child.url_after("MCP URL:")
        origin = mcp.removesuffix("/mcp")
        async with aiohttp.ClientSession() as http:
            admin = sandbox_admin(http, child)

            async def faults(**values: Any) -> None:
                await admin("faults", values)

            await admin("keys", {"key": CANARY})
            await admin("keys", {"key": REVOKED_CANARY, "revoked": True})
            rec = Recorder(http)
            handed_out = await direct_key_paths(rec, mcp, faults)
            handed_out += await oauth_paths(rec, origin)

    assert len(handed_out) >= 7, handed_out  # webhook secrets, the code, two token pairs
    lines = [line for line in child.stderr.splitlines() if line.strip()]
    assert lines and all(json.loads(line) for line in lines), "every log line is one JSON object"
    # The canary really travelled: the access lines name its key id (and only the id).
    canary_id = hashlib.sha256(CANARY.encode()).hexdigest()[:16]
    assert any(json.loads(line).get("key_id") == canary_id for line in lines)
    for secret in (CANARY, REVOKED_CANARY, CANARY.removeprefix("sk_"), *handed_out):
        leaked = [line for line in lines if secret in line]
        assert not leaked, f"{secret[:12]}… logged: {leaked[:2]}"
    assert CANARY not in child.stdout
    for exchange in rec.seen:
        for part in (exchange.headers, exchange.body):
            assert CANARY.removeprefix("sk_") not in part, (exchange.method, urlsplit(exchange.url).path, exchange.status, part[:300])
            assert REVOKED_CANARY.removeprefix("sk_") not in part

    # The exported telemetry really covered these paths (the gateway exported what it held when it stopped) ...
    names = {span.name for span in received.spans()}
    assert {"POST /mcp", "tools/call create_status_page", "POST /status_pages", "verify write", "POST /authorize",
            "tools/call _OTHER"} <= names, sorted(names)
    assert received.histogram_points("mcp.server.operation.duration")
    # ... and holds none of the secrets, decoded or as the bytes that came over the wire.
    exported = received.text()
    for secret in (CANARY, REVOKED_CANARY, CANARY.removeprefix("sk_"), REVOKED_CANARY.removeprefix("sk_"), *handed_out):
        assert secret not in exported, f"{secret[:12]}… exported: …{exported[max(0, exported.find(secret) - 200):][:400]}"
        assert not [body for body in received.bodies if secret.encode() in body], f"{secret[:12]}… in an export body"
