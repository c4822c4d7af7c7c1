"""A StatusPal whose notices API differs from today's guess, end to end through the `mcp` client.

The sandbox is configured for an alternative shape: org-scoped routes, other field names, affected services
as a map, and notices ended by PATCHing `ends_at`. A gateway configured the same way passes the whole user
story; an unconfigured one must not publish anything while believing it did.
"""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest

from gateway.statuspal.endpoints import EndpointTable
from gateway.statuspal.notice_wire import NoticeWire
from gateway.tools.base import ToolError
from sandbox import start_sandbox
from sandbox.settings import SandboxSettings
from tests.test_story import SUBDOMAIN, connect, stack, the_story
from tests.toolkit import make_page, open_api, run

ALT_ROUTES = {
    "notices_list": "GET /notices",
    "notices_create": "POST /notices",
    "notices_get": "GET /notices/{notice_id}",
    "notices_update": "PATCH /notices/{notice_id}",
    "notices_delete": "DELETE /notices/{notice_id}",
    "notices_post_update": "POST /notices/{notice_id}/notice_updates",
}
ALT_NOTICES = {
    "text_field": "description",
    "notify_field": "notify_subscribers",
    "affected_field": "affected_services",
    "affected_shape": "map",
    "updates_field": "notice_updates",
    "update_text_key": "description",
    "update_notify_key": "subscribers_notified",
    "resolve_strategy": "patch_ends_at",
    "close_strategy": "patch_ends_at",
}
ALT = {"endpoints": ALT_ROUTES, "notices": ALT_NOTICES}
PAGE = {"name": "Acme", "subdomain": SUBDOMAIN, "timezone": "UTC", "website_url": "https://acme.example",
        "services": ["API"], "regions": ["EU"]}
INCIDENT = {"subdomain": SUBDOMAIN, "title": "Errors", "severity": "major", "message": "Looking.",
            "affected": [{"service_slug": "api", "container_slugs": ["eu"]}], "notify": True}


@pytest.mark.parametrize("strictness", ["strict", "lenient"])
async def test_configured_for_the_alternative_shape_the_whole_story_passes(docs_index_dir, strictness) -> None:
    # In strict mode the sandbox serves no default notices route and refuses every default field name, so
    # passing proves the gateway sent only what the mapping says.
    async with stack(docs_index_dir, strictness, sandbox_wire=ALT, gateway_wire=ALT) as gateway:
        await the_story(gateway.mcp_url)


async def _errors(mcp_url: str) -> dict[str, str]:
    """Every notices tool against a StatusPal the gateway is not configured for: tool -> error text."""
    found: dict[str, str] = {}
    async with connect(mcp_url, "2026-07-28") as client:
        assert not (await client.call_tool("setup_status_page", PAGE)).is_error  # confirmed routes still work
        key = {"subdomain": SUBDOMAIN, "notice_id": "00000000-0000-4000-8000-000000000000"}
        calls = {
            "create_incident": INCIDENT,
            "schedule_maintenance": {**{k: v for k, v in INCIDENT.items() if k != "severity"},
                                     "starts_at": "2099-01-01T02:00:00Z", "ends_at": "2099-01-01T04:00:00Z"},
            "list_notices": {"subdomain": SUBDOMAIN},
            "get_notice": key,
            "post_notice_update": {**key, "message": "Fixing.", "notify": False},
            "update_notice": {**key, "title": "Renamed"},
            "resolve_incident": {**key, "notify": False},
            "close_maintenance": {**key, "notify": False},
            "delete_notice": key,
        }
        for name, arguments in calls.items():
            result = await client.call_tool(name, arguments)
            assert result.is_error, f"{name} succeeded against a StatusPal it is not configured for"
            found[name] = result.content[0].text
    return found


async def test_unconfigured_every_notice_step_fails_with_the_missing_route_named(docs_index_dir) -> None:
    async with stack(docs_index_dir, "strict", sandbox_wire=ALT) as gateway:
        errors = await _errors(gateway.mcp_url)
    _assert_route_missing(errors)


async def test_unconfigured_against_a_rails_like_server_every_notice_step_names_the_missing_route(docs_index_dir) -> None:
    # A Rails 404 carries no StatusPal envelope: the route may not exist there, never "no such page".
    async with stack(docs_index_dir, "lenient", sandbox_wire=ALT) as gateway:
        errors = await _errors(gateway.mcp_url)
    _assert_route_missing(errors)


def _assert_route_missing(errors: dict[str, str]) -> None:
    for name, text in errors.items():
        assert text.startswith("StatusPal answered 404 to "), (name, text)
        assert "without its record-not-found answer, so this route may not exist on this StatusPal" in text, (name, text)
        assert "`statuspal-mcp check-api`" in text, (name, text)
        assert "no status page" not in text and "found no" not in text, (name, text)


async def test_misnamed_fields_on_the_right_routes(docs_index_dir) -> None:
    """Only the field names differ. A strict server refuses them; a Rails-like one accepts the create with
    the misnamed fields dropped, and the gateway must say so instead of reporting an incident it never got."""
    names_only = {"notices": {k: v for k, v in ALT_NOTICES.items() if not k.endswith("_strategy")}}
    async with stack(docs_index_dir, "strict", sandbox_wire=names_only) as gateway:
        async with connect(gateway.mcp_url, "2026-07-28") as client:
            await client.call_tool("setup_status_page", PAGE)
            refused = await client.call_tool("create_incident", INCIDENT)
    assert refused.is_error
    assert "affected: is not a permitted field." in refused.content[0].text
    assert "message: is not a permitted field." in refused.content[0].text

    async with stack(docs_index_dir, "lenient", sandbox_wire=names_only) as gateway:
        async with connect(gateway.mcp_url, "2026-07-28") as client:
            await client.call_tool("setup_status_page", PAGE)
            dropped = await client.call_tool("create_incident", INCIDENT)
            listed = await client.call_tool("list_notices", {"subdomain": SUBDOMAIN})
    assert dropped.is_error and dropped.structured_content is None
    (notice,) = listed.structured_content["items"]  # it was made: the answer and one GET showed its fields
    # under names the gateway does not read, so the affected services and the text cannot be confirmed.
    key = f"subdomain 'acme-story', notice_id {notice['id']!r}"
    assert dropped.content[0].text == (
        f"StatusPal accepted the write to incident {notice['id']!r} on status page 'acme-story' but did not apply "
        "all of it, so this is not a success.\n"
        'Applied: title "Errors"; severity "major".\n'
        "Not confirmed: affected (asked api (eu); StatusPal's answer does not show it); message (asked \"Looking.\"; "
        "StatusPal's answer does not show it).\n"
        "Live on the public page of 'acme-story' now: the incident is titled \"Errors\"; the incident's severity is "
        "\"major\"; the list of services the incident affects is unknown; the incident's newest timeline text is "
        "unknown; whether subscribers were notified of that text is unknown.\n"
        f"To correct it, call update_notice ({key}) and pass affected again; call post_notice_update ({key}) and "
        "pass message again; if StatusPal ignores it again, it does not accept that field under this name: the "
        "operator should run `statuspal-mcp check-api` to see which fields this StatusPal accepts."
    )


# ---------------------------------------------------------------- the mapping in the tools


async def _tools_against(wire: dict[str, Any]):
    runner, url = await start_sandbox(SandboxSettings(port=0), EndpointTable(ALT_ROUTES, NoticeWire(**wire)))
    return runner, url, open_api(url, endpoints=ALT_ROUTES, notices=wire)


async def test_a_plain_list_shape_refuses_regions_instead_of_widening_them() -> None:
    wire = {**ALT_NOTICES, "affected_shape": "list"}
    runner, _, apis = await _tools_against(wire)
    try:
        async for api in apis:
            await make_page(api, "acme", ("API",))
            await run(api, "create_container", {"subdomain": "acme", "name": "EU"})
            with pytest.raises(ToolError, match=r"cannot name regions: api would be marked affected in every region"):
                await run(api, "create_incident", {**INCIDENT, "subdomain": "acme"})
            assert api.sent[-1][0] == "containers_create", "nothing was sent for the refused incident"
            wide = await run(api, "create_incident", {**INCIDENT, "subdomain": "acme", "affected": [{"service_slug": "api"}]})
            assert wide["affected"] == [{"service_slug": "api"}]
            assert api.sent[-1] == ("notices_create", {
                "title": "Errors", "severity": "major", "description": "Looking.", "affected_services": ["api"],
                "notify_subscribers": True, "notice_type": "incident", "status_page_subdomain": "acme"})
    finally:
        await runner.cleanup()


async def test_ending_by_patch_sends_ends_at_then_the_closing_update() -> None:
    runner, _, apis = await _tools_against(ALT_NOTICES)
    try:
        async for api in apis:
            await make_page(api, "acme", ("API",))
            notice = await run(api, "create_incident", {**INCIDENT, "subdomain": "acme", "affected": [{"service_slug": "api"}]})
            key = {"subdomain": "acme", "notice_id": notice["id"]}
            with pytest.raises(ToolError, match="notifies no one: subscribers can only be told through a closing update"):
                await run(api, "resolve_incident", {**key, "notify": True})
            assert api.sent[-1][0] == "notices_create", "the refused resolve sent nothing"
            resolved = await run(api, "resolve_incident", {**key, "message": "Fixed.", "notify": True})
            (patch, patch_body), (post, post_body) = api.sent[-2:]
            assert (patch, set(patch_body)) == ("notices_update", {"ends_at", "status_page_subdomain"})
            assert (post, post_body) == ("notices_post_update", {
                "description": "Fixed.", "notify_subscribers": True, "status_page_subdomain": "acme"})
            assert resolved["state"] == "resolved" and resolved["ends_at"] == patch_body["ends_at"]
            assert [(u["message"], u["notified"]) for u in resolved["updates"]] == [("Looking.", True), ("Fixed.", True)]
    finally:
        await runner.cleanup()


async def test_a_failed_closing_update_says_the_notice_has_ended() -> None:
    runner, url, apis = await _tools_against(ALT_NOTICES)
    try:
        async for api in apis:
            await make_page(api, "acme", ("API",))
            notice = await run(api, "create_incident", {**INCIDENT, "subdomain": "acme", "affected": [{"service_slug": "api"}]})
            # The PATCH succeeds, the closing update meets an outage.
            async with aiohttp.ClientSession() as http:
                faults = {"error_rate": 1.0, "error_status": 503, "only": ["notices_post_update"]}
                async with http.post(f"{url}/_sandbox/faults", json=faults) as r:
                    assert r.status == 200
            with pytest.raises(ToolError) as info:
                await run(api, "resolve_incident", {"subdomain": "acme", "notice_id": notice["id"], "message": "Fixed.", "notify": False})
            assert str(info.value).startswith("The notice has ended (its ends_at is now ")
            assert "503" in str(info.value) and str(info.value).endswith(
                "If the closing text is missing from the timeline, post it with post_notice_update; do not end the notice again.")
            assert (await run(api, "get_notice", {"subdomain": "acme", "notice_id": notice["id"]}))["state"] == "resolved"
    finally:
        await runner.cleanup()


def test_the_record_tells_a_dropped_field_from_one_the_answer_lacks() -> None:
    wire = NoticeWire(**ALT_NOTICES)
    dropped = wire.read({"id": "n1", "affected_services": {}, "notice_updates": [], "severity": None})
    assert (dropped.affected, dropped.updates, dropped.severity) == ({}, (), None)
    assert {"affected", "updates", "severity"} <= dropped.present
    lacking = wire.read({"id": "n1", "affected": [{"service_slug": "api"}], "updates": [{"message": "x"}]})
    assert (lacking.affected, lacking.updates, lacking.present) == (None, None, frozenset({"id"}))
    applied = wire.read({"id": "n1", "affected_services": {"api": ["eu"], "web": []},
                         "notice_updates": [{"description": "Looking.", "subscribers_notified": True, "posted_at": "t"}]})
    assert applied.affected == {"api": ("eu",), "web": ()}
    assert [(u.message, u.notified) for u in applied.updates] == [("Looking.", True)]
    # The same logical fields, sent in this shape.
    assert wire.body({"message": "Looking.", "notify": True, "affected": [
        {"service_slug": "api", "container_slugs": ["eu"]}, {"service_slug": "web"}]}) == {
        "description": "Looking.", "notify_subscribers": True, "affected_services": {"api": ["eu"], "web": []}}
