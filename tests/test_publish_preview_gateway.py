"""The publish preview against the real gateway, in headless Chromium, the way a web assistant runs it.

The test host (tests/apps_host) connects to a gateway in front of the sandbox with the MCP TypeScript client,
declaring the apps extension, on the demo key: it lists the tools, finds the confirmed tool's view from its
`_meta.ui`, reads it with resources/read, makes the model's call, and mounts the view with the answer; the view's
Publish goes back through the host to the gateway's app-only `publish_draft`. The sandbox says what was written.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.apps_host.browser import VIEW, mount_live
from tests.conftest import DEMO_KEY
from tests.toolkit import make_page, open_api, run

pytestmark = [pytest.mark.browser, pytest.mark.node]

AT = "acme"
INCIDENT = {
    "subdomain": AT, "title": "API errors in the EU", "severity": "major", "message": "We are investigating.",
    "affected": [{"service_slug": "api", "container_slugs": ["eu"]}], "notify": True,
}


@pytest.fixture
async def seeded(sandbox_url, sandbox_admin) -> Any:
    """A page in Berlin's time zone with two services and an EU region; the sandbox's request log starts empty."""
    async for api in open_api(sandbox_url):
        await make_page(api, AT, ("API", "Web Console"))
        await run(api, "update_status_page", {"subdomain": AT, "timezone": "Europe/Berlin"})
        await run(api, "create_container", {"subdomain": AT, "name": "EU"})
        await sandbox_admin.clear_requests()
        yield api


@pytest.fixture(scope="module")
async def gateway_for_host(make_module_gateway, apps_host) -> Any:
    # The host page calls the gateway from the browser: its origin must be one the gateway answers CORS for.
    return await make_module_gateway(server={"cors_origins": (apps_host.url,)})


async def writes(sandbox_admin) -> list[tuple[str, str]]:
    return [(r["method"], r["path"]) for r in await sandbox_admin.requests() if r["method"] != "GET"]


async def notices(api) -> list[dict[str, Any]]:
    return (await run(api, "list_notices", {"subdomain": AT}))["items"]


@pytest.mark.parametrize("era", ["handshake", "2026-07-28"])
async def test_the_preview_of_a_new_incident_and_publish_writes_what_the_person_approved(
        apps_browser, apps_host, gateway_for_host, seeded, sandbox_admin, era) -> None:
    m = await mount_live(apps_browser, apps_host, gateway_for_host.mcp_url, DEMO_KEY, "create_incident", INCIDENT, era=era)
    try:
        v = m.view
        log = await m.log()
        assert (log["protocolVersion"] == "2026-07-28") == (era == "2026-07-28"), log["protocolVersion"]
        # The host found the view the way every host does, and it is the committed build.
        assert log["view"]["uri"] == "ui://statuspal/publish-preview.html" and log["view"]["html"] == VIEW
        listed = {t["name"]: t for t in log["tools"]}
        assert listed["publish_draft"]["_meta"]["ui"]["visibility"] == ["app"]
        # The model's call wrote nothing and answered a normal result the view could render.
        assert log["modelResult"].get("isError") is not True
        assert "Nothing is published yet" in log["modelResult"]["content"][0]["text"]
        assert await writes(sandbox_admin) == [] and await notices(seeded) == []

        assert await v.get_by_role("heading", level=1).inner_text() == "Publish the incident notice “API errors in the EU” on Acme Status."
        assert await v.get_by_role("heading", level=3).inner_text() == "API errors in the EU"
        assert await v.locator("#notice-severity").inner_text() == "Severity: Major"
        assert await v.locator("#page-next").inner_text() == "Unavailable"
        assert await v.locator("#page-tz").inner_text() == "Europe/Berlin"
        assert await v.locator("#notice-affected-list li").all_inner_texts() == ["API in EU"]
        assert await v.get_by_role("switch", name="Notify subscribers").is_checked()
        await m.screenshot(f"publish-preview-live-light-{era}")

        await v.get_by_label("Text of the notice").fill("We are investigating errors on the EU API.")
        await v.get_by_role("switch", name="Notify subscribers").uncheck()
        await v.get_by_role("button", name="Publish").click()
        await v.get_by_role("heading", name="Published", exact=True).wait_for()
        await m.screenshot(f"publish-preview-live-published-{era}")
        facts = await v.locator("#outcome-facts").inner_text()
        log = await m.log()
    finally:
        await m.context.close()
    assert [c["name"] for c in log["appCalls"]] == ["publish_draft"]
    assert set(log["appCalls"][0]["arguments"]) == {"draft", "text", "notify"}
    [result] = log["results"]
    assert result.get("isError") is not True, result
    # What StatusPal applied: one incident, with the person's text and notify, shown and told to the model.
    [listed] = await notices(seeded)
    incident = await run(seeded, "get_notice", {"subdomain": AT, "notice_id": listed["id"]})
    assert incident["title"] == "API errors in the EU"
    assert [(u["message"], u["notified"]) for u in incident["updates"]] == [("We are investigating errors on the EU API.", False)]
    assert [method for method, _ in await writes(sandbox_admin)] == ["POST"]
    # The person reads the verified result as facts (the text twin of the JSON is for the model), the model gets it all.
    assert "Title\nAPI errors in the EU" in facts and "Subscribers notified\nNo" in facts, facts
    told = log["modelContext"][0]["content"][0]["text"]
    assert told.startswith("The person approved create_incident in the publish preview and StatusPal applied it.")
    assert incident["id"] in told


async def test_dark_preview_and_cancel_writes_nothing(apps_browser, apps_host, gateway_for_host, seeded, sandbox_admin) -> None:
    m = await mount_live(apps_browser, apps_host, gateway_for_host.mcp_url, DEMO_KEY, "create_incident", INCIDENT, theme="dark")
    try:
        await m.screenshot("publish-preview-live-dark")
        await m.view.get_by_role("button", name="Cancel").click()
        await m.view.get_by_role("heading", name="Cancelled", exact=True).wait_for()
        assert await m.view.locator("#outcome-text").inner_text() == "Nothing was published."
        log = await m.log()
    finally:
        await m.context.close()
    assert log["appCalls"] == []
    assert await writes(sandbox_admin) == [] and await notices(seeded) == []
    assert "cancelled create_incident" in log["modelContext"][0]["content"][0]["text"]


async def test_a_page_delete_goes_through_only_with_the_typed_subdomain(apps_browser, apps_host, gateway_for_host, seeded,
                                                                       sandbox_admin) -> None:
    m = await mount_live(apps_browser, apps_host, gateway_for_host.mcp_url, DEMO_KEY, "delete_status_page", {"subdomain": AT})
    try:
        v = m.view
        assert await v.get_by_role("button", name="Delete").is_disabled()
        await v.get_by_label(f"Type {AT} to confirm").fill(AT)
        await m.screenshot("publish-preview-live-delete")
        await v.get_by_role("button", name="Delete").click()
        await v.get_by_role("heading", name="Deleted", exact=True).wait_for()
        log = await m.log()
    finally:
        await m.context.close()
    assert log["appCalls"][0]["arguments"]["typed_name"] == AT
    assert [method for method, _ in await writes(sandbox_admin)] == ["DELETE"]


async def test_a_maintenance_window_shows_in_the_pages_time_zone(apps_browser, apps_host, gateway_for_host, seeded,
                                                                sandbox_admin) -> None:
    window = {"starts_at": "2030-01-15T22:00:00Z", "ends_at": "2030-01-16T01:00:00Z"}  # Berlin: 23:00 to 02:00
    arguments = {"subdomain": AT, "title": "Database upgrade", **window, "message": "Planned upgrade.",
                 "affected": [{"service_slug": "web-console"}], "notify": False}
    m = await mount_live(apps_browser, apps_host, gateway_for_host.mcp_url, DEMO_KEY, "schedule_maintenance", arguments)
    try:
        v = m.view
        assert await v.locator("#notice-type").inner_text() == "Maintenance"
        assert "tone-maintenance" in (await v.locator("#notice-type").get_attribute("class") or "")
        assert await v.locator("#notice-starts").inner_text() == "2030-01-15 23:00 CET (Europe/Berlin)"
        assert await v.locator("#notice-ends").inner_text() == "2030-01-16 02:00 CET (Europe/Berlin)"
        assert not await v.get_by_role("switch", name="Notify subscribers").is_checked()
        await m.screenshot("publish-preview-live-maintenance")
    finally:
        await m.context.close()
    assert await writes(sandbox_admin) == []


async def test_a_rotation_hands_the_new_secret_to_the_person(apps_browser, apps_host, gateway_for_host, seeded) -> None:
    hook = await run(seeded, "create_webhook", {"name": "Ops pager", "url": "https://hooks.example/pager", "events": ["notice.created"]})
    m = await mount_live(apps_browser, apps_host, gateway_for_host.mcp_url, DEMO_KEY, "rotate_webhook_secret", {"webhook_id": hook["id"]})
    try:
        v = m.view
        assert await v.locator("#rotate-webhook").inner_text() == "Ops pager"
        assert "must be given the new secret" in await v.locator("#rotate-warning").inner_text()
        await v.get_by_role("button", name="Rotate secret").click()
        await v.get_by_role("heading", name="Secret rotated", exact=True).wait_for()
        assert (await v.locator("#outcome-text").inner_text()).startswith("StatusPal shows the new secret only this once")
        facts = await v.locator("#outcome-facts").inner_text()
    finally:
        await m.context.close()
    secret = facts.split("Secret\n", 1)[1].split("\n", 1)[0]
    assert secret.startswith("whs_") and secret != hook["secret"]
