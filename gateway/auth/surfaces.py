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

Which tools each surface shows, and how a page scope narrows them, is `gateway.tools.surfaces`: this module
names no tool, so the token check (`gateway.auth.access`) imports it without the tool catalogue.

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

from gateway.auth.scopes import READ
from gateway.observability.redaction import quotable

# The toolsets, in the order their names appear in a canonical URL.
TOOLSETS = ("pages", "services", "containers", "notices", "webhooks", "docs")
ALL_TOOLSETS = frozenset(TOOLSETS)

MCP_ROOT = "/mcp"
# A status page's subdomain as a URL may name it; the tools' `subdomain` argument uses the same pattern.
SUBDOMAIN_PATTERN = "^[A-Za-z0-9-]{1,63}$"
_SUBDOMAIN = re.compile(SUBDOMAIN_PATTERN)
_MAX_PATH = 512

# The optional parts of a surface URL, in the one order they combine, each with what it takes away. The server
# card's list of surfaces is made from these (`url_forms`), so it cannot drift from what `parse_path` accepts.
URL_PARTS: tuple[tuple[str, str], ...] = (
    ("/pages/{subdomain}", "One status page: no tool takes a subdomain, tools that reach other pages are absent, "
                           "webhooks are those limited to this page."),
    ("/x/{toolsets}", f"Only the tools of these comma-separated toolsets, in the order {','.join(TOOLSETS)}."),
    ("/readonly", "Only the tools that read."),
)
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

    def has_any_of(self, toolsets: frozenset[str]) -> bool:
        """Whether any of a tool's toolsets is on this surface; a tool in none only shows where all of them are."""
        return self.toolsets == ALL_TOOLSETS or not self.toolsets.isdisjoint(toolsets)

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


def url_forms() -> tuple[tuple[str, str], ...]:
    """Every kind of surface URL with what it allows: /mcp, each part alone (the one taking least away first),
    and all parts in their order."""
    every = ("/mcp", "Every tool the credentials allow: a StatusPal API key or a read-write grant sees all of them, "
                     "a read-only grant only the tools that read.")
    alone = tuple((MCP_ROOT + part, what) for part, what in reversed(URL_PARTS))
    combined = (MCP_ROOT + "".join(part for part, _ in URL_PARTS),
                "The parts combine in this order; each is optional. Each URL is its own OAuth protected resource.")
    return (every, *alone, combined)


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
    if rest.endswith("/"):
        # `/mcp/` alone is served as `/mcp` (clients join paths and add one), but a narrowed surface's URL is also
        # the OAuth resource its tokens are bound to: a second spelling would be a second resource.
        raise _not_found(f"each surface has one URL, and this one's is {surface.path}, without the trailing slash")
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
