"""Container tools: a page's regions or groups (EU, US…), addressed by subdomain + slug.

StatusPal keeps every service in every container (a services × containers grid), so there is no tool to
move a service between containers: the API has no such operation.
"""

from __future__ import annotations

from gateway.scopes import WRITE
from gateway.tools.base import READ_ONLY, Tool
from gateway.tools.crud import CREATE, DELETE, UPDATE, Verified, delete_handler, list_handler, send_handler
from gateway.tools.schemas import CONTAINER, LIST_ARGUMENTS, SUBDOMAIN, deleted, listing, new_slug, obj, renamed_slug, slug, text

_PAGE = ("subdomain",)
_KEY = ("subdomain", "slug")
_SLUG = slug("container", "list_containers", "eu")
VERIFIED = Verified(
    noun="container (region)",
    get="containers_get",
    get_tool="get_container",
    fix_tool="update_container",
    key={"subdomain": None, "slug": "slug"},
    public={"name": "the region's name", "slug": "the region's slug"},
)
_NAME = text("Name shown on the page, e.g. `EU` or `US East`.")

TOOLS: tuple[Tool, ...] = (
    Tool(
        name="list_containers",
        title="List containers (regions)",
        description=(
            "List the containers of a status page: its regions or groups (e.g. EU, US, Asia), each with slug, name "
            "and the status of every service in it. Every page has a `default` container and every service is in "
            "every container. Use it to find the container slugs that narrow `affected` in create_incident and "
            "schedule_maintenance. For services across all regions use list_services."
        ),
        input_schema=obj({"subdomain": SUBDOMAIN, **LIST_ARGUMENTS}, _PAGE),
        output_schema=listing(CONTAINER),
        annotations=READ_ONLY,
        handler=list_handler("containers_list", _PAGE),
    ),
    Tool(
        name="get_container",
        title="Get a container (region)",
        description=(
            "Get one container (region) of a status page by slug, with the live status of every service of the page "
            "in that region. Use list_containers instead to see all regions or to find a slug; for one service "
            "across all regions use get_service."
        ),
        input_schema=obj({"subdomain": SUBDOMAIN, "slug": _SLUG}, _KEY),
        output_schema=CONTAINER,
        annotations=READ_ONLY,
        handler=send_handler("containers_get", _KEY),
    ),
    Tool(
        name="create_container",
        title="Create a container (region)",
        description=(
            "Add a container (a region such as EU) to an existing status page. Every service of the page joins it "
            "automatically with status ok; membership cannot be chosen. It shows on the public page at once. Use "
            "the returned slug in later calls. For a new page with its regions and services, use setup_status_page."
        ),
        input_schema=obj({"subdomain": SUBDOMAIN, "name": _NAME, "slug": new_slug("container")}, ("subdomain", "name")),
        output_schema=CONTAINER,
        annotations=CREATE,
        scope=WRITE,
        handler=send_handler(
            "containers_create", _PAGE, ("name", "slug"), verify=VERIFIED, settle_by="slug", retry_tool="create_container"
        ),
    ),
    Tool(
        name="update_container",
        title="Update a container (region)",
        description=(
            "Rename a container (region) or change its slug, overwriting the previous values; pass at least one. "
            "The public page shows it at once. Which services it holds cannot change: every service is in every "
            "container. To remove the region use delete_container; to add one use create_container."
        ),
        input_schema=obj(
            {"subdomain": SUBDOMAIN, "slug": _SLUG, "name": _NAME, "new_slug": renamed_slug("container")},
            _KEY,
        ),
        output_schema=CONTAINER,
        annotations=UPDATE,
        scope=WRITE,
        handler=send_handler(
            "containers_update", _KEY, ("name", "new_slug"), rename={"new_slug": "slug"}, require_change=True,
            verify=VERIFIED,
        ),
    ),
    Tool(
        name="delete_container",
        title="Delete a container (region)",
        description=(
            "Permanently remove a container (region) from a status page with the per-region statuses it held; the "
            "services stay in the other regions. It disappears from the public page at once and cannot be undone. "
            "To remove a service instead use delete_service; to rename the region use update_container."
        ),
        input_schema=obj({"subdomain": SUBDOMAIN, "slug": _SLUG}, _KEY),
        output_schema=deleted(*_KEY),
        annotations=DELETE,
        scope=WRITE,
        handler=delete_handler("containers_delete", _KEY),
    ),
)
