"""The handlers most tools share: call one endpoint with the tool's arguments split into path, body and query.

A tool's arguments use the API's own names, so a handler only has to say which arguments fill the path
template and which go in the body. Upstream errors pass through untouched: the tool runner turns them into
`isError` results with `errors.describe()`, so no handler formats an upstream failure.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from gateway.statuspal.endpoints import MAX_PER_PAGE
from gateway.statuspal.errors import UpstreamError
from gateway.tools.base import Annotations, Handler, ToolContext, ToolError
from gateway.tools.fit import decode_list_cursor, fit_list, list_cursor_kind
from gateway.tools.verify import Check, Write, confirm, field_check, settle

# Annotations for the kinds of write. An update overwrites earlier values (no history), which MCP calls a
# destructive update; repeating it changes nothing more, so it is idempotent. Deletes are the same pair.
CREATE = Annotations(read_only=False, destructive=False, idempotent=False)
UPDATE = Annotations(read_only=False, destructive=True, idempotent=True)
DELETE = Annotations(read_only=False, destructive=True, idempotent=True)

Prepare = Callable[[dict[str, Any]], dict[str, Any]]
ExtraChecks = Callable[[dict[str, Any], dict[str, Any]], tuple[Check, ...]]


@dataclass(frozen=True)
class Verified:
    """How to confirm a write to one kind of resource: the GET that reads one again, the path parameters
    that name it and the record fields that hold them, how each body field reads on the public page, and
    the tool that corrects a field StatusPal did not apply. Body fields without a `public` phrase are
    checked by `extra` (a webhook's page scope spans two fields) or not at all. A `key` entry mapped to
    None is taken from the arguments only (a service's record does not carry its page's subdomain)."""

    noun: str
    get: str
    get_tool: str
    fix_tool: str
    key: Mapping[str, str | None]
    public: Mapping[str, str]
    where: str = "on the public page"
    extra: ExtraChecks | None = None

    def write(
        self, ctx: ToolContext, args: Mapping[str, Any], payload: Mapping[str, Any], record: Mapping[str, Any],
        rename: Mapping[str, str] | None = None,
    ) -> Write:
        """The Write to confirm: identifiers from the record when it has them, else from what was sent."""
        argument = {api: arg for arg, api in (rename or {}).items()}
        ident: dict[str, str] = {}
        for param, record_field in self.key.items():
            value = (record.get(record_field) or payload.get(record_field)) if record_field else None
            value = value or args.get(param)
            if isinstance(value, str) and value:
                ident[param] = value
        checks = tuple(
            field_check(argument.get(name, name), name, value, self.public[name])
            for name, value in payload.items()
            if name in self.public
        )
        if self.extra is not None:
            checks += self.extra(dict(args), dict(payload))
        named = ", ".join(f"{p} {v!r}" for p, v in ident.items())
        reread = None
        if len(ident) == len(self.key):
            async def reread() -> Mapping[str, Any]:
                return dict((await ctx.upstream.call(self.get, ident)).data or {})
        return Write(
            subject=self._subject(ident),
            checks=checks,
            fix=f"{self.fix_tool} ({named})" if named else self.fix_tool,
            where=self.where,
            reread=reread,
            reread_tool=self.get_tool,
        )

    def _subject(self, ident: Mapping[str, str]) -> str:
        page = ident.get("subdomain")
        if self.noun == "status page":
            return f"status page {page!r}" if page else "the new status page"
        own = next((v for p, v in ident.items() if p != "subdomain"), None)
        text = f"{self.noun} {own!r}" if own else f"the new {self.noun}"
        return f"{text} on status page {page!r}" if page else text


def _path(args: Mapping[str, Any], names: tuple[str, ...]) -> dict[str, str]:
    return {name: args[name] for name in names}


def list_handler(endpoint: str, path: tuple[str, ...] = (), filters: tuple[str, ...] = ()) -> Handler:
    """One page of a collection, or with `all: true` every page (bounded by the client, with progress), cut to
    fit a client's window (gateway/tools/fit.py); `cursor` resumes a cut answer after its last record.

    `filters` name the arguments sent as query parameters with every page.
    """

    async def handle(ctx: ToolContext, args: dict[str, Any]) -> dict[str, Any]:
        params = _path(args, path)
        wanted = {name: args[name] for name in filters if name in args}
        if args.get("all"):
            per_page = args.get("per_page", MAX_PER_PAGE)
            kind = list_cursor_kind(endpoint, per_page, None)
            offset = decode_list_cursor(args["cursor"], kind) if "cursor" in args else 0
            # A resumed walk fetches the collection again: the cursor holds a position, not the records, and
            # the walk stays bounded by the client's page and time limits.
            result = await ctx.upstream.list_all(
                endpoint, params, query=wanted or None, per_page=per_page, progress=ctx.progress
            )
            meta = result.meta or {}
            items = list(result.data or [])
            answer = {
                "items": items[offset:],
                "page": 1,
                "per_page": per_page,
                "total_count": meta.get("total_count", len(items)),
                "total_pages": meta.get("total_pages", 1),
                "truncated": bool(meta.get("truncated", False)),
            }
        else:
            kind = list_cursor_kind(endpoint, args.get("per_page"), args.get("page", 1))
            offset = decode_list_cursor(args["cursor"], kind) if "cursor" in args else 0
            query: dict[str, Any] = {**wanted, **{name: args[name] for name in ("page", "per_page") if name in args}}
            result = await ctx.upstream.call(endpoint, params, query=query or None)
            meta = result.meta or {}
            items = list(result.data or [])
            answer = {
                "items": items[offset:],
                "page": meta.get("current_page", args.get("page", 1)),
                "per_page": meta.get("per_page", args.get("per_page", len(items))),
                "total_count": meta.get("total_count", len(items)),
                "total_pages": meta.get("total_pages", 1),
            }
        if offset:
            answer["offset"] = offset
        return fit_list(answer, offset=offset, end=len(items), kind=kind)

    return handle


def send_handler(
    endpoint: str,
    path: tuple[str, ...],
    body: tuple[str, ...] = (),
    *,
    fixed: Mapping[str, Any] | None = None,
    rename: Mapping[str, str] | None = None,
    prepare: Prepare | None = None,
    require_change: bool = False,
    verify: Verified | None = None,
    settle_by: str | None = None,
    retry_tool: str = "",
) -> Handler:
    """Call `endpoint` and return its `data`.

    Only the body arguments the caller gave are sent (an explicit false or null goes through, a missing one
    never gets a default), because a PATCH must leave untouched whatever the caller did not mention.
    `rename` maps a tool argument to its API field (`new_slug` → `slug`, since `slug` names the target);
    `fixed` adds fields the tool implies (`notice_type`); `prepare` checks what a schema cannot express and
    returns the arguments, with any field another argument implies filled in. With `verify`, what StatusPal
    answered is compared with what was sent (see gateway/tools/verify.py), and a create whose outcome is
    unknown is settled by one read when the caller chose its identifier (`settle_by` names that argument).
    """
    rename = rename or {}

    async def handle(ctx: ToolContext, args: dict[str, Any]) -> dict[str, Any]:
        if require_change and not any(name in args for name in body):
            raise ToolError(f"Nothing to change: pass at least one of {', '.join(body)}.")
        if prepare is not None:
            args = prepare(args)
        payload = {rename.get(name, name): args[name] for name in body if name in args}
        if fixed:
            payload.update(fixed)
        try:
            result = await ctx.upstream.call(endpoint, _path(args, path), body=payload if (body or fixed) else None)
        except UpstreamError as err:
            if verify is None or settle_by is None or settle_by not in args:
                raise
            return await settle(err, verify.write(ctx, args, payload, {}, rename), retry_tool=retry_tool)
        record = dict(result.data or {})
        if verify is None:
            return record
        return await confirm(verify.write(ctx, args, payload, record, rename), record)

    return handle


def delete_handler(endpoint: str, path: tuple[str, ...]) -> Handler:
    """Delete and report what is gone. Success is taken as applied without a read: a 204 is StatusPal's
    answer to a delete that happened (a missing record answers 404), and a delete sends no fields a server
    could silently drop, so nothing is left to confirm."""

    async def handle(ctx: ToolContext, args: dict[str, Any]) -> dict[str, Any]:
        params = _path(args, path)
        await ctx.upstream.call(endpoint, params)
        return {"deleted": True, **params}

    return handle
