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

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime, tzinfo
from typing import Any

from gateway.auth.scopes import WRITE
from gateway.statuspal.endpoints import MAX_PER_PAGE
from gateway.statuspal.errors import UpstreamError, describe
from gateway.statuspal.notice_wire import ALL_STATES, NOTICE_STATES, AffectedRefs, WireShapeError
from gateway.tools import lookups
from gateway.tools.base import READ_ONLY, Annotations, Handler, Tool, ToolContext, ToolError
from gateway.tools.clock import TimeProblem, with_page_clock
from gateway.tools.conflicts import explaining_state_conflicts
from gateway.tools.crud import DELETE, UPDATE, list_handler
from gateway.tools.notice_checks import Ending, instant, load_refs, naive_zone, notice_write, settle_create
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
    written,
)
from gateway.tools.verify import confirm

_PAGE = ("subdomain",)
_WRITTEN = written(NOTICE, "state")
# The tool that creates each kind of notice: the one a lost create must not be repeated with.
_CREATE_TOOL = {"incident": "create_incident", "maintenance": "schedule_maintenance", "info": "create_info_notice"}
_KEY = ("subdomain", "notice_id")

# Publishing a notice adds to the page and can message subscribers, who are outside StatusPal: open world.
_PUBLISH = Annotations(read_only=False, destructive=False, idempotent=False, open_world=True)
# Resolving or closing ends the notice for good (no reopen), and may message subscribers.
_FINISH = Annotations(read_only=False, destructive=True, idempotent=False, open_world=True)
# Editing fires notice.updated webhooks, deleting lifts statuses (service.status_changed): both leave StatusPal.
_EDIT = replace(UPDATE, open_world=True)
_ERASE = replace(DELETE, open_world=True)

_FILTERS = {
    "notice_type": {
        "type": "string",
        "enum": ["incident", "maintenance", "info"],
        "description": "Only this kind.",
    },
    "state": {
        "type": "string",
        "enum": list(ALL_STATES),
        "description": "Valid per kind: incident open/resolved; maintenance scheduled/in progress/completed; info open/closed.",
    },
}
_TITLE = text("Headline shown on the page.")
_STARTS_AT = {
    **DATETIME,
    "description": "With offset, e.g. `2026-03-01T02:00:00+01:00`; the page's time now: get_status_page.",
}
_ENDS_AT = {**DATETIME, "description": "In the future, after starts_at."}


def _ending_arguments(example: str) -> dict[str, Any]:
    """Arguments of resolve_incident and close_maintenance: which notice, an optional last word, notify."""
    return obj(
        {
            "subdomain": SUBDOMAIN,
            "notice_id": NOTICE_ID,
            "message": {**MESSAGE, "description": f"Closing entry, e.g. '{example}'"},
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
        raise TimeProblem(
            f"{name} {value!r} is not an ISO 8601 date-time: use e.g. 2026-03-01T02:00:00Z (Z for UTC) or "
            "2026-03-01T04:00:00+02:00."
        ) from None
    if moment.tzinfo is None:
        raise TimeProblem(
            f"{name} {value!r} has no UTC offset, so the time is ambiguous: add Z for UTC or an offset such as +02:00.",
            naive=(name, value),
        )
    return moment


def _check_window(args: dict[str, Any]) -> dict[str, Any]:
    """Refuse a window that ends before it starts here, with both times named, instead of a bare upstream 422."""
    starts, ends = _instant(args, "starts_at"), _instant(args, "ends_at")
    if starts is not None and ends is not None and ends <= starts:
        raise TimeProblem(
            f"ends_at ({args['ends_at']}) must be after starts_at ({args['starts_at']}): check the date and the "
            "UTC offset of both."
        )
    return args


def _check_future_window(args: dict[str, Any]) -> dict[str, Any]:
    """A window that has already ended is refused: StatusPal would store it as a completed maintenance that
    no reader ever saw announced, which is never what scheduling means."""
    args = _check_window(args)
    ends = _instant(args, "ends_at")
    now = datetime.now(UTC)
    if ends is not None and ends <= now:
        raise TimeProblem(
            f"ends_at ({args['ends_at']}) is in the past (now is {_now()}), so this window is already over and "
            "would be stored as completed maintenance nobody was told about. Check the date and the UTC offset: "
            "a window must end in the future."
        )
    return args


@dataclass(frozen=True)
class _Terms:
    """How one page's notices read on the wire, fetched once per tool call: the zone of a time without an
    offset (naive_times) and, for affected_ref = "id", the page's slug <-> id tables."""

    zone: tzinfo | None = None
    refs: AffectedRefs | None = None


async def _terms(ctx: ToolContext, subdomain: str) -> _Terms:
    """What this call needs beyond the mapping: one page read for naive_times = "page", one list read of the
    services and one of the regions for affected_ref = "id"; nothing otherwise."""
    wire = ctx.upstream.endpoints.notices
    zone = naive_zone(wire)
    if wire.naive_times == "page":
        try:
            page = (await ctx.upstream.call("status_pages_get", {"subdomain": subdomain})).data
        except UpstreamError:
            page = None  # a time without an offset is then left unconfirmed, never guessed
        zone = naive_zone(wire, page.get("timezone") if isinstance(page, Mapping) else None)
    refs = await load_refs(ctx.upstream, subdomain) if wire.affected_ref == "id" else None
    return _Terms(zone, refs)


async def _call(
    ctx: ToolContext, endpoint_name: str, args: Mapping[str, Any], logical: Mapping[str, Any] | None,
    refs: AffectedRefs | None = None,
) -> Any:
    """Call one notices endpoint with logical fields; StatusPal's answer (`data`) as it came, in wire names."""
    table = ctx.upstream.endpoints
    endpoint = table[endpoint_name]
    params = {name: args[name] for name in ("subdomain", "notice_id") if name in args}
    try:
        body, query = table.notices.request(endpoint.method, endpoint.org_scoped, args["subdomain"], logical, refs)
    except WireShapeError as exc:
        raise ToolError(str(exc)) from None
    result = await ctx.upstream.call(endpoint_name, params, body=body, query=query)
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
    terms: _Terms,
    *,
    fix_tool: str = "update_notice",
    ending: Ending | None = None,
) -> dict[str, Any]:
    """Send a notice write and confirm it against what StatusPal then holds (the raw record, wire names).

    A create whose answer was lost is settled by one list read, never sent again."""
    wire = ctx.upstream.endpoints.notices
    try:
        answer = await _call(ctx, endpoint, args, logical, terms.refs)
    except UpstreamError as err:
        if err.status == 422 and "affected" in logical and wire.affected_field in (err.details or {}):
            valid = await _valid_slugs(ctx, args["subdomain"])
            if valid:
                raise ToolError(f"{describe(err)} {valid}") from None
        if endpoint != "notices_create":
            raise

        async def recent() -> tuple[list[Any], Mapping[str, Any]]:
            query = {wire.type_field: logical["notice_type"], "per_page": MAX_PER_PAGE}
            result = await ctx.upstream.call("notices_list", _page_params(ctx, args), query=_page_query(ctx, args, query))
            return list(result.data or []), result.meta or {}

        tool = _CREATE_TOOL[logical["notice_type"]]
        return await settle_create(
            err, wire, args["subdomain"], logical, tool=tool, read_recent=recent, read_notice=_reader(ctx, args),
            zone=terms.zone, refs=terms.refs,
        )
    answer = answer if isinstance(answer, Mapping) else {}
    write = notice_write(
        wire, args["subdomain"], answer, logical, notice_id=args.get("notice_id"), read_notice=_reader(ctx, args),
        fix_tool=fix_tool, ending=ending, zone=terms.zone, refs=terms.refs,
    )
    return await confirm(write, answer)


async def _valid_slugs(ctx: ToolContext, subdomain: str) -> str:
    """The page's service and region slugs, for a refused `affected` (StatusPal's 422 names that field): the
    usual cause is a display name or a guessed slug (gateway/tools/lookups.py)."""
    return await lookups.valid_slugs_sentence(ctx, subdomain, (lookups.SERVICE, lookups.REGION))


def _page_params(ctx: ToolContext, args: Mapping[str, Any]) -> dict[str, Any]:
    return {} if ctx.upstream.endpoints["notices_list"].org_scoped else {"subdomain": args["subdomain"]}


def _page_query(ctx: ToolContext, args: Mapping[str, Any], query: Mapping[str, Any]) -> dict[str, Any]:
    """Org-scoped notices routes name the page in the query, under the mapping's page field."""
    endpoints = ctx.upstream.endpoints
    return {**query, **endpoints.notices.page_query(endpoints["notices_list"].org_scoped, args["subdomain"])}


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
        wire = ctx.upstream.endpoints.notices
        terms = await _terms(ctx, args["subdomain"])
        if ctx.upstream.endpoints[endpoint].method == "GET":
            return wire.read(await _call(ctx, endpoint, args, None), terms.refs).as_output(terms.zone)
        return wire.read(await _verified(ctx, endpoint, args, logical, terms), terms.refs).as_output(terms.zone)

    return handle


async def _list(ctx: ToolContext, args: dict[str, Any]) -> dict[str, Any]:
    """One page (or all) of notices: the filters under the mapping's names, each item read back logically.

    A state StatusPal names with several words is asked for under each of them (one list read per word, every
    page), and the answers merged newest first and cut to the page asked: StatusPal cannot be asked for two
    words at once, and a notice under any of them is in that state."""
    wire = ctx.upstream.endpoints.notices
    org_scoped = ctx.upstream.endpoints["notices_list"].org_scoped
    query = {wire.type_field: args["notice_type"]} if "notice_type" in args else {}
    query.update(wire.page_query(org_scoped, args["subdomain"]))
    words: tuple[str, ...] = ()
    if "state" in args:
        words = wire.filter_words(args["state"], args.get("notice_type"))
        if not words:
            kind = args["notice_type"]
            raise ToolError(
                f"A {kind} notice is never {args['state']!r}: its states are {', '.join(NOTICE_STATES[kind])}. "
                "Filter by one of those, or leave out notice_type."
            )
    terms = await _terms(ctx, args["subdomain"])
    if len(words) > 1:
        return await _list_words(ctx, args, query, words, terms)
    if words:
        query[wire.state_field] = words[0]
    inner = list_handler("notices_list", () if org_scoped else _PAGE, filters=tuple(query))
    result = dict(await inner(ctx, {**args, **query}))
    result["items"] = [wire.read(item, terms.refs).as_output(terms.zone) for item in result["items"]]
    return result


async def _list_words(
    ctx: ToolContext, args: dict[str, Any], query: dict[str, Any], words: tuple[str, ...], terms: _Terms
) -> dict[str, Any]:
    wire = ctx.upstream.endpoints.notices
    seen: dict[str, dict[str, Any]] = {}
    truncated = False
    for word in words:
        result = await ctx.upstream.list_all(
            "notices_list", _page_params(ctx, args), query={**query, wire.state_field: word}, progress=ctx.progress
        )
        truncated = truncated or bool((result.meta or {}).get("truncated"))
        for item in result.data or []:
            notice = wire.read(item, terms.refs).as_output(terms.zone)
            seen.setdefault(str(notice.get("id")), notice)
    # Newest first, as StatusPal lists them: by creation time where every notice shows one.
    items = list(seen.values())
    stamps = [instant(i.get("created_at"), terms.zone) for i in items]
    if all(stamps):
        items = [i for _, _, i in sorted(zip(stamps, range(len(items)), items, strict=True), key=lambda t: (t[0], -t[1]), reverse=True)]
    per_page = args.get("per_page", MAX_PER_PAGE if args.get("all") else 20)
    page = 1 if args.get("all") else args.get("page", 1)
    total_pages = max(1, -(-len(items) // per_page))
    shown = items if args.get("all") else items[(page - 1) * per_page : page * per_page]
    out: dict[str, Any] = {"items": shown, "page": page, "per_page": per_page, "total_count": len(items), "total_pages": total_pages}
    if args.get("all"):
        out["truncated"] = truncated
    return out


def _now() -> str:
    return datetime.now(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


_RESOLVED = Ending("resolve_incident", ("resolved",))
_CLOSED = Ending("close_maintenance", ("completed", "closed"))


def _ending(action_endpoint: str, strategy: str, ending: Ending) -> Handler:
    """resolve_incident / close_maintenance: the action endpoint, or PATCH ends_at = now then the closing text.

    With `patch_ends_at` only the closing update can carry notify, so notify: true without a message is refused
    before anything is sent rather than ending the notice silently. If the PATCH succeeds and the closing update
    fails, the notice has ended: the error says so, so the model does not end it again. Each step is confirmed:
    the state (or the ends_at set), then the closing text and its notify echo.
    """

    async def handle(ctx: ToolContext, args: dict[str, Any]) -> dict[str, Any]:
        wire = ctx.upstream.endpoints.notices
        logical: dict[str, Any] = {name: args[name] for name in ("message", "notify") if name in args}
        terms = await _terms(ctx, args["subdomain"])
        if getattr(wire, strategy) == "action":
            answer = await _verified(ctx, action_endpoint, args, logical, terms, fix_tool=ending.tool, ending=ending)
            return wire.read(answer, terms.refs).as_output(terms.zone)
        if args["notify"] and args.get("message") is None:
            raise ToolError(
                f"This StatusPal ends a notice by setting its ends_at (statuspal.notices.{strategy} = "
                "\"patch_ends_at\"), which notifies no one: subscribers can only be told through a closing update. "
                "Pass a message, or notify: false."
            )
        ends_at = _now()
        record = await _verified(ctx, "notices_update", args, {"ends_at": ends_at}, terms, fix_tool=ending.tool, ending=ending)
        if args.get("message") is not None:
            try:
                record = await _verified(ctx, "notices_post_update", args, logical, terms, fix_tool="post_notice_update")
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
        return wire.read(record, terms.refs).as_output(terms.zone)

    return handle


async def _delete(ctx: ToolContext, args: dict[str, Any]) -> dict[str, Any]:
    await _call(ctx, "notices_delete", args, None)
    return {"deleted": True, **{name: args[name] for name in _KEY}}


# The toolsets of a surface URL that include these tools (`gateway.auth.surfaces.TOOLSETS`).
TOOLSETS = frozenset({"notices"})

TOOLS: tuple[Tool, ...] = (
    Tool(
        toolsets=TOOLSETS,
        name="list_notices",
        title="List notices",
        description=(
            "List a page's notices (incidents, maintenance, info), newest first, optionally filtered; states are "
            "live. Gives the notice_id other notice tools need. One notice: get_notice."
        ),
        input_schema=obj({"subdomain": SUBDOMAIN, **_FILTERS, **LIST_ARGUMENTS}, _PAGE),
        output_schema=listing(NOTICE),
        annotations=READ_ONLY,
        handler=_list,
    ),
    Tool(
        toolsets=TOOLSETS,
        name="get_notice",
        title="Get a notice",
        description=(
            "Get one notice to read before posting to, editing or ending it: its state, window, affected services and "
            "timeline (what subscribers were told, and when). Ids: list_notices; the page's status: get_status_page."
        ),
        input_schema=obj({"subdomain": SUBDOMAIN, "notice_id": NOTICE_ID}, _KEY),
        output_schema=NOTICE,
        annotations=READ_ONLY,
        handler=_handler("notices_get"),
    ),
    Tool(
        toolsets=TOOLSETS,
        name="create_incident",
        title="Open an incident",
        description=(
            "Open an incident now: affected services turn minor or major, the page degraded or unavailable, "
            "notice.created webhooks fire, subscribers messaged if notify. Planned work: schedule_maintenance."
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
        output_schema=_WRITTEN,
        annotations=_PUBLISH,
        scope=WRITE,
        handler=_handler(
            "notices_create",
            ("title", "severity", "message", "affected", "notify"),
            fixed={"notice_type": "incident"},
        ),
    ),
    Tool(
        toolsets=TOOLSETS,
        name="schedule_maintenance",
        title="Schedule maintenance",
        description=(
            "Announce maintenance at once (notice.created webhooks fire, subscribers messaged if notify); "
            "services show maintenance from starts_at to ends_at. Move: update_notice; end: close_maintenance; "
            "outage: create_incident."
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
        output_schema=_WRITTEN,
        annotations=_PUBLISH,
        scope=WRITE,
        handler=with_page_clock(_handler(
            "notices_create",
            ("title", "starts_at", "ends_at", "message", "affected", "notify"),
            fixed={"notice_type": "maintenance"},
            prepare=_check_future_window,
        )),
    ),
    Tool(
        toolsets=TOOLSETS,
        name="create_info_notice",
        title="Publish an info notice",
        description=(
            "Publish an informational notice that changes no status: notice.created webhooks fire, subscribers "
            "messaged if notify. End it with close_maintenance; problems: create_incident."
        ),
        input_schema=obj(
            {
                "subdomain": SUBDOMAIN,
                "title": _TITLE,
                "message": MESSAGE,
                "affected": {**AFFECTED, "description": "Services it is about."},
                "notify": NOTIFY,
            },
            ("subdomain", "title", "message", "notify"),
        ),
        output_schema=_WRITTEN,
        annotations=_PUBLISH,
        scope=WRITE,
        handler=_handler(
            "notices_create", ("title", "message", "affected", "notify"), fixed={"notice_type": "info"}
        ),
    ),
    Tool(
        toolsets=TOOLSETS,
        name="post_notice_update",
        title="Post a notice update",
        description=(
            "Add a timeline entry to a notice (e.g. 'Fix rolling out'): public at once, notice.update_posted "
            "webhooks fire, subscribers messaged if notify. It changes no state: to end the notice use "
            "resolve_incident or close_maintenance; severity, times or services: update_notice."
        ),
        input_schema=obj(
            {"subdomain": SUBDOMAIN, "notice_id": NOTICE_ID, "message": MESSAGE, "notify": NOTIFY},
            ("subdomain", "notice_id", "message", "notify"),
        ),
        output_schema=_WRITTEN,
        annotations=_PUBLISH,
        scope=WRITE,
        handler=_handler("notices_post_update", ("message", "notify")),
    ),
    Tool(
        toolsets=TOOLSETS,
        name="update_notice",
        title="Edit a notice",
        description=(
            "Edit a notice's title, severity, window or affected services; statuses follow at once. "
            "notice.updated webhooks fire, no subscriber is messaged: to tell them, post_notice_update; to end "
            "it, resolve_incident or close_maintenance."
        ),
        input_schema=obj(
            {
                "subdomain": SUBDOMAIN,
                "notice_id": NOTICE_ID,
                "title": _TITLE,
                "severity": {**SEVERITY, "description": "Incidents only."},
                "starts_at": {**DATETIME, "description": "New start, e.g. to postpone maintenance."},
                "ends_at": {
                    **DATETIME,
                    "description": "Maintenance only: new end, e.g. to extend.",
                },
                "affected": {**AFFECTED, "description": "Replaces the whole list."},
            },
            _KEY,
        ),
        output_schema=_WRITTEN,
        annotations=_EDIT,
        scope=WRITE,
        handler=with_page_clock(_handler(
            "notices_update",
            ("title", "severity", "starts_at", "ends_at", "affected"),
            prepare=_check_window,
            require_change=True,
        )),
    ),
    Tool(
        toolsets=TOOLSETS,
        name="resolve_incident",
        title="Resolve an incident",
        description=(
            "Resolve an incident now, for good: its services return to ok unless another active notice still "
            "affects them; the message closes the timeline, subscribers messaged if notify. Maintenance or info: "
            "close_maintenance."
        ),
        input_schema=_ending_arguments("Fixed."),
        output_schema=_WRITTEN,
        annotations=_FINISH,
        scope=WRITE,
        handler=explaining_state_conflicts(_ending("notices_resolve", "resolve_strategy", _RESOLVED), _RESOLVED, _reader),
    ),
    Tool(
        toolsets=TOOLSETS,
        name="close_maintenance",
        title="Close maintenance or an info notice",
        description=(
            "End a maintenance window now (or cancel it) or close an info notice, for good: its services return to "
            "ok unless another active notice still affects them; the message closes the timeline, subscribers "
            "messaged if notify. Incidents: resolve_incident."
        ),
        input_schema=_ending_arguments("Done."),
        output_schema=_WRITTEN,
        annotations=_FINISH,
        scope=WRITE,
        handler=explaining_state_conflicts(_ending("notices_close", "close_strategy", _CLOSED), _CLOSED, _reader),
    ),
    Tool(
        toolsets=TOOLSETS,
        name="delete_notice",
        title="Delete a notice",
        description=(
            "Erase a notice created by mistake, with its timeline; statuses it caused are lifted "
            "(service.status_changed webhooks fire). To end one normally: resolve_incident, close_maintenance."
        ),
        input_schema=obj({"subdomain": SUBDOMAIN, "notice_id": NOTICE_ID}, _KEY),
        output_schema=deleted(*_KEY),
        annotations=_ERASE,
        scope=WRITE,
        handler=_delete,
    ),
)
