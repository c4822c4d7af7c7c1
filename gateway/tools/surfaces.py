"""The catalogue as each surface shows it: which tools a connection's URL allows, and on a page scope the
narrowed copy of each tool (no `subdomain` parameter; the page supplied by the gateway and enforced by the
handler). The URL grammar itself is `gateway.auth.surfaces`.

An absent tool is refused at the call, not only left out of ``tools/list``: a client with a cached list, or
a model guessing names, gets the same answer as one that never saw the tool.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from gateway.auth.scopes import READ
from gateway.auth.surfaces import Surface
from gateway.observability.redaction import quotable
from gateway.statuspal.errors import UpstreamError
from gateway.tools import webhooks
from gateway.tools.base import Handler, Tool, ToolContext, ToolError
from gateway.tools.catalogue import Catalogue

# Tools that act on pages other than a page scope's own: listing every page, making a new one (directly or
# by the one-call setup), and deleting one, which would end the scope's own page for good.
BEYOND_ONE_PAGE = frozenset({"list_status_pages", "create_status_page", "setup_status_page", "delete_status_page"})
# Arguments a page-scoped webhook tool cannot take: the gateway sets the webhook's scope to the page.
_WEBHOOK_SCOPE_ARGS = ("all_status_pages", "status_page_subdomains")
# The listing arguments of list_webhooks, which on a page scope always reads every webhook to filter them.
_LIST_ARGS = ("page", "per_page", "all")



class SurfaceTools:
    """The catalogue as each surface shows it: which tools are present, and on a page scope, the narrowed
    copy of each (no `subdomain` parameter; the page supplied and enforced by its handler).

    What a surface shows depends on its *shape* only (toolsets, read-only, paged or not, grant), never on the
    page: the narrowed schemas do not name it, so the dispatcher caches the finished lists per shape and a
    stranger naming new pages cannot grow that cache.
    """

    def __init__(self, full: Catalogue, paged: Catalogue) -> None:
        self.full = full
        self.paged = paged

    @classmethod
    def of(cls, catalogue: Catalogue) -> SurfaceTools:
        paged = Catalogue.of(_page_scoped(tool) for tool in catalogue.tools if tool.name not in BEYOND_ONE_PAGE)
        return cls(catalogue, paged)

    def catalogue(self, surface: Surface) -> Catalogue:
        return self.paged if surface.page is not None else self.full

    def visible(self, surface: Surface, scopes: frozenset[str]) -> tuple[Tool, ...]:
        """The tools this surface and grant show and allow, in catalogue order."""
        allowed = surface.scopes(scopes)
        return tuple(t for t in self.catalogue(surface).tools if surface.has_any_of(t.toolsets) and t.scope in allowed)

    def absent_reason(self, surface: Surface, name: str) -> str | None:
        """Why a tool the full catalogue has is not on `surface`, or None when the surface allows it (the grant's
        scope is checked separately: stepping up a grant can add a tool, changing a URL cannot)."""
        tool = self.full.get(name)
        if tool is None:
            return None
        if not surface.has_any_of(tool.toolsets):
            reason = f"{name} is in the {' and '.join(sorted(tool.toolsets))} toolset, which is not on this connection:"
        elif surface.readonly and tool.scope != READ:
            reason = f"{name} changes data, and"
        elif surface.page is not None and name in BEYOND_ONE_PAGE:
            reason = f"{name} reaches status pages other than {surface.page}, and"
        else:
            return None  # asked on every call: the wording below is built only for a refusal
        return f"{reason} this connection ({surface.path}) allows {surface.describe()}."

    def page_arguments(self, surface: Surface, name: str, arguments: dict[str, Any]) -> dict[str, Any]:
        """A page-scoped call's arguments with the page supplied, ready for the tool's full inputSchema; ToolError
        when they name another page.

        A client that still sends `subdomain` (an old cached schema, a model's habit) is served when it names this
        page, and refused when it names another; the same for a webhook's page scope. Checking the result against
        the full schema (not the narrowed one) keeps one compiled check per tool, and the page it adds has already
        passed the subdomain pattern in the URL.
        """
        page = surface.page
        if page is None:
            return arguments
        tool = self.full.get(name)
        if tool is None:
            return arguments
        outside = _other_pages(name, arguments, page)
        if outside:
            raise ToolError(
                f"This connection is limited to status page {page!r}, and this call would reach {outside}; it was refused "
                "and nothing changed. Leave the page out: the gateway supplies it."
            )
        supplied = {"subdomain", *(_WEBHOOK_SCOPE_ARGS if name in _WEBHOOK_TOOLS else ())}
        bound = {k: v for k, v in arguments.items() if k not in supplied}
        if "subdomain" in tool.input_schema.get("properties", {}):
            bound["subdomain"] = page
        if name == "create_webhook":
            bound["status_page_subdomains"] = [page]  # a webhook made here fires for this page only
        return bound


def surface_instructions(instructions: str, surface: Surface) -> str:
    """The server's instructions as a surface gives them: what the connection is limited to, and on a page scope
    which page every tool acts on, so the model neither asks the user for a subdomain nor offers what it cannot do."""
    if surface.is_full:
        return instructions
    limits = f" This connection is limited to: {surface.describe()}."
    if surface.page is not None:
        limits += f" Every tool acts on status page {surface.page!r}, which the gateway supplies: no tool takes a subdomain."
    if surface.readonly:
        limits += " Nothing can be created, changed or deleted through it."
    return instructions + limits


def _other_pages(name: str, arguments: Mapping[str, Any], page: str) -> str | None:
    subdomain = arguments.get("subdomain", page)
    if subdomain != page:
        return f"page {quotable(str(subdomain), 63)!r}"
    if name in _WEBHOOK_TOOLS:
        if arguments.get("all_status_pages") is True:
            return "every status page (all_status_pages: true)"
        listed = arguments.get("status_page_subdomains", [page])
        if listed != [page]:
            return "other pages (status_page_subdomains)"
    return None


_WEBHOOK_TOOLS = frozenset(tool.name for tool in webhooks.TOOLS)


def _page_scoped(tool: Tool) -> Tool:
    """`tool` as a page scope shows it: the page-naming parameters gone (`page_arguments` supplies them at the
    call), and a webhook tool's handler limited to the webhooks of the page."""
    schema = dict(tool.input_schema)
    dropped = {"subdomain"}
    if tool.name in _WEBHOOK_TOOLS:
        dropped.update(_WEBHOOK_SCOPE_ARGS)
    if tool.name == "list_webhooks":
        dropped.update(_LIST_ARGS)
    properties = {k: v for k, v in schema.get("properties", {}).items() if k not in dropped}
    schema["properties"] = properties
    if "required" in schema:
        required = [k for k in schema["required"] if k not in dropped]
        if required:
            schema["required"] = required
        else:
            del schema["required"]
    wrap = _WEBHOOK_HANDLERS.get(tool.name)
    handler = wrap(tool) if wrap else tool.handler
    return dataclasses.replace(tool, input_schema=schema, handler=_missing_page_said(handler) if "subdomain" in dropped else handler)


def _missing_page_said(handler: Handler) -> Handler:
    """A page URL whose page does not exist is said in words that fit the connection: on a page scope there is no
    list_status_pages to point at, and "not found" alone reads like a wrong record id. Costs one read, only after
    StatusPal has already answered 404."""

    async def handle(ctx: ToolContext, args: dict[str, Any]) -> Mapping[str, Any]:
        try:
            return await handler(ctx, args)
        except UpstreamError as exc:
            if exc.status != 404 or exc.route_missing or ctx.page is None:
                raise
            try:
                await ctx.upstream.call("status_pages_get", {"subdomain": ctx.page})
            except UpstreamError as page_err:
                if page_err.status == 404 and not page_err.route_missing:
                    raise ToolError(
                        f"This connection's URL names status page {ctx.page!r}, which does not exist or this API key "
                        "cannot see it; nothing was changed. Ask the user for the subdomain of an existing page (shown in "
                        "StatusPal's app) and connect to its /mcp/pages/<subdomain> URL, or to /mcp to work with every page."
                    ) from None
            raise

    return handle


def _page_of(ctx: ToolContext) -> str:
    if ctx.page is None:  # a page-scoped tool run without a page would act on whatever the arguments say
        raise RuntimeError("a page-scoped tool was run without its page")
    return ctx.page


def _page_only(record: Any, page: str) -> bool:
    """Whether a webhook fires for exactly this page and no other (pages created later included)."""
    return (
        isinstance(record, Mapping)
        and record.get("all_status_pages") is False
        and record.get("status_page_subdomains") == [page]
    )


def _list_webhooks(tool: Tool) -> Handler:
    original = tool.handler

    async def handle(ctx: ToolContext, args: dict[str, Any]) -> Mapping[str, Any]:
        # Every webhook is read so the filtered list is complete: a page of the unfiltered list could hold
        # none of this page's webhooks while later pages do. Organizations have few webhooks.
        page = _page_of(ctx)
        result = dict(await original(ctx, {**args, "all": True}))
        items = [item for item in result.get("items", []) if _page_only(item, page)]
        return {**result, "items": items, "page": 1, "total_count": len(items), "total_pages": 1}

    return handle


def _guard_webhook(tool: Tool) -> Handler:
    original = tool.handler

    async def handle(ctx: ToolContext, args: dict[str, Any]) -> Mapping[str, Any]:
        # Read before acting: a webhook that also fires for other pages belongs to them as much as to this one.
        page = _page_of(ctx)
        record = (await ctx.upstream.call("webhooks_get", {"webhook_id": args["webhook_id"]})).data
        if not _page_only(record, page):
            raise ToolError(
                f"Webhook {args['webhook_id']!r} is not limited to status page {page!r} (it fires for other pages too, "
                "or for every page), so this connection cannot read or change it; nothing changed. list_webhooks "
                "shows the webhooks of this page."
            )
        return await original(ctx, args)

    return handle


_WEBHOOK_HANDLERS = {
    "list_webhooks": _list_webhooks,
    "get_webhook": _guard_webhook,
    "update_webhook": _guard_webhook,
    "rotate_webhook_secret": _guard_webhook,
    "delete_webhook": _guard_webhook,
}
