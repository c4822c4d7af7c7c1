"""Status pages: `/status_pages` and `/status_pages/{subdomain}`."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sandbox.call import Call, Handler, find_page, paginate
from sandbox.models import NOTIFICATION_DEFAULTS, Container, StatusPage, new_uuid
from sandbox.validate import MISSING, SUBDOMAIN, Fields


def render_page(page: StatusPage, now: datetime) -> dict[str, Any]:
    return {
        "id": page.id,
        "subdomain": page.subdomain,
        "name": page.name,
        "timezone": page.timezone,
        "website_url": page.website_url,
        "current_status": page.current_status(now),
        "require_authentication": page.require_authentication,
        "notification_settings": dict(page.notification_settings),
        "created_at": page.created_at,
        "updated_at": page.updated_at,
    }


def _page_fields(call: Call, f: Fields, creating: bool, page: StatusPage | None = None) -> dict[str, Any]:
    values = {
        "name": f.string("name", required=creating),
        "subdomain": f.slug("subdomain", SUBDOMAIN, required=creating),
        "timezone": f.timezone("timezone", required=creating),
        "website_url": f.url("website_url", required=creating),
        "require_authentication": f.boolean("require_authentication"),
    }
    settings = f.object("notification_settings")
    if settings is not MISSING:
        merged = dict(page.notification_settings if page else NOTIFICATION_DEFAULTS)
        for key, value in settings.items():
            if key not in NOTIFICATION_DEFAULTS:
                f.add("notification_settings", f"{key} is not a known setting ({', '.join(NOTIFICATION_DEFAULTS)})")
            elif not isinstance(value, bool):
                f.add("notification_settings", f"{key} must be true or false")
            else:
                merged[key] = value
        values["notification_settings"] = merged
    subdomain = values["subdomain"]
    if subdomain is not MISSING and (page is None or subdomain != page.subdomain):
        if any(subdomain in org.pages for org in call.orgs):
            f.add("subdomain", "has already been taken")
    f.check()
    return {k: v for k, v in values.items() if v is not MISSING}


def status_pages_list(call: Call) -> dict[str, Any]:
    return paginate(call, list(call.org.pages.values()), lambda p: render_page(p, call.now))


def status_pages_get(call: Call) -> dict[str, Any]:
    return render_page(find_page(call), call.now)


def status_pages_create(call: Call) -> dict[str, Any]:
    values = _page_fields(call, call.fields(), creating=True)
    page = StatusPage(
        id=new_uuid(),
        subdomain=values["subdomain"],
        name=values["name"],
        timezone=values["timezone"],
        website_url=values["website_url"],
        require_authentication=values.get("require_authentication", False),
        notification_settings=values.get("notification_settings", dict(NOTIFICATION_DEFAULTS)),
        created_at=call.stamp,
        updated_at=call.stamp,
    )
    default = Container(id=new_uuid(), slug="default", name="Default", created_at=call.stamp, updated_at=call.stamp)
    page.containers[default.id] = default
    call.org.pages[page.subdomain] = page
    return render_page(page, call.now)


def status_pages_update(call: Call) -> dict[str, Any]:
    page = find_page(call)
    values = _page_fields(call, call.fields(), creating=False, page=page)
    old = page.subdomain
    for key, value in values.items():
        setattr(page, key, value)
    page.updated_at = call.stamp
    if page.subdomain != old:
        call.org.pages = {(page.subdomain if k == old else k): v for k, v in call.org.pages.items()}
        for webhook in call.org.webhooks.values():
            webhook.status_page_subdomains = [page.subdomain if s == old else s for s in webhook.status_page_subdomains]
    return render_page(page, call.now)


def status_pages_delete(call: Call) -> None:
    page = find_page(call)
    del call.org.pages[page.subdomain]
    for webhook in call.org.webhooks.values():
        webhook.status_page_subdomains = [s for s in webhook.status_page_subdomains if s != page.subdomain]


HANDLERS: dict[str, Handler] = {
    "status_pages_list": status_pages_list,
    "status_pages_get": status_pages_get,
    "status_pages_create": status_pages_create,
    "status_pages_update": status_pages_update,
    "status_pages_delete": status_pages_delete,
}
