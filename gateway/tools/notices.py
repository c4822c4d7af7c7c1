"""Notice tools: incidents and maintenance windows, their timelines, and how they end.

Each intent is its own tool (open an incident, schedule maintenance, post an update, edit, resolve, close)
because they differ in what they change and whom they reach; two of them share the create endpoint and
differ only in `notice_type`. Every tool that can message subscribers takes a required `notify` with no
default: a notification cannot be recalled, so the model must ask rather than guess.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from gateway.tools.base import READ_ONLY, WRITE, Annotations, Tool, ToolError
from gateway.tools.crud import DELETE, UPDATE, delete_handler, list_handler, send_handler
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


def _ending(example: str) -> dict[str, Any]:
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
        handler=list_handler("notices_list", _PAGE, filters=tuple(_FILTERS)),
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
        handler=send_handler("notices_get", _KEY),
    ),
    Tool(
        name="create_incident",
        title="Open an incident",
        description=(
            "Open an incident on a status page, starting now. The affected services turn major or minor (per "
            "severity) in the listed regions, the page becomes unavailable (major) or degraded (minor), the message "
            "is published as the first timeline entry and notice.created webhooks fire. With notify: true every "
            "subscriber is messaged immediately. For planned work use schedule_maintenance; to add news to an open "
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
        handler=send_handler(
            "notices_create",
            _PAGE,
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
            "notice.created webhooks fire, and with notify: true every subscriber is messaged immediately. Change "
            "the window later with update_notice and end it with close_maintenance. For an unplanned problem use "
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
        handler=send_handler(
            "notices_create",
            _PAGE,
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
            "out'. It is published on the page at once and notice.update_posted webhooks fire; with notify: true "
            "every subscriber is messaged. Put the phase (investigating, identified, monitoring) in the message. "
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
        handler=send_handler("notices_post_update", _KEY, ("message", "notify")),
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
        handler=send_handler(
            "notices_update",
            _KEY,
            ("title", "severity", "starts_at", "ends_at", "affected"),
            prepare=_check_window,
            require_change=True,
        ),
    ),
    Tool(
        name="resolve_incident",
        title="Resolve an incident",
        description=(
            "Mark an incident resolved: it ends now, and its services return to ok and the page to operational "
            "unless another active notice still affects them. The optional message is published as the closing "
            "timeline entry; with notify: true every subscriber is messaged. Final: a resolved incident cannot be "
            "reopened (open a new one with create_incident if the problem returns). For maintenance use "
            "close_maintenance; to remove a mistaken incident from history use delete_notice."
        ),
        input_schema=_ending("The fix is deployed and error rates are normal."),
        output_schema=NOTICE,
        annotations=_FINISH,
        scope=WRITE,
        handler=send_handler("notices_resolve", _KEY, ("message", "notify")),
    ),
    Tool(
        name="close_maintenance",
        title="Close a maintenance window",
        description=(
            "Close a maintenance window when the work is done before its planned end, or cancel one not yet "
            "started: it ends now and its services return to ok unless another active notice affects them (a window "
            "also ends by itself at ends_at). The optional message is published as the closing timeline entry; with "
            "notify: true every subscriber is messaged. Final for the notice. Info notices close the same way. To "
            "move or extend the window instead use update_notice; for incidents use resolve_incident."
        ),
        input_schema=_ending("Maintenance completed."),
        output_schema=NOTICE,
        annotations=_FINISH,
        scope=WRITE,
        handler=send_handler("notices_close", _KEY, ("message", "notify")),
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
        handler=delete_handler("notices_delete", _KEY),
    ),
)
