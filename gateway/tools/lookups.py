"""The slugs that do exist, for an answer about one that does not.

A service or region slug StatusPal does not know is usually a display name or a guess ("EU" for `eu-region`).
"Not found, call list_services" costs the model two more round trips; naming the valid slugs (and the tool that
creates one, for when the user meant a new one) lets it correct the call at once. The page's list is read only
after StatusPal refused, so a good call costs nothing extra.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from gateway.statuspal.endpoints import MAX_PER_PAGE
from gateway.statuspal.errors import UpstreamError
from gateway.tools.base import Handler, ToolContext, ToolError


@dataclass(frozen=True)
class Kind:
    noun: str
    list_endpoint: str
    create_tool: str


SERVICE = Kind("service", "services_list", "create_service")
REGION = Kind("region", "containers_list", "create_container")


async def slugs_on_page(ctx: ToolContext, subdomain: str, kind: Kind) -> tuple[list[str], int] | None:
    """The first hundred `kind` slugs of a page and how many there are; None when the page cannot be read."""
    try:
        result = await ctx.upstream.call(kind.list_endpoint, {"subdomain": subdomain}, query={"per_page": MAX_PER_PAGE})
    except UpstreamError:
        return None
    items = [item for item in result.data or [] if isinstance(item, Mapping) and item.get("slug")]
    total = (result.meta or {}).get("total_count", len(items))
    return [str(item["slug"]) for item in items], total if isinstance(total, int) else len(items)


def listed(slugs: list[str], total: int) -> str:
    shown = ", ".join(slugs) or "(none)"
    return shown if total <= len(slugs) else f"{shown} (the first {len(slugs)} of {total})"


async def valid_slugs_sentence(ctx: ToolContext, subdomain: str, kinds: tuple[Kind, ...]) -> str:
    """'Valid on status page 'x': service slugs a, b; region slugs eu, default. New ones: create_service,
    create_container.' Empty when a list cannot be read."""
    found: list[str] = []
    for kind in kinds:
        slugs = await slugs_on_page(ctx, subdomain, kind)
        if slugs is None:
            return ""
        found.append(f"{kind.noun} slugs {listed(*slugs)}")
    creators = ", ".join(kind.create_tool for kind in kinds)
    return f"Valid on status page {subdomain!r}: {'; '.join(found)}. To add one: {creators}."


def naming_valid_slugs(handler: Handler, kind: Kind) -> Handler:
    """`handler`, whose 404 for its `slug` argument names the page's valid slugs and the tool that creates one."""

    async def handle(ctx: ToolContext, args: dict[str, Any]) -> Mapping[str, Any]:
        try:
            return await handler(ctx, args)
        except UpstreamError as err:
            if err.status != 404 or err.route_missing or "slug" not in args:
                raise
            subdomain, slug = args["subdomain"], args["slug"]
            slugs = await slugs_on_page(ctx, subdomain, kind)
            if slugs is None:  # the page itself is missing or unreadable: StatusPal's answer says which
                raise
            raise ToolError(
                f"Status page {subdomain!r} has no {kind.noun} with slug {slug!r}. Its {kind.noun} slugs: "
                f"{listed(*slugs)}. Pass one of them (a slug, never the display name), or if the user means a new "
                f"{kind.noun}, create it with {kind.create_tool}."
            ) from None

    return handle
