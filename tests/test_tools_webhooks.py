"""Webhook tools against the sandbox: the one-time secret, rotation, and the page-scope rules."""

from __future__ import annotations

import pytest

from gateway.statuspal.errors import UpstreamError
from gateway.tools.base import ToolError
from tests.toolkit import make_page, open_api, run

HOOK = {"name": "Bridge", "url": "https://hooks.example/statuspal", "events": ["notice.created"]}


@pytest.fixture
async def api(sandbox_url, sandbox_admin):
    async for api in open_api(sandbox_url):
        await make_page(api, "acme")
        yield api


async def test_the_secret_is_shown_on_create_and_rotate_only_and_rotation_replaces_it(api):
    created = await run(api, "create_webhook", HOOK)
    assert created["secret"].startswith("whs_")
    assert created["all_status_pages"] is True and created["enabled"] is True
    shown = await run(api, "get_webhook", {"webhook_id": created["id"]})
    listed = await run(api, "list_webhooks", {})
    assert "secret" not in shown and all("secret" not in w for w in listed["items"])
    rotated = await run(api, "rotate_webhook_secret", {"webhook_id": created["id"]})
    assert api.sent[-1] == ("webhooks_rotate_secret", None), "rotation sends no body"
    assert rotated["secret"].startswith("whs_") and rotated["secret"] != created["secret"]
    assert rotated["id"] == created["id"]


async def test_listing_subdomains_scopes_the_webhook_to_those_pages(api):
    scoped = await run(api, "create_webhook", {**HOOK, "status_page_subdomains": ["acme"]})
    assert api.sent[-1][1]["all_status_pages"] is False
    assert (scoped["all_status_pages"], scoped["status_page_subdomains"]) == (False, ["acme"])
    widened = await run(api, "update_webhook", {"webhook_id": scoped["id"], "all_status_pages": True})
    assert api.sent[-1] == ("webhooks_update", {"all_status_pages": True})
    assert widened["all_status_pages"] is True and "status_page_subdomains" not in widened


@pytest.mark.parametrize(
    ("tool", "args", "complaint"),
    [
        ("create_webhook", {**HOOK, "all_status_pages": True, "status_page_subdomains": ["acme"]}, "exclude each other"),
        ("create_webhook", {**HOOK, "all_status_pages": False}, "needs status_page_subdomains"),
        ("update_webhook", {"all_status_pages": True, "status_page_subdomains": ["acme"]}, "exclude each other"),
        ("update_webhook", {}, "name, url, events, enabled, all_status_pages, status_page_subdomains"),
    ],
)
async def test_contradictory_scope_is_refused_before_anything_is_sent(api, sandbox_admin, tool, args, complaint):
    if tool == "update_webhook":
        args = {"webhook_id": (await run(api, "create_webhook", HOOK))["id"], **args}
    await sandbox_admin.clear_requests()
    with pytest.raises(ToolError, match=complaint):
        await run(api, tool, args)
    assert await sandbox_admin.requests() == []


async def test_pausing_sends_only_enabled_false_and_keeps_the_rest(api):
    created = await run(api, "create_webhook", HOOK)
    paused = await run(api, "update_webhook", {"webhook_id": created["id"], "enabled": False})
    assert api.sent[-1] == ("webhooks_update", {"enabled": False})
    assert (paused["enabled"], paused["url"], paused["events"]) == (False, HOOK["url"], HOOK["events"])


async def test_a_deleted_webhook_is_gone(api):
    created = await run(api, "create_webhook", HOOK)
    assert await run(api, "delete_webhook", {"webhook_id": created["id"]}) == {"deleted": True, "webhook_id": created["id"]}
    with pytest.raises(UpstreamError) as gone:
        await run(api, "get_webhook", {"webhook_id": created["id"]})
    assert gone.value.status == 404
    assert (await run(api, "list_webhooks", {}))["items"] == []


async def test_an_unknown_page_in_the_scope_is_refused_by_statuspal(api):
    with pytest.raises(UpstreamError) as refused:
        await run(api, "create_webhook", {**HOOK, "status_page_subdomains": ["nope"]})
    assert refused.value.status == 422 and "status_page_subdomains" in refused.value.details
