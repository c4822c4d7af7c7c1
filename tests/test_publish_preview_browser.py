"""The publish preview in a real browser, hosted the way a web assistant hosts an MCP App.

Headless Debian Chromium (Playwright, no browser download) opens a small host page built on the ext-apps SDK's
AppBridge (tests/apps_host): the view runs in a sandbox proxy on another origin under the spec's default CSP, and
receives a tool result. Here the results are recorded ones (tests/apps_host/results) and the view's tools/call goes to
an endpoint that records it, so every case the view must handle is shown: a new incident, a delete with a typed name,
a rotation, a refusal, an expired draft, hostile caller text. Screenshots, light and dark, go to test-artifacts/.
"""

from __future__ import annotations

import asyncio
import json

import pytest

from tests.apps_host.browser import fresh, mount_recorded
from tests.apps_host.server import recorded

pytestmark = [pytest.mark.browser, pytest.mark.node]


@pytest.mark.parametrize("theme", ["light", "dark"])
async def test_a_new_incident_reads_as_the_page_will_show_it(apps_browser, apps_host, theme) -> None:
    m = await mount_recorded(apps_browser, apps_host, fresh("create_incident"), theme)
    try:
        v = m.view
        assert await v.get_by_role("heading", level=1).inner_text() == "Open a major incident on Acme Status: Checkout errors in Europe."
        assert await v.locator("#eyebrow").inner_text() == "Review before publishing"
        assert await v.locator("#not-yet").inner_text() == "Nothing is public yet"
        facts = await v.locator("#page").inner_text()
        assert "Acme Status (acme)" in facts and "Europe/Berlin" in facts
        assert await v.locator("#page-now").inner_text() == "Operational"
        assert await v.locator("#page-next").inner_text() == "Major"
        assert "(a prediction)" in facts, "the predicted status is labelled as a prediction"
        # The notice: title, type and severity in words (colour is never the only carrier), times in the page's zone.
        assert await v.get_by_role("heading", level=3).inner_text() == "Checkout errors in Europe"
        assert await v.locator("#notice-type").inner_text() == "Incident"
        assert await v.locator("#notice-severity").inner_text() == "Severity: Major"
        assert "tone-major" in (await v.locator("#notice-severity").get_attribute("class") or "")
        assert await v.locator("#notice-state").inner_text() == "Investigating"
        assert await v.locator("#notice-starts").inner_text() == "2026-12-07 05:40 CET (Europe/Berlin)"
        assert await v.locator("#notice-affected-list li").all_inner_texts() == [
            "Checkout in Frankfurt, Dublin", "Public API (every region)"]
        assert await v.get_by_label("Text of the notice").input_value() == "We are investigating failed payments at checkout."
        switch = v.get_by_role("switch", name="Notify subscribers")
        assert await switch.is_checked()
        assert await v.locator("#notify-state").inner_text() == "On"
        assert await v.locator("#notify-consequence").inner_text() == (
            "Subscribers of Acme Status are emailed about this incident when it is published.")
        assert (await v.locator("#expiry").inner_text()).startswith("This draft can be approved until ")
        assert await v.get_by_role("button", name="Publish").is_enabled()
        assert await v.locator("#delete").is_hidden() and await v.locator("#rotate").is_hidden()
        # Dark or light as the host said, whatever the system says.
        assert await v.locator("html").get_attribute("data-theme") == theme
        background = await v.locator("body").evaluate("b => getComputedStyle(b).backgroundColor")
        assert (background == "rgb(255, 255, 255)") == (theme == "light"), background
        await m.screenshot(f"publish-preview-incident-{theme}")

        log = await m.log()
        assert log["initialized"] and log["appInfo"]["name"] == "statuspal-publish-preview"
        assert log["appCalls"] == [] and log["modelContext"] == [], "showing the preview calls nothing"
        assert log["sizes"] and log["sizes"][-1]["height"] > 300, "the view reports its height to the host"
    finally:
        await m.context.close()
    assert not m.csp_complaints(), m.csp_complaints()
    assert not apps_host.probes


async def test_publish_sends_the_draft_with_the_persons_corrections_and_shows_what_was_applied(apps_browser, apps_host) -> None:
    result = fresh("create_incident")
    m = await mount_recorded(apps_browser, apps_host, result, answers=(recorded("create_incident_published"),))
    try:
        v = m.view
        await v.get_by_label("Text of the notice").fill("We are investigating failed card payments at checkout.")
        await v.get_by_role("switch", name="Notify subscribers").uncheck()
        assert await v.locator("#notify-state").inner_text() == "Off"
        assert await v.locator("#notify-consequence").inner_text() == (
            "No one will be notified; the change still appears on the public page."), "the sentence follows the switch"
        await v.get_by_role("button", name="Publish").click()
        await v.get_by_role("heading", name="Published", exact=True).wait_for()
        assert "Published incident 4711 on Acme Status" in await v.locator("#outcome-text").inner_text()
        facts = await v.locator("#outcome-facts").inner_text()
        assert "Id\n4711" in facts and "Severity\nmajor" in facts and "Notify\nNo" in facts, facts
        assert json.loads(await v.locator("#outcome-json").text_content() or "") == recorded("create_incident_published")["structuredContent"]
        for control in ("#notice-text", "#notify-switch"):
            assert await v.locator(control).is_disabled(), f"{control} stays editable after publishing"
        assert await v.locator("#actions-row").is_hidden() and await v.locator("#not-yet").is_hidden()
        await m.screenshot("publish-preview-published")
        log = await m.log()
    finally:
        await m.context.close()
    draft = result["_meta"]["statuspal/draft"]
    assert apps_host.calls == [{"name": "publish_draft", "arguments": {
        "draft": draft, "text": "We are investigating failed card payments at checkout.", "notify": False}}]
    [update] = log["modelContext"]
    assert update["content"][0]["text"].startswith("The person approved create_incident in the publish preview and StatusPal applied it.")
    assert "Published incident 4711" in update["content"][0]["text"]


async def test_unchanged_text_is_not_sent_and_notify_always_is(apps_browser, apps_host) -> None:
    result = fresh("create_incident")
    m = await mount_recorded(apps_browser, apps_host, result, answers=(recorded("create_incident_published"),))
    try:
        await m.view.get_by_role("button", name="Publish").click()
        await m.view.get_by_role("heading", name="Published", exact=True).wait_for()
    finally:
        await m.context.close()
    assert apps_host.calls == [{"name": "publish_draft", "arguments": {"draft": result["_meta"]["statuspal/draft"], "notify": True}}]


async def test_a_keyboard_alone_corrects_and_publishes(apps_browser, apps_host) -> None:
    m = await mount_recorded(apps_browser, apps_host, fresh("create_incident"), answers=(recorded("create_incident_published"),))
    try:
        page = m.page
        await m.view.get_by_label("Text of the notice").focus()
        await page.keyboard.press("Control+A")
        await page.keyboard.type("Card payments fail at checkout.")
        await page.keyboard.press("Tab")
        assert await m.view.locator(":focus").get_attribute("id") == "notify-switch"
        await page.keyboard.press("Space")
        assert not await m.view.get_by_role("switch", name="Notify subscribers").is_checked()
        await page.keyboard.press("Tab")
        assert await m.view.locator(":focus").inner_text() == "Publish"
        await m.screenshot("publish-preview-keyboard")
        await page.keyboard.press("Enter")
        await m.view.get_by_role("heading", name="Published", exact=True).wait_for()
        assert await m.view.locator(":focus").inner_text() == "Published", "focus moves to what happened"
    finally:
        await m.context.close()
    assert apps_host.calls[0]["arguments"]["text"] == "Card payments fail at checkout."
    assert apps_host.calls[0]["arguments"]["notify"] is False


async def test_cancel_calls_nothing_and_tells_the_model(apps_browser, apps_host) -> None:
    m = await mount_recorded(apps_browser, apps_host, fresh("create_incident"))
    try:
        await m.view.get_by_role("button", name="Cancel").click()
        await m.view.get_by_role("heading", name="Cancelled", exact=True).wait_for()
        assert await m.view.locator("#outcome-text").inner_text() == "Nothing was published."
        assert await m.view.locator("#actions-row").is_hidden()
        await m.screenshot("publish-preview-cancelled")
        log = await m.log()
    finally:
        await m.context.close()
    assert apps_host.calls == [] and log["appCalls"] == []
    [update] = log["modelContext"]
    assert update["content"][0]["text"] == (
        "The person cancelled create_incident in the publish preview: Nothing was published. "
        "Do not call create_incident again unless they ask for it.")


async def test_a_refusal_says_what_was_not_done_and_lets_the_person_try_again(apps_browser, apps_host) -> None:
    m = await mount_recorded(apps_browser, apps_host, fresh("create_incident"), answers=(recorded("refused"),))
    try:
        v = m.view
        await v.get_by_role("button", name="Publish").click()
        await v.get_by_role("heading", name="Not published", exact=True).wait_for()
        assert "was resolved while the preview was open" in await v.locator("#outcome-text").inner_text()
        assert await v.get_by_role("button", name="Publish").is_enabled(), "the gateway decides whether the draft is still good"
        await m.screenshot("publish-preview-refused")
        log = await m.log()
    finally:
        await m.context.close()
    assert log["modelContext"][0]["content"][0]["text"].startswith(
        "The person approved create_incident in the publish preview, but it was not applied: Not published:")


async def test_a_delete_waits_for_the_typed_name(apps_browser, apps_host) -> None:
    result = fresh("delete_status_page")
    m = await mount_recorded(apps_browser, apps_host, result, answers=({"content": [{"type": "text", "text": "Deleted acme."}], "isError": False},))
    try:
        v = m.view
        assert await v.locator("#eyebrow").inner_text() == "Review before deleting"
        assert await v.locator("#delete-what").inner_text() == "The public page at acme and everything on it."
        assert await v.locator("#delete-goes-list li").all_inner_texts() == ["3 services", "2 regions", "14 notices and their history", "1 webhook"]
        assert await v.locator("#notice").is_hidden() and await v.locator("#notify").is_hidden()
        assert await v.locator("#page-next-term").is_hidden(), "no prediction, no row"
        delete = v.get_by_role("button", name="Delete")
        assert await delete.is_disabled()
        typed = v.get_by_label("Type acme to confirm")
        await typed.fill("acm")
        assert await delete.is_disabled()
        await typed.fill("acme")
        assert await delete.is_enabled()
        await m.screenshot("publish-preview-delete")
        await typed.press("Enter")
        await v.get_by_role("heading", name="Deleted", exact=True).wait_for()
    finally:
        await m.context.close()
    # No text and no notify: this preview has neither, so the view sends neither.
    assert apps_host.calls == [{"name": "publish_draft", "arguments": {"draft": result["_meta"]["statuspal/draft"], "typed_name": "acme"}}]


async def test_a_rotation_warns_that_receivers_must_be_updated(apps_browser, apps_host) -> None:
    m = await mount_recorded(apps_browser, apps_host, fresh("rotate_webhook_secret"), theme="dark")
    try:
        v = m.view
        assert await v.locator("#rotate-webhook").inner_text() == "Ops pager"
        assert "reject every delivery until they are given the new secret" in await v.locator("#rotate-warning").inner_text()
        assert await v.get_by_role("button", name="Rotate secret").is_enabled()
        assert await v.locator("#page").is_hidden()
        await m.screenshot("publish-preview-rotate-dark")
    finally:
        await m.context.close()


async def test_an_expired_draft_cannot_be_published(apps_browser, apps_host) -> None:
    m = await mount_recorded(apps_browser, apps_host, fresh("create_incident", minutes=-1))
    try:
        assert await m.view.locator("#expiry").inner_text() == "This draft has expired. Ask the assistant to prepare it again."
        assert await m.view.get_by_role("button", name="Publish").is_disabled()
        assert await m.view.get_by_role("button", name="Cancel").is_enabled()
    finally:
        await m.context.close()
    assert apps_host.calls == []


HOSTILE = '<img src="/probe?from=title" onerror="parent.postMessage(1,\'*\')">Outage'


async def test_caller_text_is_shown_as_text_never_as_markup(apps_browser, apps_host) -> None:
    result = fresh("create_incident", summary="<script>fetch('/probe?from=summary')</script>Open it")
    notice = result["_meta"]["statuspal/preview"]["notice"]
    notice["title"] = HOSTILE
    notice["text"] = "</textarea><b>bold?</b>"
    notice["affected"][0]["regions"] = ['<a href="/probe">Frankfurt</a>']
    m = await mount_recorded(apps_browser, apps_host, result)
    try:
        v = m.view
        assert await v.get_by_role("heading", level=1).inner_text() == "<script>fetch('/probe?from=summary')</script>Open it"
        assert await v.get_by_role("heading", level=3).inner_text() == HOSTILE
        assert await v.get_by_label("Text of the notice").input_value() == "</textarea><b>bold?</b>"
        assert await v.locator("#notice-affected-list li").first.inner_text() == 'Checkout in <a href="/probe">Frankfurt</a>'
        assert await v.locator("main img, main script, main a, main b").count() == 0, "caller text became elements"
    finally:
        await m.context.close()
    assert not apps_host.probes


async def test_the_sandbox_enforces_the_default_csp(apps_browser, apps_host) -> None:
    """The check every test above ends with can fail: a view that reaches for the network is refused and reported."""
    context = await apps_browser.new_context()
    page = await context.new_page()
    complaints: list[str] = []
    page.on("console", lambda msg: complaints.append(msg.text) if msg.type in ("error", "warning") else None)
    try:
        await page.goto(apps_host.page)
        await page.evaluate("a => testHost.mountCanary(a)", {"sandboxUrl": apps_host.sandbox_url, "probeUrl": apps_host.probe_url})
        refused = page.frame_locator("#view").frame_locator("iframe").locator("#refused li")
        await refused.nth(1).wait_for(state="attached")  # both reaches were refused
        assert sorted(await refused.all_inner_texts()) == ["connect-src", "img-src"]
        # The console reports them too (that is what every other test's "no CSP complaint" check reads), a moment later.
        for _ in range(100):
            if len([c for c in complaints if "Content Security Policy" in c]) >= 2:
                break
            await asyncio.sleep(0.05)
    finally:
        await context.close()
    assert not apps_host.probes, "the sandbox let the view reach the network"
    assert len([c for c in complaints if "Content Security Policy" in c]) >= 2, complaints


async def test_the_view_follows_the_hosts_theme_and_answers_its_teardown(apps_browser, apps_host) -> None:
    m = await mount_recorded(apps_browser, apps_host, fresh("create_incident"), theme="light")
    try:
        body = m.view.locator("body")
        assert await body.evaluate("b => getComputedStyle(b).backgroundColor") == "rgb(255, 255, 255)"
        await m.page.evaluate("testHost.setTheme('dark')")
        await m.view.locator("html[data-theme=dark]").wait_for(state="attached")
        assert await body.evaluate("b => getComputedStyle(b).backgroundColor") != "rgb(255, 255, 255)"
        # The SDK's host waits for the view's answer before it unmounts; an unanswered request would time out.
        assert await m.page.evaluate("testHost.teardown()") == {}
    finally:
        await m.context.close()


async def test_a_result_without_a_draft_shows_the_gateways_words_and_nothing_to_approve(apps_browser, apps_host) -> None:
    m = await mount_recorded(apps_browser, apps_host, recorded("refused"), wait_for="#plain-text")
    try:
        assert "was resolved while the preview was open" in await m.view.locator("#plain-text").inner_text()
        assert await m.view.get_by_role("button").count() == 0
    finally:
        await m.context.close()
    assert apps_host.calls == []


async def test_an_emptied_text_cannot_be_published(apps_browser, apps_host) -> None:
    m = await mount_recorded(apps_browser, apps_host, fresh("create_incident"))
    try:
        await m.view.get_by_label("Text of the notice").fill("   ")
        assert await m.view.get_by_role("button", name="Publish").is_disabled()
        assert await m.view.locator("#notice-text-help").inner_text() == "The text cannot be empty."
        await m.view.get_by_label("Text of the notice").fill("Back to words.")
        assert await m.view.get_by_role("button", name="Publish").is_enabled()
    finally:
        await m.context.close()


async def test_a_host_that_cannot_reach_the_gateway_leaves_the_outcome_open(apps_browser, apps_host) -> None:
    """No recorded answer: the host's call fails, the view gets a JSON-RPC error and says the outcome is unknown."""
    m = await mount_recorded(apps_browser, apps_host, fresh("create_incident"))
    try:
        await m.view.get_by_role("button", name="Publish").click()
        await m.view.get_by_role("heading", name="No answer", exact=True).wait_for()
        said = await m.view.locator("#outcome-text").inner_text()
        assert "may or may not have been applied: look at the status page" in said, said
        assert await m.view.get_by_role("button", name="Publish").is_enabled()
        log = await m.log()
    finally:
        await m.context.close()
    assert len(apps_host.calls) == 1
    assert "the outcome is unknown" in log["modelContext"][0]["content"][0]["text"]


@pytest.mark.parametrize("system", ["light", "dark"])
async def test_without_a_host_theme_the_view_follows_the_persons_system(apps_browser, apps_host, system) -> None:
    m = await mount_recorded(apps_browser, apps_host, fresh("create_incident"), theme="system", system=system)
    try:
        assert await m.view.locator("html").get_attribute("data-theme") is None
        background = await m.view.locator("body").evaluate("b => getComputedStyle(b).backgroundColor")
        assert (background == "rgb(255, 255, 255)") == (system == "light"), background
    finally:
        await m.context.close()
