"""Surfaces: the part of the gateway one MCP URL serves, so a user can connect an assistant to less than all of it.

A surface is chosen by the URL, because web assistants cannot send custom headers:

    /mcp[/pages/{subdomain}][/x/{toolset},{toolset}…][/readonly]

in exactly that order, toolsets in the order of `TOOLSETS`, each at most once, and never all of them (that
is `/mcp` itself). Anything else is 404: one surface has exactly one URL, because the URL is also the OAuth
resource a token is bound to, and two spellings of one surface would be two resources.

What each part takes away:

- ``readonly``: every tool that changes something is absent.
- ``x/{toolsets}``: only the tools of those toolsets are present.
- ``pages/{subdomain}``: every tool loses its ``subdomain`` parameter and the gateway supplies it; the tools
  that reach pages other than this one (list, create, set up or delete a page) are absent; webhooks are the
  ones whose scope is exactly this page, a new webhook is created for this page only, and a webhook that
  fires for other pages cannot be read, changed or deleted here.

``X-MCP-Toolsets`` and ``X-MCP-Readonly`` narrow a URL's surface further for clients that can send headers;
a header that would widen it is refused (400), so a misconfigured client learns why a tool is missing
instead of silently getting less than it asked for.

An absent tool is refused at the call, not only left out of ``tools/list``: a client with a cached list, or
a model guessing names, gets the same answer as one that never saw the tool.

A page scope is enforced by the upstream paths themselves: every page-level route is nested under
``/status_pages/{subdomain}``, and the gateway puts the scope's page there, so a slug or notice id of another
page simply is not found. An operator who maps the notices routes to org-scoped paths (no ``{subdomain}``)
leaves that guarantee to StatusPal, which then receives the page as a field.
"""

from __future__ import annotations

import dataclasses
import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from gateway.redaction import quotable
from gateway.scopes import READ
from gateway.tools import containers, docs, notices, services, setup, status_pages, webhooks
from gateway.tools.base import Handler, Tool, ToolContext, ToolError
from gateway.tools.catalogue import Catalogue
from gateway.tools.schemas import SUBDOMAIN

# The toolsets, in the order their names appear in a canonical URL.
TOOLSETS = ("pages", "services", "containers", "notices", "webhooks", "docs")
ALL_TOOLSETS = frozenset(TOOLSETS)
_MODULE_TOOLSET = (
    (status_pages, "pages"), (setup, "pages"), (services, "services"), (containers, "containers"),
    (notices, "notices"), (webhooks, "webhooks"), (docs, "docs"),
)
TOOLSET_OF: Mapping[str, str] = {tool.name: toolset for module, toolset in _MODULE_TOOLSET for tool in module.TOOLS}

# Tools that act on pages other than a page scope's own: listing every page, making a new one (directly or
# by the one-call setup), and deleting one, which would end the scope's own page for good.
BEYOND_ONE_PAGE = frozenset({"list_status_pages", "create_status_page", "setup_status_page", "delete_status_page"})
# Arguments a page-scoped webhook tool cannot take: the gateway sets the webhook's scope to the page.
_WEBHOOK_SCOPE_ARGS = ("all_status_pages", "status_page_subdomains")
# The listing arguments of list_webhooks, which on a page scope always reads every webhook to filter them.
_LIST_ARGS = ("page", "per_page", "all")

MCP_ROOT = "/mcp"
_SUBDOMAIN = re.compile(SUBDOMAIN["pattern"])
_MAX_PATH = 512
TOOLSETS_HEADER = "X-MCP-Toolsets"
READONLY_HEADER = "X-MCP-Readonly"


class SurfaceError(Exception):
    """A URL that names no surface (404) or a header that does not narrow it (400); the message says why."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True, slots=True)
class Surface:
    """What one connection may reach: a page (or all pages), a set of toolsets, read-only or not."""

    page: str | None = None
    toolsets: frozenset[str] = ALL_TOOLSETS
    readonly: bool = False

    @property
    def path(self) -> str:
        """The one URL path of this surface."""
        path = MCP_ROOT
        if self.page is not None:
            path += f"/pages/{self.page}"
        if self.toolsets != ALL_TOOLSETS:
            path += "/x/" + ",".join(t for t in TOOLSETS if t in self.toolsets)
        if self.readonly:
            path += "/readonly"
        return path

    @property
    def is_full(self) -> bool:
        return self == FULL

    def has_toolset_of(self, tool_name: str) -> bool:
        """Whether the tool's toolset is on this surface; a tool in no toolset only shows where all of them do."""
        return self.toolsets == ALL_TOOLSETS or TOOLSET_OF.get(tool_name) in self.toolsets

    def within(self, other: Surface) -> bool:
        """Whether everything this surface allows, `other` allows too (equal counts as within)."""
        return (
            (other.page is None or other.page == self.page)
            and self.toolsets <= other.toolsets
            and (self.readonly or not other.readonly)
        )

    def scopes(self, granted: frozenset[str]) -> frozenset[str]:
        """The grant's scopes as this surface leaves them: a read-only surface keeps only reading."""
        return granted & frozenset({READ}) if self.readonly else granted

    def describe(self) -> str:
        """What the surface allows, in words for a person: 'read-only, notices and docs on status page acme'."""
        parts = []
        if self.readonly:
            parts.append("read-only")
        what = "everything" if self.toolsets == ALL_TOOLSETS else _words([t for t in TOOLSETS if t in self.toolsets])
        parts.append(what + (f" on status page {self.page}" if self.page else " on every status page"))
        return ", ".join(parts)

    def narrowed(self, headers: Mapping[str, str]) -> Surface:
        """This surface as the X-MCP-Toolsets and X-MCP-Readonly headers narrow it; SurfaceError (400) when a
        header is malformed or would widen it."""
        surface = self
        toolsets = headers.get(TOOLSETS_HEADER)
        if toolsets is not None:
            asked = _toolsets(toolsets, status=400, where=f"the {TOOLSETS_HEADER} header")
            wider = [t for t in TOOLSETS if t in asked - self.toolsets]
            if wider:
                raise SurfaceError(400, (
                    f"Bad Request: the {TOOLSETS_HEADER} header may only narrow this URL's toolsets "
                    f"({', '.join(t for t in TOOLSETS if t in self.toolsets)}), but it names {', '.join(wider)}; "
                    "connect to a URL that includes them instead."
                ))
            surface = dataclasses.replace(surface, toolsets=asked)
        readonly = headers.get(READONLY_HEADER)
        if readonly is not None:
            value = readonly.strip().lower()
            if value in ("true", "1"):
                surface = dataclasses.replace(surface, readonly=True)
            elif value in ("false", "0"):
                if self.readonly:
                    raise SurfaceError(400, (
                        f"Bad Request: {READONLY_HEADER}: {value} cannot widen the read-only URL {self.path}; "
                        "connect to the URL without /readonly to make changes."
                    ))
            else:
                raise SurfaceError(400, f"Bad Request: the {READONLY_HEADER} header must be true or false.")
        return surface


FULL = Surface()


# --- surfaces as OAuth protected resources ------------------------------------------------------------------
#
# Each URL is its own protected resource (RFC 9728), and a token's audience is the exact URL it was issued for
# (RFC 8707). A token works on its own surface and on any narrower one: narrowing only takes away, and a client
# connected to /mcp may well send its token with a narrowing header. It never works on a broader surface: a
# token a user issued for one page's incidents must not become a key to the whole account.


def resource_url(surface: Surface, public_url: str) -> str:
    return public_url + surface.path


def metadata_url(surface: Surface, public_url: str) -> str:
    """Where the surface's RFC 9728 document is: the path-inserted form of its resource URL."""
    return f"{public_url}/.well-known/oauth-protected-resource{surface.path}"


def surface_of_resource(resource: Any, public_url: str) -> Surface | None:
    """The surface `resource` names exactly, or None: another server's URL, or a spelling that is not the
    surface's one URL (a token's audience must compare equal, so no alias may be issued)."""
    if not isinstance(resource, str) or len(resource) > len(public_url) + _MAX_PATH or not resource.startswith(public_url + MCP_ROOT):
        return None
    return _surface_of_resource(resource, public_url)


# A sealed token's audience is parsed twice on every request it carries (the token check, then the transport's
# check against the URL), and the answer for a URL never changes. Only bounded strings reach the cache.
@functools.lru_cache(maxsize=256)
def _surface_of_resource(resource: str, public_url: str) -> Surface | None:
    try:
        surface = parse_path(resource[len(public_url):])
    except SurfaceError:
        return None
    return surface if resource_url(surface, public_url) == resource else None


def audience_refusal(surface: Surface, audience: str | None, public_url: str) -> str | None:
    """Why a token issued for `audience` may not be used on `surface`, or None when it may. Direct API keys
    (no audience) work on every surface, restricted by it."""
    if audience is None:
        return None
    bound = surface_of_resource(audience, public_url)
    if bound is None:
        return f"This access token was issued for another resource, not {resource_url(surface, public_url)}."
    if surface.within(bound):
        return None
    return (
        f"This access token was issued for {audience}, which allows {bound.describe()}; it cannot be used on "
        f"{resource_url(surface, public_url)}, which allows more. Connect to {audience}, or sign in again for this URL."
    )


def parse_path(path: str) -> Surface:
    """The surface a request path names; SurfaceError (404) naming what is valid when it names none.

    `path` must be the raw (still percent-encoded) path: a `%2F` or any escape is refused rather than decoded,
    so no spelling of a surface other than its one URL gets in.
    """
    if len(path) > _MAX_PATH or not path.startswith(MCP_ROOT):
        raise _not_found("this path is not an MCP endpoint")
    rest = path[len(MCP_ROOT):]
    if rest in ("", "/"):
        return FULL
    if not rest.startswith("/"):
        raise _not_found("this path is not an MCP endpoint")
    parts = rest[1:].removesuffix("/").split("/")
    page = None
    toolsets = ALL_TOOLSETS
    readonly = False
    given = None
    index = 0
    if parts[index:index + 1] == ["pages"]:
        if index + 1 >= len(parts) or not _SUBDOMAIN.match(parts[index + 1]) or len(parts[index + 1]) > 63:
            raise _not_found("/mcp/pages/ must be followed by a status page's subdomain (letters, digits and -)")
        page = parts[index + 1]
        index += 2
    if parts[index:index + 1] == ["x"]:
        if index + 1 >= len(parts):
            raise _not_found(f"/x/ must be followed by comma-separated toolsets: {', '.join(TOOLSETS)}")
        given = parts[index + 1]
        toolsets = _toolsets(given, status=404, where="the URL")
        index += 2
    if parts[index:index + 1] == ["readonly"]:
        readonly = True
        index += 1
    if index != len(parts):
        raise _not_found("it is not of the form /mcp[/pages/{subdomain}][/x/{toolsets}][/readonly]")
    surface = Surface(page=page, toolsets=toolsets, readonly=readonly)
    if given is not None and (toolsets == ALL_TOOLSETS or given != ",".join(t for t in TOOLSETS if t in toolsets)):
        raise _not_found(
            f"each surface has one URL, and this one's is {surface.path} (toolsets once each, in the order "
            f"{','.join(TOOLSETS)}; all of them is /mcp itself)"
        )
    return surface


def _toolsets(value: str, *, status: int, where: str) -> frozenset[str]:
    names = [name.strip() for name in value.split(",")]
    unknown = [name for name in names if name not in ALL_TOOLSETS]
    if unknown:
        shown = ", ".join(repr(quotable(n, 40)) for n in unknown[:3])
        raise SurfaceError(status, (
            f"{'Not Found' if status == 404 else 'Bad Request'}: {where} names unknown toolsets {shown}; "
            f"the toolsets are {', '.join(TOOLSETS)}"
        ))
    if len(set(names)) != len(names) and status == 400:
        raise SurfaceError(status, f"Bad Request: {where} names a toolset twice")
    return frozenset(names)


def _not_found(why: str) -> SurfaceError:
    return SurfaceError(404, (
        f"Not Found: {why}. MCP URLs are /mcp, optionally followed by /pages/{{subdomain}}, then /x/{{toolsets}} "
        f"with comma-separated toolsets ({', '.join(TOOLSETS)}), then /readonly, in that order; "
        "e.g. /mcp/readonly, /mcp/x/notices,docs or /mcp/pages/acme/x/notices/readonly."
    ))


def _words(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


# --- tools on a surface ------------------------------------------------------------------------------------


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
        return tuple(t for t in self.catalogue(surface).tools if surface.has_toolset_of(t.name) and t.scope in allowed)

    def absent_reason(self, surface: Surface, name: str) -> str | None:
        """Why a tool the full catalogue has is not on `surface`, or None when the surface allows it (the grant's
        scope is checked separately: stepping up a grant can add a tool, changing a URL cannot)."""
        tool = self.full.get(name)
        if tool is None:
            return None
        if not surface.has_toolset_of(name):
            reason = f"{name} is in the {TOOLSET_OF.get(name)} toolset, which is not on this connection:"
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
    return dataclasses.replace(tool, input_schema=schema, handler=wrap(tool) if wrap else tool.handler)


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
