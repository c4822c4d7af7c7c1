"""Every use of aiohttp's private internals, each with the reason aiohttp's public API does not serve.

aiohttp 3.x has no public way to choose the class that handles a server connection, to watch a connection's
parser, or to stop its client from resending a request by itself. The gateway needs all three (deadlines on
slow clients, quiet answers to malformed HTTP, exactly 1 + max_retries upstream sends), so the private names
are read here and nowhere else. tests/test_aiohttp_private.py pins each one: an aiohttp upgrade that renames
or removes one fails there, by name, rather than silently unbounding connections or doubling upstream calls.
"""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
from aiohttp import web
from aiohttp.streams import StreamReader


class HandlerRunner(web.AppRunner):
    """web.AppRunner whose server hands each new connection to `handler_class` (a web.RequestHandler subclass).

    AppRunner builds its Server in the private `_make_server`; the Server is rebuilt as one whose factory makes
    `handler_class`, from exactly the attributes Server.__call__ itself passes on.
    """

    def __init__(self, app: web.Application, *, handler_class: type[web.RequestHandler], **kwargs: Any) -> None:
        super().__init__(app, **kwargs)
        self._handler_class = handler_class

    async def _make_server(self) -> web.Server:
        server = await super()._make_server()  # runs the app's start-up and builds aiohttp's own Server
        handler_class = self._handler_class

        class _Server(web.Server):
            def __call__(self) -> web.RequestHandler:
                return handler_class(self, loop=self._loop, **self._kwargs)

        return _Server(
            server.request_handler, request_factory=server.request_factory,
            handler_cancellation=server.handler_cancellation, loop=server._loop, **server._kwargs,
        )


def requests_parsed(handler: web.RequestHandler) -> int:
    """How many requests the connection's parser has produced so far (grows when a request's head is complete)."""
    return handler._request_count


def newest_payload(handler: web.RequestHandler) -> StreamReader | None:
    """The body stream of the newest parsed request, still queued for the handler, or None."""
    messages = handler._messages
    payload = messages[-1][1] if messages else None
    return payload if isinstance(payload, StreamReader) else None


def closing(handler: web.RequestHandler) -> bool:
    """Whether the connection is already set to close after the current answer."""
    return bool(handler._close or handler._force_close)


def answering(handler: web.RequestHandler) -> bool:
    """Whether a request on this connection is being answered right now."""
    return bool(handler._request_in_progress)


def loop_of(handler: web.RequestHandler) -> asyncio.AbstractEventLoop:
    return handler._loop


def disable_connection_retry(session: aiohttp.ClientSession) -> None:
    """Stop `session` from resending a GET/PUT/DELETE by itself when a connection drops mid-request: the caller's
    own retry loop is then the only one, so max_retries=1 means two sends, not four. aiohttp's own test client
    (aiohttp.test_utils) turns off the same attribute."""
    if hasattr(session, "_retry_connection"):
        session._retry_connection = False
