"""Notice states are configuration: a StatusPal that names them its own way, through the tools, on loopback.

The sandbox speaks the state words its mapping gives (the first word of each state; a filter matches any of
them); the gateway is configured separately, as an operator would configure it, so each test shows what a
gateway meets when its words match, differ, or when StatusPal reports no state at all.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import aiohttp
import pytest

from gateway.statuspal.endpoints import EndpointTable
from gateway.statuspal.notice_wire import NoticeWire
from gateway.tools.base import ToolError
from sandbox import start_sandbox
from sandbox.settings import SandboxSettings
from tests.toolkit import Recording, make_page, open_api, run

# A StatusPal whose every state word differs from the tools' own.
WORDS = {
    "state_incident_open": "active",
    "state_incident_resolved": "ended",
    "state_maintenance_scheduled": "planned",
    "state_maintenance_in_progress": "ongoing",
    "state_maintenance_completed": "done",
    "state_info_open": "published",
    "state_info_closed": "archived",
}
INCIDENT = {"subdomain": "acme", "title": "Errors", "severity": "major", "message": "Looking.",
            "affected": [{"service_slug": "api"}], "notify": False}
WINDOW = {"subdomain": "acme", "title": "Upgrade", "starts_at": "2099-01-01T02:00:00Z", "ends_at": "2099-01-01T04:00:00Z",
          "message": "Planned.", "affected": [{"service_slug": "api"}], "notify": False}


@asynccontextmanager
async def against(served: dict[str, Any], configured: dict[str, Any], strictness: str = "strict") -> AsyncIterator[tuple[Recording, str]]:
    """The tools, configured with `configured`, against a sandbox serving notices as `served` says."""
    runner, url = await start_sandbox(SandboxSettings(port=0, strictness=strictness), EndpointTable(None, NoticeWire(**served)))
    try:
        async for api in open_api(url, notices=configured):
            await make_page(api, "acme", ("API",))
            yield api, url
    finally:
        await runner.cleanup()


async def _list_queries(url: str) -> list[dict[str, str]]:
    async with aiohttp.ClientSession() as http, http.get(f"{url}/_sandbox/requests") as r:
        body = await r.json()
    entries = body["data"] if isinstance(body, dict) else body
    return [e["query"] for e in entries if e["endpoint"] == "notices_list"]


async def test_configured_with_statuspals_words_every_state_reads_in_the_tools_words() -> None:
    async with against(WORDS, WORDS) as (api, _):
        incident = await run(api, "create_incident", INCIDENT)
        assert incident["state"] == "open" and "wire_state" not in incident
        key = {"subdomain": "acme", "notice_id": incident["id"]}
        assert (await run(api, "resolve_incident", {**key, "notify": False}))["state"] == "resolved"
        window = await run(api, "schedule_maintenance", WINDOW)
        assert window["state"] == "scheduled"
        closed = await run(api, "close_maintenance", {"subdomain": "acme", "notice_id": window["id"], "notify": False})
        assert closed["state"] == "completed"
        info = await run(api, "create_info_notice", {"subdomain": "acme", "title": "News", "message": "Hi.", "notify": False})
        assert info["state"] == "open"
        ended = await run(api, "close_maintenance", {"subdomain": "acme", "notice_id": info["id"], "notify": False})
        assert ended["state"] == "closed"
        # Filters go upstream in StatusPal's words.
        listed = await run(api, "list_notices", {"subdomain": "acme", "state": "resolved"})
        assert [n["id"] for n in listed["items"]] == [incident["id"]]
        listed = await run(api, "list_notices", {"subdomain": "acme", "state": "completed"})
        assert [n["id"] for n in listed["items"]] == [window["id"]]


async def test_a_word_the_mapping_does_not_know_is_null_with_the_word_beside_it() -> None:
    async with against(WORDS, {}) as (api, _):
        incident = await run(api, "create_incident", INCIDENT)
        assert (incident["state"], incident["wire_state"]) == (None, "active")
        key = {"subdomain": "acme", "notice_id": incident["id"]}
        with pytest.raises(ToolError) as info:
            await run(api, "resolve_incident", {**key, "notify": False})
        text = str(info.value)
        # StatusPal did end it: the error must not send the model to end it again, and must name the setting.
        assert 'Not applied: state (asked "resolved", StatusPal has "ended" (a state word statuspal.notices does not map))' in text
        assert "Do not end it again: check it with get_notice" in text
        assert "statuspal.notices (state_incident_resolved)" in text and "check-api" in text
        assert "call resolve_incident again" not in text
        got = await run(api, "get_notice", key)
        assert (got["state"], got["wire_state"]) == (None, "ended")


@pytest.mark.parametrize("word", ["resolved", "ended"])
async def test_a_filter_finds_notices_under_every_word_of_its_state(word) -> None:
    """The gateway knows two words for resolved; whichever this StatusPal uses, the filter finds the incident,
    asking once per word (a Rails-like server answers an unknown word with nothing, not an error)."""
    async with against({"state_incident_resolved": word}, {"state_incident_resolved": "resolved,ended"}, "lenient") as (api, url):
        resolved = await run(api, "create_incident", INCIDENT)
        await run(api, "resolve_incident", {"subdomain": "acme", "notice_id": resolved["id"], "notify": False})
        still_open = await run(api, "create_incident", {**INCIDENT, "title": "Other"})
        listed = await run(api, "list_notices", {"subdomain": "acme", "state": "resolved"})
        assert [n["id"] for n in listed["items"]] == [resolved["id"]] and still_open["id"] != resolved["id"]
        assert listed["total_count"] == 1 and listed["items"][0]["state"] == "resolved"
        assert [q.get("state") for q in await _list_queries(url)][-2:] == ["resolved", "ended"]


async def test_a_state_no_notice_type_has_is_refused_with_the_states_it_has() -> None:
    async with against({}, {}) as (api, _):
        with pytest.raises(ToolError, match=r"A maintenance notice is never 'resolved': its states are scheduled, "
                                             r"in_progress, completed\. Filter by one of those"):
            await run(api, "list_notices", {"subdomain": "acme", "notice_type": "maintenance", "state": "resolved"})


async def test_a_statuspal_that_reports_no_state_has_its_endings_confirmed_from_ends_at() -> None:
    # The state travels under a key the gateway does not read: to the gateway, StatusPal reports none.
    async with against({"state_field": "phase"}, {}) as (api, _):
        incident = await run(api, "create_incident", INCIDENT)
        assert "state" not in incident
        resolved = await run(api, "resolve_incident", {"subdomain": "acme", "notice_id": incident["id"], "notify": False})
        assert resolved["ends_at"] and "state" not in resolved
        window = await run(api, "schedule_maintenance", WINDOW)
        closed = await run(api, "close_maintenance", {"subdomain": "acme", "notice_id": window["id"], "notify": False})
        assert closed["ends_at"] < WINDOW["ends_at"]


async def test_services_and_regions_by_id_on_the_wire_and_by_slug_in_the_tools() -> None:
    by_id = {"affected_ref": "id", "affected_shape": "map", "affected_field": "affected_services"}
    async with against(by_id, by_id) as (api, _):
        region = await run(api, "create_container", {"subdomain": "acme", "name": "EU"})
        services = await api.list_all("services_list", {"subdomain": "acme"})
        ids = {s["slug"]: s["id"] for s in services.data}
        opened = await run(api, "create_incident", {**INCIDENT, "affected": [{"service_slug": "api", "container_slugs": ["eu"]}]})
        assert opened["affected"] == [{"service_slug": "api", "container_slugs": ["eu"]}]
        # The wire carried the ids, looked up from the page's services and regions.
        assert api.sent[-1][0] == "notices_create"
        assert api.sent[-1][1]["affected_services"] == {ids["api"]: [region["id"]]}
        key = {"subdomain": "acme", "notice_id": opened["id"]}
        assert (await run(api, "get_notice", key))["affected"] == opened["affected"]
        edited = await run(api, "update_notice", {**key, "affected": [{"service_slug": "api"}]})
        assert edited["affected"] == [{"service_slug": "api", "container_slugs": ["default", "eu"]}]
        # A slug the page does not have is refused before anything is sent, with the valid ones.
        before = len(api.sent)
        with pytest.raises(ToolError, match=r"no service or region with the slug 'web' on this page\. Valid: service "
                                             r"slugs api; region slugs default, eu\."):
            await run(api, "update_notice", {**key, "affected": [{"service_slug": "web"}]})
        assert len(api.sent) == before


async def test_slugs_sent_to_a_statuspal_that_wants_ids_are_refused_not_applied() -> None:
    by_id = {"affected_ref": "id", "affected_shape": "map", "affected_field": "affected_services"}
    async with against(by_id, {k: v for k, v in by_id.items() if k != "affected_ref"}) as (api, _):
        with pytest.raises(ToolError, match="unknown service 'api'"):
            await run(api, "create_incident", INCIDENT)
