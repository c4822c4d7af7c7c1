"""Notice tools: incidents and maintenance windows, their timelines, and how they end.

Each intent is its own tool (open an incident, schedule maintenance, post an update, edit, resolve, close)
because they differ in what they change and whom they reach; two of them share the create endpoint and
differ only in `notice_type`. Every tool that can message subscribers takes a required `notify` with no
default: a notification cannot be recalled, so the model must ask rather than guess.

No public source confirms StatusPal's notices API, so these handlers never name a wire field: the tool
arguments are logical fields, `NoticeWire.body` shapes them for the wire and `NoticeWire.read` turns the answer
back into the tool's result, both as `[statuspal.notices]` in config.toml says. Org-scoped notices routes
(no `{subdomain}` in the path) get the page as the mapping's `page_field`.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timezone
from typing import Any, Awaitable, Callable, Mapping

from gateway.scopes import WRITE
from gateway.statuspal.endpoints import MAX_PER_PAGE
from gateway.statuspal.errors import UpstreamError, describe
from gateway.statuspal.notice_wire import WireShapeError
from gateway.tools.base import READ_ONLY, Annotations, Handler, Tool, ToolContext, ToolError
from gateway.tools.crud import DELETE, UPDATE, list_handler
from gateway.tools.notice_checks import Ending, notice_write, settle_create
from gateway.tools.schemas import (
    AFFECTED,
    DATETIME,
    LIST_ARGUMENTS,
    MESSAGE,
    NOTICE,
    NOTICE_ID,
    NOTIFY,
    SEVERITY,
    SUBDOMAIN,
    deleted,
    listing,
    obj,
    text,
)
from gateway.tools.verify import confirm

_PAGE = ("subdomain",)
_KEY = ("subdomain", "notice_id")

# Publishing a notice adds to the page and can message subscribers, who are outside StatusPal: open world.
_PUBLISH = Annotations(read_only=False, destructive=False, idempotent=False, open_world=True)
# Resolving or closing ends the notice for good (no reopen), and may message subscribers.
_FINISH = Annotations(read_only=False, destructive=True, idempotent=False, open_world=True)

_FILTERS = {
    "notice_type": {
        "type": "string",
        "enum": ["incident", "maintenance", "info"],
        "description": "Only notices of this kind.",
    },
    "state": {
        "type": "string",
        "enum": ["open", "resolved", "scheduled", "in_progress", "completed", "closed"],
        "description": "Only notices in this state: incidents are open or resolved; maintenance is scheduled, "
        "in_progress or completed; info notices are open or closed.",
    },
}
_TITLE = text("Headline shown on the page, e.g. `Elevated API error rates`.")
_STARTS_AT = {
    **DATETIME,
    "description": "Start of the window, ISO 8601 with an offset, e.g. `2026-03-01T02:00:00Z`.",
}
_ENDS_AT = {**DATETIME, "description": "End of the window, ISO 8601 with an offset; after starts_at."}


def _ending_arguments(example: str) -> dict[str, Any]:
    """Arguments of resolve_incident and close_maintenance: which notice, an optional last word, notify."""
    return obj(
        {
            "subdomain": SUBDOMAIN,
            "notice_id": NOTICE_ID,
            "message": {**MESSAGE, "description": f"Closing timeline entry, e.g. '{example}'. Omit to add none."},
            "notify": NOTIFY,
        },
        ("subdomain", "notice_id", "notify"),
    )


def _instant(args: dict[str, Any], name: str) -> datetime | None:
    value = args.get(name)
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise ToolError(
            f"{name} {value!r} is not an ISO 8601 date-time: use e.g. 2026-03-01T02:00:00Z (Z for UTC) or "
            "2026-03-01T04:00:00+02:00."
        ) from None
    if moment.tzinfo is None:
        raise ToolError(
            f"{name} {value!r} has no UTC offset, so the time is ambiguous: add Z for UTC or an offset such as +02:00."
        )
    return moment


def _check_window(args: dict[str, Any]) -> dict[str, Any]:
    """Refuse a window that ends before it starts here, with both times named, instead of a bare upstream 422."""
    starts, ends = _instant(args, "starts_at"), _instant(args, "ends_at")
    if starts is not None and ends is not None and ends <= starts:
        raise ToolError(
            f"ends_at ({args['ends_at']}) must be after starts_at ({args['starts_at']}): check the date and the "
            "UTC offset of both."
        )
    return args


async def _call(
    ctx: ToolContext,
    endpoint_name: str,
    args: Mapping[str, Any],
    logical: Mapping[str, Any] | None,
    query: Mapping[str, Any] | None = None,
) -> Any:
    """Call one notices endpoint with logical fields; StatusPal's answer (`data`) as it came, in wire names."""
    table = ctx.api.endpoints
    wire, endpoint = table.notices, table[endpoint_name]
    params = {name: args[name] for name in ("subdomain", "notice_id") if name in args}
    body: dict[str, Any] | None = None
    if endpoint.method not in ("GET", "DELETE"):
        try:
            body = wire.body(logical or {})
        except WireShapeError as exc:
            raise ToolError(str(exc)) from None
    if endpoint.org_scoped:
        if body is None:
            query = {**(query or {}), wire.page_field: args["subdomain"]}
        else:
            body[wire.page_field] = args["subdomain"]
    result = await ctx.api.call(endpoint_name, params, body=body, query=query)
    return result.data


def _reader(ctx: ToolContext, args: Mapping[str, Any]) -> Callable[[str], Awaitable[Mapping[str, Any]]]:
    """The one follow-up GET of a verified notice write."""

    async def read(notice_id: str) -> Mapping[str, Any]:
        data = await _call(ctx, "notices_get", {"subdomain": args["subdomain"], "notice_id": notice_id}, None)
        return data if isinstance(data, Mapping) else {}

    return read


async def _verified(
    ctx: ToolContext,
    endpoint: str,
    args: Mapping[str, Any],
    logical: Mapping[str, Any],
    *,
    fix_tool: str = "update_notice",
    ending: Ending | None = None,
) -> dict[str, Any]:
    """Send a notice write and confirm it against what StatusPal then holds (the raw record, wire names).

    A create whose answer was lost is settled by one list read, never sent again."""
    wire = ctx.api.endpoints.notices
    try:
        answer = await _call(ctx, endpoint, args, logical)
    except UpstreamError as err:
        if endpoint != "notices_create":
            raise

        async def recent() -> tuple[list[Any], Mapping[str, Any]]:
            query = {wire.type_field: logical["notice_type"], "per_page": MAX_PER_PAGE}
            result = await ctx.api.call("notices_list", _page_params(ctx, args), query=_page_query(ctx, args, query))
            return list(result.data or []), result.meta or {}

        tool = "create_incident" if logical["notice_type"] == "incident" else "schedule_maintenance"
        return await settle_create(
            err, wire, args["subdomain"], logical, tool=tool, read_recent=recent, read_notice=_reader(ctx, args)
        )
    answer = answer if isinstance(answer, Mapping) else {}
    write = notice_write(
        wire, args["subdomain"], answer, logical, notice_id=args.get("notice_id"), read_notice=_reader(ctx, args),
        fix_tool=fix_tool, ending=ending,
    )
    return await confirm(write, answer)


def _page_params(ctx: ToolContext, args: Mapping[str, Any]) -> dict[str, Any]:
    return {} if ctx.api.endpoints["notices_list"].org_scoped else {"subdomain": args["subdomain"]}


def _page_query(ctx: ToolContext, args: Mapping[str, Any], query: Mapping[str, Any]) -> dict[str, Any]:
    """Org-scoped notices routes name the page in the query, under the mapping's page field."""
    if ctx.api.endpoints["notices_list"].org_scoped:
        return {**query, ctx.api.endpoints.notices.page_field: args["subdomain"]}
    return dict(query)


def _handler(
    endpoint: str,
    fields: tuple[str, ...] = (),
    *,
    fixed: Mapping[str, Any] | None = None,
    prepare: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
    require_change: bool = False,
) -> Handler:
    """Send the logical fields the caller gave (never a default: a PATCH leaves the rest alone), plus `fixed`;
    a write is confirmed field by field before it is reported."""

    async def handle(ctx: ToolContext, args: dict[str, Any]) -> dict[str, Any]:
        if require_change and not any(name in args for name in fields):
            raise ToolError(f"Nothing to change: pass at least one of {', '.join(fields)}.")
        if prepare is not None:
            args = prepare(args)
        logical = {name: args[name] for name in fields if name in args}
        logical.update(fixed or {})
        wire = ctx.api.endpoints.notices
        if ctx.api.endpoints[endpoint].method == "GET":
            return wire.read(await _call(ctx, endpoint, args, None)).as_output()
        return wire.read(await _verified(ctx, endpoint, args, logical)).as_output()

    return handle


async def _list(ctx: ToolContext, args: dict[str, Any]) -> dict[str, Any]:
    """One page (or all) of notices: the filters under the mapping's names, each item read back logically."""
    wire = ctx.api.endpoints.notices
    org_scoped = ctx.api.endpoints["notices_list"].org_scoped
    query = {wire.type_field: args["notice_type"]} if "notice_type" in args else {}
    if "state" in args:
        query[wire.state_field] = args["state"]
    if org_scoped:
        query[wire.page_field] = args["subdomain"]
    inner = list_handler("notices_list", () if org_scoped else _PAGE, filters=tuple(query))
    result = await inner(ctx, {**args, **query})
    result["items"] = [wire.read(item).as_output() for item in result["items"]]
    return result


def _now() -> str:
    return datetime.now(timezone.utc).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def _ending(action_endpoint: str, strategy: str, ending: Ending) -> Handler:
    """resolve_incident / close_maintenance: the action endpoint, or PATCH ends_at = now then the closing text.

    With `patch_ends_at` only the closing update can carry notify, so notify: true without a message is refused
    before anything is sent rather than ending the notice silently. If the PATCH succeeds and the closing update
    fails, the notice has ended: the error says so, so the model does not end it again. Each step is confirmed:
    the state (or the ends_at set), then the closing text and its notify echo.
    """

    async def handle(ctx: ToolContext, args: dict[str, Any]) -> dict[str, Any]:
        wire = ctx.api.endpoints.notices
        logical = {name: args[name] for name in ("message", "notify") if name in args}
        if getattr(wire, strategy) == "action":
            return wire.read(await _verified(ctx, action_endpoint, args, logical, fix_tool=ending.tool, ending=ending)).as_output()
        if args["notify"] and args.get("message") is None:
            raise ToolError(
                f"This StatusPal ends a notice by setting its ends_at (statuspal.notices.{strategy} = "
                "\"patch_ends_at\"), which notifies no one: subscribers can only be told through a closing update. "
                "Pass a message, or notify: false."
            )
        ends_at = _now()
        patched = replace(ending, state_required=False)
        record = await _verified(ctx, "notices_update", args, {"ends_at": ends_at}, fix_tool=ending.tool, ending=patched)
        if args.get("message") is not None:
            try:
                record = await _verified(ctx, "notices_post_update", args, logical, fix_tool="post_notice_update")
            except UpstreamError as err:
                raise ToolError(
                    f"The notice has ended (its ends_at is now {ends_at}), but the closing update was not posted: "
                    f"{describe(err)} If the closing text is missing from the timeline, post it with post_notice_update; "
                    "do not end the notice again."
                ) from None
            except ToolError as partial:
                raise ToolError(
                    f"The notice has ended (its ends_at is now {ends_at}); do not end it again. Its closing update "
                    f"was not applied in full:\n{partial}"
                ) from None
        return wire.read(record).as_output()

    return handle


async def _delete(ctx: ToolContext, args: dict[str, Any]) -> dict[str, Any]:
    await _call(ctx, "notices_delete", args, None)
    return {"deleted": True, **{name: args[name] for name in _KEY}}


TOOLS: tuple[Tool, ...] = (
    Tool(
        name="list_notices",
        title="List notices (incidents and maintenance)",
        description=(
            "List the notices of a status page, newest first: incidents, maintenance windows and info notices; "
            "filter by notice_type or state (e.g. open incidents). States are current: maintenance turns "
            "in_progress at starts_at and completed at ends_at by itself. Use it to find the notice_id that "
            "post_notice_update, update_notice, resolve_incident and close_maintenance need. For one known notice "
            "use get_notice; for the resulting service statuses use list_services."
        ),
        input_schema=obj({"subdomain": SUBDOMAIN, **_FILTERS, **LIST_ARGUMENTS}, _PAGE),
        output_schema=listing(NOTICE),
        annotations=READ_ONLY,
        handler=_list,
    ),
    Tool(
        name="get_notice",
        title="Get a notice",
        description=(
            "Get one incident, maintenance or info notice by id, with its whole timeline (each message, when it was "
            "posted and whether subscribers were notified), state, severity, times and affected services and "
            "regions. Use list_notices to find ids or to see every notice of a page; for the service statuses it "
            "causes use list_services."
        ),
        input_schema=obj({"subdomain": SUBDOMAIN, "notice_id": NOTICE_ID}, _KEY),
        output_schema=NOTICE,
        annotations=READ_ONLY,
        handler=_handler("notices_get"),
    ),
    Tool(
        name="create_incident",
        title="Open an incident",
        description=(
            "Open an incident on a status page, starting now. The affected services turn major or minor (per "
            "severity) in the listed regions, the page becomes unavailable (major) or degraded (minor), the message "
            "is published as the first timeline entry and notice.created webhooks fire. With notify: true StatusPal is "
            "asked to message every subscriber at once; notify: false asks StatusPal not to notify. For planned work use schedule_maintenance; to add news to an open "
            "incident use post_notice_update; to end it use resolve_incident."
        ),
        input_schema=obj(
            {
                "subdomain": SUBDOMAIN,
                "title": _TITLE,
                "severity": SEVERITY,
                "message": MESSAGE,
                "affected": AFFECTED,
                "notify": NOTIFY,
            },
            ("subdomain", "title", "severity", "message", "affected", "notify"),
        ),
        output_schema=NOTICE,
        annotations=_PUBLISH,
        scope=WRITE,
        handler=_handler(
            "notices_create",
            ("title", "severity", "message", "affected", "notify"),
            fixed={"notice_type": "incident"},
        ),
    ),
    Tool(
        name="schedule_maintenance",
        title="Schedule maintenance",
        description=(
            "Announce a planned maintenance window on a status page. Statuses do not change before starts_at; "
            "during the window the affected services show maintenance. The message is published at once, "
            "notice.created webhooks fire. With notify: true StatusPal is asked to message every subscriber at once; "
            "notify: false asks StatusPal not to notify. Change the window later with update_notice and end it with close_maintenance. For an unplanned problem use "
            "create_incident."
        ),
        input_schema=obj(
            {
                "subdomain": SUBDOMAIN,
                "title": _TITLE,
                "starts_at": _STARTS_AT,
                "ends_at": _ENDS_AT,
                "message": MESSAGE,
                "affected": AFFECTED,
                "notify": NOTIFY,
            },
            ("subdomain", "title", "starts_at", "ends_at", "message", "affected", "notify"),
        ),
        output_schema=NOTICE,
        annotations=_PUBLISH,
        scope=WRITE,
        handler=_handler(
            "notices_create",
            ("title", "starts_at", "ends_at", "message", "affected", "notify"),
            fixed={"notice_type": "maintenance"},
            prepare=_check_window,
        ),
    ),
    Tool(
        name="post_notice_update",
        title="Post a notice update",
        description=(
            "Add an entry to the timeline of an incident or maintenance, e.g. 'Cause identified, a fix is rolling "
            "out'. It is published on the page at once and notice.update_posted webhooks fire. With notify: true "
            "StatusPal is asked to message every subscriber at once; notify: false asks StatusPal not to notify. Put the phase (investigating, identified, monitoring) in the message. "
            "It changes no severity, times or affected services (use update_notice) and does not end the notice "
            "(use resolve_incident or close_maintenance)."
        ),
        input_schema=obj(
            {"subdomain": SUBDOMAIN, "notice_id": NOTICE_ID, "message": MESSAGE, "notify": NOTIFY},
            ("subdomain", "notice_id", "message", "notify"),
        ),
        output_schema=NOTICE,
        annotations=_PUBLISH,
        scope=WRITE,
        handler=_handler("notices_post_update", ("message", "notify")),
    ),
    Tool(
        name="update_notice",
        title="Edit a notice",
        description=(
            "Edit an incident or maintenance: title, severity, start or end time, affected services. Only the "
            "fields passed change, overwriting the previous values (affected is replaced as a whole); pass at least "
            "one. Service and page statuses follow at once. Adds no timeline entry and messages no subscriber, "
            "though notice.updated webhooks fire: to tell subscribers, use post_notice_update. To end a notice use "
            "resolve_incident or close_maintenance."
        ),
        input_schema=obj(
            {
                "subdomain": SUBDOMAIN,
                "notice_id": NOTICE_ID,
                "title": _TITLE,
                "severity": {**SEVERITY, "description": "Incidents only, e.g. downgrade to minor. " + SEVERITY["description"]},
                "starts_at": {**DATETIME, "description": "New start, ISO 8601 with an offset, e.g. `2026-03-01T02:00:00Z`."},
                "ends_at": {
                    **DATETIME,
                    "description": "Maintenance only (an incident ends when resolved): new end of the window, e.g. "
                    "to extend it; ISO 8601 with an offset, after starts_at.",
                },
                "affected": AFFECTED,
            },
            _KEY,
        ),
        output_schema=NOTICE,
        annotations=UPDATE,
        scope=WRITE,
        handler=_handler(
            "notices_update",
            ("title", "severity", "starts_at", "ends_at", "affected"),
            prepare=_check_window,
            require_change=True,
        ),
    ),
    Tool(
        name="resolve_incident",
        title="Resolve an incident",
        description=(
            "Mark an incident resolved: it ends now; its services return to ok and the page to operational unless "
            "another active notice affects them. The optional message is the closing timeline entry. With notify: "
            "true StatusPal is asked to message every subscriber at once; notify: false asks StatusPal not to "
            "notify. Where notices end by setting ends_at (patch_ends_at), only a closing message can notify. Final: "
            "it cannot be reopened (open a new incident if the problem returns). For maintenance use "
            "close_maintenance; to erase a mistaken incident use delete_notice."
        ),
        input_schema=_ending_arguments("The fix is deployed and error rates are normal."),
        output_schema=NOTICE,
        annotations=_FINISH,
        scope=WRITE,
        handler=_ending("notices_resolve", "resolve_strategy", Ending("resolve_incident", ("resolved",))),
    ),
    Tool(
        name="close_maintenance",
        title="Close a maintenance window",
        description=(
            "Close a maintenance window when the work is done early, or cancel one not yet started: it ends now and "
            "its services return to ok unless another active notice affects them (a window also ends by itself at "
            "ends_at). The optional message is the closing timeline entry. With notify: true StatusPal is asked to "
            "message every subscriber at once; notify: false asks StatusPal not to notify. Where notices end by "
            "setting ends_at (patch_ends_at), only a closing message can notify. Final; info notices close the same "
            "way. To move or extend the window use update_notice; for incidents use resolve_incident."
        ),
        input_schema=_ending_arguments("Maintenance completed."),
        output_schema=NOTICE,
        annotations=_FINISH,
        scope=WRITE,
        handler=_ending("notices_close", "close_strategy", Ending("close_maintenance", ("completed", "closed"))),
    ),
    Tool(
        name="delete_notice",
        title="Delete a notice",
        description=(
            "Erase a notice and its whole timeline from the page's history, for notices created by mistake; the "
            "statuses it caused are lifted. It cannot be undone. To end an incident or maintenance normally use "
            "resolve_incident or close_maintenance, which keep the record."
        ),
        input_schema=obj({"subdomain": SUBDOMAIN, "notice_id": NOTICE_ID}, _KEY),
        output_schema=deleted(*_KEY),
        annotations=DELETE,
        scope=WRITE,
        handler=_delete,
    ),
)
