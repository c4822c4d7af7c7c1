"""The request middleware: a request id, one access line, metrics, and a JSON 500 for anything uncaught.

It wraps every route, so it is the one place that sees each request's outcome, however the handler ended:
an answer, an HTTP exception, a cancelled request or an uncaught error.
"""

from __future__ import annotations

import asyncio
import logging
import re
import secrets
import time
from itertools import count

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware

from gateway.observability.metrics import Metrics
from gateway.observability.redaction import redact_text

# Set by whoever resolves credentials (the transport), read by the access line: which key, never the key.
KEY_ID = web.RequestKey("key_id", str)
REQUEST_ID = web.RequestKey("request_id", str)

access_log = logging.getLogger("gateway.access")
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
                # What info(..., extra=) does, minus two costs: the walk up the stack for a source line the
                # formatter never writes, and makeRecord's check of each extra name against the record's own
                # attributes (a third of the line's cost; these fixed names clash with none). The record still
                # comes from logging's record factory and goes through the logger's handlers.
                record = logging.getLogRecordFactory()(access_log.name, logging.INFO, __file__, 0, "request", (), None)
                record.__dict__.update(
                    method=request.method,
                    path=request.path,
                    route=route,
                    status=status,
                    # Whole microseconds, as milliseconds: round(x, 3) formats and parses a decimal string.
                    duration_ms=int(elapsed * 1_000_000) / 1000,
                    request_id=request_id,
                    key_id=request.get(KEY_ID),
                )
                access_log.handle(record)

    return access_logger_middleware
