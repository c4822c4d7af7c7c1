"""The per-process services every handler reads, stored once on the aiohttp application.

Handlers get them with ``request.app[GATEWAY]``. Every one is built in `gateway.app.create_app` and none is
per-user, so any instance can answer any request; per-user data lives in the request's credentials only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from aiohttp import web

if TYPE_CHECKING:
    from gateway.auth.sealing import Keyring
    from gateway.config import Settings
    from gateway.oauth.client_metadata import MetadataDocuments
    from gateway.observability.audit import AuditTrail
    from gateway.observability.metrics import Metrics
    from gateway.protocol.resources import DocsResources
    from gateway.statuspal.client import StatusPalClient
    from gateway.store.base import Store
    from gateway.tools.catalogue import Catalogue
    from gateway.web.client_address import ClientAddresses
    from gateway.web.credentials import CredentialResolver
    from gateway.web.limits import InboundLimits
    from search.lifecycle import DocsIndex


@dataclass(frozen=True)
class Gateway:
    """Frozen: a service is handed in whole by `create_app`, never attached to the object later."""

    settings: Settings
    upstream: StatusPalClient
    credentials: CredentialResolver
    catalogue: Catalogue
    keyring: Keyring
    store: Store
    metrics: Metrics
    # The caller's IP address (for per-address limits), through trusted proxies when there are any.
    addresses: ClientAddresses
    # The inbound budgets on /mcp (per address, per key, per address of key checks).
    limits: InboundLimits
    # The docs search index (readyz says not ready until one is loaded).
    docs: DocsIndex
    # The docs pages as MCP resources.
    resources: DocsResources
    # The cache of fetched client metadata documents.
    clients: MetadataDocuments
    # The audit trail: tool writes, sign-ins, grants, refreshes, revocations.
    audit: AuditTrail


GATEWAY = web.AppKey("gateway", Gateway)
