"""Status page, service and container tools against the sandbox: what reaches StatusPal and what comes back."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from gateway.statuspal.errors import UpstreamError
from gateway.tools.base import ToolError
from tests.toolkit import PAGE, Progress, make_page, open_api, run


@pytest.fixture
async def api(sandbox_url, sandbox_admin):
    async for api in open_api(sandbox_url):
        yield api


async def test_a_new_page_is_readable_and_starts_with_the_default_container(api):
    created = await run(api, "create_status_page", {"subdomain": "acme", **PAGE, "require_authentication": False})
    assert (created["subdomain"], created["name"], created["current_status"]) == ("acme", "Acme Status", "operational")
    got = await run(api, "get_status_page", {"subdomain": "acme"})
    assert {k: v for k, v in got.items() if k != "now"} == created
    containers = await run(api, "list_containers", {"subdomain": "acme"})
    assert [c["slug"] for c in containers["items"]] == ["default"]


async def test_get_status_page_says_what_time_it_is_now_in_the_pages_time_zone(api):
    await run(api, "create_status_page", {"subdomain": "acme", **{**PAGE, "timezone": "Asia/Kathmandu"}})
    before = datetime.now(UTC).replace(microsecond=0)
    now = (await run(api, "get_status_page", {"subdomain": "acme"}))["now"]
    moment, weekday = now.split(", a ")
    local = datetime.fromisoformat(moment)
    assert local.utcoffset() == timedelta(hours=5, minutes=45), "Kathmandu keeps UTC+05:45 all year"
    assert before <= local <= datetime.now(UTC) and weekday == local.strftime("%A")


async def test_one_page_of_a_list_says_where_it_sits(api):
    for n in range(3):
        await run(api, "create_status_page", {"subdomain": f"page-{n}", **PAGE})
    second = await run(api, "list_status_pages", {"page": 2, "per_page": 2})
    assert (second["page"], second["per_page"], second["total_count"], second["total_pages"]) == (2, 2, 3, 2)
    assert len(second["items"]) == 1
    assert "truncated" not in second


async def test_all_follows_every_page_and_reports_progress(api):
    for n in range(5):
        await run(api, "create_status_page", {"subdomain": f"page-{n}", **PAGE})
    progress = Progress()
    everything = await run(api, "list_status_pages", {"all": True, "per_page": 2}, progress)
    assert sorted(p["subdomain"] for p in everything["items"]) == [f"page-{n}" for n in range(5)]
    assert (everything["total_count"], everything["truncated"]) == (5, False)
    assert len(progress.steps) >= 2, "a multi-page walk reports progress as it goes"


async def test_all_stops_at_the_configured_page_limit_and_says_so(sandbox_url, sandbox_admin):
    async for api in open_api(sandbox_url, max_pages=2):
        for n in range(5):
            await run(api, "create_status_page", {"subdomain": f"page-{n}", **PAGE})
        cut = await run(api, "list_status_pages", {"all": True, "per_page": 2})
        assert (len(cut["items"]), cut["total_count"], cut["truncated"]) == (4, 5, True)


async def test_an_update_sends_only_the_given_fields_and_passes_false_through(api):
    await make_page(api)
    await run(api, "update_status_page", {"subdomain": "acme", "require_authentication": True})
    updated = await run(api, "update_status_page", {"subdomain": "acme", "require_authentication": False})
    assert api.sent[-1] == ("status_pages_update", {"require_authentication": False})
    assert updated["require_authentication"] is False and updated["name"] == "Acme Status"


async def test_an_update_with_nothing_to_change_names_the_fields_and_calls_nothing(api, sandbox_admin):
    await make_page(api)
    await sandbox_admin.clear_requests()
    with pytest.raises(ToolError) as raised:
        await run(api, "update_status_page", {"subdomain": "acme"})
    assert "name, timezone, website_url, require_authentication, notification_settings" in str(raised.value)
    with pytest.raises(ToolError, match="name, description, order, new_slug"):
        await run(api, "update_service", {"subdomain": "acme", "slug": "api"})
    assert await sandbox_admin.requests() == []


async def test_a_service_is_renamed_by_new_slug_and_null_clears_its_description(api):
    await make_page(api)
    await run(api, "update_service", {"subdomain": "acme", "slug": "api", "description": "Public REST API"})
    moved = await run(api, "update_service", {"subdomain": "acme", "slug": "api", "new_slug": "rest-api", "description": None})
    assert api.sent[-1] == ("services_update", {"description": None, "slug": "rest-api"})
    assert (moved["slug"], moved["description"]) == ("rest-api", None)
    assert (await run(api, "get_service", {"subdomain": "acme", "slug": "rest-api"}))["name"] == "API"
    # The old slug is gone, and the answer names the one that replaced it.
    with pytest.raises(ToolError, match="has no service with slug 'api'. Its service slugs: rest-api."):
        await run(api, "get_service", {"subdomain": "acme", "slug": "api"})


async def test_a_new_service_joins_every_region_and_a_new_region_holds_every_service(api):
    await make_page(api, services_=("API", "Web Console"))
    eu = await run(api, "create_container", {"subdomain": "acme", "name": "EU"})
    assert eu["slug"] == "eu"
    assert [s["slug"] for s in eu["services"]] == ["api", "web-console"]
    support = await run(api, "create_service", {"subdomain": "acme", "name": "Support Portal", "order": 1})
    assert {c["container_slug"] for c in support["container_statuses"]} == {"default", "eu"}
    assert support["order"] == 1


async def test_a_container_can_be_renamed_and_deleted(api):
    await make_page(api)
    await run(api, "create_container", {"subdomain": "acme", "name": "EU", "slug": "eu"})
    renamed = await run(api, "update_container", {"subdomain": "acme", "slug": "eu", "name": "Europe", "new_slug": "europe"})
    assert (renamed["name"], renamed["slug"]) == ("Europe", "europe")
    assert await run(api, "delete_container", {"subdomain": "acme", "slug": "europe"}) == {
        "deleted": True, "subdomain": "acme", "slug": "europe"
    }
    assert [c["slug"] for c in (await run(api, "list_containers", {"subdomain": "acme"}))["items"]] == ["default"]


async def test_upstream_refusals_reach_the_dispatcher_untouched(api):
    await make_page(api)
    with pytest.raises(UpstreamError) as taken:
        await run(api, "create_status_page", {"subdomain": "acme", **PAGE})
    assert taken.value.status == 422 and "subdomain" in taken.value.details
    with pytest.raises(UpstreamError) as duplicate:
        await run(api, "create_service", {"subdomain": "acme", "name": "API again", "slug": "api"})
    assert duplicate.value.status == 422 and "slug" in duplicate.value.details


async def test_deleting_a_page_removes_it_and_everything_on_it(api):
    await make_page(api, services_=("API",))
    assert await run(api, "delete_service", {"subdomain": "acme", "slug": "api"}) == {
        "deleted": True, "subdomain": "acme", "slug": "api"
    }
    assert await run(api, "delete_status_page", {"subdomain": "acme"}) == {"deleted": True, "subdomain": "acme"}
    for name, args in (("get_status_page", {}), ("list_services", {}), ("list_containers", {})):
        with pytest.raises(UpstreamError) as gone:
            await run(api, name, {"subdomain": "acme", **args})
        assert gone.value.status == 404


async def test_a_cursor_from_another_list_or_page_size_is_refused_with_the_way_to_a_good_one(api):
    await make_page(api)
    with pytest.raises(ToolError, match="next_cursor from the previous answer"):
        await run(api, "list_services", {"subdomain": "acme", "cursor": "not-a-cursor"})
    from gateway.tools.cursors import encode_cursor
    from gateway.tools.fit import list_cursor_kind

    # Issued for per_page 5: with another page size the offset would point at other records.
    cursor = encode_cursor(list_cursor_kind("services_list", 5, 1), 1)
    assert len((await run(api, "list_services", {"subdomain": "acme", "per_page": 5, "cursor": cursor}))["items"]) == 0
    with pytest.raises(ToolError, match="same arguments"):
        await run(api, "list_services", {"subdomain": "acme", "per_page": 6, "cursor": cursor})


@pytest.mark.parametrize(
    ("tool", "args", "noun", "valid", "creator"),
    [
        ("get_service", {"slug": "payments"}, "service", "api, web-console", "create_service"),
        ("update_service", {"slug": "payments", "name": "Payments"}, "service", "api, web-console", "create_service"),
        ("delete_service", {"slug": "payments"}, "service", "api, web-console", "create_service"),
        ("get_container", {"slug": "asia"}, "region", "default", "create_container"),
        ("update_container", {"slug": "asia", "name": "Asia"}, "region", "default", "create_container"),
        ("delete_container", {"slug": "asia"}, "region", "default", "create_container"),
    ],
)
async def test_an_unknown_slug_is_answered_with_the_valid_ones_and_the_tool_that_creates_one(api, tool, args, noun, valid, creator):
    await make_page(api, "acme", ("API", "Web Console"))
    with pytest.raises(ToolError) as refused:
        await run(api, tool, {"subdomain": "acme", **args})
    said = str(refused.value)
    assert f"Status page 'acme' has no {noun} with slug '{args['slug']}'. Its {noun} slugs: {valid}." in said
    assert f"create it with {creator}." in said


async def test_an_unknown_page_is_still_answered_as_a_missing_page(api):
    with pytest.raises(UpstreamError) as refused:
        await run(api, "get_service", {"subdomain": "nowhere", "slug": "api"})
    assert refused.value.status == 404
