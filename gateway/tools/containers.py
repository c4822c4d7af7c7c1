"""Container tools: a page's regions or groups (EU, US…), addressed by subdomain + slug.

StatusPal keeps every service in every container (a services × containers grid), so there is no tool to
move a service between containers: the API has no such operation.
"""

from __future__ import annotations

from gateway.auth.scopes import WRITE
from gateway.tools import lookups
from gateway.tools.base import READ_ONLY, Tool
from gateway.tools.crud import CREATE, DELETE, UPDATE, Verified, delete_handler, list_handler, send_handler
from gateway.tools.schemas import CONTAINER, LIST_ARGUMENTS, SUBDOMAIN, deleted, listing, new_slug, obj, renamed_slug, slug, text, written

_PAGE = ("subdomain",)
_KEY = ("subdomain", "slug")
_SLUG = slug("list_containers", "eu")
VERIFIED = Verified(
    noun="container (region)",
    get="containers_get",
    get_tool="get_container",
    fix_tool="update_container",
    key={"subdomain": None, "slug": "slug"},
    public={"name": "the region's name", "slug": "the region's slug"},
)
_NAME = text("Shown on the page, e.g. `EU`.")

# The toolsets of a surface URL that include these tools (`gateway.auth.surfaces.TOOLSETS`).
TOOLSETS = frozenset({"containers"})

TOOLS: tuple[Tool, ...] = (
    Tool(
        # A notice narrows its affected services to regions by slug: the notices toolset keeps this lookup.
        toolsets=TOOLSETS | {"notices"},
        name="list_containers",
        title="List containers (regions)",
        description=(
            "List a page's containers (regions, e.g. EU) with each service's live status in them; every "
            "service is in every region. Its slugs narrow create_incident's `affected`; one region: get_container."
        ),
        input_schema=obj({"subdomain": SUBDOMAIN, **LIST_ARGUMENTS}, _PAGE),
        output_schema=listing(CONTAINER),
        annotations=READ_ONLY,
        handler=list_handler("containers_list", _PAGE),
    ),
    Tool(
        toolsets=TOOLSETS,
        name="get_container",
        title="Get a container (region)",
        description=(
            "Get one region to check before renaming it or to see what is down there, service by service. Every region, "
            "or a slug from a name: list_containers; one service across regions: get_service."
        ),
        input_schema=obj({"subdomain": SUBDOMAIN, "slug": _SLUG}, _KEY),
        output_schema=CONTAINER,
        annotations=READ_ONLY,
        handler=lookups.naming_valid_slugs(send_handler("containers_get", _KEY), lookups.REGION),
    ),
    Tool(
        toolsets=TOOLSETS,
        name="create_container",
        title="Create a container (region)",
        description=(
            "Add a container (region such as EU) to an existing page, public at once; every service joins it with "
            "status ok. Later calls use the returned slug. For a new page: setup_status_page."
        ),
        input_schema=obj({"subdomain": SUBDOMAIN, "name": _NAME, "slug": new_slug()}, ("subdomain", "name")),
        output_schema=written(CONTAINER, "name"),
        annotations=CREATE,
        scope=WRITE,
        handler=send_handler(
            "containers_create", _PAGE, ("name", "slug"), verify=VERIFIED, settle_by="slug", retry_tool="create_container"
        ),
    ),
    Tool(
        toolsets=TOOLSETS,
        name="update_container",
        title="Update a container (region)",
        description=(
            "Rename a container (region) or change its slug, public at once; it always holds every service. To "
            "add a region use create_container; to remove one, delete_container."
        ),
        input_schema=obj(
            {"subdomain": SUBDOMAIN, "slug": _SLUG, "name": _NAME, "new_slug": renamed_slug()},
            _KEY,
        ),
        output_schema=written(CONTAINER, "name"),
        annotations=UPDATE,
        scope=WRITE,
        handler=lookups.naming_valid_slugs(
            send_handler(
                "containers_update", _KEY, ("name", "new_slug"), rename={"new_slug": "slug"}, require_change=True,
                verify=VERIFIED,
            ),
            lookups.REGION,
        ),
    ),
    Tool(
        toolsets=TOOLSETS,
        name="delete_container",
        title="Delete a container (region)",
        description=(
            "Permanently remove a container (region) and its per-region statuses, at once; the services stay in "
            "the other regions. To remove a service instead use delete_service."
        ),
        input_schema=obj({"subdomain": SUBDOMAIN, "slug": _SLUG}, _KEY),
        output_schema=deleted(*_KEY),
        annotations=DELETE,
        scope=WRITE,
        handler=lookups.naming_valid_slugs(delete_handler("containers_delete", _KEY), lookups.REGION),
    ),
)
