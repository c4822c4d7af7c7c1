"""What time it is on a status page: for a model that must turn "this Sunday 02:00" into a date-time.

A model knows neither today's date nor the page's offset, and StatusPal only takes instants (a time with an
offset). So get_status_page says what time it is now in the page's time zone, and an error about a time (one
without an offset, a window already over) says it too, and spells out the offset the page's zone has on the
date asked, instead of leaving the model to guess (and schedule maintenance an hour off).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from gateway.statuspal.errors import UpstreamError
from gateway.tools.base import Handler, ToolContext, ToolError


class TimeProblem(ToolError):
    """A time argument refused; `naive` is the (argument, value) of a time given without an offset."""

    def __init__(self, message: str, naive: tuple[str, str] | None = None) -> None:
        super().__init__(message)
        self.naive = naive


def zone(name: Any) -> ZoneInfo | None:
    """A page's `timezone` (an IANA name) as a zone; None when it is not one."""
    if not isinstance(name, str) or not name:
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None


def offset_text(moment: datetime) -> str:
    """The UTC offset as ISO 8601 writes it (`+01:00`), `+00:00` for UTC too, so it reads like any other offset."""
    text = moment.isoformat()
    return text[-6:] if len(text) >= 6 and text[-6] in "+-" else "+00:00"


def local_now(timezone: Any, now: datetime | None = None) -> str | None:
    """The time now in `timezone`, as `2026-12-07T05:10:00+01:00, a Monday`; None for an unknown zone."""
    where = zone(timezone)
    if where is None:
        return None
    moment = (now or datetime.now(UTC)).astimezone(where).replace(microsecond=0)
    return f"{moment.isoformat()}, a {moment.strftime('%A')}"


def with_local_now(record: Mapping[str, Any], now: datetime | None = None) -> dict[str, Any]:
    """A status page record plus `now`: what time it is in the page's time zone (none for an unknown zone)."""
    answer = dict(record)
    current = local_now(record.get("timezone"), now)
    if current is not None:
        answer["now"] = current
    return answer


def page_time_sentence(subdomain: str, timezone: str, naive: tuple[str, str] | None, now: datetime | None = None) -> str:
    """What the page's clock says now, and for a time without an offset, that time with the page's offset."""
    where = zone(timezone)
    if where is None:
        return ""
    sentence = f"On page {subdomain!r} (time zone {timezone}) it is now {local_now(timezone, now)}."
    if naive is not None:
        name, value = naive
        try:
            asked = datetime.fromisoformat(value)
        except ValueError:
            return sentence
        local = asked.replace(tzinfo=where)
        utc = local.astimezone(UTC).isoformat().replace("+00:00", "Z")
        sentence += (
            f" On {asked.date().isoformat()} that zone is UTC{offset_text(local)}: if {value} is the page's local "
            f"time, send {name} {local.isoformat()} (the same instant as {utc})."
        )
    return sentence


def with_page_clock(handler: Handler) -> Handler:
    """`handler` whose refusals of a time (TimeProblem) also say what time it is on the page, read from
    StatusPal only then, so a call with good times costs no extra request."""

    async def handle(ctx: ToolContext, args: dict[str, Any]) -> Mapping[str, Any]:
        try:
            return await handler(ctx, args)
        except TimeProblem as problem:
            subdomain = args.get("subdomain")
            try:
                page = (await ctx.upstream.call("status_pages_get", {"subdomain": subdomain})).data or {}
            except UpstreamError:
                raise problem from None
            timezone = page.get("timezone") if isinstance(page, dict) else None
            told = page_time_sentence(str(subdomain), timezone, problem.naive) if isinstance(timezone, str) else ""
            raise ToolError(f"{problem} {told}".strip()) from None

    return handle
