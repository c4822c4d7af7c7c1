"""Builds the aiohttp application: services first, then routes, then the start-up and shutdown hooks.

Reading order for a request: `gateway.transport` (HTTP rules of Streamable HTTP) → `gateway.credentials`
(header → API key) → `gateway.jsonrpc` (the message) → `gateway.dispatcher` (MCP methods) →
`gateway.tool_runner` (arguments, the call, its result) → `gateway.tools` (one module per StatusPal
resource) → `gateway.statuspal.client` (the upstream call).
"""

from __future__ import annotations

import asyncio

from aiohttp import web

from gateway import ops, server_card, transport
from gateway.client_address import ClientAddresses
from gateway.config import Settings
from gateway.credentials import CredentialResolver
from gateway.dispatcher import Dispatcher, server_info
from gateway.limits import InboundLimits
from gateway.metrics import Metrics
from gateway.oauth import routes as oauth_routes
from gateway.oauth.access import AccessTokenVerifier
from gateway.oauth.client_metadata import MetadataDocuments
from gateway.request_middleware import access_logger
from gateway.resources import DocsResources
from gateway.sealing import Keyring
from gateway.sessions import Sessions
from gateway.state import GATEWAY, Gateway
from gateway.statuspal.client import StatusPalClient
from gateway.statuspal.endpoints import EndpointTable
from gateway.store import RedisStore, open_store
from gateway.tool_runner import ArgumentValidator, ToolRunner
from gateway.tools.catalogue import build_catalogue
from search.lifecycle import DocsIndex


def create_app(
    settings: Settings, *, docs: DocsIndex | None = None, arguments: ArgumentValidator | None = None
) -> web.Application:
    """The gateway as an aiohttp application (the sandbox, when embedded, is started by the CLI beside it).

    `docs`: an index the caller has opened and will close (tests share one); by default the application
    opens `[search] index_dir` in its start-up hook and closes it at shutdown.
    `arguments`: the tools' compiled argument checks, when the caller already has them (tests share one:
    compiling every inputSchema is most of the cost of building an application); by default they are
    compiled here.
    """
    metrics = Metrics()
    app = web.Application(client_max_size=settings.server.max_body_bytes, middlewares=[access_logger(metrics)])
    store = open_store(settings)
    upstream = StatusPalClient(
        settings.statuspal, EndpointTable.from_settings(settings.statuspal), on_call=metrics.upstream_call,
        # Only a store the instances share makes a shared bucket; in one process the client's own is the same and cheaper.
        shared_buckets=store if isinstance(store, RedisStore) else None,
    )
    keyring = Keyring.from_settings(settings)
    addresses = ClientAddresses(settings.server.trusted_proxies)
    limits = InboundLimits(settings.limits, store, addresses)
    owns_docs = docs is None
    if docs is None:
        docs = DocsIndex(settings.path(settings.search.index_dir), settings.search)
    catalogue = build_catalogue()
    if arguments is None:
        arguments = ArgumentValidator(catalogue.tools)
    elif not arguments.covers(catalogue):
        raise ValueError("the argument validator handed in was compiled for other tools")
    resources = DocsResources.from_settings(settings)
    gateway = Gateway(
        settings=settings,
        upstream=upstream,
        credentials=CredentialResolver(settings, upstream, AccessTokenVerifier(settings, keyring, store), limits),
        catalogue=catalogue,
        keyring=keyring,
        store=store,
        metrics=metrics,
        addresses=addresses,
        limits=limits,
        docs=docs,
        resources=resources,
        clients=MetadataDocuments(settings),
    )
    app[GATEWAY] = gateway
    info = server_info(settings)
    runner = ToolRunner(arguments, upstream, docs, metrics, info)
    dispatcher = Dispatcher(catalogue, runner, resources, info, settings.server.tools_page_size)
    sessions = Sessions(keyring, store, settings.store.session_ends_per_hour)

    transport.setup_routes(app, transport.Transport(gateway, dispatcher, sessions))
    oauth_routes.setup_routes(app)
    ops.setup_routes(app)
    server_card.setup_routes(app)

    async def lifecycle(app: web.Application):
        # What can fail comes first, while nothing is open yet: the docs pages (a bad corpus_dir), then the store
        # (Redis unreachable).
        await asyncio.to_thread(resources.load)
        await store.start()
        await upstream.start()
        if owns_docs:
            await docs.start()
        yield
        if owns_docs:
            await docs.stop()
        await upstream.close()
        await store.close()

    app.cleanup_ctx.append(lifecycle)
    return app
