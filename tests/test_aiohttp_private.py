"""Each aiohttp-private name `gateway.compat.aiohttp_private` reads, pinned on real aiohttp objects: an upgrade
that renames or removes one fails here by name. What the names do for the gateway (deadlines on slow clients,
quiet 4xx for malformed HTTP, one upstream send per attempt) is held by tests/test_connections.py,
tests/test_secret_leaks.py and tests/test_statuspal_client.py."""

from __future__ import annotations

import aiohttp
from aiohttp import web

from gateway.compat.aiohttp_private import (
    HandlerRunner,
    answering,
    closing,
    disable_connection_retry,
    loop_of,
    newest_payload,
    requests_parsed,
)


async def _handler() -> web.RequestHandler:
    async def answer(request: web.BaseRequest) -> web.Response:
        return web.Response()

    return web.Server(answer)()


async def test_the_handler_internals_read_are_still_there() -> None:
    handler = await _handler()
    assert requests_parsed(handler) == 0
    assert newest_payload(handler) is None
    assert closing(handler) is False
    assert answering(handler) is False
    assert loop_of(handler) is not None


async def test_the_runner_hands_connections_to_the_chosen_handler_class() -> None:
    class Marked(web.RequestHandler):
        pass

    runner = HandlerRunner(web.Application(), handler_class=Marked)
    await runner.setup()
    try:
        assert isinstance(runner.server(), Marked)  # type: ignore[misc]
    finally:
        await runner.cleanup()


async def test_the_client_resend_switch_is_still_there() -> None:
    async with aiohttp.ClientSession() as session:
        assert session._retry_connection is True
        disable_connection_retry(session)
        assert session._retry_connection is False
