"""The docs corpus documents exactly what the gateway does: every endpoint of the table, every tool, the
enums it validates, and links that lead somewhere. The endpoint table, the sandbox and the docs describe one API,
so this fails as soon as any of the three drifts from the others.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from gateway.statuspal.endpoints import (
    MAX_PER_PAGE,
    PAGE_STATUSES,
    SERVICE_STATUSES,
    WEBHOOK_EVENTS,
    EndpointTable,
)
from search.corpus import load_pages, split_sections

CORPUS = Path(__file__).resolve().parent.parent / "docs_corpus"

# The tool names are the product's promise to users; each maps to the endpoint(s) it calls.
TOOL_ENDPOINTS: dict[str, tuple[str, ...]] = {
    "list_status_pages": ("status_pages_list",),
    "get_status_page": ("status_pages_get",),
    "create_status_page": ("status_pages_create",),
    "update_status_page": ("status_pages_update",),
    "delete_status_page": ("status_pages_delete",),
    "list_services": ("services_list",),
    "get_service": ("services_get",),
    "create_service": ("services_create",),
    "update_service": ("services_update",),
    "delete_service": ("services_delete",),
    "list_containers": ("containers_list",),
    "get_container": ("containers_get",),
    "create_container": ("containers_create",),
    "update_container": ("containers_update",),
    "delete_container": ("containers_delete",),
    "list_notices": ("notices_list",),
    "get_notice": ("notices_get",),
    "create_incident": ("notices_create",),
    "schedule_maintenance": ("notices_create",),
    "create_info_notice": ("notices_create",),
    "post_notice_update": ("notices_post_update",),
    "update_notice": ("notices_update",),
    "resolve_incident": ("notices_resolve",),
    "close_maintenance": ("notices_close",),
    "delete_notice": ("notices_delete",),
    "list_webhooks": ("webhooks_list",),
    "get_webhook": ("webhooks_get",),
    "create_webhook": ("webhooks_create",),
    "update_webhook": ("webhooks_update",),
    "rotate_webhook_secret": ("webhooks_rotate_secret",),
    "delete_webhook": ("webhooks_delete",),
    "setup_status_page": ("status_pages_create", "containers_create", "services_create"),
    "search_docs": (),
}


@pytest.fixture(scope="module")
def pages():
    return load_pages(CORPUS)


@pytest.fixture(scope="module")
def corpus_text(pages) -> str:
    return "\n".join(p.markdown for p in pages)


@pytest.fixture(scope="module")
def tool_rows(pages) -> dict[str, str]:
    """Each tool's row in the tool-mapping page's tables, by tool name."""
    page = next(p for p in pages if p.slug == "mcp-tools")
    rows: dict[str, str] = {}
    for line in page.markdown.splitlines():
        m = re.match(r"^\| `([a-z_]+)` \|", line)
        if m:
            assert m.group(1) not in rows, f"tool {m.group(1)} has two rows in mcp-tools"
            rows[m.group(1)] = line
    return rows


def test_every_endpoint_of_the_table_is_documented(corpus_text):
    missing = [f"{e.name}: {e.method} {e.path}" for e in EndpointTable() if f"`{e.method} {e.path}`" not in corpus_text]
    assert not missing, "endpoints with no `METHOD /path` in docs_corpus/:\n" + "\n".join(missing)


def test_unconfirmed_endpoints_are_documented_as_unconfirmed_and_overridable(pages):
    for endpoint in EndpointTable():
        if endpoint.confirmed:
            continue
        sections = [
            s for p in pages for s in split_sections(p) if f"{endpoint.method} {endpoint.path}" in s.prose
        ]
        # The section that gives the path must also say it is unconfirmed and how to override it.
        assert any(
            "unconfirmed" in s.prose.lower() and "[statuspal.endpoints]" in s.prose for s in sections
        ), f"{endpoint.name} is unconfirmed but no section giving its path says so and names [statuspal.endpoints]"


def test_every_tool_is_documented_with_the_endpoint_it_calls(tool_rows):
    table = EndpointTable()
    assert set(tool_rows) == set(TOOL_ENDPOINTS), (
        f"mcp-tools rows differ from the tool list: missing {sorted(set(TOOL_ENDPOINTS) - set(tool_rows))}, "
        f"unknown {sorted(set(tool_rows) - set(TOOL_ENDPOINTS))}"
    )
    for tool, endpoints in TOOL_ENDPOINTS.items():
        row = tool_rows[tool]
        for name in endpoints:
            assert f"`{name}`" in row, f"{tool}'s row does not name endpoint {name}: {row}"
        if len(endpoints) == 1:
            e = table[endpoints[0]]
            assert f"`{e.method} {e.path}`" in row, f"{tool}'s row does not show {e.method} {e.path}: {row}"
    assert "none" in tool_rows["search_docs"]


def test_every_tool_of_the_catalogue_is_documented(corpus_text):
    """The live catalogue, not just the fixed list: a tool added later must get its docs too."""
    from gateway.tools.catalogue import build_catalogue

    catalogue = build_catalogue()
    names = [t.name for t in catalogue.tools]
    assert set(TOOL_ENDPOINTS) <= set(names), f"catalogue lacks {sorted(set(TOOL_ENDPOINTS) - set(names))}"
    undocumented = [n for n in names if f"`{n}`" not in corpus_text]
    assert not undocumented, f"tools with no mention in docs_corpus/: {undocumented}"


def test_enums_the_gateway_validates_are_the_ones_documented(corpus_text):
    for value in (*WEBHOOK_EVENTS, *SERVICE_STATUSES, *PAGE_STATUSES):
        assert f"`{value}`" in corpus_text, f"{value} is missing from the docs"
    assert f"**{MAX_PER_PAGE} items**" in corpus_text


def test_every_page_has_a_title_slug_and_description(pages):
    assert len(pages) >= 9
    for page in pages:
        assert page.title and page.description, page.path.name
        assert page.markdown.startswith(f"# {page.title}\n")


def test_internal_links_lead_to_an_existing_page_and_heading(pages):
    anchors = {p.slug: {s.anchor for s in split_sections(p)} for p in pages}
    broken = []
    for page in pages:
        for target in re.findall(r"\]\(([^)\s]+)\)", page.markdown):
            if "://" in target:
                continue
            slug, _, anchor = target.partition("#")
            slug = slug or page.slug
            if slug not in anchors or (anchor and anchor not in anchors[slug]):
                broken.append(f"{page.slug}: ({target})")
    assert not broken, "broken links:\n" + "\n".join(broken)

