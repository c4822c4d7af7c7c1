"""Shared fixtures: real servers on ephemeral loopback ports.

Sockets are bound before the settings are built, so the gateway's `public_url`, allowed hosts and the
port it serves on always agree (no race for a "free" port between picking and binding it).
"""

from __future__ import annotations

import functools
import gc
import socket
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from gateway.config import DEFAULT_CONFIG, Settings, load_settings
from gateway.protocol.arguments import ArgumentValidator
from gateway.statuspal.endpoints import EndpointTable
from gateway.tools.catalogue import build_catalogue

DEMO_KEY = "sk_sandbox_demo"


@functools.cache
def shared_arguments() -> ArgumentValidator:
    """The tools' argument checks, compiled once per test session: no setting changes the tools, and compiling
    every inputSchema was most of the cost of building a test gateway."""
    return ArgumentValidator(build_catalogue().tools)


def bound_socket(host: str = "127.0.0.1") -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, 0))
    sock.listen(128)
    sock.setblocking(False)
    return sock


@dataclass
class RunningServer:
    url: str
    app: web.Application
    settings: Settings | None = None

    @property
    def mcp_url(self) -> str:
        return f"{self.url}/mcp"


@asynccontextmanager
async def serve_app(app: web.Application, sock: socket.socket) -> AsyncIterator[str]:
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=2)
    await runner.setup()
    site = web.SockSite(runner, sock)
    await site.start()
    host, port = sock.getsockname()[:2]
    try:
        yield f"http://{host}:{port}"
    finally:
        await runner.cleanup()


def gateway_settings(
    port: int,
    upstream_url: str,
    env: Mapping[str, str] | None = None,
    **sections: Mapping[str, Any],
) -> Settings:
    """Settings for a test gateway on `port` whose upstream is `upstream_url` (a sandbox)."""
    origin = f"http://127.0.0.1:{port}"
    overrides: dict[str, dict[str, Any]] = {
        "server": {
            "port": port,
            "public_url": origin,
            "allowed_hosts": (f"127.0.0.1:{port}", f"localhost:{port}"),
            "allowed_origins": (origin, f"http://localhost:{port}"),
        },
        # The client paces each key to StatusPal's limit (10 calls a second), which the sandbox does not have: a
        # test making dozens of calls would mostly wait. Tests of the pacing itself set their own rate.
        "statuspal": {"base_url": f"{upstream_url}/api/v1", "retry_backoff_seconds": 0.01, "rate_per_second": 1000.0, "rate_burst": 1000},
        "sandbox": {"embedded": False},
    }
    for name, values in sections.items():
        overrides.setdefault(name, {}).update(values)
    return load_settings(DEFAULT_CONFIG, env=env or {}, overrides=overrides)


@pytest.fixture(scope="session")
async def sandbox() -> AsyncIterator[RunningServer]:
    """One sandbox for the session; tests that need a clean slate call POST /_sandbox/reset."""
    from sandbox.app import create_sandbox_app
    from sandbox.settings import SandboxSettings

    app = create_sandbox_app(SandboxSettings(embedded=False, port=0), EndpointTable())
    sock = bound_socket()
    async with serve_app(app, sock) as url:
        yield RunningServer(url=url, app=app)


@pytest.fixture(scope="session")
def sandbox_url(sandbox: RunningServer) -> str:
    return sandbox.url


@pytest.fixture
async def sandbox_admin(sandbox_url: str) -> AsyncIterator[SandboxAdmin]:
    async with aiohttp.ClientSession() as http:
        admin = SandboxAdmin(sandbox_url, http)
        await admin.reset()
        yield admin
        await admin.faults()


@dataclass
class SandboxAdmin:
    """The sandbox's admin endpoints, for tests that inject faults or inspect what reached the upstream."""

    url: str
    http: aiohttp.ClientSession

    async def reset(self) -> None:
        async with self.http.post(f"{self.url}/_sandbox/reset") as r:
            assert r.status in (200, 204), await r.text()

    async def faults(self, **faults: Any) -> None:
        async with self.http.post(f"{self.url}/_sandbox/faults", json=faults) as r:
            assert r.status in (200, 204), await r.text()

    async def add_key(self, key: str, revoked: bool = False) -> None:
        async with self.http.post(f"{self.url}/_sandbox/keys", json={"key": key, "revoked": revoked}) as r:
            assert r.status in (200, 201, 204), await r.text()

    async def requests(self) -> list[dict[str, Any]]:
        async with self.http.get(f"{self.url}/_sandbox/requests") as r:
            body = await r.json()
            return body["data"] if isinstance(body, dict) and "data" in body else body

    async def clear_requests(self) -> None:
        async with self.http.delete(f"{self.url}/_sandbox/requests") as r:
            assert r.status in (200, 204), await r.text()


class Gateways:
    """Starts gateways in front of the session's sandbox and stops them all at `close`.

    A gateway on the session's index directory is handed the session's open index rather than opening its own
    (~0.2 s each); one configured with another `index_dir` opens that one itself, as in production.
    """

    def __init__(self, sandbox_url: str, docs_index_dir: Path, docs_index: Any) -> None:
        self._sandbox_url = sandbox_url
        self._docs_index_dir = docs_index_dir
        self._docs_index = docs_index
        self._running: list[Any] = []

    async def start(
        self, env: Mapping[str, str] | None = None, extra_tools: tuple[Any, ...] = (), **sections: Mapping[str, Any],
    ) -> RunningServer:
        from gateway.app import create_app

        sock = bound_socket()
        port = sock.getsockname()[1]
        # The session's own docs index, so gateway tests never depend on a prior `make index`.
        sections = {**sections, "search": {"index_dir": str(self._docs_index_dir), **sections.get("search", {})}}
        settings = gateway_settings(port, self._sandbox_url, env=env, **sections)
        shared = settings.path(settings.search.index_dir) == Path(self._docs_index_dir)
        app = create_app(
            settings, docs=self._docs_index if shared else None, extra_tools=extra_tools,
            # The shared compiled checks cover exactly the catalogue; a gateway with test tools compiles its own.
            arguments=None if extra_tools or sections.get("audit", {}).get("history") else shared_arguments(),
        )
        cm = serve_app(app, sock)
        url = await cm.__aenter__()
        self._running.append(cm)
        return RunningServer(url=url, app=app, settings=settings)

    async def close(self) -> None:
        for cm in reversed(self._running):
            await cm.__aexit__(None, None, None)


@pytest.fixture
async def make_gateway(sandbox_url: str, docs_index_dir, docs_index):
    """Factory: `await make_gateway(server={...}, oauth={...}, env={...})` → RunningServer, stopped after the test.
    For a test that changes settings, or state in the gateway (caches, counters, store) a later test would see."""
    gateways = Gateways(sandbox_url, docs_index_dir, docs_index)
    yield gateways.start
    await gateways.close()


@pytest.fixture(scope="module")
async def make_module_gateway(sandbox_url: str, docs_index_dir, docs_index):
    """The same factory, for gateways one test module shares (stopped after the module): starting a gateway costs
    more than most tests that use one, so tests that leave no trace in it share it."""
    gateways = Gateways(sandbox_url, docs_index_dir, docs_index)
    yield gateways.start
    await gateways.close()


@pytest.fixture(scope="module")
async def module_gateway(make_module_gateway) -> RunningServer:
    """One gateway with default settings for a whole test module."""
    return await make_module_gateway()


@pytest.fixture
async def gateway(module_gateway: RunningServer, sandbox_admin) -> RunningServer:
    """The module's default-settings gateway in front of a freshly reset sandbox. Shared: a test that changes the
    gateway's own state (key-check caches, counters, sessions, its store) in a way a later test could notice
    starts its own with `make_gateway` instead."""
    return module_gateway


@pytest.fixture
def gateway_url(gateway: RunningServer) -> str:
    return gateway.url


@pytest.fixture(scope="session")
def docs_index_dir(tmp_path_factory):
    """The docs corpus indexed once per session into a temporary folder, links on the default docs URL."""
    from search.build import build_index
    from search.settings import SearchSettings

    path = tmp_path_factory.mktemp("docs-index")
    build_index(Path(DEFAULT_CONFIG).parent / "docs_corpus", path, SearchSettings().docs_base_url)
    return path


@pytest.fixture(scope="session")
def docs_index(docs_index_dir):
    """A `search.lifecycle.DocsIndex` open on `docs_index_dir` (one per session: opening costs ~0.2 s)."""
    from search.lifecycle import DocsIndex
    from search.settings import SearchSettings

    return DocsIndex.open(docs_index_dir, SearchSettings())


@pytest.hookimpl(wrapper=True)
def pytest_collection(session: pytest.Session) -> Any:
    """Collecting imports the suite: objects that live until the session ends, so the collector's passes over
    them are wasted (about 1.3 s of CPU per process). Off while collecting; then frozen, so the passes during
    the tests (which allocate a lot: servers, clients, hypothesis) skip them too, and so does the one at exit."""
    gc.disable()
    try:
        return (yield)
    finally:
        gc.enable()
        gc.freeze()


@pytest.fixture(scope="module")
async def apps_browser() -> AsyncIterator[Any]:
    """Headless Debian Chromium, for the login page's tests and the publish preview's."""
    import shutil

    from playwright.async_api import async_playwright

    from tests.test_login_browser import CHROMIUM, CHROMIUM_ARGS

    if not shutil.which(CHROMIUM):
        pytest.fail("Chromium is not installed at /usr/bin/chromium: run `make system-deps`")
    async with async_playwright() as pw:
        chromium = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        await chromium.close()


@pytest.fixture(scope="module")
async def apps_host(tmp_path_factory) -> AsyncIterator[Any]:
    """The test host for MCP Apps views (tests/apps_host), its script bundled from the view's pinned packages."""
    from tests.apps_host.server import build_host_script, serve_test_host

    script = build_host_script(tmp_path_factory.mktemp("apps-host") / "host.js")
    async with serve_test_host(script) as served:
        yield served
