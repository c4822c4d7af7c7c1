"""What every sandbox operation is handed (`Call`) and the few things most of them share.

An operation gets a `Call` (the caller's organization, path parameters, body, query) and returns the
`data` to send (or a full `{data, meta}` envelope for lists, or None for 204). The HTTP layer in
`sandbox.app` picks the status from the endpoint table, so the table stays the one source of truth for
paths, methods and success codes; the operations only know what each one does.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from gateway.statuspal.endpoints import MAX_PER_PAGE, Endpoint
from gateway.statuspal.notice_wire import NoticeWire
from sandbox.models import Organization, StatusPage, iso
from sandbox.validate import Fields, found, invalid

DEFAULT_PER_PAGE = 20


@dataclass
class Call:
    org: Organization
    params: Mapping[str, str]
    body: dict[str, Any]
    query: Mapping[str, str]
    endpoint: Endpoint
    now: datetime
    # Every organization: subdomains are host names, so they are unique across all of StatusPal.
    orgs: Iterable[Organization]
    # The names and shapes notices are served in (the same mapping the gateway reads).
    wire: NoticeWire
    # False: unknown body keys are dropped silently, as a Rails server does, instead of a 422.
    strict: bool = True

    @property
    def stamp(self) -> str:
        return iso(self.now)

    def fields(self) -> Fields:
        return Fields(self.body, self.endpoint.body_fields, strict=self.strict)


Handler = Callable[[Call], Any]


def paginate(call: Call, items: list[Any], render: Callable[[Any], dict[str, Any]]) -> dict[str, Any]:
    """One page of `items` as StatusPal lists answer: `?page=&per_page=` in, `{data, meta}` out."""
    errors: dict[str, list[str]] = {}
    page = _positive_int(call.query, "page", 1, errors)
    per_page = _positive_int(call.query, "per_page", DEFAULT_PER_PAGE, errors)
    if per_page > MAX_PER_PAGE:
        errors.setdefault("per_page", []).append(f"must be less than or equal to {MAX_PER_PAGE}")
    if errors:
        raise invalid(errors)
    start = (page - 1) * per_page
    return {
        "data": [render(item) for item in items[start : start + per_page]],
        "meta": {
            "current_page": page,
            "per_page": per_page,
            "total_count": len(items),
            "total_pages": math.ceil(len(items) / per_page),
        },
    }


def _positive_int(query: Mapping[str, str], name: str, default: int, errors: dict[str, list[str]]) -> int:
    text = query.get(name)
    if text is None:
        return default
    if not text.isdigit() or int(text) < 1:
        errors.setdefault(name, []).append("must be an integer greater than or equal to 1")
        return default
    return int(text)


def find_page(call: Call) -> StatusPage:
    """The status page named by the path's `{subdomain}`, in the caller's own organization."""
    return found(call.org.pages.get(call.params["subdomain"]))
