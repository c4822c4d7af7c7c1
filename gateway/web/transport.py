"""Streamable HTTP on aiohttp: the HTTP rules of the MCP transport, for both protocol eras on one endpoint.

Order of checks for every request to /mcp and the surfaces under it (each failure has its own status and
message): the client address's budget (429) → Host and Origin (403, DNS-rebinding protection) → the surface
the URL and X-MCP-* headers choose (404, 400; `gateway.auth.surfaces`) → Accept (406) → Content-Type (415)
→ declared size (413) → credentials (401/403/503, with the WWW-Authenticate challenge of this URL; 403 for a
token issued for a narrower surface; 429/503 when a new key's check is over budget) → the caller's budget (429)
→ body size (413)
→ JSON-RPC envelope (400) → protocol era and its headers (400) → session (404, handshake era only)
→ `gateway.protocol.dispatcher`. GET and DELETE are counted the same way: each is a request someone can send in a loop.

Every HTTP status of an /mcp answer is chosen here, and every JSON-RPC error body is written by
`gateway.protocol.jsonrpc.error_body`: the layers behind the transport raise typed errors and never pick a status.

The era is chosen per request, never per connection, because any instance may answer any request: a body
carrying the 2026-07-28 ``_meta`` envelope, or an ``MCP-Protocol-Version: 2026-07-28`` header, is the modern
era; anything else is the handshake era (2024-11-05 … 2025-11-25; no header means 2025-03-26, as the spec says).

Handshake-era sessions (`gateway.web.sessions`) are stateless too: any instance can check one, and DELETE ends
one for every instance.
"""

from __future__ import annotations

import asyncio
import functools
import secrets
from collections.abc import Mapping
from typing import Any
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

from gateway.auth.identity import AuthError, Credentials
from gateway.auth.scopes import READ
from gateway.auth.surfaces import FULL, READONLY_HEADER, TOOLSETS_HEADER, Surface, SurfaceError, audience_refusal, metadata_url, parse_path
from gateway.observability.redaction import quotable
from gateway.protocol.confirm.policy import BY_CLIENT, CONFIRM_HEADER
from gateway.protocol.dispatcher import SUPPORTED_VERSIONS, Call, Dispatcher, ScopeRefused, UpstreamRefusedKey
from gateway.protocol.jsonrpc import InvalidMessage, Message, RpcError, envelope, error_body, parse_message
from gateway.protocol.meta import NO_CAPABILITIES, ClientCapabilities
from gateway.store.base import StoreUnavailable
from gateway.web.connections import BodyTimeout, BodyTooLarge, BodyUnreadable, read_body
from gateway.web.cors import CorsPolicy, normalise_origin
from gateway.web.limits import OverBudget
from gateway.web.middleware import KEY_ID, REQUEST_ID
from gateway.web.services import GATEWAY, Gateway
from gateway.web.sessions import SessionEndsExhausted, Sessions

# /mcp itself and every narrower surface under it (gateway.auth.surfaces parses the rest, or answers 404).
MCP_PATHS = ("/mcp", "/mcp/", "/mcp/{surface:.+}")
# The version a handshake-era request without MCP-Protocol-Version is assumed to speak (spec, 2025-06-18+).
DEFAULT_HANDSHAKE_VERSION = "2025-03-26"

CORS_ALLOW_HEADERS = (
    "Authorization", "Content-Type", "Accept", "MCP-Protocol-Version", "Mcp-Session-Id", "Mcp-Method", "Mcp-Name",
    "Last-Event-ID", TOOLSETS_HEADER, READONLY_HEADER, CONFIRM_HEADER,
)
CORS_EXPOSE_HEADERS = ("WWW-Authenticate", "Mcp-Session-Id", "MCP-Protocol-Version")
_SSE_HEADERS = {"Content-Type": "text/event-stream", "Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
_JSON = "application/json"
_SSE = "text/event-stream"
_ROUTING_HEADERS = (MCP_PROTOCOL_VERSION_HEADER, MCP_METHOD_HEADER, MCP_NAME_HEADER)
# JSON-RPC's implementation-defined server error: the request was fine, the server cannot serve it now.
SERVER_BUSY = -32000


def setup_routes(app: web.Application, transport: Transport) -> None:
    app[TRANSPORT] = transport
    policy = CorsPolicy.from_settings(
        app[GATEWAY].settings, methods=("GET", "POST", "DELETE"), allow_headers=CORS_ALLOW_HEADERS,
        expose_headers=CORS_EXPOSE_HEADERS,
    )
    for path in MCP_PATHS:
        policy.route(app, path, POST=transport.post, GET=transport.get, DELETE=transport.delete)
    app.on_shutdown.append(transport.close_streams)


class Transport:
    def __init__(self, gateway: Gateway, dispatcher: Dispatcher, sessions: Sessions) -> None:
        self.gateway = gateway
        self.dispatcher = dispatcher
        self.sessions = sessions
        server = gateway.settings.server
        self._hosts = frozenset(h.lower() for h in server.allowed_hosts) | _hosts_of(server.public_url)
        # A CORS origin is by definition allowed to call, and so is the server's own public origin.
        self._origins = frozenset(
            normalise_origin(o) for o in (*server.allowed_origins, *server.cors_origins, server.public_url)
        )
        self._max_body = server.max_body_bytes
        self._keepalive = server.sse_keepalive_seconds
        self._closing = asyncio.Event()

    # --- POST: every client message ---------------------------------------------------------------------

    async def post(self, request: web.Request) -> web.StreamResponse:
        try:
            return await self._post(request)
        except _REFUSALS as exc:
            return self._refusal(request, exc)

    async def _post(self, request: web.Request) -> web.StreamResponse:
        await self._admit(request)
        if not _accepts(request, _JSON, _SSE):
            raise Refusal(406, "Not Acceptable: the Accept header must allow application/json or text/event-stream")
        media_type = _media_type(request.headers.get("Content-Type", ""))
        if media_type != _JSON:
            raise Refusal(415, f"Unsupported Media Type: the body must be application/json, not {quotable(media_type)}")
        declared = request.content_length
        if declared is not None and declared > self._max_body:
            raise self._too_large()
        credentials = await self._authenticate(request)
        try:
            body = await read_body(request, self._max_body)
        except BodyTooLarge:
            raise self._too_large() from None
        except BodyUnreadable as exc:
            raise Refusal(400, f"Bad Request: {exc}") from None
        except BodyTimeout as exc:
            raise Refusal(408, f"Request Timeout: the body was not received within {exc.seconds:g} seconds") from None
        try:
            message = parse_message(body)
        except InvalidMessage as exc:
            raise Refusal(400, exc, exc.request_id) from None
        if message.is_response:
            return web.Response(status=202)  # a reply to a server request: this server sends none, so nothing to do
        try:
            version = self._version(request, message)
        except RpcError as exc:
            raise Refusal(ERROR_CODE_HTTP_STATUS.get(exc.code, 400), exc, message.id) from None
        modern = version in MODERN_PROTOCOL_VERSIONS
        session = NO_CAPABILITIES
        if not modern and message.method != "initialize":
            session = await self._check_session(request, credentials)
        if not message.is_request:
            return web.Response(status=202)
        return await self._answer(request, message, version, credentials, session)

    async def _answer(
        self, request: web.Request, message: Message, version: str, credentials: Credentials, session: ClientCapabilities,
    ) -> web.StreamResponse:
        reply = _Reply(request)
        call = Call(
            message, version, credentials, reply.notify, request_id=request.get(REQUEST_ID) or secrets.token_hex(8),
            surface=request[_SURFACE], session=session, session_id=request.headers.get("Mcp-Session-Id"),
            confirm_by_client=request.headers.get(CONFIRM_HEADER, "").strip().lower() == BY_CLIENT,
        )
        try:
            result = await self.dispatcher.dispatch(call)
        except RpcError as exc:
            if reply.streaming:
                return await reply.finish(error_body(exc, message.id))
            # The 2026-07-28 era maps codes to statuses (404 for -32601, 400 for the rest); the handshake era
            # answers JSON-RPC errors with 200, which is what its clients expect.
            raise Refusal(ERROR_CODE_HTTP_STATUS.get(exc.code, 200) if call.modern else 200, exc, message.id) from None
        except ScopeRefused as exc:
            raise AuthError(403, "insufficient_scope", exc.description, scope=exc.scope) from None
        except UpstreamRefusedKey as exc:
            # StatusPal refused the key while a tool ran: the cached key check is dropped so the next request
            # checks it afresh, and HTTP 401 with the challenge makes the client re-authorise. Once an SSE answer
            # has started its status is already sent, so the failure can only be the isError result.
            self.gateway.credentials.forget(credentials)
            if reply.streaming:
                return await reply.finish(envelope(message.id, exc.fallback))
            raise AuthError(
                401, "invalid_token", f"StatusPal refused the API key of this connection ({exc.status}: revoked, expired or not allowed)."
            ) from None
        payload = envelope(message.id, result)
        if reply.streaming:
            return await reply.finish(payload)
        response = web.Response(body=payload, content_type=_JSON)
        if message.method == "initialize":
            capabilities = ClientCapabilities.of(message.params.get("capabilities"))
            response.headers["Mcp-Session-Id"] = self.sessions.issue(credentials.key_id, capabilities)
        return response

    # --- GET: the handshake era's stream for server-initiated messages ---------------------------------

    async def get(self, request: web.Request) -> web.StreamResponse:
        try:
            await self._admit(request)
            if _deprecated_sse_client(request):
                # Before credentials: the transport is the first thing such a client must change, and a 401 would
                # only send it through a sign-in that ends at this same GET.
                raise Refusal(405, _DEPRECATED_SSE.format(url=self.gateway.settings.server.public_url + request[_SURFACE].path),
                              headers={"Allow": "POST, DELETE, OPTIONS"})
            credentials = await self._admit_handshake_only(request)
            if not _accepts(request, _SSE):
                raise Refusal(406, "Not Acceptable: GET /mcp opens an event stream; the Accept header must allow text/event-stream")
            await self._check_session(request, credentials)
        except _REFUSALS as exc:
            return self._refusal(request, exc)
        stream = web.StreamResponse(headers=_SSE_HEADERS)
        try:
            await stream.prepare(request)
            # The server has nothing to push yet (no list changes, no server requests); comments keep
            # proxies from closing an idle connection and tell the client the stream is alive.
            await stream.write(b": stream open\n\n")
            while not self._closing.is_set():
                try:
                    await asyncio.wait_for(self._closing.wait(), self._keepalive)
                except TimeoutError:
                    await stream.write(b": keep-alive\n\n")
        except ConnectionResetError:
            pass  # the client went away
        return stream

    async def close_streams(self, app: web.Application) -> None:
        """On shutdown, end the open GET streams so graceful shutdown does not wait for them."""
        self._closing.set()

    # --- DELETE: end a handshake-era session -----------------------------------------------------------

    async def delete(self, request: web.Request) -> web.StreamResponse:
        try:
            await self._admit(request)
            credentials = await self._admit_handshake_only(request)
            session_id = request.headers.get("Mcp-Session-Id")
            if session_id is None:
                raise Refusal(400, "Bad Request: DELETE needs the Mcp-Session-Id header of the session to end")
            try:
                ended = await self.sessions.end(session_id, credentials.key_id)
            except SessionEndsExhausted as exc:
                raise self._too_many_session_ends(exc) from None
            except StoreUnavailable as exc:
                raise _store_down(exc) from None
            if not ended:
                raise _session_gone()
        except _REFUSALS as exc:
            return self._refusal(request, exc)
        return web.Response(status=204)

    def _too_many_session_ends(self, exc: SessionEndsExhausted) -> Refusal:
        # Honest: the session was not ended and still works; a client that ignores this loses nothing.
        seconds = max(1, int(exc.wait + 0.999))
        why = (f"this key holds {self.sessions.entries_per_key} records on the server (ended sessions and sign-ins), the most it keeps "
               "for one key" if exc.held else f"this key has ended {self.sessions.ends_per_hour} sessions in the last hour, the most the server records")
        return Refusal(429, RpcError(
            SERVER_BUSY,
            f"Too Many Requests: {why}; this session was not ended and stays usable until it expires. Try again in {seconds} seconds.",
            {"retryAfterSeconds": seconds},
        ), headers={"Retry-After": str(seconds)})

    # --- the one place a refused request becomes an HTTP answer ----------------------------------------

    def _refusal(self, request: web.Request, exc: Exception) -> web.Response:
        if isinstance(exc, AuthError):
            return self._auth_failure(request, exc)
        if isinstance(exc, OverBudget):
            # 429 (or 503) before any work, in both eras alike: the body is read only after the budgets, so the
            # answer cannot carry the request's id. The wait is in the header for HTTP clients and in the
            # message for a model.
            exc = Refusal(exc.status, RpcError(INVALID_REQUEST, exc.message, {"retryAfterSeconds": exc.retry_after}),
                          headers={"Retry-After": str(exc.retry_after)})
        assert isinstance(exc, Refusal)
        response = _error_response(exc.status, exc.error, exc.request_id)
        response.headers.update(exc.headers)
        return response

    def _auth_failure(self, request: web.Request, err: AuthError) -> web.Response:
        headers = {}
        if err.status in (401, 403):
            # Each surface is its own protected resource: the challenge points at the one this URL names.
            surface = request.get(_SURFACE, FULL)
            metadata = metadata_url(surface, self.gateway.settings.server.public_url)
            credentials = self.gateway.credentials
            # On a read-only URL a write grant could do nothing more, so a 401 asks for the read scope only.
            headers["WWW-Authenticate"] = (credentials.challenge(err, metadata, READ) if surface.readonly
                                           else credentials.challenge(err, metadata))
        elif err.status == 503:
            headers["Retry-After"] = str(err.retry_after or 5)
        body = orjson.dumps({"error": err.error, "error_description": err.description})
        return web.Response(status=err.status, body=body, content_type=_JSON, headers=headers)

    # --- checks: each returns what the request may go on with, or raises one of _REFUSALS --------------

    async def _admit_handshake_only(self, request: web.Request) -> Credentials:
        """GET and DELETE, once admitted (`_admit`): credentials as for POST, then 405 in 2026-07-28, which has
        neither."""
        credentials = await self._authenticate(request)
        if _header_version(request) in MODERN_PROTOCOL_VERSIONS:
            raise Refusal(405, f"Method Not Allowed: protocol 2026-07-28 has no {request.method} on /mcp; send POST requests",
                          headers={"Allow": "POST, OPTIONS"})
        return credentials

    async def _admit(self, request: web.Request) -> None:
        """The client address's budget, then DNS-rebinding protection: the Host must be ours, and a browser's
        Origin must be one we allow; then the surface the URL and headers choose (404 for a URL that names
        none, 400 for a header that would widen it)."""
        request[_ADDRESS] = await self.gateway.limits.admit_address(request)
        host = request.headers.get("Host", "").lower()
        if host not in self._hosts:
            raise Refusal(403, f"Forbidden: Host {quotable(host)!r} is not served here")
        origin = request.headers.get("Origin")
        if origin is not None and normalise_origin(origin) not in self._origins:
            raise Refusal(403, f"Forbidden: Origin {quotable(origin)!r} is not allowed")
        try:
            # The raw path: a percent-escaped spelling of a surface is not its one URL.
            request[_SURFACE] = parse_path(request.raw_path.partition("?")[0]).narrowed(request.headers)
        except SurfaceError as exc:
            raise Refusal(exc.status, exc.message) from None

    async def _authenticate(self, request: web.Request) -> Credentials:
        credentials = await self.gateway.credentials.resolve(request.headers.get("Authorization"), request[_ADDRESS])
        request[KEY_ID] = credentials.key_id  # for the access line: which key, never the key
        refusal = audience_refusal(request[_SURFACE], credentials.audience, self.gateway.settings.server.public_url)
        if refusal is not None:
            # 403, not 401: the token is good, only not for this URL; the challenge names this URL's metadata, so
            # the client can sign in again for it (RFC 6750 §3.1 insufficient_scope, RFC 8707 audience).
            raise AuthError(403, "insufficient_scope", refusal)
        await self.gateway.limits.admit_principal(credentials.key_id)
        return credentials

    def _too_large(self) -> Refusal:
        return Refusal(413, f"Payload Too Large: the body may be at most {self._max_body} bytes")

    async def _check_session(self, request: web.Request, credentials: Credentials) -> ClientCapabilities:
        """The capabilities the request's session carries. No header is fine: stateless clients never get or send
        one, and then state no capabilities beyond the request itself."""
        session_id = request.headers.get("Mcp-Session-Id")
        if session_id is None:
            return NO_CAPABILITIES
        try:
            capabilities = await self.sessions.capabilities(session_id, credentials.key_id)
        except StoreUnavailable as exc:
            raise _store_down(exc) from None
        if capabilities is None:
            raise _session_gone()
        return capabilities

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
        )


TRANSPORT = web.AppKey("mcp_transport", Transport)
# The client address as the limits count it, found once per request.
_ADDRESS = web.RequestKey("client_address", str)
# What this request's URL and narrowing headers allow.
_SURFACE = web.RequestKey("surface", Surface)


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


# The HTTP+SSE transport of 2024-11-05 (deprecated since 2025-03-26) opens GET on the server URL first and waits
# for an `endpoint` event naming where to POST; this server never sends one, so such a client would wait forever
# on an open stream. A Streamable HTTP client only GETs after initialize, with the session id it was given (every
# initialize here gets one) or the MCP-Protocol-Version header (2025-06-18 and later): a GET with neither is the old
# transport. 405 ends its wait at once: every such client shows the status, and those that read the body show this.
_DEPRECATED_SSE = (
    "Method Not Allowed: this server speaks only the Streamable HTTP transport (MCP 2025-03-26 and later) and not the "
    "deprecated HTTP+SSE transport, so no `endpoint` event will come. Configure the client for Streamable HTTP "
    "(often called `http` or `streamable-http`, e.g. `claude mcp add --transport http`) with the URL {url}, and send "
    "POST requests to it."
)


def _deprecated_sse_client(request: web.Request) -> bool:
    headers = request.headers
    return "Mcp-Session-Id" not in headers and MCP_PROTOCOL_VERSION_HEADER not in headers


def _check_modern_request(request: web.Request, message: Message) -> str:
    """The 2026-07-28 rules: the _meta envelope, and routing headers that match the body (-32020 otherwise).
    Every RpcError raised here is answered with the status ERROR_CODE_HTTP_STATUS gives its code (400 mostly)."""
    headers = {}
    for name in _ROUTING_HEADERS:
        values = request.headers.getall(name, ())
        if len(values) > 1:  # first-copy and last-copy readers would disagree, so neither copy is trusted
            raise RpcError(HEADER_MISMATCH, f"{name} header appears more than once")
        if values:
            headers[name] = values[0].strip()
    route = classify_inbound_request({"method": message.method, "params": message.params}, headers=headers)
    if isinstance(route, InboundLadderRejection):
        raise RpcError(route.code, route.message, route.data)
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


def _event(data: bytes) -> bytes:
    return b"event: message\ndata: " + data + b"\n\n"


def _error_response(status: int, error: RpcError, request_id: int | str | None = None) -> web.Response:
    return web.Response(status=status, body=error_body(error, request_id), content_type=_JSON)


class Refusal(Exception):
    """An /mcp request answered with an HTTP error status and a JSON-RPC error body instead of being served.

    Raised by the transport's checks and rendered by `Transport._refusal`, the one place a refused request
    becomes a response. A plain message is an invalid-request error (-32600).
    """

    def __init__(
        self, status: int, error: RpcError | str, request_id: int | str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        self.error = error if isinstance(error, RpcError) else RpcError(INVALID_REQUEST, error)
        super().__init__(self.error.message)
        self.status = status
        self.request_id = request_id
        self.headers = dict(headers or {})


# What a check may raise instead of returning: each is answered by Transport._refusal.
_REFUSALS = (Refusal, AuthError, OverBudget)


def _session_gone() -> Refusal:
    return Refusal(404, "Session not found: it expired, was terminated or belongs to other credentials; send initialize to start a new one")


def _store_down(exc: StoreUnavailable) -> Refusal:
    # Fail closed: a session that may have been terminated is not served while we cannot tell.
    return Refusal(503, RpcError(
        SERVER_BUSY, f"Service Unavailable: sessions cannot be checked or ended right now because {exc.reason}; try again in a moment"
    ), headers={"Retry-After": "5"})


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
