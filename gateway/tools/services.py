"""Service tools: the components a status page shows (API, Web Console…), addressed by subdomain + slug."""

from __future__ import annotations

from gateway.auth.scopes import WRITE
from gateway.tools import lookups
from gateway.tools.base import READ_ONLY, Tool
from gateway.tools.crud import CREATE, DELETE, UPDATE, Verified, delete_handler, list_handler, send_handler
from gateway.tools.schemas import (
    LIST_ARGUMENTS,
    SERVICE,
    SUBDOMAIN,
    deleted,
    listing,
    new_slug,
    nullable,
    obj,
    renamed_slug,
    slug,
    text,
    written,
)

_PAGE = ("subdomain",)
_KEY = ("subdomain", "slug")
_SLUG = slug("list_services", "api")

VERIFIED = Verified(
    noun="service",
    get="services_get",
    get_tool="get_service",
    fix_tool="update_service",
    key={"subdomain": None, "slug": "slug"},
    public={
        "name": "the service's name",
        "slug": "the service's slug",
        "description": "the service's description",
        "order": "the service's position",
    },
)

_FIELDS = {
    "name": text("Shown on the page."),
    "description": nullable("string", "Shown under the name; on update, null removes it.", maxLength=1000),
    "order": {"type": "integer", "minimum": 1, "description": "Position, from 1."},
}

# The toolsets of a surface URL that include these tools (`gateway.auth.surfaces.TOOLSETS`).
TOOLSETS = frozenset({"services"})

TOOLS: tuple[Tool, ...] = (
    Tool(
        # A notice names its affected services by slug: the notices toolset keeps the lookup that shows them.
        toolsets=TOOLSETS | {"notices"},
        name="list_services",
        title="List services",
        description=(
            "List a page's services with slug, live status (worst across regions) and status per region: what is "
            "down, and the slugs create_incident takes. No tool sets a status. One service: get_service."
        ),
        input_schema=obj({"subdomain": SUBDOMAIN, **LIST_ARGUMENTS}, _PAGE),
        output_schema=listing(SERVICE),
        annotations=READ_ONLY,
        handler=list_handler("services_list", _PAGE),
    ),
    Tool(
        toolsets=TOOLSETS,
        name="get_service",
        title="Get a service",
        description=(
            "Get one service to check before editing it or to answer whether it is down, region by region. Every "
            "service at once, or a slug from a name: list_services; why it is down: list_notices."
        ),
        input_schema=obj({"subdomain": SUBDOMAIN, "slug": _SLUG}, _KEY),
        output_schema=SERVICE,
        annotations=READ_ONLY,
        handler=lookups.naming_valid_slugs(send_handler("services_get", _KEY), lookups.SERVICE),
    ),
    Tool(
        toolsets=TOOLSETS,
        name="create_service",
        title="Create a service",
        description=(
            "Add a service (e.g. API) to an existing status page: public at once, in every region, status ok. "
            "Later calls use the returned slug. For a new page with services use setup_status_page."
        ),
        input_schema=obj(
            {"subdomain": SUBDOMAIN, **_FIELDS, "slug": new_slug()},
            ("subdomain", "name"),
        ),
        output_schema=written(SERVICE, "name"),
        annotations=CREATE,
        scope=WRITE,
        handler=send_handler(
            "services_create", _PAGE, ("name", "slug", "description", "order"),
            verify=VERIFIED, settle_by="slug", retry_tool="create_service",
        ),
    ),
    Tool(
        toolsets=TOOLSETS,
        name="update_service",
        title="Update a service",
        description=(
            "Rename, describe, reorder or re-slug a service, public at once. Its status cannot be set: it follows "
            "notices such as create_incident. To remove the service use delete_service."
        ),
        input_schema=obj(
            {"subdomain": SUBDOMAIN, "slug": _SLUG, **_FIELDS, "new_slug": renamed_slug()},
            _KEY,
        ),
        output_schema=written(SERVICE, "name"),
        annotations=UPDATE,
        scope=WRITE,
        handler=lookups.naming_valid_slugs(
            send_handler(
                "services_update",
                _KEY,
                ("name", "description", "order", "new_slug"),
                rename={"new_slug": "slug"},
                require_change=True,
                verify=VERIFIED,
            ),
            lookups.SERVICE,
        ),
    ),
    Tool(
        toolsets=TOOLSETS,
        name="delete_service",
        title="Delete a service",
        description=(
            "Permanently remove a service from a status page, in every region, at once. To end an outage use "
            "resolve_incident instead; to remove a region, delete_container."
        ),
        input_schema=obj({"subdomain": SUBDOMAIN, "slug": _SLUG}, _KEY),
        output_schema=deleted(*_KEY),
        annotations=DELETE,
        scope=WRITE,
        handler=lookups.naming_valid_slugs(delete_handler("services_delete", _KEY), lookups.SERVICE),
    ),
)
