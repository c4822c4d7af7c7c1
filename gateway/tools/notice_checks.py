"""What a notice write must show afterwards, in the terms of verify.py, and how a lost create is settled.

A notice is what subscribers and visitors read, and no public source confirms how StatusPal names its
fields: a Rails server answers 201 to a create whose affected services, first text or notify flag it did
not read. So every notice write is compared, field by field, with what StatusPal then holds: the title,
severity and window asked; the affected services and their regions; that the newest timeline entry carries
the text posted; the state after a resolve or close; and the notify echo of that entry where StatusPal gives
one (an answer without it is not a mismatch: nothing confirms StatusPal reports it at all). Everything is
read through `NoticeWire.read`, so "StatusPal dropped it" (the field is there, empty) and "the answer does not
show it" (one follow-up GET then) stay apart. Each field names the tool that corrects it: a notice's text
and notify are corrected by posting an update, its other fields by editing the notice.

A create whose answer was lost is never sent again: a second one would publish a second notice and could
message subscribers twice. One list read looks for it instead (same title and kind, created in the last
few minutes); exactly one such notice settles it, anything else leaves it unknown and names the read.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any

from gateway.statuspal.errors import UpstreamError, describe
from gateway.statuspal.notice_wire import STATE_KEYS, AffectedRefs, NoticeRecord, NoticeUpdate, NoticeWire
from gateway.tools import clock
from gateway.tools.base import ToolError
from gateway.tools.verify import CHECK_API, MISSING, Check, Write, confirm, lost_answer, same, show

# How far back a lost create is looked for. Long enough for a slow answer and clock skew between the
# gateway and StatusPal, short enough that an older notice with the same title rarely falls in it.
SETTLE_WINDOW = timedelta(minutes=10)
# StatusPal may store times to the second: a window asked with fractions still counts as applied.
_TIME_TOLERANCE = timedelta(seconds=1)
# An ending StatusPal stamps with its own clock may read a few seconds ahead of ours.
_CLOCK_SKEW = timedelta(seconds=5)

ReadNotice = Callable[[str], Awaitable[Mapping[str, Any]]]


@dataclass(frozen=True)
class Ending:
    """How resolve_incident or close_maintenance is confirmed: the tool to call again, and the states (the
    tools' words) that mean "ended". A StatusPal that reports no state is judged by its ends_at instead."""

    tool: str
    states: tuple[str, ...]


def naive_zone(wire: NoticeWire, page_timezone: Any = None) -> tzinfo | None:
    """The zone a time without an offset is read in, as `naive_times` says; None when it is not read at all
    (or the page's zone is unknown): such a time is then never guessed."""
    if wire.naive_times == "utc":
        return UTC
    return clock.zone(page_timezone) if wire.naive_times == "page" else None


async def load_refs(api: Any, page: str) -> AffectedRefs:
    """The page's services and regions, slug -> id, for affected_ref = "id": one list read each (every page
    when there are more than a hundred), made once per tool call and shared by its write and its check."""
    tables: list[dict[str, str]] = []
    for endpoint in ("services_list", "containers_list"):
        result = await api.list_all(endpoint, {"subdomain": page})
        tables.append({str(i["slug"]): str(i["id"]) for i in result.data or []
                       if isinstance(i, Mapping) and i.get("slug") and i.get("id")})
    return AffectedRefs(*tables)


def instant(value: Any, zone: tzinfo | None = None) -> datetime | None:
    """An ISO 8601 time in any form (`Z` or an offset, with or without fractions of a second), or None when
    it is not one. A time without an offset names an instant only in `zone` (the `naive_times` setting)."""
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=zone) if zone is not None else None


def is_naive(value: Any) -> bool:
    """A time StatusPal wrote without an offset: readable only with `naive_times` set."""
    return instant(value, UTC) is not None and instant(value) is None


NAIVE_ADVICE = (
    "StatusPal writes this time without a UTC offset, and statuspal.notices.naive_times does not say how to read "
    "it, so it is not guessed. Do not write again: tell the operator to set naive_times (\"utc\" or \"page\"); "
    "`statuspal-mcp check-api` infers which."
)


def same_instant(asked: Any, applied: Any, zone: tzinfo | None = None) -> bool:
    """The same instant, to within StatusPal's precision."""
    a, b = instant(asked, zone), instant(applied, zone)
    if a is None or b is None:
        return asked == applied
    return abs(a - b) < _TIME_TOLERANCE


def _newest(notice: NoticeRecord, zone: tzinfo | None) -> NoticeUpdate | None:
    """The latest timeline entry: by posted_at when every entry has one, else the last listed."""
    updates = notice.updates or ()
    if not updates:
        return None
    stamps = [instant(u.posted_at, zone) for u in updates]
    if all(stamps):
        return max(zip(stamps, range(len(updates)), updates, strict=True))[2]
    return updates[-1]


@dataclass(frozen=True)
class _Ended:
    """A notice's ending as StatusPal shows it when not in one of the tools' state words."""

    text: str
    ended: bool
    # What to do instead of ending it again, when that would not help (a word the mapping does not know).
    advice: str | None = None


def _affected_asked(entries: Sequence[Mapping[str, Any]]) -> dict[str, tuple[str, ...]]:
    out: dict[str, tuple[str, ...]] = {}
    for entry in entries:
        out[entry["service_slug"]] = out.get(entry["service_slug"], ()) + tuple(entry.get("container_slugs") or ())
    return out


def _same_affected(asked: Mapping[str, tuple[str, ...]], applied: Mapping[str, tuple[str, ...]]) -> bool:
    """The same services; the same regions where regions were named (none named means every region, which
    StatusPal may show as the full list)."""
    if set(asked) != set(applied):
        return False
    return all(not regions or set(regions) == set(applied[service]) for service, regions in asked.items())


def _show_affected(value: Any) -> str:
    if not value:
        return "no service"
    return ", ".join(f"{s} ({', '.join(r) if r else 'every region'})" for s, r in value.items())


def _show_text(value: Any) -> str:
    return "no timeline text" if value is None else show(value)


class NoticeChecks:
    """The checks of one notice write, reading StatusPal's record through the configured mapping."""

    def __init__(self, wire: NoticeWire, kind: str, fix: str, post_fix: str, zone: tzinfo | None = None,
                 refs: AffectedRefs | None = None) -> None:
        self.wire = wire
        self.kind = kind
        self.fix = fix
        self.post_fix = post_fix
        # How a time without an offset is read (naive_times): None = not at all.
        self.zone = zone
        # The page's slug <-> id tables, when StatusPal names affected services by id.
        self.refs = refs

    def read(self, record: Mapping[str, Any]) -> NoticeRecord:
        return self.wire.read(record, self.refs)

    def _field(self, name: str) -> Callable[[Mapping[str, Any]], Any]:
        def read(record: Mapping[str, Any]) -> Any:
            notice = self.read(record)
            return getattr(notice, name) if name in notice.present else MISSING

        return read

    def plain(self, name: str, asked: Any, noun: str, passed: bool = True) -> Check:
        if name not in ("starts_at", "ends_at"):
            return Check(name, asked, self._field(name), f"the {self.kind}'s {noun}", fix=self.fix, passed=passed)
        zone = self.zone
        return Check(
            name, asked, self._field(name), f"the {self.kind}'s {noun}",
            matches=lambda a, b: same_instant(a, b, zone), fix=self.fix, passed=passed,
            undone=lambda _a, b: NAIVE_ADVICE if zone is None and is_naive(b) else None,
        )

    def kind_check(self, asked: str, page: str) -> Check:
        """A create's notice type: no edit changes it, so a wrong one is deleted and made again."""

        def undone(wanted: Any, value: Any) -> str:
            return (
                f"StatusPal made it a {show(value)} notice, not a {show(wanted)} one, and no edit changes that: "
                f"delete it with delete_notice (subdomain {page!r}) and create it again once the operator has checked "
                f"statuspal.notices.type_field; {CHECK_API}."
            )

        return Check(
            "notice_type", asked, self._field("notice_type"), "the notice's kind", fix=self.fix, undone=undone,
            live=lambda v: f"it is published as {'an' if str(v)[:1] in 'aeiou' else 'a'} {v} notice", quiet=True,
        )

    def title(self, asked: str) -> Check:
        kind = self.kind
        return Check(
            "title", asked, self._field("title"), f"the {kind}'s title", fix=self.fix,
            live=lambda v: f"the {kind} is titled {show(v)}",
        )

    def affected(self, entries: Sequence[Mapping[str, Any]]) -> Check:
        kind = self.kind
        return Check(
            "affected", _affected_asked(entries), self._field("affected"), f"the list of services the {kind} affects",
            matches=_same_affected, render=_show_affected, fix=self.fix,
            live=lambda v: f"the {kind} marks {_show_affected(v)} affected",
        )

    def text(self, asked: str) -> Check:
        """The newest timeline entry carries the text posted (a dropped text leaves no entry, or an empty one)."""

        def read(record: Mapping[str, Any]) -> Any:
            notice = self.read(record)
            if "updates" not in notice.present:
                return MISSING
            newest = _newest(notice, self.zone)
            return None if newest is None else newest.message

        kind = self.kind
        return Check(
            "message", asked, read, f"the {kind}'s newest timeline text", render=_show_text, fix=self.post_fix,
            live=lambda v: f"the {kind}'s timeline shows no text" if v is None else f"the {kind}'s newest timeline text is {show(v)}",
        )

    def notify(self, asked: bool, text: str) -> Check:
        """StatusPal's notify echo on the entry just posted; no echo (or no such entry) is not a mismatch."""

        def read(record: Mapping[str, Any]) -> Any:
            newest = _newest(self.read(record), self.zone)
            if newest is None or not same(text, newest.message) or newest.notified is None:
                return MISSING
            return newest.notified

        def live(value: Any) -> str:
            told = "subscribers were notified" if value else "no subscriber was notified"
            return f"StatusPal's timeline says {told} of that text"

        post_fix = self.post_fix

        def undone(wanted: Any, value: Any) -> str | None:
            # Asked not to notify, but StatusPal did: a notification cannot be recalled, so no call corrects it.
            if wanted is False and value is True:
                return (
                    "This cannot be undone: subscribers were already notified and a notification cannot be recalled. "
                    "Tell the user; if subscribers should hear that it was sent by mistake, call "
                    f"{post_fix} with a message saying so and notify: true, once the user agrees. Do not repeat the "
                    "write: it would notify them again."
                )
            return None

        return Check(
            "notify", asked, read, "whether subscribers were notified of that text", echoed=False, fix=self.post_fix,
            live=live, undone=undone,
        )

    def state(self, ending: Ending) -> Check:
        """The notice ended: its state is one of `ending.states`, or, when StatusPal reports no state, its
        ends_at has passed. A word the mapping does not know is never read as ended (nor as not ended)."""
        kind, zone = self.kind, self.zone

        def read(record: Mapping[str, Any]) -> Any:
            notice = self.read(record)
            if notice.state is not None:
                return notice.state
            if notice.wire_state is not None:
                keys = ", ".join(f"state_{kind}_{s}" for s in ending.states if (kind, s) in STATE_KEYS) or "state_<type>_<state>"
                return _Ended(
                    f"{show(notice.wire_state)} (a state word statuspal.notices does not map)", False,
                    f"StatusPal names this state {show(notice.wire_state)}, a word the gateway's mapping does not know, "
                    f"so whether the {kind} ended cannot be read. Do not end it again: check it with get_notice, and "
                    f"tell the operator to add the word to statuspal.notices ({keys}); `statuspal-mcp check-api` "
                    "infers it.",
                )
            if "ends_at" not in notice.present:
                return MISSING
            end = instant(notice.ends_at, zone)
            if end is None and is_naive(notice.ends_at):
                return _Ended(f"no state; ends_at {show(notice.ends_at)}", False, NAIVE_ADVICE)
            ended = end is not None and end <= datetime.now(UTC) + _CLOCK_SKEW
            return _Ended(f"no state; ends_at {show(notice.ends_at)}{' (passed)' if ended else ''}", ended)

        def render(value: Any) -> str:
            return value.text if isinstance(value, _Ended) else show(value)

        return Check(
            "state", ending.states[0], read, f"the {kind}'s state",
            matches=lambda _asked, value: value.ended if isinstance(value, _Ended) else value in ending.states,
            render=render, fix=self.fix, passed=False,
            undone=lambda _asked, value: value.advice if isinstance(value, _Ended) else None,
        )


def notice_write(
    wire: NoticeWire,
    page: str,
    answer: Mapping[str, Any],
    asked: Mapping[str, Any],
    *,
    notice_id: str | None,
    read_notice: ReadNotice,
    fix_tool: str = "update_notice",
    ending: Ending | None = None,
    zone: tzinfo | None = None,
    refs: AffectedRefs | None = None,
) -> Write:
    """The Write of one notice call: every logical field asked, checked against what StatusPal holds.

    `fix_tool` corrects the notice's own fields (update_notice, or the ending tool for an ends_at it set);
    its text and notify are corrected with post_notice_update. The follow-up GET reads the notice by the id
    the answer gave, else the one the caller named.
    """
    record = wire.read(answer, refs)
    notice_id = record.id or notice_id
    kind = record.notice_type or asked.get("notice_type") or "notice"
    named = f"subdomain {page!r}, notice_id {notice_id!r}" if notice_id else f"subdomain {page!r}"
    checks = NoticeChecks(wire, kind, f"{fix_tool} ({named})", f"post_notice_update ({named})", zone, refs)
    found: list[Check] = []
    if "title" in asked:
        found.append(checks.title(asked["title"]))
    if "notice_type" in asked:
        found.append(checks.kind_check(asked["notice_type"], page))
    for name, noun in (("severity", "severity"), ("starts_at", "start"), ("ends_at", "end")):
        if name in asked:
            # An ends_at the ending set is corrected by ending the notice again, not passed by the caller.
            found.append(checks.plain(name, asked[name], noun, passed=ending is None))
    if "affected" in asked:
        found.append(checks.affected(asked["affected"]))
    if ending is not None:
        found.append(checks.state(ending))
    if asked.get("message") is not None:
        found.append(checks.text(asked["message"]))
        if "notify" in asked:
            found.append(checks.notify(asked["notify"], asked["message"]))
    reread = None
    if notice_id:
        ident = notice_id

        async def reread() -> Mapping[str, Any]:
            return await read_notice(ident)

    subject = f"{kind} {notice_id!r} on status page {page!r}" if notice_id else f"the new {kind} on status page {page!r}"
    return Write(
        subject=subject,
        checks=tuple(found),
        fix=checks.fix,
        where=f"on the public page of {page!r}",
        reread=reread,
        reread_tool="get_notice",
    )


async def settle_create(
    err: UpstreamError,
    wire: NoticeWire,
    page: str,
    asked: Mapping[str, Any],
    *,
    tool: str,
    read_recent: Callable[[], Awaitable[tuple[list[Any], Mapping[str, Any]]]],
    read_notice: ReadNotice,
    now: datetime | None = None,
    zone: tzinfo | None = None,
    refs: AffectedRefs | None = None,
) -> dict[str, Any]:
    """A create with no usable answer, settled by one list read when that read is unambiguous.

    Exactly one notice of this kind and title created within SETTLE_WINDOW means this call made it; it is
    then confirmed like any answer. None found does not prove it was not made (StatusPal may still be
    processing it, or list it later), and two or more cannot be told apart, so both stay unknown, with the
    read that settles it. Raises `err` itself when the outcome is known (a refusal, not a lost answer).
    """
    if not err.outcome_unknown:
        raise err
    kind, title = asked["notice_type"], asked["title"]
    lead = lost_answer(err)
    read = f"list_notices (subdomain {page!r}, notice_type {kind!r})"
    blind = (
        f"Do not call {tool} again blindly, since a second create would publish a second {kind} and could message "
        f"subscribers twice: call {read} and create it only if no {kind} titled {title!r} is there."
    )
    try:
        items, meta = await read_recent()
    except UpstreamError as read_err:
        raise ToolError(f"{lead}, and the read to settle it failed: {describe(read_err)} {blind}") from None
    since = (now or datetime.now(UTC)) - SETTLE_WINDOW
    matches: list[Any] = []
    undated = covered = False
    for item in items:
        notice = wire.read(item)
        created = instant(notice.extra.get("created_at"), zone)
        if created is not None and created < since:
            covered = True  # the list reaches back past the window
        if notice.title != title or notice.notice_type not in (kind, None):
            continue
        if created is None:
            undated = True
        elif created >= since:
            matches.append(item)
    more_pages = int(meta.get("total_pages") or 1) > int(meta.get("current_page") or 1)
    if undated or len(matches) > 1 or (not matches and more_pages and not covered):
        why = (
            f"{len(matches)} {kind}s titled {title!r} were created in the last {SETTLE_WINDOW.seconds // 60} minutes"
            if len(matches) > 1
            else "the notices it shows do not all say when they were created"
            if undated
            else "the notices of the last minutes do not fit in one page"
        )
        raise ToolError(f"{lead}, and one read cannot settle it: {why}. {blind}")
    if not matches:
        raise ToolError(
            f"{lead}, and one read shows no {kind} titled {title!r} created in the last "
            f"{SETTLE_WINDOW.seconds // 60} minutes; StatusPal may still be processing it, so its outcome is "
            f"unknown. {blind}"
        )
    write = notice_write(wire, page, matches[0], asked, notice_id=None, read_notice=read_notice, zone=zone, refs=refs)
    try:
        return await confirm(write, matches[0])
    except ToolError as partial:
        raise ToolError(f"{lead}; one read found it, so the create took effect, but:\n{partial}") from None
