"""Operator endpoints: liveness, readiness and Prometheus metrics.

None of them needs credentials and none reveals anything per-user: /metrics carries route templates,
tool names and status codes only. Put them behind the load balancer's internal listener if even that
is too much for a deployment.
"""

from __future__ import annotations

from aiohttp import web

from gateway.store.base import StoreUnavailable
from gateway.web.services import GATEWAY

PROMETHEUS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


async def healthz(request: web.Request) -> web.Response:
    """Alive: the event loop answers. Says nothing about dependencies, so a restart never fixes a dependency."""
    return web.json_response({"status": "ok"})


async def readyz(request: web.Request) -> web.Response:
    """Ready to take traffic: everything a tool call needs is in place.

    The configuration is validated before the process starts listening (a bad value is a start-up
    error) and the upstream pool is opened before the first request is accepted, so what is left to
    check is what can change while running: the docs index (built by `statuspal-mcp build-index`,
    picked up without a restart) and the store (Redis when configured, else in memory): unreachable or
    full, OAuth and session ends fail closed.
    """
    gateway = request.app[GATEWAY]
    reasons = []
    if not gateway.docs.loaded:
        reasons.append("docs index not loaded: run `statuspal-mcp build-index` (the gateway picks it up without a restart)")
    try:
        await gateway.store.check_ready()
    except StoreUnavailable as exc:
        # Full matters as much as unreachable: either way sign-in and session ends answer 503. Where the store
        # is stays out of this unauthenticated answer; the error log names it.
        reasons.append(
            "store full: new sign-ins and session ends are refused until entries expire (raise store.memory_max_entries, or Redis's maxmemory)"
            if exc.full else "shared store unreachable (check STATUSPAL_MCP_REDIS_URL)"
        )
    if reasons:
        return web.json_response({"status": "not ready", "reasons": reasons}, status=503)
    return web.json_response({"status": "ready", "docs_index": gateway.docs.build_id})


async def metrics(request: web.Request) -> web.Response:
    body = await request.app[GATEWAY].host.render()
    return web.Response(body=body.encode(), headers={"Content-Type": PROMETHEUS_CONTENT_TYPE})


def setup_routes(app: web.Application) -> None:
    app.router.add_get("/healthz", healthz, allow_head=True)
    app.router.add_get("/readyz", readyz, allow_head=True)
    app.router.add_get("/metrics", metrics)
