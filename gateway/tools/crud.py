"""The handlers most tools share: call one endpoint with the tool's arguments split into path, body and query.

A tool's arguments use the API's own names, so a handler only has to say which arguments fill the path
template and which go in the body. Upstream errors pass through untouched: the dispatcher turns them into
`isError` results with `errors.describe()`, so no handler formats an upstream failure.
"""

from __future__ import annotations

from typing import Any, Callable, Mapping

from gateway.statuspal.endpoints import MAX_PER_PAGE
from gateway.tools.base import Annotations, Handler, ToolContext, ToolError

# Annotations for the kinds of write. An update overwrites earlier values (no history), which MCP calls a
# destructive update; repeating it changes nothing more, so it is idempotent. Deletes are the same pair.
CREATE = Annotations(read_only=False, destructive=False, idempotent=False)
UPDATE = Annotations(read_only=False, destructive=True, idempotent=True)
DELETE = Annotations(read_only=False, destructive=True, idempotent=True)

Prepare = Callable[[dict[str, Any]], dict[str, Any]]


def _path(args: Mapping[str, Any], names: tuple[str, ...]) -> dict[str, str]:
    return {name: args[name] for name in names}


def list_handler(endpoint: str, path: tuple[str, ...] = (), filters: tuple[str, ...] = ()) -> Handler:
    """One page of a collection, or with `all: true` every page (bounded by the client, with progress).

    `filters` name the arguments sent as query parameters with every page.
    """

    async def handle(ctx: ToolContext, args: dict[str, Any]) -> dict[str, Any]:
        params = _path(args, path)
        wanted = {name: args[name] for name in filters if name in args}
        if args.get("all"):
            per_page = args.get("per_page", MAX_PER_PAGE)
            result = await ctx.api.list_all(
                endpoint, params, query=wanted or None, per_page=per_page, progress=ctx.progress
            )
            meta = result.meta or {}
            items = list(result.data or [])
            return {
                "items": items,
                "page": 1,
                "per_page": per_page,
                "total_count": meta.get("total_count", len(items)),
                "total_pages": meta.get("total_pages", 1),
                "truncated": bool(meta.get("truncated", False)),
            }
        query = {**wanted, **{name: args[name] for name in ("page", "per_page") if name in args}}
        result = await ctx.api.call(endpoint, params, query=query or None)
        meta = result.meta or {}
        items = list(result.data or [])
        return {
            "items": items,
            "page": meta.get("current_page", args.get("page", 1)),
            "per_page": meta.get("per_page", args.get("per_page", len(items))),
            "total_count": meta.get("total_count", len(items)),
            "total_pages": meta.get("total_pages", 1),
        }

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
) -> Handler:
    """Call `endpoint` and return its `data`.

    Only the body arguments the caller gave are sent (an explicit false or null goes through, a missing one
    never gets a default), because a PATCH must leave untouched whatever the caller did not mention.
    `rename` maps a tool argument to its API field (`new_slug` → `slug`, since `slug` names the target);
    `fixed` adds fields the tool implies (`notice_type`); `prepare` checks what a schema cannot express and
    returns the arguments, with any field another argument implies filled in.
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
        result = await ctx.api.call(endpoint, _path(args, path), body=payload if (body or fixed) else None)
        return dict(result.data or {})

    return handle


def delete_handler(endpoint: str, path: tuple[str, ...]) -> Handler:
    async def handle(ctx: ToolContext, args: dict[str, Any]) -> dict[str, Any]:
        params = _path(args, path)
        await ctx.api.call(endpoint, params)
        return {"deleted": True, **params}

    return handle
