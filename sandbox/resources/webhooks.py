"""Outgoing webhooks of an organization (`/outgoing_webhooks`)."""

from __future__ import annotations

from typing import Any

from gateway.statuspal.endpoints import WEBHOOK_EVENTS
from sandbox.call import Call, Handler, paginate
from sandbox.models import Webhook, new_typeid, new_webhook_secret
from sandbox.validate import MISSING, Fields, found


def _webhook(call: Call) -> Webhook:
    return found(call.org.webhooks.get(call.params["webhook_id"]))


def render_webhook(webhook: Webhook, secret: str | None = None) -> dict[str, Any]:
    """The webhook as the API shows it; `secret` only on create and regenerate_secret answers."""
    data: dict[str, Any] = {
        "id": webhook.id,
        "name": webhook.name,
        "url": webhook.url,
        "events": list(webhook.events),
        "enabled": webhook.enabled,
        "all_status_pages": webhook.all_status_pages,
        "last_triggered_at": webhook.last_triggered_at,
        "last_attempted_at": webhook.last_attempted_at,
        "created_at": webhook.created_at,
        "updated_at": webhook.updated_at,
    }
    if not webhook.all_status_pages:  # StatusPal returns the scope only when the webhook is scoped
        data["status_page_subdomains"] = list(webhook.status_page_subdomains)
    if secret is not None:
        data["secret"] = secret
    return data


def _webhook_fields(call: Call, f: Fields, creating: bool, webhook: Webhook | None = None) -> dict[str, Any]:
    values = {
        "name": f.string("name", required=creating),
        "url": f.url("url", required=creating, https_only=True),
        "events": f.string_list("events", required=creating),
        "enabled": f.boolean("enabled"),
        "all_status_pages": f.boolean("all_status_pages"),
        "status_page_subdomains": f.string_list("status_page_subdomains"),
    }
    events = values["events"]
    if events is not MISSING:
        unknown = [e for e in events if e not in WEBHOOK_EVENTS]
        if unknown:
            f.add("events", f"unknown event(s) {', '.join(unknown)}; choose from {', '.join(WEBHOOK_EVENTS)}")
        elif not events:
            f.add("events", "must list at least one event")
    all_pages = values["all_status_pages"]
    if all_pages is MISSING:
        all_pages = webhook.all_status_pages if webhook else True
    subdomains = values["status_page_subdomains"]
    if all_pages:
        # A webhook for all pages also covers pages created later; the server clears any explicit scope.
        values["status_page_subdomains"] = []
    else:
        if subdomains is MISSING:
            subdomains = webhook.status_page_subdomains if webhook else []
        if not subdomains:
            f.add("status_page_subdomains", "can't be blank when all_status_pages is false")
        for subdomain in subdomains:
            if subdomain not in call.org.pages:
                f.add("status_page_subdomains", f"unknown status page {subdomain!r}")
        values["status_page_subdomains"] = subdomains
    f.check()
    return {k: v for k, v in values.items() if v is not MISSING}


def webhooks_list(call: Call) -> dict[str, Any]:
    return paginate(call, list(call.org.webhooks.values()), render_webhook)


def webhooks_get(call: Call) -> dict[str, Any]:
    return render_webhook(_webhook(call))


def webhooks_create(call: Call) -> dict[str, Any]:
    values = _webhook_fields(call, call.fields(), creating=True)
    webhook = Webhook(
        id=new_typeid("wbk"),
        name=values["name"],
        url=values["url"],
        events=values["events"],
        enabled=values.get("enabled", True),
        all_status_pages=values.get("all_status_pages", True),
        status_page_subdomains=values["status_page_subdomains"],
        created_at=call.stamp,
        updated_at=call.stamp,
    )
    call.org.webhooks[webhook.id] = webhook
    return render_webhook(webhook, secret=new_webhook_secret())


def webhooks_update(call: Call) -> dict[str, Any]:
    webhook = _webhook(call)
    for key, value in _webhook_fields(call, call.fields(), creating=False, webhook=webhook).items():
        setattr(webhook, key, value)
    webhook.updated_at = call.stamp
    return render_webhook(webhook)


def webhooks_rotate_secret(call: Call) -> dict[str, Any]:
    webhook = _webhook(call)
    call.fields().check()  # no body fields: anything sent is refused
    webhook.updated_at = call.stamp
    return render_webhook(webhook, secret=new_webhook_secret())


def webhooks_delete(call: Call) -> None:
    del call.org.webhooks[_webhook(call).id]


HANDLERS: dict[str, Handler] = {
    "webhooks_list": webhooks_list,
    "webhooks_get": webhooks_get,
    "webhooks_create": webhooks_create,
    "webhooks_update": webhooks_update,
    "webhooks_rotate_secret": webhooks_rotate_secret,
    "webhooks_delete": webhooks_delete,
}
