"""The login page in a real browser: headless Debian Chromium driven by Playwright (no browser download).

A person opens the authorization URL, reads which app and which site will get access, picks an access
level, pastes the key and lands on the app's redirect URI with a code, once with the mouse and once with
the keyboard alone. The page must load without a single Content-Security-Policy complaint: the style is
allowed by its hash, and form-action must allow the redirect that answers the POST. Screenshots go to
test-artifacts/ (git-ignored) for a human to look at.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import urlencode

import aiohttp
import pytest

from gateway.oauth.authorize import API_KEYS_DOCS
from search.corpus import load_pages, split_sections
from tests.conftest import DEMO_KEY, RunningServer
from tests.oauth_browser import callback_server, pkce, query_of, register

pytestmark = pytest.mark.browser

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
    "--disable-sync", "--no-first-run",
]


@pytest.fixture(scope="module")
async def browser(apps_browser) -> AsyncIterator:
    """The one headless Chromium launcher (tests/conftest.py), shared with the publish preview's tests."""
    yield apps_browser


async def start(gateway: RunningServer, redirect_uri: str) -> tuple[str, str, str]:
    """Register a client for `redirect_uri`; return (authorization URL, verifier, client_id)."""
    async with aiohttp.ClientSession() as http:
        client = await register(http, gateway.url, [redirect_uri], client_name="Acme Assistant")
    verifier, challenge = pkce()
    query = {
        "response_type": "code", "client_id": client["client_id"], "redirect_uri": redirect_uri, "state": "st-123",
        "code_challenge": challenge, "code_challenge_method": "S256", "resource": gateway.mcp_url,
        "scope": "statuspal:read statuspal:write",
    }
    return f"{gateway.url}/authorize?{urlencode(query)}", verifier, client["client_id"]


async def exchange(gateway: RunningServer, code: str, verifier: str, client_id: str, redirect_uri: str) -> dict:
    async with aiohttp.ClientSession() as http:
        async with http.post(f"{gateway.url}/token", data={
            "grant_type": "authorization_code", "code": code, "code_verifier": verifier, "client_id": client_id,
            "redirect_uri": redirect_uri, "resource": gateway.mcp_url,
        }) as r:
            body = await r.json()
            assert r.status == 200, body
            return body


async def new_page(browser):
    context = await browser.new_context(viewport={"width": 720, "height": 900}, device_scale_factor=1)
    page = await context.new_page()
    complaints: list[str] = []
    page.on("console", lambda m: complaints.append(m.text) if m.type in ("error", "warning") else None)
    return context, page, complaints


async def test_mouse_user_connects_and_lands_on_the_redirect_uri_with_a_code(make_gateway, sandbox_admin, browser) -> None:
    gateway = await make_gateway()
    async with callback_server() as callback:
        url, verifier, client_id = await start(gateway, callback.url)
        context, page, complaints = await new_page(browser)
        try:
            await page.goto(url)
            await page.get_by_text("After you continue").wait_for()
            ARTIFACTS.mkdir(exist_ok=True)
            await page.screenshot(path=str(ARTIFACTS / "login-page.png"), full_page=True)
            assert await page.title() == "Connect Acme Assistant to StatusPal"
            assert await page.locator(".recipient .host").inner_text() == "An app on this computer"
            assert callback.url in await page.locator(".recipient").inner_text()
            assert await page.get_by_label("Full access").is_checked()  # the client asked for write
            key = page.get_by_label("StatusPal API key")
            assert await key.get_attribute("type") == "password" and await key.get_attribute("autocomplete") == "off"

            # A wrong key first: the page says so and keeps the user on it.
            await key.fill("sk_not_a_real_key")
            await page.get_by_role("button", name="Connect").click()
            await page.get_by_role("alert").wait_for()
            assert "does not recognise this key" in await page.get_by_role("alert").inner_text()
            await page.screenshot(path=str(ARTIFACTS / "login-page-wrong-key.png"), full_page=True)

            await page.get_by_label("Read-only").check()
            await page.get_by_label("StatusPal API key").fill(DEMO_KEY)
            async with page.expect_navigation(url=lambda u: u.startswith(callback.url)):
                await page.get_by_role("button", name="Connect").click()
            landed = query_of(page.url)
        finally:
            await context.close()
        assert landed["state"] == "st-123" and landed["iss"] == gateway.url
        tokens = await exchange(gateway, landed["code"], verifier, client_id, callback.url)
        assert tokens["scope"] == "statuspal:read"
        assert not [c for c in complaints if "Content Security Policy" in c or "Refused" in c], complaints


async def test_keyboard_only_user_connects(make_gateway, sandbox_admin, browser) -> None:
    gateway = await make_gateway()
    async with callback_server() as callback:
        url, verifier, client_id = await start(gateway, callback.url)
        context, page, complaints = await new_page(browser)
        try:
            await page.goto(url)
            # Tab reaches the access choice first (the checked radio), arrows change it, Tab moves to the key,
            # Enter in the key field submits with the default button: Connect.
            await page.keyboard.press("Tab")
            assert await page.evaluate("document.activeElement.value") == "full"
            await page.keyboard.press("ArrowUp")
            assert await page.get_by_label("Read-only").is_checked()
            await page.keyboard.press("ArrowDown")
            assert await page.get_by_label("Full access").is_checked()
            await page.keyboard.press("Tab")
            assert await page.evaluate("document.activeElement.id") == "key"
            await page.keyboard.type(DEMO_KEY)
            await page.screenshot(path=str(ARTIFACTS / "login-page-keyboard.png"), full_page=True)
            async with page.expect_navigation(url=lambda u: u.startswith(callback.url)):
                await page.keyboard.press("Enter")
            landed = query_of(page.url)
        finally:
            await context.close()
        tokens = await exchange(gateway, landed["code"], verifier, client_id, callback.url)
        assert tokens["scope"] == "statuspal:read statuspal:write"
        assert not [c for c in complaints if "Content Security Policy" in c or "Refused" in c], complaints


async def test_the_page_refuses_to_render_inside_another_sites_frame(make_gateway, sandbox_admin, browser) -> None:
    gateway = await make_gateway()
    async with callback_server() as callback:
        url, _, _ = await start(gateway, callback.url)
        context, page, complaints = await new_page(browser)
        try:
            await page.goto(callback.url)  # another origin
            await page.set_content(f'<iframe id="f" src="{url}" width="600" height="600"></iframe>')
            await page.wait_for_load_state("load")  # the document's load waits for its frame
            frame = page.frames[1]
            assert await frame.locator("#key").count() == 0
        finally:
            await context.close()
        assert any("frame-ancestors" in c for c in complaints), complaints


async def test_an_unnamed_app_reads_well_and_the_page_links_to_where_keys_are_made(make_gateway, sandbox_admin, browser) -> None:
    gateway = await make_gateway()
    async with callback_server() as callback:
        async with aiohttp.ClientSession() as http:
            client = await register(http, gateway.url, [callback.url])  # no client_name
        query = {
            "response_type": "code", "client_id": client["client_id"], "redirect_uri": callback.url, "state": "s",
            "code_challenge": pkce()[1], "code_challenge_method": "S256", "resource": gateway.mcp_url,
        }
        context, page, _ = await new_page(browser)
        try:
            await page.goto(f"{gateway.url}/authorize?{urlencode(query)}")
            assert await page.title() == "Connect an unnamed app to StatusPal"
            assert await page.get_by_role("heading").inner_text() == "Connect an unnamed app to StatusPal"
            help_text = await page.locator("#key-help").inner_text()
            assert "unnamed" not in help_text and "the access token the app receives" in help_text
            link = page.get_by_role("link", name="how to get an API key")
            href = await link.get_attribute("href")
            assert href == f"{gateway.settings.search.docs_base_url}/{API_KEYS_DOCS}"
            assert await link.get_attribute("rel") == "noopener noreferrer"
        finally:
            await context.close()
    corpus = Path(__file__).resolve().parent.parent / "docs_corpus"
    assert API_KEYS_DOCS in {s.key for p in load_pages(corpus) for s in split_sections(p)}, "the link names a real section"
