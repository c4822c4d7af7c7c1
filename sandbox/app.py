"""The sandbox as an aiohttp application: a local StatusPal Next API plus a small admin surface.

API routes are generated from the endpoint table (`/api/v1` + each endpoint's path and method), so a
`[statuspal.endpoints]` override moves the sandbox route together with the gateway's call, and notices are
served in the shape the table's notice mapping describes. With `strictness = "strict"` an unknown route
answers 404 with error `route_not_found`, distinct from `not_found` for a missing resource, so a drift test
can tell "the sandbox has no such endpoint" from "no such page". With `"lenient"` it answers as a Rails
server most likely does: a bare `{"status": 404, "error": "Not Found"}`, for a wrong method too.

Each API key is one organization with its own pages and webhooks. Keys are held as SHA-256 digests:
a dict lookup on a digest leaks nothing usable about the key through timing, and neither memory dumps
nor the persistence file ever contain a raw key.

Admin routes under `/_sandbox/` take no API key; they answer only to loopback peers, because they can
wipe data and add keys (the sandbox binds 127.0.0.1 by default, and this holds even if it is not).
"""

from __future__ import annotations

import asyncio
import hashlib
import ipaddress
import logging
import os
import tempfile
import time
from collections import deque
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
from aiohttp import web

from gateway.statuspal.endpoints import Endpoint, EndpointTable
from sandbox.call import Call, Handler
from sandbox.faults import API_ROOT, FaultInjector, Faults
from sandbox.models import Organization, dump_orgs, iso, load_orgs
from sandbox.resources import HANDLERS
from sandbox.settings import SandboxConfigError, SandboxSettings
from sandbox.validate import ApiError

log = logging.getLogger("sandbox")

REQUEST_LOG_SIZE = 10_000


def _digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def _json(status: int, payload: Any, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(status=status, body=orjson.dumps(payload), content_type="application/json", headers=headers)


class SandboxState:
    """Organizations, faults, the request log and persistence for one sandbox."""

    def __init__(self, settings: SandboxSettings, endpoints: EndpointTable) -> None:
        self.settings = settings
        self.endpoints = endpoints
        try:
            self.faults = FaultInjector(Faults.from_settings(settings))
        except ValueError as exc:
            raise SandboxConfigError(f"bad fault setting in [sandbox]: {exc}") from None
        self.requests: deque[dict[str, Any]] = deque(maxlen=REQUEST_LOG_SIZE)
        self.persist_path = Path(settings.persist_path) if settings.persist_path else None
        self.orgs: dict[str, Organization] = self._load()
        self._ensure_demo_org()

    # -- keys

    def _ensure_demo_org(self) -> None:
        if self.settings.demo_key:
            self.orgs.setdefault(_digest(self.settings.demo_key), Organization(_digest(self.settings.demo_key)))

    def add_key(self, key: str, revoked: bool) -> bool:
        """Add (or revoke / re-enable) a key; True when the key is new."""
        digest = _digest(key)
        org = self.orgs.get(digest)
        created = org is None
        if org is None:
            org = self.orgs[digest] = Organization(digest)
        org.revoked = revoked
        self.save()
        return created

    def authenticate(self, header: str | None) -> Organization:
        scheme, _, key = (header or "").partition(" ")
        key = key.strip()
        if scheme.lower() != "bearer" or not key:
            raise ApiError(401, "unauthorized", "Missing API key: send Authorization: Bearer <key>")
        org = self.orgs.get(_digest(key))
        if org is None:
            raise ApiError(401, "unauthorized", "Invalid API key")
        if org.revoked:
            raise ApiError(401, "unauthorized", "This API key has been revoked")
        return org

    def reset(self) -> None:
        """Back to a fresh start: no data, only the demo key, faults from config, empty request log."""
        self.orgs = {}
        self._ensure_demo_org()
        self.faults.set(Faults.from_settings(self.settings))
        self.requests.clear()
        self.save()

    # -- persistence

    def _load(self) -> dict[str, Organization]:
        if self.persist_path is None or not self.persist_path.exists():
            return {}
        try:
            return load_orgs(orjson.loads(self.persist_path.read_bytes()))
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise SandboxConfigError(f"sandbox.persist_path {self.persist_path} cannot be loaded: {exc}") from None

    def save(self) -> None:
        """Write the whole state atomically (temp file + rename), so a crash never leaves half a file."""
        if self.persist_path is None:
            return
        self.persist_path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".sandbox-", dir=self.persist_path.parent)
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(orjson.dumps(dump_orgs(self.orgs)))
            os.replace(tmp, self.persist_path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    # -- request log

    def record(self, request: web.Request, endpoint: str | None) -> dict[str, Any]:
        """Log one API request: method, path, query, time. Headers (and so the key) are never kept."""
        now = time.time()
        entry = {
            "method": request.method,
            "path": request.path,
            "query": dict(request.query),
            "endpoint": endpoint,
            "time": now,
            "at": iso(datetime.fromtimestamp(now, UTC)),
            "status": None,
        }
        self.requests.append(entry)
        return entry


SANDBOX = web.AppKey("sandbox", SandboxState)


@web.middleware
async def _api_middleware(request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]) -> web.StreamResponse:
    """Request log, then faults, then the route: what a flaky real upstream would do, in that order."""
    if not request.path.startswith(API_ROOT + "/"):
        return await handler(request)
    state = request.app[SANDBOX]
    route_error = request.match_info.http_exception
    endpoint = None if route_error else request.match_info.route.resource.name  # type: ignore[union-attr]
    entry = state.record(request, endpoint)
    if route_error is not None:
        if state.settings.strictness == "lenient":
            entry["status"] = 404
            return _json(404, {"status": 404, "error": "Not Found"})
        entry["status"] = route_error.status
        if route_error.status == 405:
            return _json(405, {"error": "method_not_allowed", "message": f"{request.method} is not allowed on {request.path}"})
        return _json(404, {"error": "route_not_found", "message": f"No API route for {request.method} {request.path}"})

    decision = state.faults.decide(request.method, request.path, endpoint)
    if decision.latency_seconds:
        await asyncio.sleep(decision.latency_seconds)
    faults = state.faults.faults
    if decision.action == "drop":
        entry["status"] = 0
        if request.transport is not None:
            request.transport.abort()  # close without an answer, as a crashed upstream or a cut proxy would
        return web.Response(status=500)  # never written: the transport is gone
    if decision.action == "rate_limit":
        entry["status"] = 429
        return _json(
            429,
            {"error": "too_many_requests", "message": "Rate limit exceeded, slow down"},
            headers={"Retry-After": str(faults.retry_after_seconds)},
        )
    if decision.action == "error":
        entry["status"] = faults.error_status
        if faults.error_status == 403:
            return _json(403, {"error": "forbidden", "message": "This API key is not allowed to do that"})
        return _json(faults.error_status, {"error": "service_unavailable", "message": "Injected upstream failure"})

    try:
        response = await handler(request)
    except ConnectionResetError:
        entry["status"] = 0  # the client gave up (its timeout) before the body arrived: nothing to answer
        return web.Response(status=499)
    except Exception:
        # A sandbox bug must still look like an API answer, never an HTML traceback page.
        log.exception("sandbox operation %s failed", endpoint)
        response = _json(500, {"error": "internal_server_error", "message": "The sandbox failed to handle this request"})
    entry["status"] = response.status
    return response


def _operation(endpoint: Endpoint, operation: Handler) -> Callable[[web.Request], Awaitable[web.Response]]:
    async def handle(request: web.Request) -> web.Response:
        state = request.app[SANDBOX]
        try:
            org = state.authenticate(request.headers.get("Authorization"))
            body = await _read_body(request)
            call = Call(
                org=org,
                params=dict(request.match_info),
                body=body,
                query=request.query,
                endpoint=endpoint,
                now=datetime.now(UTC),
                orgs=state.orgs.values(),
                wire=state.endpoints.notices,
                strict=state.settings.strictness == "strict",
            )
            data = operation(call)
        except ApiError as err:
            return _json(err.status, err.body)
        if endpoint.method != "GET":
            state.save()
        if data is None:
            return web.Response(status=204)
        return _json(endpoint.success_status, data if endpoint.paginated else {"data": data})

    return handle


async def _read_body(request: web.Request) -> dict[str, Any]:
    if request.method in ("GET", "DELETE"):
        return {}
    raw = await request.read()
    if not raw.strip():
        return {}
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise ApiError(400, "bad_request", "The request body is not valid JSON") from None
    if not isinstance(body, dict):
        raise ApiError(400, "bad_request", "The request body must be a JSON object")
    return body


# ---------------------------------------------------------------- admin


def _loopback_only(handler: Callable[[web.Request], Awaitable[web.Response]]) -> Callable[[web.Request], Awaitable[web.Response]]:
    async def guarded(request: web.Request) -> web.Response:
        try:
            loopback = ipaddress.ip_address(request.remote or "").is_loopback
        except ValueError:
            loopback = False
        if not loopback:
            return _json(403, {"error": "forbidden", "message": "sandbox admin endpoints answer only to loopback clients"})
        try:
            return await handler(request)
        except ApiError as err:
            return _json(err.status, err.body)

    return guarded


async def _admin_json(request: web.Request) -> Any:
    raw = await request.read()
    if not raw.strip():
        return {}
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise ApiError(400, "bad_request", "The request body is not valid JSON") from None


async def _get_faults(request: web.Request) -> web.Response:
    return _json(200, {"data": request.app[SANDBOX].faults.faults.to_json()})


async def _set_faults(request: web.Request) -> web.Response:
    state = request.app[SANDBOX]
    try:
        faults = Faults.from_json(await _admin_json(request), (e.name for e in state.endpoints))
    except ValueError as exc:
        return _json(400, {"error": "bad_request", "message": str(exc)})
    state.faults.set(faults)
    return _json(200, {"data": faults.to_json()})


async def _reset(request: web.Request) -> web.Response:
    request.app[SANDBOX].reset()
    return web.Response(status=204)


async def _keys(request: web.Request) -> web.Response:
    body = await _admin_json(request)
    key = body.get("key") if isinstance(body, dict) else None
    revoked = body.get("revoked", False) if isinstance(body, dict) else None
    if not isinstance(key, str) or not key or any(c.isspace() for c in key) or not isinstance(revoked, bool):
        return _json(400, {"error": "bad_request", "message": 'send {"key": "<non-empty, no spaces>", "revoked": true|false}'})
    created = request.app[SANDBOX].add_key(key, revoked)
    return _json(201 if created else 200, {"data": {"revoked": revoked}})


async def _get_requests(request: web.Request) -> web.Response:
    return _json(200, {"data": list(request.app[SANDBOX].requests)})


async def _clear_requests(request: web.Request) -> web.Response:
    request.app[SANDBOX].requests.clear()
    return web.Response(status=204)


# ---------------------------------------------------------------- assembly


def create_sandbox_app(settings: SandboxSettings, endpoints: EndpointTable) -> web.Application:
    """The sandbox application serving every endpoint of `endpoints` under `/api/v1`."""
    app = web.Application(middlewares=[_api_middleware], client_max_size=1024 * 1024)
    app[SANDBOX] = SandboxState(settings, endpoints)
    routes: dict[tuple[str, str], str] = {}
    unused = endpoints.notices.unused_endpoints()
    for endpoint in endpoints:
        if endpoint.name in unused:
            continue  # a StatusPal that ends notices by PATCH has no such action route
        clash = routes.get((endpoint.method, endpoint.path))
        if clash:
            raise ValueError(f"endpoints {clash} and {endpoint.name} both map to {endpoint.method} {endpoint.path}")
        routes[(endpoint.method, endpoint.path)] = endpoint.name
        app.router.add_route(endpoint.method, API_ROOT + endpoint.path, _operation(endpoint, HANDLERS[endpoint.name]), name=endpoint.name)

    admin = [
        ("GET", "/_sandbox/faults", _get_faults),
        ("POST", "/_sandbox/faults", _set_faults),
        ("POST", "/_sandbox/reset", _reset),
        ("POST", "/_sandbox/keys", _keys),
        ("GET", "/_sandbox/requests", _get_requests),
        ("DELETE", "/_sandbox/requests", _clear_requests),
    ]
    for method, path, handler in admin:
        app.router.add_route(method, path, _loopback_only(handler))
    return app


async def start_sandbox(settings: SandboxSettings, endpoints: EndpointTable) -> tuple[web.AppRunner, str]:
    """Serve the sandbox on settings.host:settings.port (0 = any free port); returns the runner and its real URL."""
    runner = web.AppRunner(create_sandbox_app(settings, endpoints), access_log=None, shutdown_timeout=2)
    await runner.setup()
    site = web.TCPSite(runner, settings.host, settings.port)
    try:
        await site.start()
    except BaseException:
        await runner.cleanup()
        raise
    host, port = runner.addresses[0][:2]
    host = f"[{host}]" if ":" in host else host
    return runner, f"http://{host}:{port}"
