"""What one HTTP connection may cost the gateway: idle time, time to send a request, bytes read per route.

aiohttp alone holds an idle keep-alive connection for an hour, lets a client take forever to send its
headers or its body (slowloris: a few hundred such sockets use up the file descriptors), and answers a
malformed request with an ERROR log line and a full stack trace, so anyone can flood the logs and page
the operator. Here:

- an idle connection is closed after `server.keepalive_timeout_seconds` (aiohttp's own timer, which also
  runs from the moment a connection opens, so a client that never sends a byte is closed too);
- from the first byte of a request, its headers must arrive within `server.request_timeout_seconds`
  (else 408 and the connection is closed), and then its body within the same time again (else the
  handler's read fails with 408 and the connection is closed after the answer);
- `read_body` reads a body no further than the route's own cap, chunked bodies included, so a route
  with a 16 KB cap never buffers megabytes before it says 413;
- a request that is not HTTP at all, or not valid HTTP, gets a short 4xx that quotes nothing it sent
  (aiohttp's own text quotes the offending bytes, so a key sent there would come straight back), and one
  WARNING line without a stack. A stack trace is kept for real bugs (500s).
"""

from __future__ import annotations

import asyncio
import logging
from http import HTTPStatus
from typing import Any

from aiohttp import web
from aiohttp.http_exceptions import BadHttpMethod, HttpProcessingError
from aiohttp.streams import StreamReader

from gateway.compat.aiohttp_private import HandlerRunner, answering, closing, loop_of, newest_payload, requests_parsed
from gateway.web.settings import ServerSettings

log = logging.getLogger("gateway.web.connections")


def generic_error_text(status: int) -> str:
    """The body of an error answer that quotes nothing from the request."""
    try:
        phrase = HTTPStatus(status).phrase
    except ValueError:
        phrase = "Error"
    return f"{status} {phrase}\n\nThe request could not be read as HTTP; nothing of it is repeated here.\n"


class BodyTooLarge(Exception):
    """The body is larger than the route accepts (413)."""

    def __init__(self, cap: int) -> None:
        super().__init__(f"the body may be at most {cap} bytes")
        self.cap = cap


class BodyUnreadable(Exception):
    """The body's framing is broken: a bad chunk, a wrong Content-Length, an undecodable encoding (400)."""


class BodyTimeout(web.HTTPRequestTimeout):
    """The client did not finish sending its body in time. An HTTPException, so a route that does not catch
    it still answers 408 (aiohttp sends it as the response, without logging)."""

    def __init__(self, seconds: float) -> None:
        super().__init__(text=f"Request Timeout: the request body was not received within {seconds:g} seconds\n")
        self.seconds = seconds


async def read_body(request: web.Request, cap: int) -> bytes:
    """The request body, read no further than `cap` bytes (BodyTooLarge past it, whatever the framing).

    `request.read()` would buffer up to the application's client_max_size before a route could apply its
    own, smaller, cap; reading the stream in steps stops at cap + 1 bytes. Raises BodyTooLarge,
    BodyUnreadable or BodyTimeout.
    """
    if request.content_length is not None and request.content_length > cap:
        raise BodyTooLarge(cap)
    content = request.content
    body = bytearray()
    try:
        chunk = await content.read(cap + 1)
        if len(chunk) <= cap and content.at_eof() and content.exception() is None:
            # The usual case, a body that arrived whole: it is the answer, without a second read (which could
            # only return b"" or raise the exception checked here) or a copy through the bytearray.
            return chunk
        body += chunk
        if len(body) > cap:
            raise BodyTooLarge(cap)
        while True:
            chunk = await content.read(cap + 1 - len(body))
            if not chunk:
                return bytes(body)
            body += chunk
            if len(body) > cap:
                raise BodyTooLarge(cap)
    except web.RequestPayloadError:
        raise BodyUnreadable("the request body is malformed (its length or chunked framing is wrong)") from None
    except ConnectionError:
        # The client left mid-body. Nobody will read the answer, but the route still ends as for any body it
        # cannot read, rather than as an unexpected error that would log a stack for every client that leaves.
        raise BodyUnreadable("the connection closed before the request body was complete") from None


class BoundedRequestHandler(web.RequestHandler):
    """aiohttp's per-connection protocol with a deadline on receiving each request and quiet parse errors.

    The deadline is kept with two timers driven from `data_received`: one from a request's first byte to
    its complete headers, one from there to the end of its body. What it reads of the connection's parser is
    aiohttp-private (`gateway.compat.aiohttp_private`); tests/test_connections.py holds the behaviour.
    """

    def __init__(self, manager: web.Server, *, request_timeout: float, **kwargs: Any) -> None:
        super().__init__(manager, **kwargs)
        self._request_timeout = request_timeout
        self._header_timer: asyncio.TimerHandle | None = None
        self._body_timer: asyncio.TimerHandle | None = None
        self._body: StreamReader | None = None

    def data_received(self, data: bytes) -> None:
        waiting_for_headers = self._header_timer is None and self._body is None
        parsed = requests_parsed(self)
        super().data_received(data)
        if requests_parsed(self) != parsed:
            if self._header_timer is not None:  # tested here, not in _cancel_header_timer: this runs for every request
                self._cancel_header_timer()
            payload = newest_payload(self)
            if payload is not None and not payload.is_eof() and self._body is None:
                self._body = payload
                self._body_timer = loop_of(self).call_later(self._request_timeout, self._body_too_slow)
                payload.on_eof(self._body_received)
        elif data and waiting_for_headers and not closing(self):
            # Part of a request's head: its clock starts now. (A request that arrives whole, the usual case,
            # never starts one, which keeps the timers off the hot path.)
            self._header_timer = loop_of(self).call_later(self._request_timeout, self._headers_too_slow)

    def connection_lost(self, exc: BaseException | None) -> None:
        self._cancel_header_timer()
        self._body_received()
        super().connection_lost(exc)

    def _cancel_header_timer(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _body_received(self) -> None:
        if self._body_timer is not None:
            self._body_timer.cancel()
            self._body_timer = None
        self._body = None

    def _headers_too_slow(self) -> None:
        self._header_timer = None
        if self.transport is None:
            return
        if answering(self):
            # Bytes of a next (pipelined) request while this one is answered: judge them once it is done.
            self._header_timer = loop_of(self).call_later(self._request_timeout, self._headers_too_slow)
            return
        log.info("closed a connection whose request headers took more than %gs", self._request_timeout,
                 extra={"peer": _peer(self.transport)})
        self.transport.write(b"HTTP/1.1 408 Request Timeout\r\nConnection: close\r\nContent-Length: 0\r\n\r\n")
        self.force_close()

    def _body_too_slow(self) -> None:
        payload, self._body_timer = self._body, None
        self._body = None
        if payload is None or payload.is_eof():
            return
        log.info("refused a request whose body took more than %gs", self._request_timeout,
                 extra={"peer": _peer(self.transport)})
        # The handler's next read raises BodyTimeout (408). Marking the payload finished stops aiohttp from
        # waiting to drain the rest after the answer, and close() ends the connection once it is sent.
        payload.set_exception(BodyTimeout(self._request_timeout))
        payload.feed_eof()
        self.close()

    def handle_error(
        self, request: web.BaseRequest, status: int = 500, exc: BaseException | None = None, message: str | None = None
    ) -> web.StreamResponse:
        """A request that is not valid HTTP: a short 4xx quoting nothing it sent, one line at WARNING.

        Anything else (a handler that raised) is a real bug and keeps aiohttp's ERROR with the stack, except
        a client that went away mid-request, which is not a fault of the gateway's.
        """
        if isinstance(exc, ConnectionError):
            log.debug("client went away before its answer was sent")
        elif isinstance(exc, HttpProcessingError):
            # A non-HTTP first line (TLS sent to the plain port, a port scanner) is constant internet noise.
            level = logging.DEBUG if isinstance(exc, BadHttpMethod) and requests_parsed(self) == 1 else logging.WARNING
            log.log(level, "refused a malformed HTTP request (%s)", type(exc).__name__, extra={"peer": request.remote})
        else:
            return super().handle_error(request, status, exc, message)
        if request.writer.output_size > 0:
            raise ConnectionError("the response was already started")
        response = web.Response(status=status, text=generic_error_text(status))
        response.force_close()
        return response


class GatewayRunner(HandlerRunner):
    """web.AppRunner with the connection bounds above, every connection handled by a BoundedRequestHandler.
    `keepalive_timeout` is aiohttp's own setting (tests/test_connections.py and tests/test_secret_leaks.py
    hold the behaviour)."""

    def __init__(
        self, app: web.Application, *, keepalive_timeout: float = ServerSettings.keepalive_timeout_seconds,
        request_timeout: float = ServerSettings.request_timeout_seconds, **kwargs: Any,
    ) -> None:
        super().__init__(
            app, handler_class=BoundedRequestHandler, keepalive_timeout=keepalive_timeout,
            request_timeout=request_timeout, **kwargs,
        )


def _peer(transport: Any) -> str | None:
    peer = transport.get_extra_info("peername") if transport is not None else None
    return str(peer[0]) if isinstance(peer, tuple) else None
