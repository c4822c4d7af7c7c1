"""The one table of StatusPal Next endpoints the gateway calls.

The upstream client, the sandbox and the docs corpus all read this table; a test fails when they drift
apart. Paths marked ``confirmed=False`` are not shown by any public source (notices and webhook secret
rotation, see shared/reference/statuspal-next-api.md §3.5): they can be corrected from config.toml's
``[statuspal.endpoints]`` without touching code, e.g. ``notices_resolve = "POST /status_pages/{subdomain}/notices/{notice_id}/resolve"``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import Mapping
from urllib.parse import quote

_PARAM = re.compile(r"\{([a-z_]+)\}")


@dataclass(frozen=True)
class Endpoint:
    name: str
    method: str
    path: str
    # Body fields the gateway may send (top-level, unwrapped JSON, as StatusPal Next expects).
    body_fields: tuple[str, ...] = ()
    paginated: bool = False
    confirmed: bool = True
    # Expected success status (201 for creates, 204 for deletes, 200 otherwise).
    success_status: int = 200

    @property
    def path_params(self) -> tuple[str, ...]:
        return tuple(_PARAM.findall(self.path))

    def render(self, params: Mapping[str, str]) -> str:
        """Fill the path template; every segment is percent-escaped so an id can never add a path segment."""
        return _PARAM.sub(lambda m: quote(str(params[m.group(1)]), safe=""), self.path)


PAGE_FIELDS = ("name", "subdomain", "timezone", "website_url", "require_authentication", "notification_settings")
SERVICE_FIELDS = ("name", "slug", "description", "order", "container_statuses")
CONTAINER_FIELDS = ("name", "slug")
NOTICE_FIELDS = ("title", "notice_type", "severity", "starts_at", "ends_at", "message", "affected", "notify")
WEBHOOK_FIELDS = ("name", "url", "events", "enabled", "all_status_pages", "status_page_subdomains")

_PAGE = "/status_pages/{subdomain}"
_NOTICE = _PAGE + "/notices/{notice_id}"

DEFAULT_ENDPOINTS: tuple[Endpoint, ...] = (
    Endpoint("status_pages_list", "GET", "/status_pages", paginated=True),
    Endpoint("status_pages_get", "GET", _PAGE),
    Endpoint("status_pages_create", "POST", "/status_pages", PAGE_FIELDS, success_status=201),
    Endpoint("status_pages_update", "PATCH", _PAGE, PAGE_FIELDS),
    Endpoint("status_pages_delete", "DELETE", _PAGE, success_status=204),
    Endpoint("services_list", "GET", _PAGE + "/services", paginated=True),
    Endpoint("services_get", "GET", _PAGE + "/services/{slug}"),
    Endpoint("services_create", "POST", _PAGE + "/services", SERVICE_FIELDS, success_status=201),
    Endpoint("services_update", "PATCH", _PAGE + "/services/{slug}", SERVICE_FIELDS),
    Endpoint("services_delete", "DELETE", _PAGE + "/services/{slug}", success_status=204),
    Endpoint("containers_list", "GET", _PAGE + "/containers", paginated=True),
    Endpoint("containers_get", "GET", _PAGE + "/containers/{slug}"),
    Endpoint("containers_create", "POST", _PAGE + "/containers", CONTAINER_FIELDS, success_status=201),
    Endpoint("containers_update", "PATCH", _PAGE + "/containers/{slug}", CONTAINER_FIELDS),
    Endpoint("containers_delete", "DELETE", _PAGE + "/containers/{slug}", success_status=204),
    Endpoint("notices_list", "GET", _PAGE + "/notices", paginated=True, confirmed=False),
    Endpoint("notices_get", "GET", _NOTICE, confirmed=False),
    Endpoint("notices_create", "POST", _PAGE + "/notices", NOTICE_FIELDS, confirmed=False, success_status=201),
    Endpoint("notices_update", "PATCH", _NOTICE, ("title", "severity", "starts_at", "ends_at", "affected"), confirmed=False),
    Endpoint("notices_post_update", "POST", _NOTICE + "/updates", ("message", "notify"), confirmed=False, success_status=201),
    Endpoint("notices_resolve", "POST", _NOTICE + "/resolve", ("message", "notify"), confirmed=False),
    Endpoint("notices_close", "POST", _NOTICE + "/close", ("message", "notify"), confirmed=False),
    Endpoint("notices_delete", "DELETE", _NOTICE, confirmed=False, success_status=204),
    Endpoint("webhooks_list", "GET", "/outgoing_webhooks", paginated=True),
    Endpoint("webhooks_get", "GET", "/outgoing_webhooks/{webhook_id}"),
    Endpoint("webhooks_create", "POST", "/outgoing_webhooks", WEBHOOK_FIELDS, success_status=201),
    Endpoint("webhooks_update", "PATCH", "/outgoing_webhooks/{webhook_id}", WEBHOOK_FIELDS),
    Endpoint("webhooks_rotate_secret", "POST", "/outgoing_webhooks/{webhook_id}/regenerate_secret", confirmed=False),
    Endpoint("webhooks_delete", "DELETE", "/outgoing_webhooks/{webhook_id}", success_status=204),
)

WEBHOOK_EVENTS = ("service.status_changed", "notice.created", "notice.update_posted", "notice.updated")
SERVICE_STATUSES = ("ok", "minor", "major", "maintenance")
PAGE_STATUSES = ("operational", "degraded", "unavailable")
MAX_PER_PAGE = 100


class EndpointTable:
    """The endpoint table after config overrides, looked up by name."""

    def __init__(self, overrides: Mapping[str, str] | None = None) -> None:
        table = {e.name: e for e in DEFAULT_ENDPOINTS}
        for name, spec in (overrides or {}).items():
            if name not in table:
                raise ValueError(f"unknown endpoint in [statuspal.endpoints]: {name}")
            method, _, path = spec.strip().partition(" ")
            method, path = method.upper(), path.strip()
            if method not in ("GET", "POST", "PATCH", "PUT", "DELETE") or not path.startswith("/"):
                raise ValueError(f"[statuspal.endpoints] {name} must look like 'METHOD /path', got {spec!r}")
            if set(_PARAM.findall(path)) != set(table[name].path_params):
                raise ValueError(
                    f"[statuspal.endpoints] {name} must use the parameters {sorted(table[name].path_params)}, got {spec!r}"
                )
            table[name] = replace(table[name], method=method, path=path)
        self._table = table

    def __getitem__(self, name: str) -> Endpoint:
        return self._table[name]

    def __iter__(self):
        return iter(self._table.values())

    def __len__(self) -> int:
        return len(self._table)
