"""What a person sees before a confirmed write, and the one read that proves its target has not changed since.

For each tool that can be confirmed: its kind of action (publish, delete, rotate), the record it acts on, which
of that record's fields must still be the same when the person says yes (a notice that was resolved meanwhile,
a page that is gone), and what the preview shows. The preview is built from StatusPal's own records (the
page, its services and regions, the notice), read once per draft, so the person sees names, not slugs.

Everything in a preview that came from the caller or from StatusPal is plain data; whoever renders it (the
MCP App view, a form's message) shows it as text.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from gateway.statuspal.errors import UpstreamError, describe
from gateway.tools import clock, containers, notices, services, status_pages, webhooks
from gateway.tools.base import Tool, ToolContext, ToolError

Action = Literal["publish", "delete", "rotate"]
_READS: dict[str, Tool] = {
    tool.name: tool for module in (status_pages, services, containers, notices, webhooks) for tool in module.TOOLS
}
_NOTICE_WRITES = frozenset({"post_notice_update", "update_notice", "resolve_incident", "close_maintenance", "delete_notice"})
_NOTICE_CREATES = {"create_incident": "incident", "schedule_maintenance": "maintenance", "create_info_notice": "info"}


@dataclass(frozen=True)
class Target:
    """The record a confirmed write acts on: the read tool and arguments that fetch it, and the fields of it
    that must be unchanged for the write to go ahead."""

    read: str
    arguments: Callable[[Mapping[str, Any]], dict[str, Any]]
    fields: tuple[str, ...]
    what: str


def _page(args: Mapping[str, Any]) -> dict[str, Any]:
    return {"subdomain": args["subdomain"]}


def _notice(args: Mapping[str, Any]) -> dict[str, Any]:
    return {"subdomain": args["subdomain"], "notice_id": args["notice_id"]}


def _slug(args: Mapping[str, Any]) -> dict[str, Any]:
    return {"subdomain": args["subdomain"], "slug": args["slug"]}


def _webhook(args: Mapping[str, Any]) -> dict[str, Any]:
    return {"webhook_id": args["webhook_id"]}


_PAGE_TARGET = Target("get_status_page", _page, ("subdomain",), "status page")
# A notice must still be in the state the person saw: resolved, closed or re-timed meanwhile, the write is off.
_NOTICE_TARGET = Target("get_notice", _notice, ("notice_id", "state", "ends_at"), "notice")
TARGETS: dict[str, Target] = {
    **{name: _PAGE_TARGET for name in _NOTICE_CREATES},
    **{name: _NOTICE_TARGET for name in _NOTICE_WRITES},
    "delete_status_page": _PAGE_TARGET,
    "delete_service": Target("get_service", _slug, ("slug",), "service"),
    "delete_container": Target("get_container", _slug, ("slug",), "region"),
    "delete_webhook": Target("get_webhook", _webhook, ("id", "url"), "webhook"),
    "rotate_webhook_secret": Target("get_webhook", _webhook, ("id", "url"), "webhook"),
}


def action_of(tool_name: str) -> Action:
    if tool_name.startswith("delete_"):
        return "delete"
    return "rotate" if tool_name == "rotate_webhook_secret" else "publish"


def type_to_confirm(tool_name: str, arguments: Mapping[str, Any]) -> str | None:
    """What the person must type to confirm: a page's subdomain before deleting the page for good."""
    return str(arguments["subdomain"]) if tool_name == "delete_status_page" else None


async def fingerprint(ctx: ToolContext, tool_name: str, arguments: Mapping[str, Any]) -> dict[str, Any]:
    """The target's fields that must not change, read now; ToolError (nothing written) when it is gone."""
    target = TARGETS[tool_name]
    record = await _read(ctx, target.read, target.arguments(arguments), target.what)
    return {name: record.get(name) for name in target.fields}


async def preview(ctx: ToolContext, tool_name: str, arguments: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """The preview the person reviews, and the target's fingerprint read for it (one read each, never more)."""
    target = TARGETS[tool_name]
    record = await _read(ctx, target.read, target.arguments(arguments), target.what)
    held = {name: record.get(name) for name in target.fields}
    page = record if target.read == "get_status_page" else None
    if page is None and "subdomain" in arguments:
        page = await _read(ctx, "get_status_page", _page(arguments), "status page")
    action = action_of(tool_name)
    shown: dict[str, Any] = {
        "tool": tool_name,
        "action": action,
        "page": _page_view(page, tool_name, arguments) if page is not None else None,
        "notice": None,
        "notify": arguments.get("notify") if "notify" in arguments else None,
        "notify_consequence": _notify_consequence(arguments.get("notify")) if "notify" in arguments else "",
        "delete": None,
        "rotate": None,
    }
    if tool_name in _NOTICE_CREATES or tool_name in _NOTICE_WRITES:
        shown["notice"] = await _notice_view(ctx, tool_name, arguments, record if target.read == "get_notice" else None, page)
    if action == "delete":
        shown["delete"] = {
            "what": f"This deletes the {target.what} {_label(record, target)} for good; it cannot be undone.",
            "goes_with": _goes_with(tool_name),
            "type_to_confirm": type_to_confirm(tool_name, arguments),
        }
    if action == "rotate":
        shown["rotate"] = {
            "webhook": str(record.get("name") or record.get("url") or arguments.get("webhook_id")),
            "warning": "Every receiver of this webhook must be given the new secret, or it stops verifying deliveries.",
        }
    shown["summary"] = _summary(tool_name, shown, record, target)
    return shown, held


async def _read(ctx: ToolContext, read_tool: str, arguments: dict[str, Any], what: str) -> dict[str, Any]:
    try:
        return dict(await _READS[read_tool].handler(ctx, arguments))
    except UpstreamError as exc:
        if exc.status == 404:
            raise ToolError(f"The {what} is not there any more ({describe(exc)}); nothing was written.") from None
        raise


def _page_view(page: Mapping[str, Any], tool_name: str, arguments: Mapping[str, Any]) -> dict[str, Any]:
    zone = str(page.get("timezone") or page.get("time_zone") or "UTC")
    return {
        "subdomain": page.get("subdomain"),
        "name": page.get("name") or page.get("subdomain"),
        "time_zone": zone,
        "status_now": page.get("current_status"),
        "status_predicted": _predicted(tool_name, arguments, page.get("current_status")),
    }


def _predicted(tool_name: str, arguments: Mapping[str, Any], now: Any) -> str | None:
    """The page status this write will most likely bring (a prediction: other notices can hold it elsewhere)."""
    if tool_name == "create_incident":
        return "unavailable" if arguments.get("severity") == "major" else "degraded"
    if tool_name == "schedule_maintenance":
        return "maintenance during the window"
    if tool_name in ("resolve_incident", "close_maintenance"):
        return "operational, unless another notice still affects it"
    if tool_name == "delete_status_page":
        return None  # no page, no status
    return now if isinstance(now, str) else None


async def _notice_view(
    ctx: ToolContext, tool_name: str, arguments: Mapping[str, Any], notice: Mapping[str, Any] | None,
    page: Mapping[str, Any] | None,
) -> dict[str, Any]:
    notice = notice or {}
    zone = str((page or {}).get("timezone") or (page or {}).get("time_zone") or "UTC")
    affected = arguments.get("affected") if "affected" in arguments else notice.get("affected")
    return {
        "title": arguments.get("title", notice.get("title")),
        "type": _NOTICE_CREATES.get(tool_name) or notice.get("type") or notice.get("notice_type"),
        "severity": arguments.get("severity", notice.get("severity")),
        "text": arguments.get("message") if "message" in arguments else None,
        "starts_at_local": _local(arguments.get("starts_at", notice.get("starts_at")), zone),
        "ends_at_local": _local(arguments.get("ends_at", notice.get("ends_at")), zone),
        "affected": await _affected_view(ctx, arguments.get("subdomain"), affected),
        "state": notice.get("state"),
    }


async def _affected_view(ctx: ToolContext, subdomain: Any, affected: Any) -> list[dict[str, Any]]:
    """Affected services by display name, with their regions' names: one list read each, only when needed."""
    if not isinstance(affected, list) or not affected or not isinstance(subdomain, str):
        return []
    names = await _names(ctx, "list_services", subdomain)
    regions = await _names(ctx, "list_containers", subdomain)
    shown = []
    for entry in affected:
        if not isinstance(entry, Mapping):
            continue
        slug = str(entry.get("service_slug"))
        shown.append({
            "service": names.get(slug, slug), "service_slug": slug,
            "regions": [regions.get(str(r), str(r)) for r in entry.get("container_slugs") or []],
        })
    return shown


async def _names(ctx: ToolContext, list_tool: str, subdomain: str) -> dict[str, str]:
    listed = await _READS[list_tool].handler(ctx, {"subdomain": subdomain, "all": True})
    return {str(item.get("slug")): str(item.get("name") or item.get("slug")) for item in listed.get("items", []) if isinstance(item, Mapping)}


def _local(value: Any, zone: str) -> str | None:
    """An ISO time as the page's readers see it, e.g. '2026-03-01 03:00 CET (Europe/Berlin)'."""
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return value
    tz = clock.zone(zone)
    if tz is None:
        return value
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    local = moment.astimezone(tz)
    return f"{local:%Y-%m-%d %H:%M} {local.tzname()} ({zone})"


def _notify_consequence(notify: Any) -> str:
    if notify is True:
        return "Subscribers are messaged (email, SMS, chat) as soon as this is published; that cannot be recalled."
    if notify is False:
        return "Subscribers are not messaged; the change still shows on the public page at once."
    return ""


def _label(record: Mapping[str, Any], target: Target) -> str:
    name = record.get("name") or record.get("title") or record.get("url")
    key = next((record.get(f) for f in target.fields if record.get(f)), "")
    return f"{name!s} ({key})" if name and name != key else str(key)


def _goes_with(tool_name: str) -> list[str]:
    return {
        "delete_status_page": ["its services and regions", "its notices and their history", "its subscribers"],
        "delete_service": ["its place in every region", "its part in notices' affected lists"],
        "delete_container": ["the region's grouping of services"],
        "delete_notice": ["the notice's timeline on the public page"],
        "delete_webhook": ["every future delivery to its URL"],
    }.get(tool_name, [])


def _summary(tool_name: str, shown: Mapping[str, Any], record: Mapping[str, Any], target: Target) -> str:
    page = (shown.get("page") or {}).get("name")
    notice = shown.get("notice") or {}
    where = f" on {page}" if page and tool_name != "delete_status_page" else ""
    if tool_name in _NOTICE_CREATES:
        return f"Publish the {notice.get('type')} notice “{notice.get('title')}”{where}."
    if tool_name in _NOTICE_WRITES and tool_name != "delete_notice":
        verb = {"post_notice_update": "Post an update to", "update_notice": "Edit", "resolve_incident": "Resolve",
                "close_maintenance": "Close"}[tool_name]
        return f"{verb} the notice “{record.get('title')}”{where}."
    if shown["action"] == "rotate":
        return f"Rotate the signing secret of the webhook {shown['rotate']['webhook']}."
    return f"Delete the {target.what} {_label(record, target)}{where}."

