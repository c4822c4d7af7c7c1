"""The sandbox's operations, one module per StatusPal resource, and the registry that names them.

Each resource module lists its own operations in a `HANDLERS` table keyed by endpoint name; `HANDLERS`
here joins those tables. `sandbox.app` routes every endpoint of the endpoint table to its entry, and a
test holds the two sets equal, so an endpoint without an operation (or the reverse) cannot ship.
"""

from __future__ import annotations

from collections.abc import Mapping

from sandbox.call import Handler
from sandbox.resources import containers, notices, services, status_pages, webhooks


def _join(*tables: Mapping[str, Handler]) -> dict[str, Handler]:
    joined: dict[str, Handler] = {}
    for table in tables:
        for name, handler in table.items():
            # Two modules claiming one endpoint would silently shadow one of them.
            if name in joined:
                raise ValueError(f"two sandbox operations for endpoint {name}")
            joined[name] = handler
    return joined


HANDLERS: dict[str, Handler] = _join(
    status_pages.HANDLERS,
    services.HANDLERS,
    containers.HANDLERS,
    notices.HANDLERS,
    webhooks.HANDLERS,
)
