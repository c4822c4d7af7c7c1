"""The guide's example prompts, walked the way a model gets them wrong, on a real gateway and sandbox.

Each step makes one of the mistakes real assistants make (invented page details, a display name for a slug, a
missing notify, an argument meant for another tool, ending a notice twice, a time without an offset, a filter
that can never match, a service that does not exist) and asserts the answer names the next step: the tool to
call, the value to ask the user for, or that there is nothing to do.
"""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest

from tests.test_confirm import PAGE, _incident, _setup, _tool


async def _error(http: aiohttp.ClientSession, url: str, name: str, arguments: dict[str, Any]) -> str:
    answer = await _tool(http, url, name, arguments)
    assert answer.result["isError"] is True, f"{name} {arguments} succeeded"
    return answer.result["content"][0]["text"]


@pytest.fixture
async def walk(make_gateway, sandbox_admin):
    await sandbox_admin.reset()
    gateway = await make_gateway()
    async with aiohttp.ClientSession() as http:
        yield gateway.mcp_url, http


async def test_configure_a_new_page_with_invented_details_learns_every_mistake_at_once(walk):
    url, http = walk
    text = await _error(http, url, "setup_status_page", {
        "name": "Acme", "subdomain": "Acme Status", "timezone": "x" * 80, "website_url": "acme.com",
        "services": ["API"], "regions": ["EU"]})
    for mistake in ("subdomain", "timezone", "website_url"):
        assert mistake in text, text
    assert "lowercase letters, digits and hyphens" in text and "https://" in text


async def test_a_pages_display_name_is_answered_with_the_tool_that_shows_subdomains(walk):
    url, http = walk
    assert "list_status_pages" in await _error(http, url, "list_services", {"subdomain": "Production Page"})


async def test_open_an_incident_without_notify_says_to_ask_the_user(walk):
    url, http = walk
    slugs = await _setup(http, url)
    arguments = _incident(slugs)
    del arguments["notify"]
    text = await _error(http, url, "create_incident", arguments)
    assert "ask the user whether subscribers should be told" in text and "never choose it yourself" in text


async def test_a_region_given_by_name_names_list_containers(walk):
    url, http = walk
    slugs = await _setup(http, url)
    arguments = _incident(slugs)
    arguments["affected"] = [{"service_slug": slugs["service"], "container_slugs": ["Europe (EU)"]}]
    assert "list_containers" in await _error(http, url, "create_incident", arguments)


async def test_an_unknown_service_names_the_valid_slugs_and_the_tool_that_creates_one(walk):
    url, http = walk
    slugs = await _setup(http, url)
    arguments = _incident(slugs)
    arguments["affected"] = [{"service_slug": "database"}]
    text = await _error(http, url, "create_incident", arguments)
    assert slugs["service"] in text and "create_service" in text


async def test_arguments_meant_for_another_tool_name_that_tool(walk):
    url, http = walk
    slugs = await _setup(http, url)
    made = await _tool(http, url, "create_incident", _incident(slugs))
    notice = made.result["structuredContent"]["id"]
    text = await _error(http, url, "update_notice", {"subdomain": PAGE, "notice_id": notice, "state": "resolved",
                                                     "message": "Fixed."})
    assert "resolve_incident" in text and "post_notice_update" in text


async def test_resolving_twice_says_there_is_nothing_to_do(walk):
    url, http = walk
    slugs = await _setup(http, url)
    made = await _tool(http, url, "create_incident", _incident(slugs))
    ending = {"subdomain": PAGE, "notice_id": made.result["structuredContent"]["id"], "message": "Fixed.", "notify": False}
    assert (await _tool(http, url, "resolve_incident", ending)).result["isError"] is False
    text = await _error(http, url, "resolve_incident", ending)
    assert "already resolved" in text and "nothing to do" in text


async def test_maintenance_at_a_time_without_an_offset_spells_out_the_pages_offset_and_its_time_now(walk):
    url, http = walk
    slugs = await _setup(http, url)
    text = await _error(http, url, "schedule_maintenance", {
        "subdomain": PAGE, "title": "Database upgrade", "starts_at": "2030-03-03T02:00:00", "ends_at": "2030-03-03T04:00:00",
        "message": "Upgrading.", "affected": [{"service_slug": slugs["service"]}], "notify": False})
    assert "+01:00" in text and "Europe/Berlin" in text


async def test_a_filter_that_can_never_match_is_refused_with_the_valid_states(walk):
    url, http = walk
    await _setup(http, url)
    text = await _error(http, url, "list_notices", {"subdomain": PAGE, "notice_type": "maintenance", "state": "open"})
    assert "scheduled" in text and "completed" in text


async def test_a_webhook_with_a_bare_host_says_what_the_url_must_look_like(walk):
    url, http = walk
    text = await _error(http, url, "create_webhook", {"name": "Hooks", "url": "example.com/hooks/statuspal", "events": ["notice.created"]})
    assert "url" in text and ("https://" in text or "URL" in text)


async def test_a_page_url_for_a_page_that_does_not_exist_says_so_for_that_surface(walk):
    url, http = walk
    text = await _error(http, url + "/pages/no-such-page", "list_services", {})
    assert "'no-such-page', which does not exist" in text and "/mcp/pages/<subdomain>" in text
    assert "list_status_pages" not in text, "that tool is not on a page URL"


async def test_a_toolset_surface_keeps_the_lookups_its_writes_point_at(walk):
    url, http = walk
    from tests.test_confirm import _rpc

    listed = [t["name"] for t in (await _rpc(http, url + "/x/notices", "tools/list", {}, {})).result["tools"]]
    assert {"list_status_pages", "list_services", "list_containers", "create_incident"} <= set(listed)
    assert "create_service" not in listed
