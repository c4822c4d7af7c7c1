"""Streamable HTTP on aiohttp: the HTTP rules of the MCP transport, for both protocol eras on one endpoint.

Order of checks for every request to /mcp (each failure has its own status and message):
the client address's budget (429) → Host and Origin (403, DNS-rebinding protection) → Accept (406)
→ Content-Type (415) → declared size (413) → credentials (401/403/503, with the WWW-Authenticate challenge;
429/503 when a new key's check is over budget) → the caller's budget (429) → body size (413)
→ JSON-RPC envelope (400) → protocol era and its headers (400) → session (404, handshake era only)
→ `gateway.protocol`. GET and DELETE are counted the same way: each is a request someone can send in a loop.

The era is chosen per request, never per connection (DESIGN decision 2): a body carrying the 2026-07-28
``_meta`` envelope, or an ``MCP-Protocol-Version: 2026-07-28`` header, is the modern era; anything else is the
handshake era (2024-11-05 … 2025-11-25; no header means 2025-03-26, as the spec says).

Handshake-era sessions are stateless too: the ``Mcp-Session-Id`` issued on ``initialize`` is signed by the
keyring and bound to the caller's key id, so any instance can check it; DELETE records its id as revoked in
the shared store, which is what makes a terminated session answer 404 on every instance. That record is the
one store write a session causes, so each key may end only so many sessions an hour
(``store.session_ends_per_hour``): past that, DELETE answers 429 and ends nothing, and the session simply
lives out its day. Without the quota one key could fill the store for everyone.
"""

from __future__ import annotations

import asyncio
import functools
import hmac
import secrets
import time
from typing import Any, Mapping
from urllib.parse import urlsplit

import orjson
from aiohttp import web
from mcp.shared.inbound import (
    ERROR_CODE_HTTP_STATUS,
    MCP_METHOD_HEADER,
    MCP_NAME_HEADER,
    MCP_PROTOCOL_VERSION_HEADER,
    InboundLadderRejection,
    classify_inbound_request,
)
from mcp_types import PROTOCOL_VERSION_META_KEY
from mcp_types.jsonrpc import HEADER_MISMATCH, INVALID_REQUEST
from mcp_types.version import HANDSHAKE_PROTOCOL_VERSIONS, LATEST_HANDSHAKE_VERSION, LATEST_MODERN_VERSION, MODERN_PROTOCOL_VERSIONS

from gateway.config import ConfigError
from gateway.connections import BodyTimeout, BodyTooLarge, BodyUnreadable, read_body
from gateway.cors import CorsPolicy, normalise_origin
from gateway.identity import AuthError, Credentials
from gateway.limits import OverBudget
from gateway.log import KEY_ID, REQUEST_ID
from gateway.protocol import SUPPORTED_VERSIONS, Call, Dispatcher, Message, RpcError, parse_message
from gateway.redaction import quotable
from gateway.sealing import InvalidToken
from gateway.state import GATEWAY, Gateway
from gateway.store import StoreUnavailable

MCP_PATHS = ("/mcp", "/mcp/")
# The version a handshake-era request without MCP-Protocol-Version is assumed to speak (spec, 2025-06-18+).
DEFAULT_HANDSHAKE_VERSION = "2025-03-26"
SESSION_PURPOSE = "mcp-session"
# A session outlives a working day; after it, the client gets 404 and initializes again, as the spec asks of
# it. The mark of an ended session is kept until the session would have expired, so this is also how long
# each of a key's session-end marks occupies the store.
SESSION_TTL_SECONDS = 86400
SESSION_END_WINDOW_SECONDS = 3600

CORS_ALLOW_HEADERS = (
    "Authorization", "Content-Type", "Accept", "MCP-Protocol-Version", "Mcp-Session-Id", "Mcp-Method", "Mcp-Name",
    "Last-Event-ID",
)
CORS_EXPOSE_HEADERS = ("WWW-Authenticate", "Mcp-Session-Id", "MCP-Protocol-Version")
_SSE_HEADERS = {"Content-Type": "text/event-stream", "Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
_JSON = "application/json"
_SSE = "text/event-stream"
_ROUTING_HEADERS = (MCP_PROTOCOL_VERSION_HEADER, MCP_METHOD_HEADER, MCP_NAME_HEADER)
# JSON-RPC's implementation-defined server error: the request was fine, the server cannot serve it now.
SERVER_BUSY = -32000


def setup_routes(app: web.Application) -> None:
    transport = Transport(app[GATEWAY])
    app[TRANSPORT] = transport
    policy = CorsPolicy.from_settings(
        app[GATEWAY].settings, methods=("GET", "POST", "DELETE"), allow_headers=CORS_ALLOW_HEADERS,
        expose_headers=CORS_EXPOSE_HEADERS,
    )
    for path in MCP_PATHS:
        policy.route(app, path, POST=transport.post, GET=transport.get, DELETE=transport.delete)
    app.on_shutdown.append(transport.close_streams)


class Transport:
    def __init__(self, gateway: Gateway) -> None:
        self.gateway = gateway
        self.dispatcher = Dispatcher(gateway)
        server = gateway.settings.server
        self._hosts = frozenset(h.lower() for h in server.allowed_hosts) | _hosts_of(server.public_url)
        # A CORS origin is by definition allowed to call, and so is the server's own public origin.
        self._origins = frozenset(
            normalise_origin(o) for o in (*server.allowed_origins, *server.cors_origins, server.public_url)
        )
        self._max_body = server.max_body_bytes
        self._session_ends = gateway.settings.store.session_ends_per_hour
        self._keepalive = server.sse_keepalive_seconds
        if self._keepalive <= 0:
            raise ConfigError(f"bad value for server.sse_keepalive_seconds: {self._keepalive} (must be more than 0)")
        self._closing = asyncio.Event()

    # --- POST: every client message ---------------------------------------------------------------------

    async def post(self, request: web.Request) -> web.StreamResponse:
        refused = await self._admit(request)
        if refused is not None:
            return refused
        if not _accepts(request, _JSON, _SSE):
            return _error_response(406, RpcError(INVALID_REQUEST, "Not Acceptable: the Accept header must allow application/json or text/event-stream"))
        media_type = _media_type(request.headers.get("Content-Type", ""))
        if media_type != _JSON:
            return _error_response(415, RpcError(INVALID_REQUEST, f"Unsupported Media Type: the body must be application/json, not {quotable(media_type)}"))
        declared = request.content_length
        if declared is not None and declared > self._max_body:
            return self._too_large()
        credentials = await self._authenticate(request)
        if isinstance(credentials, web.Response):
            return credentials
        try:
            body = await read_body(request, self._max_body)
        except BodyTooLarge:
            return self._too_large()
        except BodyUnreadable as exc:
            return _error_response(400, RpcError(INVALID_REQUEST, f"Bad Request: {exc}"))
        except BodyTimeout as exc:
            return _error_response(408, RpcError(INVALID_REQUEST, f"Request Timeout: the body was not received within {exc.seconds:g} seconds"))
        try:
            message = parse_message(body)
        except RpcError as exc:
            return _error_response(400, exc, exc.request_id)
        if message.is_response:
            return web.Response(status=202)  # a reply to a server request: this server sends none, so nothing to do
        try:
            version = self._version(request, message)
        except RpcError as exc:
            return _error_response(exc.status or 400, exc, message.id)
        modern = version in MODERN_PROTOCOL_VERSIONS
        if not modern and message.method != "initialize":
            gone = await self._check_session(request, credentials)
            if gone is not None:
                return gone
        if not message.is_request:
            return web.Response(status=202)
        return await self._answer(request, message, version, credentials)

    async def _answer(self, request: web.Request, message: Message, version: str, credentials: Credentials) -> web.StreamResponse:
        reply = _Reply(request)
        call = Call(message, version, credentials, reply, request_id=request.get(REQUEST_ID) or secrets.token_hex(8))
        try:
            result = await self.dispatcher.dispatch(call)
        except RpcError as exc:
            if reply.streaming:
                return await reply.finish(orjson.dumps(exc.body(message.id)))
            # The 2026-07-28 era maps codes to statuses (404 for -32601, 400 for the rest); the handshake era
            # answers JSON-RPC errors with 200, which is what its clients expect.
            status = exc.status or (ERROR_CODE_HTTP_STATUS.get(exc.code, 200) if call.modern else 200)
            return _error_response(status, exc, message.id)
        except AuthError as exc:
            return self._auth_failure(exc)
        payload = _envelope(message.id, result)
        if reply.streaming:
            return await reply.finish(payload)
        response = web.Response(body=payload, content_type=_JSON)
        if message.method == "initialize":
            response.headers["Mcp-Session-Id"] = self._issue_session(credentials)
        return response

    # --- GET: the handshake era's stream for server-initiated messages ---------------------------------

    async def get(self, request: web.Request) -> web.StreamResponse:
        credentials = await self._admit_handshake_only(request)
        if isinstance(credentials, web.Response):
            return credentials
        if not _accepts(request, _SSE):
            return _error_response(406, RpcError(INVALID_REQUEST, "Not Acceptable: GET /mcp opens an event stream; the Accept header must allow text/event-stream"))
        gone = await self._check_session(request, credentials)
        if gone is not None:
            return gone
        stream = web.StreamResponse(headers=_SSE_HEADERS)
        try:
            await stream.prepare(request)
            # The server has nothing to push yet (no list changes, no server requests); comments keep
            # proxies from closing an idle connection and tell the client the stream is alive.
            await stream.write(b": stream open\n\n")
            while not self._closing.is_set():
                try:
                    await asyncio.wait_for(self._closing.wait(), self._keepalive)
                except asyncio.TimeoutError:
                    await stream.write(b": keep-alive\n\n")
        except ConnectionResetError:
            pass  # the client went away
        return stream

    async def close_streams(self, app: web.Application) -> None:
        """On shutdown, end the open GET streams so graceful shutdown does not wait for them."""
        self._closing.set()

    # --- DELETE: end a handshake-era session -----------------------------------------------------------

    async def delete(self, request: web.Request) -> web.StreamResponse:
        credentials = await self._admit_handshake_only(request)
        if isinstance(credentials, web.Response):
            return credentials
        session_id = request.headers.get("Mcp-Session-Id")
        if session_id is None:
            return _error_response(400, RpcError(INVALID_REQUEST, "Bad Request: DELETE needs the Mcp-Session-Id header of the session to end"))
        store = self.gateway.store
        try:
            claims = await self._session_claims(session_id, credentials)
            if claims is None:
                return _session_gone()
            wait = await store.quota(f"quota:session-end:{credentials.key_id}", self._session_ends, SESSION_END_WINDOW_SECONDS)
            if wait:
                return self._too_many_session_ends(wait)
            await store.revoke(_revocation_key(claims), max(1, int(claims["exp"] - time.time())))
        except StoreUnavailable as exc:
            return _store_down(exc)
        return web.Response(status=204)

    def _too_many_session_ends(self, wait: float) -> web.Response:
        # Honest: the session was not ended and still works; a client that ignores this loses nothing.
        seconds = max(1, int(wait + 0.999))
        response = _error_response(429, RpcError(
            SERVER_BUSY,
            f"Too Many Requests: this key has ended {self._session_ends} sessions in the last hour, the most the server "
            f"records; this session was not ended and stays usable until it expires. Try again in {seconds} seconds.",
            {"retryAfterSeconds": seconds},
        ))
        response.headers["Retry-After"] = str(seconds)
        return response

    # --- checks ----------------------------------------------------------------------------------------

    async def _admit_handshake_only(self, request: web.Request) -> Credentials | web.Response:
        """GET and DELETE: the address budget, Host/Origin and credentials as for POST, then 405 in 2026-07-28,
        which has neither."""
        refused = await self._admit(request)
        if refused is not None:
            return refused
        credentials = await self._authenticate(request)
        if isinstance(credentials, web.Response):
            return credentials
        if _header_version(request) in MODERN_PROTOCOL_VERSIONS:
            return _not_allowed(request.method)
        return credentials

    async def _admit(self, request: web.Request) -> web.Response | None:
        """The client address's budget, then Host and Origin; None when the request may go on."""
        try:
            request[_ADDRESS] = await self.gateway.limits.admit_address(request)
        except OverBudget as exc:
            return _over_budget(exc)
        return self._check_headers(request)

    def _check_headers(self, request: web.Request) -> web.Response | None:
        """DNS-rebinding protection: the Host must be ours, and a browser's Origin must be one we allow."""
        host = request.headers.get("Host", "").lower()
        if host not in self._hosts:
            return _error_response(403, RpcError(INVALID_REQUEST, f"Forbidden: Host {quotable(host)!r} is not served here"))
        origin = request.headers.get("Origin")
        if origin is not None and normalise_origin(origin) not in self._origins:
            return _error_response(403, RpcError(INVALID_REQUEST, f"Forbidden: Origin {quotable(origin)!r} is not allowed"))
        return None

    async def _authenticate(self, request: web.Request) -> Credentials | web.Response:
        try:
            credentials = await self.gateway.credentials.resolve(request.headers.get("Authorization"), request[_ADDRESS])
        except AuthError as exc:
            return self._auth_failure(exc)
        except OverBudget as exc:
            return _over_budget(exc)
        request[KEY_ID] = credentials.key_id  # for the access line: which key, never the key
        try:
            await self.gateway.limits.admit_principal(credentials.key_id)
        except OverBudget as exc:
            return _over_budget(exc)
        return credentials

    def _auth_failure(self, err: AuthError) -> web.Response:
        headers = {}
        if err.status in (401, 403):
            headers["WWW-Authenticate"] = self.gateway.credentials.challenge(err)
        elif err.status == 503:
            headers["Retry-After"] = str(err.retry_after or 5)
        body = orjson.dumps({"error": err.error, "error_description": err.description})
        return web.Response(status=err.status, body=body, content_type=_JSON, headers=headers)

    def _too_large(self) -> web.Response:
        return _error_response(413, RpcError(INVALID_REQUEST, f"Payload Too Large: the body may be at most {self._max_body} bytes"))

    def _version(self, request: web.Request, message: Message) -> str:
        """The protocol version `message` speaks; RpcError (400) when its headers or envelope are wrong."""
        header = _header_version(request)
        meta = message.params.get("_meta")
        enveloped = isinstance(meta, dict) and PROTOCOL_VERSION_META_KEY in meta
        if header in MODERN_PROTOCOL_VERSIONS or enveloped:
            if not message.is_request:
                return header if header in MODERN_PROTOCOL_VERSIONS else LATEST_MODERN_VERSION
            return _check_modern_request(request, message)
        if header is None:
            return DEFAULT_HANDSHAKE_VERSION
        if header in HANDSHAKE_PROTOCOL_VERSIONS:
            return header
        if message.method == "initialize":
            return LATEST_HANDSHAKE_VERSION  # the handshake negotiates the version; a stray header is moot
        raise RpcError(
            INVALID_REQUEST,
            f"Bad Request: unsupported MCP-Protocol-Version {quotable(header)!r}; this server speaks {', '.join(SUPPORTED_VERSIONS)}",
            status=400,
        )

    # --- sessions (handshake era) ----------------------------------------------------------------------

    def _issue_session(self, credentials: Credentials) -> str:
        claims = {"sub": credentials.key_id, "sid": secrets.token_urlsafe(16), "exp": int(time.time()) + SESSION_TTL_SECONDS}
        return self.gateway.keyring.sign(SESSION_PURPOSE, claims)

    async def _check_session(self, request: web.Request, credentials: Credentials) -> web.Response | None:
        """None when the request may proceed. No header is fine: stateless clients never get or send one."""
        session_id = request.headers.get("Mcp-Session-Id")
        if session_id is None:
            return None
        try:
            claims = await self._session_claims(session_id, credentials)
        except StoreUnavailable as exc:
            return _store_down(exc)
        return None if claims is not None else _session_gone()

    async def _session_claims(self, session_id: str, credentials: Credentials) -> dict[str, Any] | None:
        """The session's claims, or None if it is forged, expired, terminated or another caller's."""
        try:
            claims = self.gateway.keyring.verify(SESSION_PURPOSE, session_id, remember=True)
        except InvalidToken:
            return None
        # Bound to the key that opened it, so a leaked session id is useless with other credentials.
        if not hmac.compare_digest(str(claims.get("sub", "")), credentials.key_id):
            return None
        if await self.gateway.store.is_revoked(_revocation_key(claims)):
            return None
        return claims


TRANSPORT = web.AppKey("mcp_transport", Transport)
# The client address as the limits count it, found once per request.
_ADDRESS = web.RequestKey("client_address", str)


class _Reply:
    """One POST's answer: plain JSON unless the tool reports progress, which switches it to an SSE stream.

    The switch happens at the first notification, not up front, so an answer with nothing to stream (most
    calls, and every error found before the tool runs) keeps its real HTTP status.
    """

    def __init__(self, request: web.Request) -> None:
        self._request = request
        self._stream: web.StreamResponse | None = None
        self._gone = False

    @property
    def streaming(self) -> bool:
        return self._stream is not None

    async def notify(self, message: Mapping[str, Any]) -> None:
        # Whether the client takes SSE is only asked here: most calls never report progress.
        if self._gone or not _accepts(self._request, _SSE):
            return
        try:
            if self._stream is None:
                self._stream = web.StreamResponse(headers=_SSE_HEADERS)
                await self._stream.prepare(self._request)
            await self._stream.write(_event(orjson.dumps(message)))
        except ConnectionResetError:
            self._gone = True  # the client left; the call still completes so a write is never half-done

    async def finish(self, payload: bytes) -> web.StreamResponse:
        assert self._stream is not None
        if not self._gone:
            try:
                await self._stream.write(_event(payload))
                await self._stream.write_eof()
            except ConnectionResetError:
                pass
        return self._stream


def _check_modern_request(request: web.Request, message: Message) -> str:
    """The 2026-07-28 rules: the _meta envelope, and routing headers that match the body (-32020 otherwise)."""
    headers = {}
    for name in _ROUTING_HEADERS:
        values = request.headers.getall(name, ())
        if len(values) > 1:  # first-copy and last-copy readers would disagree, so neither copy is trusted
            raise RpcError(HEADER_MISMATCH, f"{name} header appears more than once", status=400)
        if values:
            headers[name] = values[0].strip()
    route = classify_inbound_request({"method": message.method, "params": message.params}, headers=headers)
    if isinstance(route, InboundLadderRejection):
        raise RpcError(route.code, route.message, route.data, status=ERROR_CODE_HTTP_STATUS.get(route.code, 400))
    return route.protocol_version


def _header_version(request: web.Request) -> str | None:
    value = request.headers.get("MCP-Protocol-Version")
    return value.strip() if value is not None else None


def _accepts(request: web.Request, *media_types: str) -> bool:
    """Whether the Accept header allows any of `media_types`; no Accept header means anything (RFC 9110)."""
    accept = request.headers.get("Accept")
    if accept is None:
        return True
    return not _acceptable(accept).isdisjoint(media_types)


@functools.lru_cache(maxsize=256)
def _acceptable(accept: str) -> frozenset[str]:
    """Which of the two media types this server answers with an Accept value allows (clients send few distinct ones)."""
    allowed = set()
    for item in accept.split(","):
        media, _, params = item.strip().partition(";")
        media = media.strip().lower()
        if params.replace(" ", "").lower() in ("q=0", "q=0.0", "q=0.00", "q=0.000"):
            continue
        for wanted in (_JSON, _SSE):
            if media in ("*/*", wanted, wanted.split("/")[0] + "/*"):
                allowed.add(wanted)
    return frozenset(allowed)


@functools.lru_cache(maxsize=64)
def _media_type(content_type: str) -> str:
    """The media type of a Content-Type value, lower-cased, without parameters (clients send few distinct ones).
    No header is application/octet-stream (RFC 9110 §8.3), as aiohttp's own request.content_type says."""
    media = content_type.partition(";")[0].strip().lower()
    if not media.isascii():
        # Header bytes that are not UTF-8 arrive as lone surrogates, which no JSON encoder can write into the
        # 415 message; media types are ASCII, so anything else is shown escaped.
        media = media.encode("ascii", "backslashreplace").decode("ascii")
    return media or "application/octet-stream"


def _envelope(request_id: int | str | None, result: bytes) -> bytes:
    # One join, one allocation: chained `+` made a full-size intermediate copy per step, and for a 75 KB
    # tools/list answer those short-lived large blocks cost page faults on every request.
    return b"".join((b'{"jsonrpc":"2.0","id":', orjson.dumps(request_id), b',"result":', result, b"}"))


def _event(data: bytes) -> bytes:
    return b"event: message\ndata: " + data + b"\n\n"


def _error_response(status: int, error: RpcError, request_id: int | str | None = None) -> web.Response:
    return web.Response(status=status, body=orjson.dumps(error.body(request_id)), content_type=_JSON)


def _not_allowed(method: str) -> web.Response:
    response = _error_response(
        405, RpcError(INVALID_REQUEST, f"Method Not Allowed: protocol 2026-07-28 has no {method} on /mcp; send POST requests")
    )
    response.headers["Allow"] = "POST, OPTIONS"
    return response


def _session_gone() -> web.Response:
    return _error_response(
        404, RpcError(INVALID_REQUEST, "Session not found: it expired, was terminated or belongs to other credentials; send initialize to start a new one")
    )


def _over_budget(refusal: OverBudget) -> web.Response:
    """429 (or 503) before any work, in both eras alike: the body is read only after the budgets, so the answer
    cannot carry the request's id. The wait is in the header for HTTP clients and in the message for a model."""
    response = _error_response(
        refusal.status, RpcError(INVALID_REQUEST, refusal.message, {"retryAfterSeconds": refusal.retry_after})
    )
    response.headers["Retry-After"] = str(refusal.retry_after)
    return response


def _store_down(exc: StoreUnavailable) -> web.Response:
    # Fail closed: a session that may have been terminated is not served while we cannot tell.
    response = _error_response(503, RpcError(
        SERVER_BUSY, f"Service Unavailable: sessions cannot be checked or ended right now because {exc.reason}; try again in a moment"
    ))
    response.headers["Retry-After"] = "5"
    return response


def _revocation_key(claims: Mapping[str, Any]) -> str:
    return f"mcp-session:{claims.get('sid', '')}"


def _hosts_of(public_url: str) -> frozenset[str]:
    """The Host values that address the public URL, with and without its scheme's default port."""
    parts = urlsplit(public_url)
    default = {"http": 80, "https": 443}[parts.scheme]
    host = (parts.hostname or "").lower()
    if ":" in host:
        host = f"[{host}]"
    port = parts.port or default
    hosts = {f"{host}:{port}"}
    if port == default:
        hosts.add(host)
    return frozenset(hosts)
