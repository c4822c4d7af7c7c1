"""Serves the test host for MCP Apps views on loopback: the host page, its bundled script, the sandbox proxy, and an
endpoint that records the view's tools/call and answers recorded results.

The host page is served on 127.0.0.1 and the sandbox proxy on localhost (same port, another origin), as the spec
requires of a web host. The proxy is served with the CSP the spec prescribes for a view that declares no `ui.csp`;
the view's srcdoc document inherits it, so anything the view tried to load would be refused and reported.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web

from tests.conformance.node import NODE, NODE_DIR, require
from tests.conftest import bound_socket, serve_app

HERE = Path(__file__).resolve().parent
PACKAGES = NODE_DIR / "publish-preview" / "node_modules"
ESBUILD = PACKAGES / "esbuild" / "bin" / "esbuild"

# MCP Apps 2026-01-26, "Host Behavior" (the restrictive default) and "Sandbox proxy" (frames, objects, base URI).
DEFAULT_CSP = (
    "default-src 'none'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "media-src 'self' data:; connect-src 'none'; frame-src 'none'; object-src 'none'; base-uri 'self'"
)


def build_host_script(out: Path) -> Path:
    """Bundle host.ts with the view's pinned packages (installed by `make node` under .node/publish-preview)."""
    require(ESBUILD)
    env = {**os.environ, "NODE_PATH": str(PACKAGES)}  # esbuild resolves the SDK packages from there
    done = subprocess.run(
        [str(NODE), str(ESBUILD), str(HERE / "host.ts"), "--bundle", "--format=iife", "--platform=browser",
         "--target=es2022", f"--outfile={out}", "--log-level=warning"],
        env=env, capture_output=True, text=True, timeout=120, check=False,
    )
    assert done.returncode == 0, f"the test host does not build:\n{done.stdout}\n{done.stderr}"
    return out


@dataclass
class AppsHost:
    url: str  # the host page's origin
    sandbox_url: str  # the sandbox proxy, on another origin
    calls: list[dict[str, Any]] = field(default_factory=list)  # what the view's tools/call sent to the recorded endpoint
    answers: list[dict[str, Any]] = field(default_factory=list)  # CallToolResults to answer, in order
    probes: list[str] = field(default_factory=list)  # requests to /probe: anything the sandbox let through

    @property
    def page(self) -> str:
        return f"{self.url}/host.html"

    @property
    def call_url(self) -> str:
        return f"{self.url}/call"

    @property
    def probe_url(self) -> str:
        return f"{self.url}/probe"


@asynccontextmanager
async def serve_test_host(script: Path) -> AsyncIterator[AppsHost]:
    sock = bound_socket()
    port = sock.getsockname()[1]
    host = AppsHost(url=f"http://127.0.0.1:{port}", sandbox_url=f"http://localhost:{port}/sandbox.html")

    async def page(_: web.Request) -> web.Response:
        return web.Response(text=(HERE / "host.html").read_text(), content_type="text/html")

    async def bundle(_: web.Request) -> web.Response:
        return web.Response(body=script.read_bytes(), content_type="text/javascript")

    async def sandbox(request: web.Request) -> web.Response:
        if request.host.split(":")[0] != "localhost":  # the proxy must not share the host page's origin
            raise web.HTTPNotFound()
        return web.Response(text=(HERE / "sandbox.html").read_text(), content_type="text/html",
                            headers={"Content-Security-Policy": DEFAULT_CSP})

    async def call(request: web.Request) -> web.Response:
        host.calls.append(await request.json())
        if not host.answers:
            return web.Response(status=500, text="no recorded answer left")
        return web.json_response(host.answers.pop(0))

    async def probe(request: web.Request) -> web.Response:
        host.probes.append(str(request.rel_url))
        return web.Response(text="reached")

    app = web.Application()
    app.router.add_get("/host.html", page)
    app.router.add_get("/host.js", bundle)
    app.router.add_get("/sandbox.html", sandbox)
    app.router.add_post("/call", call)
    app.router.add_route("*", "/probe", probe)
    async with serve_app(app, sock):
        yield host


def recorded(name: str) -> dict[str, Any]:
    """A fixture result from tests/apps_host/results/<name>.json: written by hand in the gateway's shapes (the
    `_meta` draft and preview, a CallToolResult), with wording chosen to exercise the view, not captured from the
    server; tests/test_publish_preview_gateway.py runs the view against the real gateway's answers."""
    return json.loads((HERE / "results" / f"{name}.json").read_text())
