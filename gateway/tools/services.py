"""Service tools: the components a status page shows (API, Web Console…), addressed by subdomain + slug."""

from __future__ import annotations

from gateway.scopes import WRITE
from gateway.tools.base import READ_ONLY, Tool
from gateway.tools.crud import CREATE, DELETE, UPDATE, Verified, delete_handler, list_handler, send_handler
from gateway.tools.schemas import (
    LIST_ARGUMENTS,
    SERVICE,
    SUBDOMAIN,
    deleted,
    listing,
    new_slug,
    renamed_slug,
    nullable,
    obj,
    slug,
    text,
)

_PAGE = ("subdomain",)
_KEY = ("subdomain", "slug")
_SLUG = slug("service", "list_services", "api")

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
    "name": text("Name shown on the page, e.g. `API`."),
    "description": nullable("string", "Short explanation shown with the service; null removes it.", maxLength=1000),
    "order": {"type": "integer", "minimum": 1, "description": "Position in the page's list of services, from 1."},
}

TOOLS: tuple[Tool, ...] = (
    Tool(
        name="list_services",
        title="List services",
        description=(
            "List the services of a status page with each one's slug, name, order, live status (the worst across "
            "regions) and status per region. Use it to answer 'what is down?' or to find the service slugs that "
            "create_incident and schedule_maintenance take. Statuses follow active notices and StatusPal's monitoring "
            "checks and automations; no tool sets them. For the incidents use list_notices; for one service get_service."
        ),
        input_schema=obj({"subdomain": SUBDOMAIN, **LIST_ARGUMENTS}, _PAGE),
        output_schema=listing(SERVICE),
        annotations=READ_ONLY,
        handler=list_handler("services_list", _PAGE),
    ),
    Tool(
        name="get_service",
        title="Get a service",
        description=(
            "Get one service of a status page by slug: name, description, order, overall status and its status in "
            "each region (container_statuses), live from the active notices, monitoring checks and automations. Use list_services instead to see every "
            "service at once or to find a slug; for the notices behind a status use list_notices."
        ),
        input_schema=obj({"subdomain": SUBDOMAIN, "slug": _SLUG}, _KEY),
        output_schema=SERVICE,
        annotations=READ_ONLY,
        handler=send_handler("services_get", _KEY),
    ),
    Tool(
        name="create_service",
        title="Create a service",
        description=(
            "Add a service (a component such as API or Web Console) to an existing status page. It appears on the "
            "public page at once, in every region (container), with status ok. Use the returned slug in later "
            "calls. For a new page with several services and regions, setup_status_page does it in one call."
        ),
        input_schema=obj(
            {"subdomain": SUBDOMAIN, **_FIELDS, "slug": new_slug("service")},
            ("subdomain", "name"),
        ),
        output_schema=SERVICE,
        annotations=CREATE,
        scope=WRITE,
        handler=send_handler(
            "services_create", _PAGE, ("name", "slug", "description", "order"),
            verify=VERIFIED, settle_by="slug", retry_tool="create_service",
        ),
    ),
    Tool(
        name="update_service",
        title="Update a service",
        description=(
            "Rename, describe, reorder or re-slug a service: only the fields passed change, overwriting the "
            "previous values, and the public page shows it at once. Pass at least one. A service's status cannot "
            "be set here: it follows notices (create_incident, resolve_incident) and StatusPal's monitoring checks "
            "and automations. To remove the service use delete_service."
        ),
        input_schema=obj(
            {"subdomain": SUBDOMAIN, "slug": _SLUG, **_FIELDS, "new_slug": renamed_slug("service")},
            _KEY,
        ),
        output_schema=SERVICE,
        annotations=UPDATE,
        scope=WRITE,
        handler=send_handler(
            "services_update",
            _KEY,
            ("name", "description", "order", "new_slug"),
            rename={"new_slug": "slug"},
            require_change=True,
            verify=VERIFIED,
        ),
    ),
    Tool(
        name="delete_service",
        title="Delete a service",
        description=(
            "Permanently remove a service from a status page, in every region. It disappears from the public page "
            "at once and cannot be undone. To end an outage use resolve_incident, not this; to remove a region use "
            "delete_container."
        ),
        input_schema=obj({"subdomain": SUBDOMAIN, "slug": _SLUG}, _KEY),
        output_schema=deleted(*_KEY),
        annotations=DELETE,
        scope=WRITE,
        handler=delete_handler("services_delete", _KEY),
    ),
)
