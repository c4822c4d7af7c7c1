"""Builds the aiohttp application: services first, then routes, then the start-up and shutdown hooks.

Reading order for a request: `gateway.web.transport` (HTTP rules of Streamable HTTP) → `gateway.web.credentials`
(header → API key) → `gateway.protocol.jsonrpc` (the message) → `gateway.protocol.dispatcher` (MCP methods) →
`gateway.protocol.pipeline` (arguments, the call, its result) → `gateway.tools` (one module per StatusPal
resource) → `gateway.statuspal.client` (the upstream call).
"""

from __future__ import annotations

import asyncio
import importlib.metadata
from collections.abc import Iterable

from aiohttp import web

from gateway.auth.access import AccessTokenVerifier
from gateway.config import ConfigError, Settings, load_keyring
from gateway.oauth import routes as oauth_routes
from gateway.oauth.client_metadata import MetadataDocuments
from gateway.observability.audit import AuditTrail
from gateway.observability.metrics import Metrics
from gateway.observability.telemetry import Telemetry
from gateway.protocol.arguments import ArgumentValidator
from gateway.protocol.confirm.drafts import Drafts
from gateway.protocol.confirm.flow import Confirmer
from gateway.protocol.confirm.policy import ConfirmPolicy
from gateway.protocol.confirm.view import PublishView
from gateway.protocol.dispatcher import Dispatcher, server_info
from gateway.protocol.pipeline import ToolPipeline
from gateway.protocol.resources import DocsResources
from gateway.statuspal.client import StatusPalClient
from gateway.statuspal.endpoints import EndpointTable
from gateway.store.base import Store
from gateway.store.memory import MemoryStore
from gateway.store.redis import RedisStore
from gateway.tools import history
from gateway.tools.base import Tool
from gateway.tools.catalogue import build_catalogue
from gateway.web import ops, server_card, transport
from gateway.web.client_address import ClientAddresses
from gateway.web.credentials import CredentialResolver
from gateway.web.host import ALONE, HostMetrics, WorkerPlace, name_answers
from gateway.web.limits import InboundLimits
from gateway.web.middleware import access_logger
from gateway.web.services import GATEWAY, Gateway
from gateway.web.sessions import Sessions
from gateway.web.tracing import server_spans
from search.corpus import CorpusError
from search.lifecycle import DocsIndex


def create_app(
    settings: Settings, *, docs: DocsIndex | None = None, arguments: ArgumentValidator | None = None,
    extra_tools: Iterable[Tool] = (), place: WorkerPlace = ALONE,
) -> web.Application:
    """The gateway as an aiohttp application (the sandbox, when embedded, is started by the CLI beside it).

    `docs`: an index the caller has opened and will close (tests share one); by default the application
    opens `[search] index_dir` in its start-up hook and closes it at shutdown.
    `arguments`: the tools' compiled argument checks, when the caller already has them (tests share one:
    compiling every inputSchema is most of the cost of building an application); by default they are
    compiled here.
    `extra_tools`: tools served beside the catalogue's own (`build_catalogue`'s hook).
    `place`: which of the host's worker processes this application serves in (`serve --workers`).
    """
    metrics = Metrics()
    telemetry = Telemetry(settings.telemetry, importlib.metadata.version("statuspal-mcp"))
    telemetry.load()
    # The server span wraps the access middleware, so the access line carries its ids; with traces off there is
    # no such middleware at all.
    middlewares = [server_spans()] if settings.telemetry.traces else []
    app = web.Application(client_max_size=settings.server.max_body_bytes, middlewares=[*middlewares, access_logger(metrics)])
    store = open_store(settings)
    upstream = StatusPalClient(
        settings.statuspal, EndpointTable.from_settings(settings.statuspal), on_call=metrics.upstream_call,
        # Only a store the instances share makes a shared bucket; in one process the client's own is the same and cheaper.
        shared_buckets=store if isinstance(store, RedisStore) else None,
    )
    keyring = load_keyring(settings)
    addresses = ClientAddresses(settings.server.trusted_proxies)
    limits = InboundLimits(settings.limits, store, addresses)
    owns_docs = docs is None
    if docs is None:
        docs = DocsIndex(settings.path(settings.search.index_dir), settings.search)
    audit = AuditTrail(settings.audit, store)
    if audit.keeps_history:
        extra_tools = (*extra_tools, history.TOOL)
    catalogue = build_catalogue(extra_tools)
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
        audit=audit,
        host=HostMetrics(place, metrics),
    )
    app[GATEWAY] = gateway
    name_answers(app, gateway.host)
    info = server_info(settings)
    try:
        policy = ConfirmPolicy(settings.confirm, catalogue.tools)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    confirmer = Confirmer(policy, Drafts(keyring, store, settings.confirm.draft_ttl_seconds, settings.store.entries_per_key))
    pipeline = ToolPipeline(arguments, upstream, docs, metrics, confirmer, audit)
    view = PublishView()
    dispatcher = Dispatcher(catalogue, pipeline, resources, info, settings.server.tools_page_size, view)
    sessions = Sessions(keyring, store, settings.store.session_ends_per_hour, settings.store.entries_per_key)

    transport.setup_routes(app, transport.Transport(gateway, dispatcher, sessions))
    oauth_routes.setup_routes(app)
    ops.setup_routes(app)
    server_card.setup_routes(app)

    async def lifecycle(app: web.Application):
        # What can fail comes first, while nothing is open yet: the docs pages (a bad corpus_dir), then the store
        # (Redis unreachable).
        await asyncio.to_thread(view.load)
        try:
            await asyncio.to_thread(resources.load)
        except CorpusError as exc:
            raise ConfigError(f"[search] corpus_dir: {exc}") from None
        await store.start()
        await upstream.start()
        # Each worker process opens the index itself and so picks up a new build by itself.
        if owns_docs:
            await docs.start()
        await gateway.host.start()
        telemetry.start()  # after what can fail: a failed start-up leaves no exporter thread behind
        yield
        await gateway.host.stop()
        if owns_docs:
            await docs.stop()
        await upstream.close()
        await store.close()
        # Last, so the spans of the requests drained at shutdown are exported; off the loop, as it may wait on the collector.
        await asyncio.to_thread(telemetry.stop)

    app.cleanup_ctx.append(lifecycle)
    return app


def open_store(settings: Settings) -> Store:
    """Redis when ``STATUSPAL_MCP_REDIS_URL`` is set, else memory. Call ``start()`` before use."""
    if settings.secrets.redis_url:
        return RedisStore(settings.secrets.redis_url)
    return MemoryStore(max_marks=settings.store.memory_max_entries, max_counters=settings.store.memory_max_counters)
