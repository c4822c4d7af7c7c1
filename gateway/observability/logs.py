"""Logging set-up: one JSON object a line on stderr, redacted in the formatter, written by a queue listener.

Redaction lives in the one formatter every record passes through, not at call sites: a developer who
logs `exc`, a header dict or an upstream error body cannot leak a secret by forgetting a helper. The
formatter scrubs the message, every extra field (by name and by value, recursively) and the rendered
stack trace before anything is written. It recognises values by shape as well as by name, because a
key pasted into the wrong field or echoed in an upstream error message has no helpful name around it.

Lines reach stderr through the standard library's QueueHandler and QueueListener: the logging thread
formats the record (so the line is redacted before it leaves that thread, and a mutable argument is
rendered as it was when logged), queues the finished text, and the listener's thread writes it. The
event loop never waits on a write to stderr.
"""

from __future__ import annotations

import atexit
import logging
import queue
import sys
import threading
import time
from itertools import islice
from logging.handlers import QueueHandler, QueueListener
from typing import TYPE_CHECKING, Any, TextIO

import orjson

from gateway.observability.redaction import REDACTED, is_secret_name, redact_text, redact_value
from gateway.observability.tracing import ACTIVE, current_ids

if TYPE_CHECKING:
    from gateway.config import Settings

AIOHTTP_LOGGERS = ("aiohttp", "aiohttp.access", "aiohttp.client", "aiohttp.internal", "aiohttp.server", "aiohttp.web",
                   "aiohttp.websocket")

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
            entry: dict[str, Any] = {"ts": self._timestamp(record.created), "level": record.levelname,
                                     "logger": record.name, "msg": redact_text(record.getMessage())}
            # Names the logging module sets on every record are left out: the rest came from `extra=`.
            for name, value in islice(record.__dict__.items(), _N_RECORD_ATTRS, None):
                kind = _FIELD_KINDS.get(name)
                if kind is None:
                    kind = _field_kind(name)
                if kind == _FIELD:
                    cls = value.__class__
                    entry[name] = redact_text(value) if cls is str else value if cls in _PLAIN else redact_value(value)
                elif kind == _SECRET:
                    entry[name] = REDACTED if value not in (None, "") else value
            # The record is formatted in the thread, and so the context, that logged it: the current span is the
            # request's (a caller's own `extra` ids are kept). With telemetry off this is one attribute read.
            if ACTIVE.tracer is not None and (ids := current_ids()) is not None:
                entry.setdefault("trace_id", ids[0])
                entry.setdefault("span_id", ids[1])
            if record.exc_info:
                entry["exc"] = redact_text(self.formatException(record.exc_info))
            elif record.stack_info:
                entry["stack"] = redact_text(record.stack_info)
            return orjson.dumps(entry, default=str).decode()
        except Exception:  # a broken record must neither crash the caller nor fall back to printing raw args
            return _unformattable(f"{record.name}:{record.lineno}")


def _unformattable(source: str) -> str:
    return orjson.dumps({"level": "ERROR", "logger": "gateway.log", "msg": "a log record could not be formatted",
                         "source": source}).decode()


class FormattingQueueHandler(QueueHandler):
    """Formats a record in the thread that logged it and queues only the finished line.

    The formatter runs here, not in the listener, so what crosses to the other thread is redacted text:
    never a record whose arguments or extra fields still hold a secret, and never an object that may
    change before it is written. Queuing the line instead of a copy of the record is the marshalling
    the QueueHandler documentation suggests ("convert the record to a dict or JSON string").
    """

    def __init__(self, line_queue: queue.SimpleQueue[str], writer: LineWriter) -> None:
        super().__init__(line_queue)
        self.writer = writer

    def handle(self, record: logging.LogRecord) -> logging.LogRecord | bool:  # type: ignore[override]
        """Handler.handle without the handler's I/O lock, which guards nothing here: formatting keeps no state a
        second thread could tear, and the queue is thread-safe. The access line passes here on every request."""
        rv = self.filter(record)
        if isinstance(rv, logging.LogRecord):  # Python 3.12+: a filter may hand back a replacement record
            record = rv
        if rv:
            self.emit(record)
        return rv

    def emit(self, record: logging.LogRecord) -> None:
        """QueueHandler.emit, with the formatted line as what is prepared and queued."""
        try:
            self.queue.put_nowait(self.format(record))
            if not self.writer.running:  # logged after the writer stopped (late at exit): nobody else will write it
                self.writer.stop()
        except Exception:
            self.handleError(record)

    def flush(self) -> None:
        """Write every line queued so far, before this returns."""
        self.writer.flush()

    def close(self) -> None:
        """logging.shutdown() closes every handler at exit: the lines still queued are written then."""
        self.writer.stop()
        super().close()


class LineWriter(QueueListener):
    """Writes queued lines to a stream from its own thread, in the order they were logged.

    Waking a thread for every line costs the event loop far more than formatting the line: each wake is a
    system call and a handover of the interpreter lock between the two threads. So the first line of a
    burst wakes the writer, which then waits GATHER_SECONDS while the lines that follow are queued without
    waking anyone, and writes them all with one write. No line waits much longer than that.
    """

    GATHER_SECONDS = 0.01

    def __init__(self, line_queue: queue.SimpleQueue[str], stream: TextIO) -> None:
        super().__init__(line_queue)
        self.lines = line_queue  # self.queue, typed for any queue of records: this one holds formatted lines
        self.stream = stream
        self.running = False
        self._lock = threading.Lock()  # the writer's thread, and stop() from any other
        self._pending: list[str] = []

    def start(self) -> None:
        super().start()
        self.running = True

    def dequeue(self, block: bool) -> str | None:  # type: ignore[override]
        """The whole burst as one text: the first line, then every line queued while the writer waited.

        Handing the listener one item per burst, not per line, keeps this thread's work (and so its share of
        the interpreter lock, which the event loop then waits for) to a few C calls per line. None is the stop
        sentinel; met while draining, it is put back so the next call ends the thread after this burst."""
        line: str | None = self.lines.get(block)
        if line is None:
            return None
        time.sleep(self.GATHER_SECONDS)
        burst = [line]
        take = self.lines.get_nowait
        try:
            while (more := take()) is not None:
                burst.append(more)
            self.lines.put(None)
        except queue.Empty:
            pass
        return "\n".join(burst)

    def handle(self, burst: str) -> None:  # type: ignore[override]
        with self._lock:
            self._pending.append(burst)
        self._write_pending()

    def stop(self) -> None:
        """End the thread and write every line queued; safe to call again (shutdown, atexit, a late line)."""
        if self.running:
            self.running = False
            super().stop()
        with self._lock:
            while not self.lines.empty():  # queued after the thread's last look
                self._pending.append(self.lines.get_nowait())
        self._write_pending()

    def flush(self) -> None:
        """Write every line queued so far: the thread is stopped, which writes them, and started again."""
        running = self.running
        self.stop()
        if running:
            self.start()

    def _write_pending(self) -> None:
        with self._lock:
            if not self._pending:
                return
            text = "\n".join(self._pending) + "\n"
            self._pending.clear()
            try:
                self.stream.write(text)
                self.stream.flush()
            except Exception:  # a closed or broken stderr: nothing sensible to do with a log line
                pass


def json_lines_handler(stream: TextIO) -> FormattingQueueHandler:
    """A handler that writes every record to `stream` as one redacted JSON line, its listener started."""
    line_queue: queue.SimpleQueue[str] = queue.SimpleQueue()
    writer = LineWriter(line_queue, stream)
    handler = FormattingQueueHandler(line_queue, writer)
    handler.setFormatter(JsonFormatter())
    writer.start()
    return handler


def flush_logs() -> None:
    """Write every log line queued so far: called before a program writes to stderr itself, so that what
    it writes comes after the lines logged before it, as a reader of the terminal expects."""
    for handler in logging.getLogger().handlers:
        handler.flush()


def configure_logging(settings: Settings) -> None:
    """Route every logger through one stderr handler with the redacting JSON formatter."""
    handler = json_lines_handler(sys.stderr)
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
    # logging.shutdown() at exit closes the handler, which writes what is queued; registered after logging's
    # own exit hook, this runs first and so also covers a set-up that removed the handler from the root.
    atexit.register(handler.writer.stop)


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


error_log = logging.getLogger("gateway.error")
