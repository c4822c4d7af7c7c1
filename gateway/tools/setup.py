"""`setup_status_page`: a page with its regions and services in one call, as the guide's first example asks.

It is a sequence of ordinary creates (page, then a container per region, then a service per name, so every
service lands in every region). StatusPal has no transaction across them, so a failure part-way leaves what
was already created; rolling back would mean deleting on the user's behalf something they asked for. Instead
the tool stops at the first failure and reports, as data, exactly what exists, what failed and why, and what
was never tried, so the model can finish the job with the single-resource tools or delete the page.
"""

from __future__ import annotations

from typing import Any

from gateway.auth.scopes import WRITE
from gateway.statuspal.endpoints import MAX_PER_PAGE
from gateway.statuspal.errors import UpstreamError, describe
from gateway.tools import containers as container_tools
from gateway.tools import services as service_tools
from gateway.tools import status_pages as page_tools
from gateway.tools.base import Tool, ToolContext, ToolError
from gateway.tools.crud import CREATE, Verified
from gateway.tools.fit import RESULT_LIMIT, text_size
from gateway.tools.schemas import NEW_SUBDOMAIN, PAGE_SETTINGS, obj
from gateway.tools.verify import confirm

_PAGE_FIELDS = ("name", "subdomain", "timezone", "website_url")


def _names(example: str) -> dict[str, Any]:
    return {
        "type": "array",
        "items": {"type": "string", "minLength": 1, "maxLength": 255},
        "uniqueItems": True,
        "maxItems": 50,
        "description": example,
    }


_STEP = obj({"step": {"type": "string"}, "name": {"type": "string"}}, ("step", "name"), closed=False)
_RECORDS = {"type": "array", "items": {"type": "object"}}

OUTPUT = obj(
    {
        "complete": {"type": "boolean"},
        "summary": {"type": "string"},
        "created": obj(
            {"page": {"type": "object"}, "containers": _RECORDS, "services": _RECORDS},
            ("page", "containers", "services"),
            closed=False,
        ),
        "failed": obj({**_STEP["properties"], "error": {"type": "string"}}, ("step", "name", "error"), closed=False),
        "not_attempted": {"type": "array", "items": _STEP},
    },
    ("complete", "summary", "created", "not_attempted"),
    closed=False,
)


async def _settled_regions(ctx: ToolContext, subdomain: str, created: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The created regions as StatusPal holds them once every service exists.

    A container's create answer lists the services the page had at that moment, which is none: setup creates
    regions first. One read of the page's containers returns each region with the services it really holds, so
    the answer never says `services: []` for a region that shows every service. If the read fails, the create
    answers stand (the setup itself succeeded) and list_containers shows the grid later."""
    try:
        result = await ctx.upstream.call("containers_list", {"subdomain": subdomain}, query={"per_page": MAX_PER_PAGE})
    except UpstreamError:
        return created
    fresh = {c.get("slug"): c for c in (result.data or []) if isinstance(c, dict)}
    return [fresh.get(c.get("slug"), c) for c in created]


async def _setup(ctx: ToolContext, args: dict[str, Any]) -> dict[str, Any]:
    regions: list[str] = args.get("regions", [])
    services: list[str] = args["services"]
    steps = [("create_container", "containers_create", n) for n in regions]
    steps += [("create_service", "services_create", n) for n in services]
    total = 1 + len(steps)

    # Creating the page is not caught: if it fails nothing exists, and the ordinary error result says why.
    body = {f: args[f] for f in _PAGE_FIELDS}
    page = dict((await ctx.upstream.call("status_pages_create", body=body)).data or {})
    subdomain = page.get("subdomain", args["subdomain"])
    created: dict[str, Any] = {"page": page, "containers": [], "services": []}
    try:
        created["page"] = await confirm(page_tools.VERIFIED.write(ctx, args, body, page), page)
    except ToolError as err:
        # The page exists but not as asked: stop before building on it, and say what to correct.
        todo = [{"step": s, "name": n} for s, _, n in steps]
        return _stopped(subdomain, created, "create_status_page", args["name"], str(err), todo)
    await ctx.progress(1, total, f"Created status page {subdomain}")

    for done, (step, endpoint, name) in enumerate(steps, start=2):
        kind = "containers" if step == "create_container" else "services"
        verified: Verified = container_tools.VERIFIED if kind == "containers" else service_tools.VERIFIED
        not_attempted = [{"step": s, "name": n} for s, _, n in steps[done - 1 :]]
        params = {"subdomain": subdomain}
        try:
            record = dict((await ctx.upstream.call(endpoint, params, body={"name": name})).data or {})
        except UpstreamError as err:
            return _stopped(subdomain, created, step, name, describe(err), not_attempted)
        try:
            record = await confirm(verified.write(ctx, params, {"name": name}, record), record)
        except ToolError as err:
            # It exists, with something other than what was asked: listed as created, and as the failure.
            created[kind].append(record)
            return _stopped(subdomain, created, step, name, str(err), not_attempted)
        created[kind].append(record)
        await ctx.progress(done, total, f"Created {'region' if step == 'create_container' else 'service'} {name}")

    created["containers"] = await _settled_regions(ctx, subdomain, created["containers"])
    region_slugs = ", ".join([*(f"{c.get('slug')} ({c.get('name')})" for c in created["containers"]), "default"])
    service_slugs = ", ".join(f"{s.get('slug')} ({s.get('name')})" for s in created["services"])
    answer = {
        "complete": True,
        "summary": (
            f"Created status page {subdomain}. Region slugs: {region_slugs}. Service slugs: {service_slugs}. Every service "
            "is in every region with status ok; later calls take these slugs."
        ),
        "created": created,
        "not_attempted": [],
    }
    if text_size(answer) <= RESULT_LIMIT:
        return answer
    return {
        **answer,
        "summary": (
            f"Created status page {subdomain} with {len(created['containers'])} regions (plus default) and "
            f"{len(created['services'])} services; every service is in every region with status ok. "
            f"{_SLUGS_ONLY}"
        ),
        "created": _slugs_only(created),
    }


# A setup at its limits (50 services in 51 regions) would answer hundreds of kilobytes of records, past what a
# client shows; a success that looks like a failure gets retried into "subdomain taken". So a large answer keeps
# the page and the slugs, which is what later calls need.
_SLUGS_ONLY = (
    "The slugs later calls take are in created.containers and created.services (records shortened to their slugs to "
    "fit a client's window; list_services and list_containers show them in full)."
)


def _slugs_only(created: dict[str, Any]) -> dict[str, Any]:
    return {
        "page": created["page"],
        "containers": [{"slug": c.get("slug")} for c in created["containers"]],
        "services": [{"slug": s.get("slug")} for s in created["services"]],
    }


def _stopped(
    subdomain: str, created: dict[str, Any], step: str, name: str, error: str, not_attempted: list[dict[str, str]]
) -> dict[str, Any]:
    answer = {
        "complete": False,
        "summary": _incomplete(subdomain, created, step, name, not_attempted),
        "created": created,
        "failed": {"step": step, "name": name, "error": error},
        "not_attempted": not_attempted,
    }
    if text_size(answer) <= RESULT_LIMIT:
        return answer
    made = f"page {subdomain}, {len(created['containers'])} regions and {len(created['services'])} services"
    missing = ", ".join(f"{s['step']} {s['name']!r}" for s in not_attempted) or "nothing"
    return {
        **answer,
        "summary": _incomplete_text(step, name, made, missing, subdomain) + " " + _SLUGS_ONLY,
        "created": _slugs_only(created),
    }


def _incomplete(subdomain: str, created: dict[str, Any], step: str, name: str, not_attempted: list[dict[str, str]]) -> str:
    made = [f"page {subdomain}"]
    made += [f"region {c.get('name')} ({c.get('slug')})" for c in created["containers"]]
    made += [f"service {s.get('name')} ({s.get('slug')})" for s in created["services"]]
    missing = ", ".join(f"{s['step']} {s['name']!r}" for s in not_attempted) or "nothing"
    return _incomplete_text(step, name, ", ".join(made), missing, subdomain)


def _incomplete_text(step: str, name: str, made: str, missing: str, subdomain: str) -> str:
    return (
        f"Incomplete: {step} {name!r} failed (see `failed.error`); nothing was rolled back. Created: "
        f"{made}. Not attempted: {missing}. Fix the cause and create what is missing with "
        f"create_container / create_service on subdomain {subdomain}, or remove everything with delete_status_page."
    )


# The toolsets of a surface URL that include these tools (`gateway.auth.surfaces.TOOLSETS`).
TOOLSETS = frozenset({"pages"})

TOOLS: tuple[Tool, ...] = (
    Tool(
        toolsets=TOOLSETS,
        name="setup_status_page",
        title="Set up a status page",
        description=(
            "Create a page with regions and services in one call, each service in every region (and `default`); "
            "the result gives every slug. Existing page: create_service. A failed step stops it, nothing rolled "
            "back."
        ),
        input_schema=obj(
            {
                "subdomain": NEW_SUBDOMAIN,
                **{f: PAGE_SETTINGS[f] for f in ("name", "timezone", "website_url")},
                "services": {**_names('Service names, e.g. ["API", "Web Console"].'), "minItems": 1},
                "regions": _names('Region names, e.g. ["EU", "US"]; omit for `default` only.'),
            },
            ("name", "subdomain", "timezone", "website_url", "services"),
        ),
        output_schema=OUTPUT,
        annotations=CREATE,
        scope=WRITE,
        handler=_setup,
    ),
)
