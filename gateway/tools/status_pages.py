"""Status page tools: list, get, create, update, delete. Pages are addressed by subdomain."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from gateway.auth.scopes import WRITE
from gateway.tools.base import READ_ONLY, Tool, ToolContext, ToolError
from gateway.tools.clock import with_local_now
from gateway.tools.crud import CREATE, DELETE, UPDATE, Verified, delete_handler, list_handler, send_handler
from gateway.tools.schemas import LIST_ARGUMENTS, NEW_SUBDOMAIN, PAGE_SETTINGS, STATUS_PAGE, SUBDOMAIN, deleted, listing, obj, written

_KEY = ("subdomain",)

_UPDATABLE = tuple(PAGE_SETTINGS)
NOTIFICATION_KEYS = tuple(PAGE_SETTINGS["notification_settings"]["properties"])

VERIFIED = Verified(
    noun="status page",
    get="status_pages_get",
    get_tool="get_status_page",
    fix_tool="update_status_page",
    key={"subdomain": "subdomain"},
    public={
        "subdomain": "the page's subdomain",
        "name": "the page's title",
        "timezone": "the page's time zone",
        "website_url": "the page's website link",
        "require_authentication": "require_authentication (true: only signed-in members see the page)",
        "notification_settings": "the page's subscription channels",
    },
)

_create = send_handler(
    "status_pages_create", (), ("subdomain", *_UPDATABLE), verify=VERIFIED, settle_by="subdomain",
    retry_tool="create_status_page",
)
_update = send_handler("status_pages_update", _KEY, _UPDATABLE, require_change=True, verify=VERIFIED)
_get = send_handler("status_pages_get", _KEY)


async def _get_page(ctx: ToolContext, args: dict[str, Any]) -> Mapping[str, Any]:
    """The page, plus what time it is there: scheduling "this Sunday 02:00" needs today's date in its zone."""
    return with_local_now(await _get(ctx, args))


async def _update_page(ctx: ToolContext, args: dict[str, Any]) -> Mapping[str, Any]:
    """Send every notification setting, the ones not mentioned at their current values.

    No public source says whether StatusPal merges a partial `notification_settings` or replaces the
    object, filling the keys left out with their defaults; replacing would silently switch email
    subscriptions back on. Reading the page first and sending all three keys is right either way."""
    asked = args.get("notification_settings")
    if asked is not None and set(asked) != set(NOTIFICATION_KEYS):
        page = (await ctx.upstream.call("status_pages_get", {"subdomain": args["subdomain"]})).data or {}
        current = page.get("notification_settings") if isinstance(page, dict) else None
        current = current if isinstance(current, dict) else {}
        unknown = [k for k in NOTIFICATION_KEYS if k not in asked and not isinstance(current.get(k), bool)]
        if unknown:
            raise ToolError(
                f"StatusPal's copy of page {args['subdomain']!r} does not show notification_settings "
                f"{', '.join(unknown)}, so changing only some settings could reset the others to their defaults. "
                f"Pass all of {', '.join(NOTIFICATION_KEYS)} in notification_settings."
            )
        args = {**args, "notification_settings": {k: asked[k] if k in asked else current[k] for k in NOTIFICATION_KEYS}}
    return await _update(ctx, args)

# The toolsets of a surface URL that include these tools (`gateway.auth.surfaces.TOOLSETS`).
TOOLSETS = frozenset({"pages"})

TOOLS: tuple[Tool, ...] = (
    Tool(
        # Every toolset whose tools take a page's subdomain keeps the lookup that shows them.
        toolsets=TOOLSETS | {"services", "containers", "notices", "webhooks"},
        name="list_status_pages",
        title="List status pages",
        description=(
            "List the organization's status pages: subdomain, name, live current_status. Start here: page "
            "tools need a subdomain. One page: get_status_page; its services: list_services."
        ),
        input_schema=obj(LIST_ARGUMENTS),
        output_schema=listing(STATUS_PAGE),
        annotations=READ_ONLY,
        handler=list_handler("status_pages_list"),
    ),
    Tool(
        toolsets=TOOLSETS,
        name="get_status_page",
        title="Get a status page",
        description=(
            "Get one page to check before changing it or to answer whether it is up (live current_status), and read `now`, "
            "the time in its time zone, before scheduling anything. Per service: list_services; the incidents "
            "behind a status: list_notices."
        ),
        input_schema=obj({"subdomain": SUBDOMAIN}, _KEY),
        output_schema=obj(
            {**STATUS_PAGE["properties"], "now": {"type": "string", "description": "Time now in the page's timezone."}},
            tuple(STATUS_PAGE["required"]),
            closed=False,
        ),
        annotations=READ_ONLY,
        handler=_get_page,
    ),
    Tool(
        toolsets=TOOLSETS,
        name="create_status_page",
        title="Create a status page",
        description=(
            "Create an empty status page, public at once, with region `default` and no services (add them with "
            "create_container, create_service). Ask for website_url and timezone; never guess. All in one "
            "call: setup_status_page."
        ),
        input_schema=obj(
            {
                "subdomain": NEW_SUBDOMAIN,
                **PAGE_SETTINGS,
                # On a new page there is no value to keep: channels left out get StatusPal's defaults.
                "notification_settings": {
                    **PAGE_SETTINGS["notification_settings"],
                    "description": "Channels offered; omitted ones get StatusPal's defaults.",
                },
            },
            ("name", "subdomain", "timezone", "website_url"),
        ),
        output_schema=written(STATUS_PAGE, "current_status"),
        annotations=CREATE,
        scope=WRITE,
        handler=_create,
    ),
    Tool(
        toolsets=TOOLSETS,
        name="update_status_page",
        title="Update a status page",
        description=(
            "Change a page's settings, public at once; require_authentication: true takes it off the public web. "
            "Only fields passed change (unnamed notification channels too). The subdomain cannot change; the status "
            "follows notices (create_incident, schedule_maintenance)."
        ),
        input_schema=obj({"subdomain": SUBDOMAIN, **PAGE_SETTINGS}, _KEY),
        output_schema=written(STATUS_PAGE, "current_status"),
        annotations=UPDATE,
        scope=WRITE,
        handler=_update_page,
    ),
    Tool(
        toolsets=TOOLSETS,
        name="delete_status_page",
        title="Delete a status page",
        description=(
            "Permanently delete a status page with its services, regions and notice history; it leaves the web at "
            "once. To remove one service or region: delete_service, delete_container."
        ),
        input_schema=obj({"subdomain": SUBDOMAIN}, _KEY),
        output_schema=deleted("subdomain"),
        annotations=DELETE,
        scope=WRITE,
        handler=delete_handler("status_pages_delete", _KEY),
    ),
)
