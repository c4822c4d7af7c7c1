"""Verified writes: compare what StatusPal applied with what was asked, and never call a partial write a success.

StatusPal Next is a Rails application, and Rails drops body keys it does not permit without any error: a
write can answer 200 or 201 while ignoring a field the gateway sent under a name this StatusPal does not
use. The public page would then show something the user never asked for while the model reports success.
So after a write, each field asked is read back from StatusPal's own answer or, when the answer lacks
some of them, from one follow-up GET (never more: a verified write costs at most one extra read). Any
difference becomes an `isError` result that says what was applied, what was not, what is live now, and
which tool corrects it.

A write whose outcome is unknown (a POST that timed out, lost its connection or got a 5xx) is never sent
again blindly: `settle` reads the resource by the identifier the caller chose, when there is one, and
reports what that read shows; otherwise the error says which read would settle it.

Deletes are not read back: a 204 is StatusPal's documented answer to a delete that happened, and a delete
carries no fields a server could silently drop, so a success leaves nothing unconfirmed.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import orjson

from gateway.observability.tracing import span
from gateway.statuspal.errors import UpstreamError, describe
from gateway.tools.base import ToolError

MISSING: Any = object()
CHECK_API = "the operator should run `statuspal-mcp check-api` to see which fields this StatusPal accepts"


def show(value: Any) -> str:
    """A value as the model should read it: JSON (strings quoted, null, true), cut short when long."""
    text = orjson.dumps(value).decode() if value is not MISSING else "(not shown)"
    return text if len(text) <= 120 else text[:117] + "..."


def same(asked: Any, applied: Any) -> bool:
    """Equal as StatusPal means it: an object matches when every key asked has the value asked (others
    may exist), a list matches as a set when its items are plain values (events, subdomains), and text as
    StatusPal may store it (`normalised`): a value StatusPal normalised was applied."""
    if isinstance(asked, Mapping):
        return isinstance(applied, Mapping) and all(k in applied and same(v, applied[k]) for k, v in asked.items())
    if isinstance(asked, list) and isinstance(applied, list) and all(isinstance(v, (str, int)) for v in asked + applied):
        return sorted(normalised(v) for v in asked) == sorted(normalised(v) for v in applied)
    if isinstance(asked, str) and isinstance(applied, str):
        return normalised(asked) == normalised(applied)
    return asked == applied


def normalised(value: Any) -> str:
    """A value as StatusPal may rewrite it without changing it: text without surrounding white space, and an
    http(s) URL with its scheme and host in lower case, no default port and no trailing slash."""
    text = str(value).strip()
    try:
        parts = urlsplit(text)
        port_number = parts.port
    except ValueError:
        return text
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        return text
    default = {"http": 80, "https": 443}[parts.scheme.lower()]
    port = f":{port_number}" if port_number not in (None, default) else ""
    userinfo = parts.netloc.rpartition("@")[0]
    host = (userinfo + "@" if userinfo else "") + parts.hostname.lower() + port
    return urlunsplit((parts.scheme.lower(), host, parts.path.rstrip("/"), parts.query, parts.fragment))


@dataclass(frozen=True)
class Check:
    """One field of a write: its argument name, the value asked, where StatusPal's record shows it, and
    how it reads to someone looking at the public page ("the service's description")."""

    name: str
    asked: Any
    read: Callable[[Mapping[str, Any]], Any]
    public: str
    matches: Callable[[Any, Any], bool] = same
    render: Callable[[Any], str] = show
    # False for a field StatusPal may not echo at all (notify): its absence is not a mismatch.
    echoed: bool = True
    # How the value reads as a whole phrase on the page, when "{public} is {value}" reads badly
    # ("the incident marks no service affected").
    live: Callable[[Any], str] | None = None
    # The tool call that corrects this field, when it is not the write's own (a notice's text is corrected
    # by posting an update, its affected services by editing the notice).
    fix: str = ""
    # False when the correcting call does not take this field as an argument (a notice's state after
    # resolve_incident): the correction is then to call it again.
    passed: bool = True
    # For a mismatch no call can correct (subscribers already notified): what to say instead of "call
    # again", given the value asked and the value StatusPal has; None when calling again does correct it.
    undone: Callable[[Any, Any], str | None] | None = None
    # True for a value the tool fixes rather than the caller (a create's notice type): named only when
    # StatusPal has another, never among what was applied.
    quiet: bool = False

    def live_phrase(self, value: Any) -> str:
        return self.live(value) if self.live is not None else f"{self.public} is {self.render(value)}"


def field_check(name: str, api_field: str, asked: Any, public: str) -> Check:
    """The common case: the record carries the field under the same name it was sent with."""
    return Check(name, asked, lambda record: record.get(api_field, MISSING), public)


@dataclass(frozen=True)
class Write:
    """A write to confirm: what it was about, its checks, the tool call that corrects it, and the one GET
    that reads the resource again when the answer lacks fields (None when there is no way to read it)."""

    subject: str
    checks: tuple[Check, ...]
    fix: str
    where: str = "on the public page"
    reread: Callable[[], Awaitable[Mapping[str, Any]]] | None = None
    reread_tool: str = ""


@dataclass
class Outcome:
    applied: list[tuple[Check, Any]] = field(default_factory=list)
    ignored: list[tuple[Check, Any]] = field(default_factory=list)
    unconfirmed: list[Check] = field(default_factory=list)
    # Fields StatusPal may not echo and did not: no mismatch, but "unknown" is what a mismatch says of them.
    unshown: list[Check] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.ignored and not self.unconfirmed

    def data(self, write: Write) -> dict[str, Any]:
        """The verdict as data: what was asked of which subject, what StatusPal applied, what it did not (with
        the value it holds instead), and what it did not show. Values are the tools' own, never the wire's."""
        return {
            "subject": write.subject,
            "asked": {c.name: c.asked for c in (*(c for c, _ in self.applied), *(c for c, _ in self.ignored), *self.unconfirmed, *self.unshown)},
            "applied": {c.name: v for c, v in self.applied},
            "not_applied": {c.name: {"asked": c.asked, "statuspal": v} for c, v in self.ignored},
            "unconfirmed": [c.name for c in (*self.unconfirmed, *self.unshown)],
        }


def compare(checks: tuple[Check, ...], record: Mapping[str, Any]) -> Outcome:
    outcome = Outcome()
    for check in checks:
        value = check.read(record)
        if value is MISSING:
            (outcome.unconfirmed if check.echoed else outcome.unshown).append(check)
        elif check.matches(check.asked, value):
            outcome.applied.append((check, value))
        else:
            outcome.ignored.append((check, value))
    return outcome


async def judge(write: Write, answer: Mapping[str, Any] | None) -> tuple[Outcome, dict[str, Any]]:
    """The verdict on a write and the record it rests on: the answer as it is when it shows every field,
    otherwise with one GET filling in what it lacks (the GET's values win: it shows what is live now; fields
    only the answer carries, such as a webhook's one-time secret, are kept). The one judgement both the tools
    and `check-api` pass on a write; raises the GET's UpstreamError."""
    with span("verify write", {"statuspal_mcp.verify.fields": len(write.checks)}) as current:
        record = dict(answer or {})
        outcome = compare(write.checks, record)
        reread = write.reread if outcome.unconfirmed else None
        if reread is not None:
            record = {**record, **dict(await reread() or {})}
            outcome = compare(write.checks, record)
        if current is not None:  # counts only: values are the user's
            current.set_attributes({"statuspal_mcp.verify.reread": reread is not None, "statuspal_mcp.verify.applied": outcome.ok,
                                    "statuspal_mcp.verify.not_applied": len(outcome.ignored)})
        return outcome, record


async def confirm(write: Write, answer: Mapping[str, Any] | None) -> dict[str, Any]:
    """The record StatusPal holds after the write, once every field asked is confirmed; else ToolError."""
    try:
        outcome, record = await judge(write, answer)
    except UpstreamError as err:
        raise ToolError(
            f"StatusPal accepted the write to {write.subject}, but its answer did not show every field and the "
            f"read to confirm them failed: {describe(err)} Check with {write.reread_tool or 'the matching get tool'} "
            "before writing again."
        ) from None
    if not outcome.ok:
        raise ToolError(mismatch(write, outcome), data=outcome.data(write))
    return record


def mismatch(write: Write, outcome: Outcome) -> str:
    """The isError text of a write StatusPal applied only in part: applied, not applied, live, how to fix."""
    lines = [f"StatusPal accepted the write to {write.subject} but did not apply all of it, so this is not a success."]
    shown = [(c, v) for c, v in outcome.applied if not c.quiet]
    applied = "; ".join(f"{c.name} {c.render(v)}" for c, v in shown)
    lines.append(f"Applied: {applied or 'none of the fields checked'}.")
    if outcome.ignored:
        lines.append(
            "Not applied: "
            + "; ".join(f"{c.name} (asked {c.render(c.asked)}, StatusPal has {c.render(v)})" for c, v in outcome.ignored)
            + "."
        )
    if outcome.unconfirmed:
        lines.append(
            "Not confirmed: "
            + "; ".join(f"{c.name} (asked {c.render(c.asked)}; StatusPal's answer does not show it)" for c in outcome.unconfirmed)
            + "."
        )
    live = [c.live_phrase(v) for c, v in (*shown, *outcome.ignored)]
    live += [f"{c.public} is unknown" for c in (*outcome.unconfirmed, *outcome.unshown)]
    lines.append(f"Live {write.where} now: {'; '.join(live)}.")
    # Each field is corrected by its own tool call (several fields can share one), in the order checked. A
    # field no call can correct is said so instead: calling again would only repeat what cannot be taken back.
    undone = [(c, c.undone(c.asked, v)) for c, v in outcome.ignored if c.undone is not None]
    final = [(c, text) for c, text in undone if text]
    unfixable = {c.name for c, _ in final}
    fixes: dict[str, list[str]] = {}
    for check in [c for c, _ in outcome.ignored if c.name not in unfixable] or outcome.unconfirmed:
        fixes.setdefault(check.fix or write.fix, []).extend([check.name] if check.passed else [])
    if fixes:
        calls = "; ".join(
            f"call {tool} and pass {', '.join(names)} again" if names else f"call {tool} again"
            for tool, names in fixes.items()
        )
        lines.append(
            f"To correct it, {calls}; if StatusPal ignores it again, it does not accept that field under this name: "
            f"{CHECK_API}."
        )
    lines.extend(text for _, text in final)
    return "\n".join(lines)


def lost_answer(err: UpstreamError) -> str:
    """The opening of every "outcome unknown" verdict: which answer was lost, in StatusPal's words."""
    label = f"{err.status} {err.code}".strip() if err.status else (err.code or "no answer")
    return f"StatusPal gave no usable answer to the create ({label}: {err.message or 'no details'})"


async def settle(
    err: UpstreamError,
    write: Write,
    *,
    retry_tool: str,
) -> dict[str, Any]:
    """A create whose outcome is unknown, settled by reading the resource under the identifier the caller
    chose: StatusPal refuses a create whose identifier is taken, so a resource found there now was made by
    this call, and one not found means nothing was made and calling again is safe. Raises the original
    error when there is nothing to read by, and ToolError with the verdict otherwise."""
    if not err.outcome_unknown or write.reread is None:
        raise err
    lost = lost_answer(err)
    try:
        with span("verify unknown outcome"):  # the one read that settles a create whose answer was lost
            record = await write.reread()
    except UpstreamError as read_err:
        if read_err.status == 404 and not read_err.route_missing:
            raise ToolError(
                f"{lost}, so one read settled it: there is no {write.subject}, so the create did not take effect. "
                f"It is safe to call {retry_tool} again."
            ) from None
        raise err from None
    outcome = compare(write.checks, record)
    if not outcome.ok:
        raise ToolError(f"{lost}; one read shows it took effect, but not in full.\n" + mismatch(write, outcome), data=outcome.data(write))
    return dict(record)
