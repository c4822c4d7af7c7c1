"""Connections are bounded: idle and slow clients are let go, bodies are read no further than each route's cap,
and a request that is not valid HTTP is a short 4xx logged once as a WARNING, never an ERROR with a stack.

These speak raw HTTP/1.1 over sockets to the gateway served by the production runner (`GatewayRunner`), the
only way to send half a request, trickle headers or stop in the middle of a chunked body. Each waits for the
gateway to act within a generous bound; none asserts how fast.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import orjson
import pytest
from aiohttp import web

from gateway.web.connections import GatewayRunner, generic_error_text
from tests.conftest import DEMO_KEY, bound_socket, gateway_settings, shared_arguments

# Far longer than any bound configured below: a test that waits this long has found an unbounded connection.
PATIENCE = 20.0
# The keep-alive and request deadlines of the gateways below (the defaults are tens of seconds). Short, because
# most tests here wait for one to pass; long enough that a request sent whole is answered well before it.
DEADLINE = 0.5
SECRET = "sk_live_canary0123456789"


@asynccontextmanager
async def running_gateway(sandbox_url: str, docs_index_dir, docs_index, **server) -> AsyncIterator[tuple[str, int]]:
    from gateway.app import create_app

    sock = bound_socket()
    port = sock.getsockname()[1]
    settings = gateway_settings(port, sandbox_url, server=server, search={"index_dir": str(docs_index_dir)})
    app = create_app(settings, docs=docs_index, arguments=shared_arguments())

    async def boom(request: web.Request) -> web.Response:
        raise RuntimeError("a bug in a handler")

    app.router.add_get("/test-only-bug", boom)
    runner = GatewayRunner(
        app, access_log=None, shutdown_timeout=1,
        keepalive_timeout=settings.server.keepalive_timeout_seconds, request_timeout=settings.server.request_timeout_seconds,
    )
    await runner.setup()
    await web.SockSite(runner, sock).start()
    try:
        yield "127.0.0.1", port
    finally:
        await runner.cleanup()


@pytest.fixture(scope="module")
async def gateway_addr(sandbox_url, docs_index_dir, docs_index) -> AsyncIterator[tuple[str, int]]:
    """Keep-alive and request deadlines of DEADLINE each. Shared by the module: every test opens connections of
    its own and reads each until the gateway closes it."""
    async with running_gateway(sandbox_url, docs_index_dir, docs_index, keepalive_timeout_seconds=DEADLINE, request_timeout_seconds=DEADLINE) as addr:
        yield addr


@pytest.fixture(scope="module")
async def patient_keepalive(sandbox_url, docs_index_dir, docs_index) -> AsyncIterator[tuple[str, int]]:
    """A long keep-alive, so a connection closed early was closed by the request deadline alone."""
    async with running_gateway(sandbox_url, docs_index_dir, docs_index, keepalive_timeout_seconds=600, request_timeout_seconds=DEADLINE) as addr:
        yield addr


async def read_until_closed(reader: asyncio.StreamReader) -> bytes:
    """Everything the gateway sends until it closes the connection (fails if it never does)."""
    return await asyncio.wait_for(reader.read(), PATIENCE)


def head(method: str, path: str, port: int, *extra: str) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", f"Host: 127.0.0.1:{port}", *extra, "", ""]
    return "\r\n".join(lines).encode()


def status_of(answer: bytes) -> int:
    return int(answer.split(b" ", 2)[1])


def body_of(answer: bytes) -> bytes:
    return answer.partition(b"\r\n\r\n")[2]


def errors(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.levelno >= logging.ERROR]


# --- keep-alive and request deadlines ------------------------------------------------------------------


async def test_a_connection_that_sends_nothing_is_closed(gateway_addr) -> None:
    reader, writer = await asyncio.open_connection(*gateway_addr)
    assert await read_until_closed(reader) == b""
    writer.close()


async def test_an_idle_keep_alive_connection_is_closed(gateway_addr) -> None:
    host, port = gateway_addr
    reader, writer = await asyncio.open_connection(host, port)
    writer.write(head("GET", "/healthz", port))
    answer = await read_until_closed(reader)  # the answer, then the close once the connection sat idle
    assert status_of(answer) == 200
    assert b"connection: close" not in answer.lower()  # kept alive at first: the close came from the timeout
    writer.close()


async def test_headers_sent_byte_by_byte_are_cut_off_with_408(patient_keepalive, caplog) -> None:
    caplog.set_level(logging.INFO)
    host, port = patient_keepalive
    reader, writer = await asyncio.open_connection(host, port)
    request = head("GET", "/healthz", port, *(f"X-Slow-{i}: {'a' * 20}" for i in range(200)))

    async def trickle() -> None:
        for byte in request:
            writer.write(bytes([byte]))
            await asyncio.sleep(0.02)

    sender = asyncio.create_task(trickle())
    try:
        answer = await read_until_closed(reader)
    except ConnectionResetError:
        # Closing a socket with the client's bytes still unread makes the kernel send a reset, which can
        # overtake the 408 on its way; the connection was cut off all the same.
        answer = None
    finally:
        sender.cancel()
        writer.close()
    assert answer is None or status_of(answer) == 408
    assert any("request headers took more than" in r.getMessage() for r in caplog.records)
    assert not errors(caplog)


@pytest.mark.parametrize("path, expected", [
    ("/token", {"error": "invalid_request", "error_description": f"The request body was not received within {DEADLINE:g} seconds."}),
    ("/mcp", {"jsonrpc": "2.0", "id": None, "error": {"code": -32600, "message": f"Request Timeout: the body was not received within {DEADLINE:g} seconds"}}),
])
async def test_a_body_that_stops_arriving_is_answered_408_and_the_connection_closed(patient_keepalive, caplog, path, expected) -> None:
    host, port = patient_keepalive
    content_type = "application/x-www-form-urlencoded" if path == "/token" else "application/json"
    reader, writer = await asyncio.open_connection(host, port)
    writer.write(head("POST", path, port, f"Content-Type: {content_type}", "Accept: application/json, text/event-stream",
                      f"Authorization: Bearer {DEMO_KEY}", "Content-Length: 1000") + b"grant_type=")
    answer = await read_until_closed(reader)
    writer.close()
    assert status_of(answer) == 408
    assert orjson.loads(body_of(answer)) == expected
    assert not errors(caplog)


# --- bodies read no further than each route's cap ---------------------------------------------------------


@pytest.mark.parametrize("path, content_type, status, error", [
    ("/token", "application/x-www-form-urlencoded", 413, {"error": "invalid_request", "error_description": "The request body is larger than 16384 bytes."}),
    ("/revoke", "application/x-www-form-urlencoded", 413, {"error": "invalid_request", "error_description": "The request body is larger than 16384 bytes."}),
    ("/register", "application/json", 413, {"error": "invalid_client_metadata", "error_description": "The registration may be at most 16384 bytes."}),
])
async def test_a_chunked_body_over_the_route_cap_is_413_before_the_rest_is_sent(patient_keepalive, caplog, path, content_type, status, error) -> None:
    """The body never ends: an answer at all shows the gateway stopped reading at the cap instead of buffering
    until the application-wide limit (4 MiB)."""
    host, port = patient_keepalive
    reader, writer = await asyncio.open_connection(host, port)
    writer.write(head("POST", path, port, f"Content-Type: {content_type}", "Transfer-Encoding: chunked"))
    for _ in range(5):
        writer.write(b"1000\r\n" + b"a" * 0x1000 + b"\r\n")  # 5 × 4 KiB: past 16 KB, and no final chunk
    await writer.drain()
    answer = await asyncio.wait_for(reader.readuntil(b"}"), PATIENCE)
    writer.close()
    assert status_of(answer) == status
    assert orjson.loads(body_of(answer)) == error
    assert not errors(caplog)


async def test_a_declared_length_over_the_cap_is_413_at_once(gateway_addr) -> None:
    host, port = gateway_addr
    reader, writer = await asyncio.open_connection(host, port)
    writer.write(head("POST", "/token", port, "Content-Type: application/x-www-form-urlencoded", "Content-Length: 20000"))
    answer = await asyncio.wait_for(reader.readuntil(b"}"), PATIENCE)
    writer.close()
    assert status_of(answer) == 413


async def test_a_broken_chunked_body_is_400_not_500(gateway_addr, caplog) -> None:
    host, port = gateway_addr
    reader, writer = await asyncio.open_connection(host, port)
    writer.write(head("POST", "/token", port, "Content-Type: application/x-www-form-urlencoded", "Transfer-Encoding: chunked")
                 + b"zz\r\nnot a chunk\r\n")
    answer = await read_until_closed(reader)
    writer.close()
    assert 400 <= status_of(answer) < 500
    assert not errors(caplog)


# --- malformed HTTP -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("raw", [
    b"GET /healthz HTTP/1.1\r\nHost: x\r\nBad " + SECRET.encode() + b": 1\r\n\r\n",
    b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Key: " + SECRET.encode() + b"\x00\x01\r\n\r\n",
    b"GET /" + SECRET.encode() + b" HTTP/9.9\r\n\r\n",
    b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Long: " + b"a" * 20000 + b"\r\n\r\n",
    b"GET /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n",
    b"POST /mcp HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
], ids=["bad-header-name", "control-char-in-value", "bad-version", "header-too-long", "negative-length", "length-and-chunked"])
async def test_malformed_http_is_a_short_4xx_and_one_warning(gateway_addr, caplog, raw) -> None:
    caplog.set_level(logging.DEBUG)
    reader, writer = await asyncio.open_connection(*gateway_addr)
    writer.write(raw)
    answer = await read_until_closed(reader)
    writer.close()
    assert 400 <= status_of(answer) < 500
    assert body_of(answer) == generic_error_text(status_of(answer)).encode()
    assert SECRET.encode() not in answer
    refusals = [r for r in caplog.records if r.name == "gateway.web.connections"]
    assert [(r.levelno, r.exc_info) for r in refusals] == [(logging.WARNING, None)]
    assert not errors(caplog)
    assert all(SECRET not in r.getMessage() for r in caplog.records)


async def test_a_bug_in_a_handler_is_still_an_error_with_its_stack(gateway_addr, caplog) -> None:
    """Only client mistakes are quiet: a real bug must stay loud."""
    host, port = gateway_addr
    reader, writer = await asyncio.open_connection(host, port)
    writer.write(head("GET", "/test-only-bug", port))
    answer = await read_until_closed(reader)
    writer.close()
    assert status_of(answer) == 500
    assert [r.exc_info[0] for r in errors(caplog) if r.exc_info] == [RuntimeError]


async def test_authorization_bytes_that_are_not_utf8_are_401_not_500(gateway_addr, caplog) -> None:
    """aiohttp hands such bytes over as lone surrogates, which hashing the key would raise on."""
    host, port = gateway_addr
    reader, writer = await asyncio.open_connection(host, port)
    body = b'{"jsonrpc":"2.0","id":1,"method":"ping"}'
    writer.write(head("POST", "/mcp", port, "Content-Type: application/json", "Accept: application/json", "Connection: close",
                      f"Content-Length: {len(body)}").replace(b"Connection: close", b"Authorization: Bearer sk_\xfc\xfe\r\nConnection: close") + body)
    answer = await read_until_closed(reader)
    writer.close()
    assert status_of(answer) == 401
    assert orjson.loads(body_of(answer))["error"] == "invalid_token"
    assert not errors(caplog)


@pytest.mark.parametrize("path", ["/token", "/authorize", "/register", "/mcp"])
async def test_a_client_that_leaves_mid_body_is_no_error(gateway_addr, caplog, path) -> None:
    caplog.set_level(logging.INFO)
    host, port = gateway_addr
    reader, writer = await asyncio.open_connection(host, port)
    content_type = "application/json" if path in ("/mcp", "/register") else "application/x-www-form-urlencoded"
    writer.write(head("POST", path, port, f"Content-Type: {content_type}", "Accept: application/json", f"Origin: http://127.0.0.1:{port}",
                      f"Authorization: Bearer {DEMO_KEY}", "Content-Length: 1000") + b"grant_type=")
    await writer.drain()
    await asyncio.sleep(0.1)  # let the route start reading the body
    writer.close()
    await writer.wait_closed()

    async def answered() -> None:  # the access line is written once the route has finished with the request
        while not any(r.name == "gateway.access" and f"{path!r}" in str(vars(r)) for r in caplog.records):
            await asyncio.sleep(0.05)

    await asyncio.wait_for(answered(), PATIENCE)
    assert not errors(caplog)
