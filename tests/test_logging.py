"""Structured logs: one JSON object a line, request ids, and redaction in the one formatter every line passes."""

from __future__ import annotations

import contextlib
import io
import logging
import subprocess
import sys
import threading
from collections.abc import Iterator

import aiohttp
import orjson
import pytest
from aiohttp import web

from gateway.observability.logs import FormattingQueueHandler, JsonFormatter, json_lines_handler
from gateway.observability.redaction import SECRET_NAMES, redact_text
from gateway.web.middleware import KEY_ID, access_log, access_logger
from tests.conftest import bound_socket, serve_app

KEY = "sk_live_4fGh7KmP2qRsT9vW"
WEBHOOK_SECRET = "whs_Zx81bQ0aLmN3"
JWE = "eyJhbGciOiJkaXIiLCJlbmMiOiJBMjU2R0NNIiwia2lkIjoiazEifQ..b64iv-part.cipherText_part.tagTag_1"
JWT = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl"


class Captured:
    def __init__(self) -> None:
        self.stream = io.StringIO()
        self.handler = json_lines_handler(self.stream)

    @property
    def text(self) -> str:
        self.handler.flush()
        return self.stream.getvalue()

    def records(self) -> list[dict]:
        return [orjson.loads(line) for line in self.text.splitlines()]


@pytest.fixture
def captured() -> Iterator[Captured]:
    """The production formatter on a handler of the root logger, exactly as `configure_logging` installs it."""
    cap = Captured()
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(cap.handler)
    root.setLevel(logging.INFO)
    yield cap
    root.removeHandler(cap.handler)
    cap.handler.close()
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
        f"token behind a key prefix sk_{JWE}",  # the key pattern alone stops at the token's first "."
        f"token behind a secret prefix whs_{JWE}",
    ],
)
def test_secret_shapes_are_redacted_wherever_they_stand(captured: Captured, message: str) -> None:
    logging.getLogger("gateway.test").info(message)
    for secret in ("4fGh7KmP2qRsT9vW", "Zx81bQ0aLmN3", "cipherText_part", "c2lnbmF0dXJl"):
        assert secret not in captured.text
    assert "[REDACTED]" in captured.text


def _references(text: str, form: str) -> str:
    return "".join(form.format(ord(c)) for c in text)


@pytest.mark.parametrize("form", ["&#{};", "&#x{:x};", "&#X{:X};", "&#00{}", "&amp;#{};"])
@pytest.mark.parametrize("secret", [KEY, WEBHOOK_SECRET, JWT])
def test_secrets_written_as_html_character_references_are_redacted(captured: Captured, secret: str, form: str) -> None:
    # A login form or a page quoted into a log carries a pasted key as references; the attack run found 155 such lines.
    whole = _references(secret, form)
    prefix_only = _references(secret[:3], form) + secret[3:]
    logging.getLogger("gateway.test").info("echo %s and %s", whole, prefix_only)
    line = captured.text
    assert whole not in line and _references(secret[-8:], form) not in line and secret[3:] not in line
    assert line.count("[REDACTED]") == 2


def test_html_character_references_of_ordinary_text_are_left_alone() -> None:
    text = "AT&amp;T &#233;t&#233; task&#95;id &#115;&#107;&#95;"
    assert redact_text(text) == text


def test_words_that_merely_contain_sk_underscore_are_left_alone() -> None:
    text = "task_id=7 disk_size risk_level ask_me"
    assert redact_text(text) == text


def test_aiohttps_own_loggers_reach_only_the_redacting_handler() -> None:
    from gateway.config import DEFAULT_CONFIG, load_settings
    from gateway.observability.logs import AIOHTTP_LOGGERS, configure_logging

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


@pytest.mark.parametrize("text", ["\u017fecret=opaque-value-1", "pa\u017f\u017fword=opaque-value-1",
                                  "\u212aey=opaque-value-1", "authorization=opaque-value-1".replace("i", "\u0131", 1)])
def test_names_spelled_with_letters_the_regexes_fold_are_caught(text: str) -> None:
    """Python's case-insensitive patterns read long s, the Kelvin sign and dotless i as s, k and i; the cheap
    pre-checks must read them the same way, or they would skip a pattern that matches."""
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
    """The root logger exactly as configure_logging leaves it: one queue handler, nothing else.

    Entered inside the test body: pytest adds its own capture handlers to the root for the test call itself.
    """
    cap = Captured()
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    root.handlers[:] = [cap.handler]
    root.setLevel(logging.INFO)
    try:
        yield cap
    finally:
        cap.handler.close()
        root.handlers[:], level = saved
        root.setLevel(level)


async def test_with_the_gateways_own_set_up_access_lines_are_redacted(small_app: str) -> None:
    with sole_handler() as captured:
        async with aiohttp.ClientSession() as http:
            async with http.get(f"{small_app}/ok/{KEY}?code=abc123") as r:
                assert r.status == 200
                request_id = r.headers["X-Request-Id"]
            async with http.get(f"{small_app}/nowhere/{KEY}") as r:
                assert r.status == 404
    lines = captured.records()
    assert [(x["route"], x["status"]) for x in lines] == [("/ok/{name}", 200), ("unmatched", 404)]
    assert lines[0]["path"] == "/ok/sk_[REDACTED]" and lines[0]["request_id"] == request_id
    assert lines[0]["logger"] == "gateway.access" and lines[0]["level"] == "INFO" and lines[0]["msg"] == "request"
    assert KEY not in captured.text and "abc123" not in captured.text


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


class WatchedStream(io.StringIO):
    """A stream that tells when something was written to it."""

    def __init__(self) -> None:
        super().__init__()
        self.written = threading.Event()

    def write(self, text: str) -> int:
        count = super().write(text)
        self.written.set()
        return count


def queued_logger(stream: io.StringIO, name: str) -> tuple[logging.Logger, FormattingQueueHandler]:
    handler = json_lines_handler(stream)
    log = logging.getLogger(name)
    log.handlers[:] = [handler]
    log.propagate = False
    log.setLevel(logging.INFO)
    return log, handler


def messages(text: str) -> list[str]:
    return [orjson.loads(line)["msg"] for line in text.splitlines()]


def test_lines_are_written_in_the_order_they_were_logged() -> None:
    stream = WatchedStream()
    log, handler = queued_logger(stream, "gateway.test.order")
    for i in range(500):
        log.info("line %d", i)
    handler.close()
    assert messages(stream.getvalue()) == [f"line {i}" for i in range(500)]


def test_a_line_is_written_without_waiting_for_more_lines_or_an_exit() -> None:
    stream = WatchedStream()
    log, handler = queued_logger(stream, "gateway.test.prompt")
    try:
        log.info("alone")
        assert stream.written.wait(timeout=30), "the writer holds a lone line back"
        assert messages(stream.getvalue()) == ["alone"]
    finally:
        handler.close()


def test_lines_from_other_threads_are_all_written_each_in_its_order() -> None:
    stream = WatchedStream()
    log, handler = queued_logger(stream, "gateway.test.threads")
    log.info("before the threads")
    workers = [threading.Thread(target=lambda n=n: [log.info("thread %d line %d", n, i) for i in range(100)])
               for n in range(4)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    handler.close()
    written = messages(stream.getvalue())
    assert written[0] == "before the threads" and len(written) == 401
    for n in range(4):
        assert [m for m in written if m.startswith(f"thread {n} ")] == [f"thread {n} line {i}" for i in range(100)]


def test_a_line_shows_its_values_as_they_were_when_logged() -> None:
    # The record is rendered in the logging thread: an argument changed afterwards cannot change the line.
    stream = WatchedStream()
    log, handler = queued_logger(stream, "gateway.test.snapshot")
    state = {"step": "first"}
    log.info("state %s", state, extra={"state": state})
    state["step"] = "changed"
    handler.close()
    [line] = [orjson.loads(x) for x in stream.getvalue().splitlines()]
    assert line["msg"] == "state {'step': 'first'}" and line["state"] == {"step": "first"}


def test_a_line_logged_after_the_writer_stopped_is_still_written() -> None:
    stream = WatchedStream()
    log, handler = queued_logger(stream, "gateway.test.late")
    log.info("before")
    handler.writer.stop()
    log.info("after")  # late at exit, e.g. an unraisable exception during shutdown
    assert messages(stream.getvalue()) == ["before", "after"]
    handler.close()


def test_lines_still_queued_when_the_process_exits_are_written() -> None:
    # The process ends right after logging, from the event loop's last turn and from other threads:
    # only the writer being stopped at exit can write what is still queued.
    program = """
import asyncio, logging, threading
from gateway.config import DEFAULT_CONFIG, load_settings
from gateway.observability.logs import configure_logging
configure_logging(load_settings(DEFAULT_CONFIG, env={}))
log = logging.getLogger("gateway.exit")
def thread_lines(n):
    for i in range(200):
        log.warning("thread %d line %d", n, i)
workers = [threading.Thread(target=thread_lines, args=(n,)) for n in range(3)]
for worker in workers:
    worker.start()
for worker in workers:
    worker.join()
def last_turn():
    for i in range(200):
        log.warning("loop line %d", i)
    loop.stop()
loop = asyncio.new_event_loop()
loop.call_soon(last_turn)
loop.run_forever()
log.warning("last words")
"""
    done = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    written = messages(done.stderr)
    assert len(written) == 801 and written[-1] == "last words"
    for n in range(3):
        assert [m for m in written if m.startswith(f"thread {n} ")] == [f"thread {n} line {i}" for i in range(200)]
    assert [m for m in written if m.startswith("loop ")] == [f"loop line {i}" for i in range(200)]


def test_an_uncaught_exception_is_a_redacted_json_line() -> None:
    # Python prints uncaught exceptions to stderr itself; with the gateway's set-up they are log lines too.
    program = f"""
import threading
from gateway.config import DEFAULT_CONFIG, load_settings
from gateway.observability.logs import configure_logging
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
