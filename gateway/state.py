"""The per-process services every handler reads, stored once on the aiohttp application.

Handlers get them with ``request.app[GATEWAY]``; nothing here is per-user, so any instance can answer
any request (DESIGN decision 2). Per-user data lives in the request's credentials only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from aiohttp import web

if TYPE_CHECKING:
    from gateway.client_address import ClientAddresses
    from gateway.config import Settings
    from gateway.credentials import CredentialResolver
    from gateway.limits import InboundLimits
    from gateway.metrics import Metrics
    from gateway.sealing import Keyring
    from gateway.statuspal.client import StatusPalClient
    from gateway.store import Store
    from gateway.surfaces import SurfaceTools
    from gateway.tools.catalogue import Catalogue


@dataclass
class Gateway:
    settings: "Settings"
    upstream: "StatusPalClient"
    credentials: "CredentialResolver"
    catalogue: "Catalogue"
    # The catalogue as each URL's surface shows it (/mcp/readonly, /mcp/pages/{subdomain}, …).
    surfaces: "SurfaceTools"
    keyring: "Keyring"
    store: "Store"
    metrics: "Metrics"
    # The caller's IP address (for per-address limits), through trusted proxies when there are any.
    addresses: "ClientAddresses"
    # The inbound budgets on /mcp (per address, per key, per address of key checks).
    limits: "InboundLimits"
    # search.lifecycle.DocsIndex (readyz says not ready until an index is loaded).
    docs: Any = None
    # gateway.resources.DocsResources: the docs pages as MCP resources.
    resources: Any = None
    # gateway.oauth.registration.MetadataDocuments: the cache of fetched client metadata documents.
    clients: Any = None


GATEWAY = web.AppKey("gateway", Gateway)
