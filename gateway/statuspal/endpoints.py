"""The one table of StatusPal Next endpoints the gateway calls.

The upstream client, the sandbox and the docs corpus all read this table; a test fails when they drift
apart. Paths marked ``confirmed=False`` are not shown by any public source (notices and webhook secret
rotation): they can be corrected from config.toml's ``[statuspal.endpoints]`` without touching code, e.g.
``notices_resolve = "POST /status_pages/{subdomain}/notices/{notice_id}/resolve"``. The notices paths may
also be org-scoped (no ``{subdomain}``); the page then travels as ``[statuspal.notices] page_field``. What
a notice's body and answer look like is `gateway.statuspal.notice_wire`; gateway/config.py checks every
override before a table is built from it.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import quote

from gateway.statuspal.notice_wire import NoticeWire

PLACEHOLDER = re.compile(r"\{([a-z_]+)\}")
METHODS = ("GET", "POST", "PATCH", "PUT", "DELETE")


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
    # The path may leave out {subdomain} (an org-scoped route); the page then goes in the body or query.
    page_optional: bool = False

    @functools.cached_property  # read on every upstream call; the path never changes (a frozen dataclass)
    def path_params(self) -> tuple[str, ...]:
        return tuple(PLACEHOLDER.findall(self.path))

    @property
    def org_scoped(self) -> bool:
        """A page-optional endpoint whose path does not name the page."""
        return self.page_optional and "subdomain" not in self.path_params

    def render(self, params: Mapping[str, str]) -> str:
        """Fill the path template; every segment is percent-escaped so an id can never add a path segment."""
        return PLACEHOLDER.sub(lambda m: quote(str(params[m.group(1)]), safe=""), self.path)


PAGE_FIELDS = ("name", "subdomain", "timezone", "website_url", "require_authentication", "notification_settings")
SERVICE_FIELDS = ("name", "slug", "description", "order", "container_statuses")
CONTAINER_FIELDS = ("name", "slug")
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
    # Notices: nothing here is confirmed; body fields come from the NoticeWire mapping (see EndpointTable).
    Endpoint("notices_list", "GET", _PAGE + "/notices", paginated=True, confirmed=False, page_optional=True),
    Endpoint("notices_get", "GET", _NOTICE, confirmed=False, page_optional=True),
    Endpoint("notices_create", "POST", _PAGE + "/notices", confirmed=False, success_status=201, page_optional=True),
    Endpoint("notices_update", "PATCH", _NOTICE, confirmed=False, page_optional=True),
    Endpoint("notices_post_update", "POST", _NOTICE + "/updates", confirmed=False, success_status=201, page_optional=True),
    Endpoint("notices_resolve", "POST", _NOTICE + "/resolve", confirmed=False, page_optional=True),
    Endpoint("notices_close", "POST", _NOTICE + "/close", confirmed=False, page_optional=True),
    Endpoint("notices_delete", "DELETE", _NOTICE, confirmed=False, success_status=204, page_optional=True),
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


def split_route(spec: str) -> tuple[str, str]:
    """`"post /a/{b}"` -> `("POST", "/a/{b}")`; gateway/config.py checks the parts before a table uses them."""
    method, _, path = spec.strip().partition(" ")
    return method.upper(), path.strip()


class EndpointTable:
    """The endpoint table after config overrides, looked up by name, with the notice wire mapping beside it.

    `routes` are "METHOD /path" overrides and `notices` the notice mapping, both already checked by
    gateway/config.py (`EndpointTable.from_settings`); the notices endpoints' body fields are the mapping's
    wire names, so the client refuses to send, and the strict sandbox to accept, anything else.
    """

    def __init__(self, routes: Mapping[str, str] | None = None, notices: NoticeWire | None = None) -> None:
        self.notices = notices or NoticeWire()
        table = {e.name: e for e in DEFAULT_ENDPOINTS}
        for name, spec in (routes or {}).items():
            method, path = split_route(spec)
            table[name] = replace(table[name], method=method, path=path)
        for name, endpoint in table.items():
            if endpoint.page_optional:
                table[name] = replace(endpoint, body_fields=self.notices.body_fields(name, endpoint.org_scoped))
        self._table = table

    @classmethod
    def from_settings(cls, statuspal: Any) -> EndpointTable:
        """The table a `StatusPalSettings` describes (its `endpoints` and `notices`)."""
        return cls(statuspal.endpoints, statuspal.notices)

    def __getitem__(self, name: str) -> Endpoint:
        return self._table[name]

    def __iter__(self) -> Iterator[Endpoint]:
        return iter(self._table.values())

    def __len__(self) -> int:
        return len(self._table)
