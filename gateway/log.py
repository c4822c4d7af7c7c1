"""Structured logs (one JSON object a line on stderr) with redaction at the logger, and the access middleware.

Redaction lives in the one formatter every record passes through, not at call sites: a developer who
logs `exc`, a header dict or an upstream error body cannot leak a secret by forgetting a helper. The
formatter scrubs the message, every extra field (by name and by value, recursively) and the rendered
stack trace before anything is written. It recognises values by shape as well as by name, because a
key pasted into the wrong field or echoed in an upstream error message has no helpful name around it.
"""

from __future__ import annotations

import asyncio
import logging
import re
import secrets
import sys
import threading
import time
from itertools import count, islice
from typing import Any, Awaitable, Callable, Iterable

import orjson
from aiohttp import web

from gateway.config import Settings
from gateway.metrics import Metrics
from gateway.redaction import REDACTED, is_secret_name, redact_text, redact_value

ACCESS_LOGGER = "gateway.access"
AIOHTTP_LOGGERS = ("aiohttp", "aiohttp.access", "aiohttp.client", "aiohttp.internal", "aiohttp.server", "aiohttp.web",
                   "aiohttp.websocket")

# Set by whoever resolves credentials (the transport), read by the access line: which key, never the key.
KEY_ID = web.RequestKey("key_id", str)
REQUEST_ID = web.RequestKey("request_id", str)

# Values with nothing in them to scrub; the formatter checks a field's exact class against these before
# anything else, because every field of every line passes there.
_PLAIN = frozenset({int, float, bool, type(None)})


# Attributes every LogRecord has; anything else on a record came from `extra=` and is logged as a field.
# A record's own attributes are set first, in __init__, so the extras start after the first _N_RECORD_ATTRS.
_STANDARD = logging.makeLogRecord({}).__dict__
_N_RECORD_ATTRS = len(_STANDARD)
_RECORD_ATTRS = frozenset(_STANDARD) | {"message", "asctime", "taskName"}
# What the formatter does with a record attribute of a given name, decided once per name (names come from
# code, not from users; the map is bounded anyway): leave it out, write it redacted whole, or scrub its value.
_SKIP, _SECRET, _FIELD = 0, 1, 2
_FIELD_KINDS: dict[str, int] = {}
_ENTRY_KEYS = frozenset({"ts", "level", "logger", "msg"})


def _field_kind(name: str) -> int:
    kind = _SKIP if name in _RECORD_ATTRS or name in _ENTRY_KEYS else _SECRET if is_secret_name(name) else _FIELD
    if len(_FIELD_KINDS) < 1024:
        _FIELD_KINDS[name] = kind
    return kind


# ".000+00:00" … ".999+00:00": a timestamp's tail looked up instead of formatted, once per line.
_MILLIS = tuple(f".{ms:03d}+00:00" for ms in range(1000))


class JsonFormatter(logging.Formatter):
    """One JSON object a line: ts, level, logger, msg, the extra fields, and a redacted `exc` if any.

    It runs for every request (the access line), so it avoids per-record work that can be shared: the
    timestamp's seconds part is formatted once per second.
    """

    _second: tuple[int, str] = (-1, "")

    def _timestamp(self, created: float) -> str:
        second = int(created)
        cached = self._second
        if cached[0] != second:
            cached = self._second = (second, time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second)))
        return cached[1] + _MILLIS[int((created - second) * 1000)]

    def format(self, record: logging.LogRecord) -> str:
        try:
            return self.render(
                record.created, record.levelname, record.name, record.getMessage(),
                islice(record.__dict__.items(), _N_RECORD_ATTRS, None),
                self.formatException(record.exc_info) if record.exc_info else None, record.stack_info,
            )
        except Exception:  # a broken record must neither crash the caller nor fall back to printing raw args
            return _unformattable(f"{record.name}:{record.lineno}")

    def render(self, created: float, level: str, logger: str, message: str, fields: Iterable[tuple[str, Any]],
               exc: str | None = None, stack: str | None = None) -> str:
        """The line itself, every part of it redacted: what format() writes for a record with these parts.

        `fields` are (name, value) pairs; names the logging module sets on every record are left out.
        """
        try:
            entry: dict[str, Any] = {"ts": self._timestamp(created), "level": level, "logger": logger, "msg": redact_text(message)}
            for name, value in fields:
                kind = _FIELD_KINDS.get(name)
                if kind is None:
                    kind = _field_kind(name)
                if kind == _FIELD:
                    cls = value.__class__
                    entry[name] = redact_text(value) if cls is str else value if cls in _PLAIN else redact_value(value)
                elif kind == _SECRET:
                    entry[name] = REDACTED if value not in (None, "") else value
            if exc:
                entry["exc"] = redact_text(exc)
            elif stack:
                entry["stack"] = redact_text(stack)
            return orjson.dumps(entry, default=str).decode()
        except Exception:
            return _unformattable(logger)


def _unformattable(source: str) -> str:
    return orjson.dumps({"level": "ERROR", "logger": "gateway.log", "msg": "a log record could not be formatted",
                         "source": source}).decode()


class TurnBufferedHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """A stream handler that writes the lines logged in one event-loop turn with one write.

    Every request logs its access line; written one by one, each line cost a write() and a flush(), a
    large share of a small request's time under load. Here a line is formatted (and so redacted) at once,
    kept, and written at the end of the current loop turn, together with the other lines of that turn: no
    line waits longer than the turn that logged it. Outside a running loop (start-up, other threads,
    shutdown) a line is written at once, after anything pending, so lines keep their order. flush() writes
    what is pending; logging.shutdown() calls it at exit, so nothing formatted is lost on a normal exit.
    """

    # A turn that logs this many lines writes them without waiting for the turn to end.
    MAX_PENDING = 256

    def __init__(self, stream: Any = None) -> None:
        super().__init__(stream)
        self._pending: list[str] = []
        # The loop (and its thread) whose end of turn will write what is pending; None when nothing is due.
        self._turn_loop: asyncio.AbstractEventLoop | None = None
        self._turn_thread = 0

    def emit(self, record: logging.LogRecord) -> None:  # called by Handler.handle with self.lock held
        try:
            line = self.format(record)
        except Exception:
            self.handleError(record)
            return
        self.enqueue(line)

    def enqueue(self, line: str) -> None:
        """Queue a finished line (formatted, so redacted) to be written at the end of this loop turn."""
        with self.lock:  # type: ignore[union-attr]  # reentrant: emit() already holds it
            self._pending.append(line)
            turn = self._turn_loop
            if turn is not None:
                if turn.is_running() and self._turn_thread == threading.get_ident():
                    if len(self._pending) >= self.MAX_PENDING:
                        self.flush()
                    return
                # A line from another thread, or the loop that was to write the pending lines has stopped (its
                # callback may never run): write everything now rather than leave lines waiting.
                self.flush()
                return
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:
                self.flush()  # start-up, shutdown, a thread without a loop
                return
            self._turn_loop = loop
            self._turn_thread = threading.get_ident()
            loop.call_soon(self.flush)

    def flush(self) -> None:
        with self.lock:  # type: ignore[union-attr]  # reentrant: emit() may call this while holding it
            self._turn_loop = None
            if not self._pending:
                return
            text = "\n".join(self._pending) + "\n"
            self._pending.clear()
            try:
                self.stream.write(text)
                self.stream.flush()
            except Exception:  # a closed or broken stderr: nothing sensible to do with a log line
                pass


def configure_logging(settings: Settings) -> None:
    """Route every logger through one stderr handler with the redacting JSON formatter."""
    handler = TurnBufferedHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(settings.logging.level.upper())
    # aiohttp's own loggers quote raw request lines and headers (a parser error, a client error): they must
    # reach the redacting handler and nothing else, whatever a library or an earlier set-up gave them.
    for name in AIOHTTP_LOGGERS:
        logger = logging.getLogger(name)
        for old in list(logger.handlers):
            logger.removeHandler(old)
        logger.propagate = True
    # aiohttp's own access log prints the request line with its query string and can be configured to
    # print headers; ours replaces it. Turned off here too in case a runner is built with the default.
    logging.getLogger("aiohttp.access").disabled = True
    logging.captureWarnings(True)
    # Thread and process names are never written; not looking them up saves work on every record.
    logging.logThreads = logging.logProcesses = logging.logMultiprocessing = False
    # logging's fallback for a failing handler prints the raw message and arguments to stderr.
    logging.raiseExceptions = False
    # Python prints an uncaught or unraisable exception to stderr itself, message and all; stderr is the log,
    # so those go through the logger (and its redaction) too.
    sys.excepthook = _log_uncaught
    threading.excepthook = _log_uncaught_in_thread
    sys.unraisablehook = _log_unraisable


def _log_uncaught(kind: type[BaseException], exc: BaseException, tb: Any) -> None:
    if issubclass(kind, KeyboardInterrupt):
        sys.__excepthook__(kind, exc, tb)
        return
    error_log.critical("uncaught exception", exc_info=(kind, exc, tb))


def _log_uncaught_in_thread(args: threading.ExceptHookArgs) -> None:
    if args.exc_type is SystemExit:
        return
    error_log.critical("uncaught exception in a thread", exc_info=(args.exc_type, args.exc_value, args.exc_traceback))  # type: ignore[arg-type]


def _log_unraisable(unraisable: Any) -> None:
    exc = unraisable.exc_value
    error_log.warning("%s", unraisable.err_msg or "exception ignored",
                      exc_info=(type(exc), exc, unraisable.exc_traceback) if exc is not None else None)


access_log = logging.getLogger(ACCESS_LOGGER)
error_log = logging.getLogger("gateway.error")

_SAFE_REQUEST_ID = re.compile(r"[A-Za-z0-9._\-]{1,64}")
# Request ids only need to be unique, not unguessable: a random per-process prefix and a counter
# (16 hex digits) cost nothing per request, unlike a fresh read of the system's random source.
_ID_PREFIX = secrets.token_hex(4)
_ID_COUNTER = count()


def _route_of(request: web.Request) -> str:
    """The route template (bounded label set); unmatched paths are folded together."""
    resource = request.match_info.route.resource
    return resource.canonical if resource is not None else "unmatched"


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
Middleware = Callable[[web.Request, Handler], Awaitable[web.StreamResponse]]

# Every access record is the same apart from its time and fields, so it is copied from this one instead of
# built by LogRecord.__init__, which works out a file name, a module name and a level name on every call.
_ACCESS_TEMPLATE = vars(logging.LogRecord(access_log.name, logging.INFO, __file__, 0, "request", None, None))


def _access_record(fields: dict[str, Any]) -> logging.LogRecord:
    record = logging.LogRecord.__new__(logging.LogRecord)
    state = record.__dict__
    state.update(_ACCESS_TEMPLATE)
    created = time.time()
    state["created"] = created
    state["msecs"] = (created - int(created)) * 1000
    state["relativeCreated"] = (created - logging._startTime) * 1000  # type: ignore[attr-defined]
    state.update(fields)  # after the standard attributes, where the formatter looks for extra fields
    return record


def _only_handler() -> TurnBufferedHandler | None:
    """The handler every access line ends in, when the logging set-up gives it no other way to go.

    That is the set-up configure_logging makes: gateway.access and its ancestors have no handlers or filters
    of their own and propagate up to the root, whose one handler is a TurnBufferedHandler with a
    JsonFormatter and no filter. None for anything else (a test's capture handler, an operator's extra
    handler or filter), and then the line takes the logging module's full path.
    """
    logger: logging.Logger | None = access_log
    while logger is not logging.root:
        if logger is None or logger.handlers or logger.filters or not logger.propagate or logger.disabled:
            return None
        logger = logger.parent
    handlers = logging.root.handlers
    if len(handlers) != 1 or logging.root.filters:
        return None
    handler = handlers[0]
    if (type(handler) is not TurnBufferedHandler or handler.filters or handler.level > logging.INFO
            or type(handler.formatter) is not JsonFormatter):
        return None
    return handler


def write_access_line(fields: dict[str, Any]) -> None:
    """One request's access line, for a gateway.access logger already known to be enabled for INFO.

    With the set-up of configure_logging the line is rendered by the handler's own formatter and queued on
    the handler directly: the same line, redacted by the same code, without building a LogRecord and
    walking the logging module's dispatch, which cost about as much as rendering the line (together about
    a tenth of a small request's CPU). Any other set-up gets a record through access_log.handle, as
    access_log.info() would send it, minus the stack walk that finds a source line nobody reads here.
    """
    handler = _only_handler()
    if handler is None:
        access_log.handle(_access_record(fields))
        return
    formatter: JsonFormatter = handler.formatter  # type: ignore[assignment]  # checked by _only_handler
    handler.enqueue(formatter.render(time.time(), "INFO", ACCESS_LOGGER, "request", fields.items()))


def access_logger(metrics: Metrics | None = None) -> Middleware:
    """The access middleware; `metrics`, when given, counts every request by route and status."""

    @web.middleware
    async def access_logger_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        """Request id, one access line, metrics, and a JSON 500 (no stack trace) for anything uncaught.

        The logged path never includes the query string: OAuth redirects and badly written clients put
        codes and keys there. The request id is echoed so an operator can match a user's report to a line.
        """
        incoming = request.headers.get("X-Request-Id")
        # A caller's id is kept only when it is short, plain and not shaped like a secret (`x_sk_…` is plain):
        # it is echoed in the answer and written in the log. Any other id is replaced by a fresh one rather
        # than redacted, because "[REDACTED]" would be the same id for every such request, useless for tracing.
        if incoming is not None and _SAFE_REQUEST_ID.fullmatch(incoming) and redact_text(incoming) == incoming:
            request_id = incoming
        else:
            request_id = f"{_ID_PREFIX}{next(_ID_COUNTER):08x}"
        request[REQUEST_ID] = request_id
        started = time.perf_counter()
        status = 500
        try:
            response = await handler(request)
            status = response.status
            if not response.prepared:  # a streamed (SSE) answer has already sent its headers
                response.headers["X-Request-Id"] = request_id
            return response
        except web.HTTPException as exc:
            status = exc.status
            exc.headers["X-Request-Id"] = request_id
            raise
        except asyncio.CancelledError:
            status = 499  # the client went away (or the server stopped) before an answer was written
            raise
        except Exception:
            error_log.exception("unhandled error", extra={"request_id": request_id, "path": request.path})
            return web.json_response(
                {"error": "internal_error", "message": "The gateway hit an unexpected error; quote this request id when reporting it.",
                 "request_id": request_id},
                status=500,
                headers={"X-Request-Id": request_id},
            )
        finally:
            elapsed = time.perf_counter() - started
            route = _route_of(request)
            if metrics is not None:
                metrics.observe_request(route, status, elapsed, request.method)
            if access_log.isEnabledFor(logging.INFO):
                write_access_line({
                    "method": request.method,
                    "path": request.path,
                    "route": route,
                    "status": status,
                    # Whole microseconds, as milliseconds: round(x, 3) formats and parses a decimal string.
                    "duration_ms": int(elapsed * 1_000_000) / 1000,
                    "request_id": request_id,
                    "key_id": request.get(KEY_ID),
                })

    return access_logger_middleware
