"""Structured logs: one JSON object a line, request ids, and redaction at the logger (DESIGN decision 10)."""

from __future__ import annotations

import asyncio
import contextlib
import io
import logging
import subprocess
import sys
import threading
from typing import Iterator

import aiohttp
import orjson
import pytest
from aiohttp import web

from gateway.log import (
    KEY_ID, JsonFormatter, TurnBufferedHandler, _access_record, access_log, access_logger,
)
from gateway.redaction import SECRET_NAMES, redact_text
from tests.conftest import bound_socket, serve_app

KEY = "sk_live_4fGh7KmP2qRsT9vW"
WEBHOOK_SECRET = "whs_Zx81bQ0aLmN3"
JWE = "eyJhbGciOiJkaXIiLCJlbmMiOiJBMjU2R0NNIiwia2lkIjoiazEifQ..b64iv-part.cipherText_part.tagTag_1"
JWT = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl"


class Captured:
    def __init__(self) -> None:
        self.stream = io.StringIO()

    @property
    def text(self) -> str:
        return self.stream.getvalue()

    def records(self) -> list[dict]:
        return [orjson.loads(line) for line in self.text.splitlines()]


@pytest.fixture
def captured() -> Iterator[Captured]:
    """The production formatter on a handler of the root logger, exactly as `configure_logging` installs it."""
    cap = Captured()
    handler = TurnBufferedHandler(cap.stream)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    yield cap
    root.removeHandler(handler)
    root.setLevel(old_level)


def test_every_line_is_one_json_object(captured: Captured) -> None:
    log = logging.getLogger("gateway.test")
    log.info("plain message")
    log.warning("with %s args", "positional", extra={"tool": "list_services", "count": 3})
    records = captured.records()
    assert [r["msg"] for r in records] == ["plain message", "with positional args"]
    assert records[1]["tool"] == "list_services" and records[1]["count"] == 3
    assert records[1]["level"] == "WARNING" and records[1]["logger"] == "gateway.test"
    assert all(r["ts"].endswith("+00:00") for r in records)


@pytest.mark.parametrize(
    "message",
    [
        f"upstream rejected key {KEY}",
        f"Authorization: Bearer {KEY}",
        f"headers={{'Authorization': 'Bearer {KEY}'}}",
        f"GET /authorize?client_id=x&code={KEY}&state=s",
        f"webhook created with secret {WEBHOOK_SECRET}",
        f"token {JWE} failed to unseal",
        f"refresh with {JWT}",
        f'body {{"api_key": "{KEY}", "name": "API"}}',
        f"form password={KEY}&csrf=1",
    ],
)
def test_secrets_in_messages_are_redacted(captured: Captured, message: str) -> None:
    logging.getLogger("gateway.test").info(message)
    line = captured.text
    for secret in (KEY, WEBHOOK_SECRET, JWE, JWT, "4fGh7KmP2qRsT9vW", "Zx81bQ0aLmN3", "cipherText_part"):
        assert secret not in line
    assert "[REDACTED]" in line


@pytest.mark.parametrize(
    "message",
    [
        f"GET /x_{KEY}",  # glued to a letter and an underscore
        f"grant_type=x_{KEY}",
        f"redirect http://127.0.0.1:9/cb9{KEY}",  # glued to a digit
        f"name \u00e9{KEY}",  # glued to a non-ASCII letter
        f"Invalid header value char: b'X: \\xc3\\xa9{KEY}'",  # inside a bytes repr, after escapes
        f"/cb?u=%73k%5F{KEY[3:]}",  # URL-encoded prefix
        f"/cb?u=%2573k_{KEY[3:]}",  # encoded twice
        f"escaped \\x73\\x6b\\x5f{KEY[3:]}",
        f"glued secret x{WEBHOOK_SECRET}9",
        f"glued token _{JWE}",
        f"glued token a{JWT}",
    ],
)
def test_secret_shapes_are_redacted_wherever_they_stand(captured: Captured, message: str) -> None:
    logging.getLogger("gateway.test").info(message)
    for secret in ("4fGh7KmP2qRsT9vW", "Zx81bQ0aLmN3", "cipherText_part", "c2lnbmF0dXJl"):
        assert secret not in captured.text
    assert "[REDACTED]" in captured.text


def test_words_that_merely_contain_sk_underscore_are_left_alone() -> None:
    text = "task_id=7 disk_size risk_level ask_me"
    assert redact_text(text) == text


def test_aiohttps_own_loggers_reach_only_the_redacting_handler() -> None:
    from gateway.config import DEFAULT_CONFIG, load_settings
    from gateway.log import AIOHTTP_LOGGERS, configure_logging

    stray = logging.StreamHandler(io.StringIO())
    logging.getLogger("aiohttp.server").addHandler(stray)  # as a library or an earlier set-up might
    logging.getLogger("aiohttp.client").propagate = False
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    hooks = sys.excepthook, threading.excepthook, sys.unraisablehook
    try:
        configure_logging(load_settings(DEFAULT_CONFIG, env={}))
        for name in AIOHTTP_LOGGERS:
            logger = logging.getLogger(name)
            assert logger.handlers == [] and logger.propagate, name
        assert [type(h.formatter) for h in root.handlers] == [JsonFormatter]
    finally:
        root.handlers[:], level = saved
        root.setLevel(level)
        logging.raiseExceptions = True
        sys.excepthook, threading.excepthook, sys.unraisablehook = hooks


def test_secret_named_fields_in_extra_are_redacted_at_any_depth(captured: Captured) -> None:
    logging.getLogger("gateway.test").info(
        "oauth step",
        extra={
            "client_secret": "plain-looking-value",
            "form": {"code_verifier": "v" * 43, "redirect_uri": "https://claude.ai/cb", "Password": "hunter2"},
            "headers": {"Authorization": "Basic dXNlcjpwYXNz", "Cookie": "sid=abc", "Accept": "application/json"},
            "attempts": [{"refresh_token": "opaque-r"}, {"access_token": "opaque-a"}],
            "key_id": "0123456789abcdef",
        },
    )
    record = captured.records()[0]
    text = captured.text
    for secret in ("plain-looking-value", "v" * 43, "hunter2", "dXNlcjpwYXNz", "sid=abc", "opaque-r", "opaque-a"):
        assert secret not in text
    # What is not secret stays readable: that is the point of logging it.
    assert record["form"]["redirect_uri"] == "https://claude.ai/cb"
    assert record["headers"]["Accept"] == "application/json"
    assert record["key_id"] == "0123456789abcdef"


def test_exception_text_and_stack_are_redacted(captured: Captured) -> None:
    try:
        raise ValueError(f"bad credentials {KEY} for {WEBHOOK_SECRET}")
    except ValueError:
        logging.getLogger("gateway.test").exception("call failed")
    record = captured.records()[0]
    assert "Traceback" in record["exc"] and "ValueError" in record["exc"]
    assert KEY not in captured.text and WEBHOOK_SECRET not in captured.text


def test_a_record_that_cannot_be_formatted_does_not_leak_its_arguments() -> None:
    record = logging.makeLogRecord({"name": "gateway.test", "msg": "two placeholders %s %s", "args": (KEY,)})
    line = JsonFormatter().format(record)  # wrong argument count: logging's fallback would print the args raw
    assert KEY not in line
    assert orjson.loads(line)["msg"] == "a log record could not be formatted"


@pytest.mark.parametrize("name", sorted(SECRET_NAMES))
def test_every_secret_name_is_caught_in_query_strings_and_json(name: str) -> None:
    # Guards the cheap pre-checks in redact_text: a name they miss would skip redaction entirely.
    for text in (f"/cb?{name}=opaque-value-1&x=1", f'{{"{name}": "opaque-value-1"}}', f"{name.upper()}=opaque-value-1"):
        assert "opaque-value-1" not in redact_text(text), text


def test_ordinary_prose_is_left_alone() -> None:
    text = "list_services returned 3 items for subdomain acme in 12 ms (barcode=7 keyboard layout)"
    assert redact_text(text) == text


async def _ok(request: web.Request) -> web.Response:
    request[KEY_ID] = "0123456789abcdef"
    return web.json_response({"ok": True})


async def _boom(request: web.Request) -> web.Response:
    raise RuntimeError(f"exploded while holding {request.headers.get('Authorization')}")


async def _gone(request: web.Request) -> web.Response:
    raise web.HTTPGone(text="gone")


@pytest.fixture
async def small_app() -> str:
    app = web.Application(middlewares=[access_logger()])
    app.router.add_get("/ok/{name}", _ok)
    app.router.add_post("/boom", _boom)
    app.router.add_get("/gone", _gone)
    async with serve_app(app, bound_socket()) as url:
        yield url


async def test_access_line_per_request_with_request_id_and_no_query(captured: Captured, small_app: str) -> None:
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{small_app}/ok/acme?code=abc123&api_key={KEY}") as r:
            assert r.status == 200
            request_id = r.headers["X-Request-Id"]
        async with http.get(f"{small_app}/ok/acme", headers={"X-Request-Id": "lb-7f3a.9"}) as r:
            assert r.headers["X-Request-Id"] == "lb-7f3a.9"  # a safe incoming id is kept for tracing
        async with http.get(f"{small_app}/ok/acme", headers={"X-Request-Id": "bad id\twith <stuff>"}) as r:
            assert r.headers["X-Request-Id"] != "bad id\twith <stuff>"
        async with http.get(f"{small_app}/ok/acme", headers={"X-Request-Id": f"x_{KEY}"}) as r:
            # Plain characters, but shaped like a key: a fresh id instead, not an echo.
            assert KEY[3:] not in r.headers["X-Request-Id"] and len(r.headers["X-Request-Id"]) == 16
    lines = [r for r in captured.records() if r["logger"] == "gateway.access"]
    assert len(lines) == 4
    first = lines[0]
    assert first["request_id"] == request_id and len(request_id) == 16
    assert first["method"] == "GET" and first["path"] == "/ok/acme" and first["route"] == "/ok/{name}"
    assert first["status"] == 200 and first["duration_ms"] >= 0 and first["key_id"] == "0123456789abcdef"
    assert "abc123" not in captured.text and KEY not in captured.text
    assert lines[1]["request_id"] == "lb-7f3a.9"


async def test_uncaught_error_is_a_json_500_without_stack_and_logged_redacted(captured: Captured, small_app: str) -> None:
    async with aiohttp.ClientSession() as http:
        async with http.post(f"{small_app}/boom", headers={"Authorization": f"Bearer {KEY}"}) as r:
            assert r.status == 500
            body = await r.json()
            request_id = r.headers["X-Request-Id"]
    assert body["error"] == "internal_error" and body["request_id"] == request_id
    assert "Traceback" not in str(body) and KEY not in str(body)
    errors = [r for r in captured.records() if r["logger"] == "gateway.error"]
    assert errors and errors[0]["request_id"] == request_id and "RuntimeError" in errors[0]["exc"]
    access = [r for r in captured.records() if r["logger"] == "gateway.access"]
    assert access[0]["status"] == 500
    assert KEY not in captured.text


async def test_http_exceptions_keep_their_status_and_get_a_request_id(captured: Captured, small_app: str) -> None:
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{small_app}/gone") as r:
            assert r.status == 410 and r.headers["X-Request-Id"]
        async with http.get(f"{small_app}/nowhere/{KEY}") as r:
            assert r.status == 404 and r.headers["X-Request-Id"]
    access = [r for r in captured.records() if r["logger"] == "gateway.access"]
    assert [(a["status"], a["route"]) for a in access] == [(410, "/gone"), (404, "unmatched")]
    assert KEY not in captured.text


@contextlib.contextmanager
def sole_handler() -> Iterator[Captured]:
    """The root logger exactly as configure_logging leaves it: one TurnBufferedHandler, nothing else.

    Entered inside the test body: pytest adds its own capture handlers to the root for the test call itself.
    """
    cap = Captured()
    handler = TurnBufferedHandler(cap.stream)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    root.handlers[:] = [handler]
    root.setLevel(logging.INFO)
    try:
        yield cap
    finally:
        handler.flush()
        root.handlers[:], level = saved
        root.setLevel(level)


async def test_with_the_gateways_own_set_up_access_lines_skip_the_record_and_are_redacted_the_same(
    small_app: str, monkeypatch: pytest.MonkeyPatch,
) -> None:
    records: list[logging.LogRecord] = []
    monkeypatch.setattr(access_log, "handle", records.append)
    with sole_handler() as captured:
        async with aiohttp.ClientSession() as http:
            async with http.get(f"{small_app}/ok/{KEY}?code=abc123") as r:
                assert r.status == 200
                request_id = r.headers["X-Request-Id"]
            async with http.get(f"{small_app}/nowhere/{KEY}") as r:
                assert r.status == 404
    assert records == []  # the direct path: no LogRecord went through the logging module
    lines = captured.records()
    assert [(x["route"], x["status"]) for x in lines] == [("/ok/{name}", 200), ("unmatched", 404)]
    assert lines[0]["path"] == "/ok/sk_[REDACTED]" and lines[0]["request_id"] == request_id
    assert lines[0]["logger"] == "gateway.access" and lines[0]["level"] == "INFO" and lines[0]["msg"] == "request"
    assert KEY not in captured.text and "abc123" not in captured.text


def test_a_rendered_access_line_is_the_line_its_record_formats_to() -> None:
    fields = {"method": "GET", "path": f"/ok/{KEY}", "route": "/ok/{name}", "status": 200, "duration_ms": 1.25,
              "request_id": "abc", "key_id": None, "token": "x"}
    record = _access_record(fields)
    formatter = JsonFormatter()
    rendered = formatter.render(record.created, "INFO", "gateway.access", "request", fields.items())
    assert rendered == formatter.format(record)
    assert orjson.loads(rendered)["token"] == "[REDACTED]"


async def test_a_filter_on_the_access_logger_still_sees_every_line(small_app: str) -> None:
    # An operator's filter (or handler) anywhere on the way turns the direct path off: it must not be bypassed.
    seen: list[str] = []

    def keep_only_errors(record: logging.LogRecord) -> bool:
        seen.append(record.path)  # type: ignore[attr-defined]
        return record.status >= 400  # type: ignore[attr-defined]

    access_log.addFilter(keep_only_errors)
    try:
        with sole_handler() as captured:
            async with aiohttp.ClientSession() as http:
                for path in ("/ok/a", "/gone"):
                    async with http.get(f"{small_app}{path}"):
                        pass
    finally:
        access_log.removeFilter(keep_only_errors)
    assert seen == ["/ok/a", "/gone"]
    assert [x["status"] for x in captured.records()] == [410]


class CountingStream(io.StringIO):
    def __init__(self) -> None:
        super().__init__()
        self.writes = 0

    def write(self, text: str) -> int:
        self.writes += 1
        return super().write(text)


def buffered_logger(stream: io.StringIO, name: str) -> logging.Logger:
    handler = TurnBufferedHandler(stream)
    handler.setFormatter(JsonFormatter())
    log = logging.getLogger(name)
    log.handlers[:] = [handler]
    log.propagate = False
    log.setLevel(logging.INFO)
    return log


async def test_lines_of_one_loop_turn_are_written_together_in_order_by_its_end() -> None:
    stream = CountingStream()
    log = buffered_logger(stream, "gateway.test.turn")
    for i in range(5):
        log.info("line %d", i)
    await asyncio.sleep(0)  # the turn ends
    assert [orjson.loads(line)["msg"] for line in stream.getvalue().splitlines()] == [f"line {i}" for i in range(5)]
    assert stream.writes == 1
    log.info("next turn")
    await asyncio.sleep(0)
    assert stream.getvalue().splitlines()[-1].endswith('"msg":"next turn"}') and stream.writes == 2


async def test_a_line_from_another_thread_is_written_at_once_after_what_is_pending() -> None:
    stream = CountingStream()
    log = buffered_logger(stream, "gateway.test.thread")
    log.info("from the loop")
    worker = threading.Thread(target=log.info, args=("from a thread",))
    worker.start()
    worker.join()
    assert [orjson.loads(line)["msg"] for line in stream.getvalue().splitlines()] == ["from the loop", "from a thread"]


def test_a_line_left_pending_by_a_stopped_loop_is_written_with_the_next_line() -> None:
    # A loop that stops in the turn that logged never runs the write it scheduled; the next loop (here, the
    # next test's) must not wait behind that forever.
    stream = CountingStream()
    log = buffered_logger(stream, "gateway.test.stopped")
    first = asyncio.new_event_loop()

    def last_turn() -> None:
        log.info("from a loop that stops")
        first.stop()

    first.call_soon(last_turn)
    first.run_forever()
    first.close()
    assert stream.getvalue() == ""

    async def next_loop() -> None:
        log.info("from the next loop")

    asyncio.run(next_loop())
    assert [orjson.loads(line)["msg"] for line in stream.getvalue().splitlines()] == [
        "from a loop that stops", "from the next loop",
    ]


def test_outside_a_loop_each_line_is_written_at_once() -> None:
    stream = CountingStream()
    log = buffered_logger(stream, "gateway.test.noloop")
    log.info("start-up")
    assert orjson.loads(stream.getvalue())["msg"] == "start-up"


def test_lines_still_pending_when_the_process_exits_are_written() -> None:
    # The loop stops in the same turn that logged, so only logging.shutdown() at exit can write the line.
    program = """
import asyncio, logging, sys
from gateway.log import JsonFormatter, TurnBufferedHandler
handler = TurnBufferedHandler(sys.stderr)
handler.setFormatter(JsonFormatter())
logging.getLogger().addHandler(handler)
def last_turn():
    logging.getLogger("gateway.exit").warning("last words")
    loop.stop()  # run_forever returns at the end of this turn, before the handler's write is due
loop = asyncio.new_event_loop()
loop.call_soon(last_turn)
loop.run_forever()
"""
    done = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert [orjson.loads(line)["msg"] for line in done.stderr.splitlines()] == ["last words"]


def test_an_uncaught_exception_is_a_redacted_json_line() -> None:
    # Python prints uncaught exceptions to stderr itself; with the gateway's set-up they are log lines too.
    program = f"""
import threading
from gateway.config import DEFAULT_CONFIG, load_settings
from gateway.log import configure_logging
configure_logging(load_settings(DEFAULT_CONFIG, env={{}}))
def fail():
    raise ValueError("thread x_{KEY}")
worker = threading.Thread(target=fail)
worker.start()
worker.join()
raise RuntimeError("main x_{KEY}")
"""
    done = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    records = [orjson.loads(line) for line in done.stderr.splitlines()]
    assert [r["msg"] for r in records] == ["uncaught exception in a thread", "uncaught exception"]
    assert "ValueError" in records[0]["exc"] and "RuntimeError" in records[1]["exc"]
    assert KEY not in done.stderr and "4fGh7KmP2qRsT9vW" not in done.stderr
