"""Outgoing webhook tools: the organization's webhooks, addressed by their `wbk_…` id.

The signing secret is returned by exactly two tools (create and rotate), because StatusPal shows it only on
those answers; the gateway passes it through to the caller and never logs or keeps it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from gateway.auth.scopes import WRITE
from gateway.tools.base import READ_ONLY, Annotations, Tool, ToolContext, ToolError
from gateway.tools.crud import CREATE, DELETE, UPDATE, Verified, delete_handler, list_handler, send_handler
from gateway.tools.schemas import (
    ALL_STATUS_PAGES,
    EVENTS,
    LIST_ARGUMENTS,
    STATUS_PAGE_SUBDOMAINS,
    WEBHOOK,
    WEBHOOK_ID,
    WEBHOOK_ROTATED,
    WEBHOOK_URL,
    WEBHOOK_WITH_SECRET,
    boolean,
    deleted,
    listing,
    obj,
    text,
    written,
)
from gateway.tools.verify import CHECK_API, MISSING, Check, show

_KEY = ("webhook_id",)
_FIELDS = {
    "name": text("For your reference."),
    "url": WEBHOOK_URL,
    "events": EVENTS,
    "enabled": boolean("false pauses deliveries."),
    "all_status_pages": ALL_STATUS_PAGES,
    "status_page_subdomains": STATUS_PAGE_SUBDOMAINS,
}
_WRITABLE = tuple(_FIELDS)
# Creating, re-pointing or re-keying a webhook changes what StatusPal sends outside itself (the open-world rule in
# gateway/tools/base.py): the receiver at `url` starts getting deliveries, or rejects them until it has the new
# secret. Deleting one only stops deliveries, so it stays closed-world.
_CREATE = replace(CREATE, open_world=True)
_UPDATE = replace(UPDATE, open_world=True)
# A new secret invalidates the old one at once, and every call makes another: destructive, not idempotent.
_ROTATE = Annotations(read_only=False, destructive=True, idempotent=False, open_world=True)


def _page_scope(args: dict[str, Any]) -> dict[str, Any]:
    """StatusPal takes either all pages or a list of subdomains, never both; a list implies not all pages."""
    if "status_page_subdomains" not in args:
        return args
    if args.get("all_status_pages") is True:
        raise ToolError(
            "all_status_pages: true and status_page_subdomains exclude each other: pass the subdomains alone to "
            "limit the webhook to those pages, or all_status_pages: true alone for every page."
        )
    return {**args, "all_status_pages": False}


_EVERY_PAGE = "every page"


def _applied_scope(record: Mapping[str, Any]) -> Any:
    """The pages a webhook fires for, as StatusPal's record says: every page, or the sorted subdomains."""
    every = record.get("all_status_pages", MISSING)
    if every is True:
        return _EVERY_PAGE
    pages = record.get("status_page_subdomains", MISSING)
    if every is False and isinstance(pages, list):
        return sorted(str(p) for p in pages)
    return MISSING


def _show_scope(scope: Any) -> str:
    return "every status page of the organization" if scope == _EVERY_PAGE else f"only the pages {show(scope)}"


def _scope_checks(args: dict[str, Any], payload: dict[str, Any]) -> tuple[Check, ...]:
    """A webhook's page scope spans two fields, so it is checked as one: a StatusPal that ignored the
    subdomains would fire the webhook for every page, which the caller asked it not to."""
    asked: Any
    if "status_page_subdomains" in payload:
        name, asked = "status_page_subdomains", sorted(payload["status_page_subdomains"])
    elif payload.get("all_status_pages") is True:
        name, asked = "all_status_pages", _EVERY_PAGE
    else:
        return ()
    return (Check(name, asked, _applied_scope, "the webhook's page scope", render=_show_scope),)


VERIFIED = Verified(
    noun="webhook",
    get="webhooks_get",
    get_tool="get_webhook",
    fix_tool="update_webhook",
    key={"webhook_id": "id"},
    public={
        "name": "the webhook's name",
        "url": "the webhook's delivery URL",
        "events": "the webhook's event list",
        "enabled": "the webhook's enabled flag",
    },
    where="at StatusPal",
    extra=_scope_checks,
)


async def _rotate(ctx: ToolContext, args: dict[str, Any]) -> dict[str, Any]:
    """Rotate, and refuse to call it done unless the answer carries a new secret for this webhook: the
    rotation route is StatusPal's action name read as a Rails member route, never seen answering."""
    webhook_id = args["webhook_id"]
    record = dict((await ctx.upstream.call("webhooks_rotate_secret", {"webhook_id": webhook_id})).data or {})
    secret = record.get("secret")
    other = record.get("id")
    if isinstance(secret, str) and secret and other in (None, webhook_id):
        return record
    applied = f"webhook {other!r}" if other not in (None, webhook_id) else "no secret in its answer"
    raise ToolError(
        f"StatusPal accepted the rotation of webhook {webhook_id!r} but answered with {applied}, so this is not a "
        "success: if the secret was replaced, the old one no longer verifies deliveries and the new one cannot be "
        "read back. Live at StatusPal now: unknown which secret signs deliveries. Keep the old secret in the "
        f"receiver and watch whether deliveries still verify (get_webhook shows the last attempts); {CHECK_API}, "
        "since this StatusPal may rotate secrets differently."
    )


def _create_scope(args: dict[str, Any]) -> dict[str, Any]:
    if args.get("all_status_pages") is False and "status_page_subdomains" not in args:
        raise ToolError(
            "all_status_pages: false needs status_page_subdomains, the pages the webhook should fire for."
        )
    return _page_scope(args)


# The toolsets of a surface URL that include these tools (`gateway.auth.surfaces.TOOLSETS`).
TOOLSETS = frozenset({"webhooks"})

TOOLS: tuple[Tool, ...] = (
    Tool(
        toolsets=TOOLSETS,
        name="list_webhooks",
        title="List outgoing webhooks",
        description=(
            "List the organization's outgoing webhooks: URL, events, enabled, page scope, last delivery times "
            "(last_attempted_at after last_triggered_at: failing). Gives the wbk_ id the webhook tools need; never the "
            "secret (lost: rotate_webhook_secret). One webhook: get_webhook."
        ),
        input_schema=obj(LIST_ARGUMENTS),
        output_schema=listing(WEBHOOK),
        annotations=READ_ONLY,
        handler=list_handler("webhooks_list"),
    ),
    Tool(
        toolsets=TOOLSETS,
        name="get_webhook",
        title="Get an outgoing webhook",
        description=(
            "Get one webhook to check before changing it, or whether its deliveries fail (last_attempted_at after "
            "last_triggered_at). Never the secret: replace a lost one with rotate_webhook_secret. Ids: list_webhooks."
        ),
        input_schema=obj({"webhook_id": WEBHOOK_ID}, _KEY),
        output_schema=WEBHOOK,
        annotations=READ_ONLY,
        handler=send_handler("webhooks_get", _KEY),
    ),
    Tool(
        toolsets=TOOLSETS,
        name="create_webhook",
        title="Create an outgoing webhook",
        description=(
            "Create an outgoing webhook: from now on StatusPal POSTs signed JSON to url, outside StatusPal, per "
            "event, for all or listed pages. The result holds the signing secret this once: give it to the user. "
            "Changes: update_webhook."
        ),
        input_schema=obj(_FIELDS, ("name", "url", "events")),
        output_schema=WEBHOOK_WITH_SECRET,
        annotations=_CREATE,
        scope=WRITE,
        handler=send_handler("webhooks_create", (), _WRITABLE, prepare=_create_scope, verify=VERIFIED),
    ),
    Tool(
        toolsets=TOOLSETS,
        name="update_webhook",
        title="Update an outgoing webhook",
        description=(
            "Change a webhook's name, URL, events or page scope, or pause it (enabled: false); the next delivery "
            "goes to the new URL. The signing secret is kept: to replace it use rotate_webhook_secret; to remove, "
            "delete_webhook."
        ),
        input_schema=obj(
            {
                "webhook_id": WEBHOOK_ID,
                **_FIELDS,
                "events": {**EVENTS, "description": "Replaces the whole list."},
                "status_page_subdomains": {**STATUS_PAGE_SUBDOMAINS, "description": "Replaces the whole list."},
            },
            _KEY,
        ),
        output_schema=written(WEBHOOK, "enabled"),
        annotations=_UPDATE,
        scope=WRITE,
        handler=send_handler(
            "webhooks_update", _KEY, _WRITABLE, prepare=_page_scope, require_change=True, verify=VERIFIED
        ),
    ),
    Tool(
        toolsets=TOOLSETS,
        name="rotate_webhook_secret",
        title="Rotate a webhook's signing secret",
        description=(
            "Replace a webhook's signing secret, returned this once; the old one stops working at once, so the "
            "receiver rejects deliveries until updated. For a leaked or lost secret; else update_webhook."
        ),
        input_schema=obj({"webhook_id": WEBHOOK_ID}, _KEY),
        output_schema=WEBHOOK_ROTATED,
        annotations=_ROTATE,
        scope=WRITE,
        handler=_rotate,
    ),
    Tool(
        toolsets=TOOLSETS,
        name="delete_webhook",
        title="Delete an outgoing webhook",
        description=(
            "Permanently delete an outgoing webhook: deliveries stop at once (recreating gives a new id and "
            "secret). To pause deliveries instead use update_webhook with enabled: false."
        ),
        input_schema=obj({"webhook_id": WEBHOOK_ID}, _KEY),
        output_schema=deleted(*_KEY),
        annotations=DELETE,
        scope=WRITE,
        handler=delete_handler("webhooks_delete", _KEY),
    ),
)
