"""The answer to a request aiohttp cannot parse as HTTP: its status and a fixed sentence, never the request.

aiohttp answers a malformed request line or header with a plain-text 400 that quotes the offending bytes
(``Bad status line … b'GET /sk_… HTTP/1.1'``). Whatever a caller sent there, a key included, would come
straight back, before any of the gateway's own code has run. The runner below hands connections to a
request handler whose error answer names only the status. What aiohttp logs about the request still goes
through the redacting log formatter like every other line.
"""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

from aiohttp import web
from aiohttp.web_protocol import RequestHandler
from aiohttp.web_request import BaseRequest


def generic_error_text(status: int) -> str:
    """The body of an error answer that quotes nothing from the request."""
    try:
        phrase = HTTPStatus(status).phrase
    except ValueError:
        phrase = "Error"
    return f"{status} {phrase}\n\nThe request could not be read as HTTP; nothing of it is repeated here.\n"


class _GenericErrorHandler(RequestHandler):
    __slots__ = ()

    def handle_error(self, request: BaseRequest, status: int = 500, exc: BaseException | None = None,
                     message: str | None = None) -> web.StreamResponse:
        # aiohttp writes its own text for a 500 (without a traceback unless in debug mode, which we never use).
        return super().handle_error(request, status, exc, None if status == 500 else generic_error_text(status))


class GatewayRunner(web.AppRunner):
    """An AppRunner whose connections answer unparseable requests with `generic_error_text`."""

    @property
    def server(self) -> Any:
        inner = super().server
        if inner is None:
            return None

        # What Server.__call__ builds, with our handler class: aiohttp has no public way to choose it, so this
        # reads the two attributes Server.__call__ itself passes on (tests/test_secret_leaks.py holds it).
        def protocol() -> RequestHandler:
            return _GenericErrorHandler(inner, loop=inner._loop, **inner._kwargs)

        return protocol
