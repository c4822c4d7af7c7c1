"""/authorize over HTTP: the page's protections, where each kind of error goes, and every key outcome.

Until the client and its redirect URI check out, errors are our own HTML page (never a redirect); after,
they go back to the client with error, state and iss. The form POST needs the CSRF token bound to the very
request and a same-origin browser; the key is checked with the real sandbox before any code exists.
"""

from __future__ import annotations

import re
import time
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlencode

import aiohttp
import pytest

from gateway.web.services import GATEWAY
from tests.clock import Clock
from tests.conftest import DEMO_KEY, RunningServer
from tests.oauth_browser import Browser, Page, pkce, query_of, register

REDIRECT = "http://127.0.0.1:7777/cb"


class Flow:
    """One registered client and a browser on one gateway."""

    def __init__(self, gw: RunningServer, http: aiohttp.ClientSession, client_id: str) -> None:
        self.gw, self.http, self.client_id = gw, http, client_id
        self.browser = Browser(http, gw.url)
        self.verifier, self.challenge = pkce()

    def url(self, **overrides: Any) -> str:
        q = {"response_type": "code", "client_id": self.client_id, "redirect_uri": REDIRECT, "state": "st-1",
             "code_challenge": self.challenge, "code_challenge_method": "S256", "resource": self.gw.mcp_url,
             "scope": "statuspal:read statuspal:write"}
        q.update(overrides)
        return f"{self.gw.url}/authorize?{urlencode({k: v for k, v in q.items() if v is not None})}"

    async def page(self, **overrides: Any) -> Page:
        return await self.browser.open(self.url(**overrides))

    async def redirect(self, **overrides: Any) -> dict[str, str]:
        async with self.http.get(self.url(**overrides), allow_redirects=False) as r:
            assert r.status == 302, await r.text()
            location = r.headers["Location"]
        assert location.startswith(REDIRECT + "?")
        return query_of(location)

    async def post(self, key: str | None, **kw: Any) -> tuple[int, Any, Page]:
        page = await self.page()
        status, headers, body = await self.browser.submit(page.fields, key, **kw)
        return status, headers, Page.parse(status, headers, body)


async def make_flow(gw: RunningServer, http: aiohttp.ClientSession, name: str = "Acme Assistant", uris: list[str] | None = None) -> Flow:
    client = await register(http, gw.url, uris or [REDIRECT], client_name=name)
    return Flow(gw, http, client["client_id"])


@pytest.fixture
async def http():
    async with aiohttp.ClientSession() as session:
        yield session


@pytest.fixture(scope="module")
async def shared_gw(make_module_gateway) -> RunningServer:
    """Shared by the module: every flow registers a client of its own. The per-address limits on sign-in attempts
    and registrations are raised so the module's many attempts from 127.0.0.1 stay under them; the limits
    themselves are tested on gateways of their own."""
    return await make_module_gateway(statuspal={"max_retries": 0}, oauth={"rate_limit_attempts": 1000})


@pytest.fixture
async def gw(shared_gw: RunningServer, sandbox_admin) -> RunningServer:
    return shared_gw


@pytest.fixture
async def flow(gw: RunningServer, http) -> Flow:
    return await make_flow(gw, http)


# --- the page ----------------------------------------------------------------------------------------------


def assert_page_headers(headers: Any, form_action: str) -> None:
    csp = headers["Content-Security-Policy"]
    assert "default-src 'none'" in csp and "frame-ancestors 'none'" in csp and "base-uri 'none'" in csp
    assert re.search(r"style-src 'sha256-[A-Za-z0-9+/=]{44}'", csp) and "unsafe-inline" not in csp
    assert f"form-action {form_action};" in csp
    assert headers["X-Frame-Options"] == "DENY"
    assert headers["Referrer-Policy"] == "no-referrer"
    assert headers["Cache-Control"] == "no-store"
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert "Access-Control-Allow-Origin" not in headers


async def test_the_login_page_is_self_contained_unframeable_and_uncached(flow: Flow) -> None:
    page = await flow.page()
    assert page.status == 200
    assert_page_headers(page.headers, "'self' http://127.0.0.1:7777")
    assert not re.search(r"<(script|img|link|iframe)\b", page.html) and not re.search(r"src\s*=", page.html)
    # The one link is to the docs on making an API key, opened apart: it loads nothing into this page.
    assert re.findall(r"<a [^>]*>", page.html) == [
        '<a href="https://docs.statuspal-mcp.dev/getting-started#get-an-api-key" target="_blank" rel="noopener noreferrer">'
    ]
    assert page.forms == [{"method": "post", "action": "/authorize", "autocomplete": "off"}]
    key = next(i for i in page.inputs if i.get("name") == "key")
    assert key["type"] == "password" and key["autocomplete"] == "off" and key["id"] == "key" and "value" not in key
    assert '<label class="field" for="key">StatusPal API key</label>' in page.html
    assert {i["value"] for i in page.inputs if i.get("name") == "access"} == {"read", "full"}
    assert set(page.fields) == {"client_id", "redirect_uri", "response_type", "code_challenge", "code_challenge_method",
                                "resource", "scope", "state", "csrf"}


async def test_the_page_names_the_client_and_the_receiving_host(gw: RunningServer, http) -> None:
    flow = await make_flow(gw, http, name='<script>alert("x")</script> Evil', uris=["https://chatgpt.com/connector/oauth/abc123"])
    async with http.get(flow.url(redirect_uri="https://chatgpt.com/connector/oauth/abc123")) as r:
        page = Page.parse(r.status, r.headers, await r.text())
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; Evil" in page.html and "<script>" not in page.html
    assert '<p class="host">chatgpt.com</p>' in page.html
    assert "This name was supplied by the app itself and is not verified." in page.html
    assert_page_headers(page.headers, "'self' https://chatgpt.com")


async def test_unknown_scopes_are_ignored_and_the_request_picks_the_default_choice(flow: Flow) -> None:
    # A request that names only read is offered only read (least privilege, below).
    for scope, radios in [("claudeai", {"read": True, "full": False}), ("read write", {"read": True, "full": False}),
                          (None, {"read": True, "full": False}), ("claudeai statuspal:write", {"read": False, "full": True}),
                          ("statuspal:read offline_access", {"read": True})]:
        page = await flow.page(scope=scope)
        assert page.status == 200
        assert {i["value"]: "checked" in i for i in page.inputs if i.get("name") == "access"} == radios, scope


@pytest.mark.parametrize(("scope", "path", "offered", "why"), [
    ("statuspal:read", "/mcp", {"read"}, "the app asked only to read"),
    ("statuspal:read statuspal:write", "/mcp/readonly", {"read"}, "this URL (/mcp/readonly) only reads"),
    (None, "/mcp/pages/acme/readonly", {"read"}, "this URL (/mcp/pages/acme/readonly) only reads"),
    (None, "/mcp", {"read", "full"}, None),
    ("statuspal:write", "/mcp/x/notices", {"read", "full"}, None),
])
async def test_the_page_offers_at_most_what_the_url_and_the_request_allow_and_the_token_carries_no_more(
    flow: Flow, scope: str | None, path: str, offered: set[str], why: str | None,
) -> None:
    # Real clients that asked only to read left with a write grant when the person picked "Full access", and wrote.
    resource = flow.gw.url + path
    page = await flow.page(scope=scope, resource=resource)
    assert {i["value"] for i in page.inputs if i.get("name") == "access"} == offered
    if why is not None:
        assert f"Full access is not offered: {why}." in page.html
        # A form altered to ask for more than the page offered is refused, and nothing is issued.
        status, headers, body = await flow.browser.submit(page.fields, DEMO_KEY, access="full")
        refused = Page.parse(status, headers, body)
        assert status == 400 and "Location" not in headers
        assert refused.alert == f"Full access cannot be granted here: {why}. Choose read-only, or connect the app again asking for more."
    for access in sorted(offered):
        page = await flow.page(scope=scope, resource=resource)
        status, headers, _ = await flow.browser.submit(page.fields, DEMO_KEY, access=access)
        assert status == 302, access
        form = {"grant_type": "authorization_code", "code": query_of(headers["Location"])["code"], "client_id": flow.client_id,
                "redirect_uri": REDIRECT, "resource": resource, "code_verifier": flow.verifier}
        async with flow.http.post(f"{flow.gw.url}/token", data=form) as r:
            token = await r.json()
        assert r.status == 200, token
        assert token["scope"] == {"read": "statuspal:read", "full": "statuspal:read statuspal:write"}[access]


# --- errors before the client is trusted: our page, never a redirect -------------------------------------------


@pytest.mark.parametrize("change, heading, says", [
    ({"client_id": None}, "This app could not be identified", "client_id is missing."),
    ({"client_id": "forged.client.id"}, "This app could not be identified", "was not issued by this server"),
    ({"redirect_uri": "https://evil.example/cb"}, "This app asked to send you somewhere unexpected",
     "https://evil.example/cb is not a redirect URI this app registered, so nothing will be sent to it."),
    ({"redirect_uri": "javascript:alert(1)"}, "This app asked to send you somewhere unexpected", "javascript:alert(1) is not a redirect URI"),
    ({"redirect_uri": "http://127.0.0.1:7777/cb/../evil"}, "This app asked to send you somewhere unexpected", "is not a redirect URI"),
])
async def test_client_and_redirect_problems_stay_on_our_page(flow: Flow, change: dict, heading: str, says: str) -> None:
    page = await flow.page(**change, code_challenge_method="plain")  # a later error must not win and redirect
    assert page.status == 400 and f"<h1 id=\"title\">{heading}</h1>" in page.html and says in page.alert
    assert "Location" not in page.headers and not page.forms
    assert_page_headers(page.headers, "'none'")


async def test_a_repeated_parameter_is_refused_on_our_page(flow: Flow) -> None:
    url = flow.url() + "&redirect_uri=" + "https%3A%2F%2Fevil.example%2Fcb"
    page = await flow.browser.open(url)
    assert page.status == 400 and page.alert == "The parameter redirect_uri appears more than once."


# --- errors after: back to the client with error, state and iss --------------------------------------------------


SURFACES_ONLY = (
    "resource must be {mcp} or one of its surfaces, spelt exactly (e.g. {mcp}/readonly or {mcp}/pages/acme/x/notices)"
)


@pytest.mark.parametrize("change, error, description", [
    ({"code_challenge_method": "plain"}, "invalid_request", "code_challenge_method must be S256; plain is not supported"),
    ({"code_challenge_method": None}, "invalid_request", "code_challenge_method must be S256; plain is not supported"),
    ({"code_challenge_method": "S512"}, "invalid_request", "code_challenge_method must be S256"),
    ({"code_challenge": None}, "invalid_request", "code_challenge is required (PKCE with S256)"),
    ({"code_challenge": "short"}, "invalid_request", "code_challenge must be the 43-character base64url SHA-256 of the verifier"),
    ({"response_type": "token"}, "unsupported_response_type", "response_type must be code"),
    ({"resource": "https://other.example/mcp"}, "invalid_target", SURFACES_ONLY),
    ({"resource": "{mcp}/"}, "invalid_target", SURFACES_ONLY),
    ({"resource": "{mcp}/x/docs,notices"}, "invalid_target", SURFACES_ONLY),
    ({"resource": "{mcp}/pages/acme/"}, "invalid_target", SURFACES_ONLY),
    ({"state": "x" * 2049}, "invalid_request", "state may be at most 2048 characters"),
])
async def test_protocol_errors_redirect_with_error_state_and_iss(flow: Flow, change: dict, error: str, description: str) -> None:
    change = {k: v.format(mcp=flow.gw.mcp_url) if isinstance(v, str) else v for k, v in change.items()}
    answer = await flow.redirect(**change)
    assert answer == {"error": error, "error_description": description.format(mcp=flow.gw.mcp_url),
                      "state": change.get("state", "st-1"), "iss": flow.gw.url}


async def test_resource_may_be_omitted(flow: Flow) -> None:
    assert (await flow.page(resource=None)).status == 200


# --- the form: CSRF and same-origin ------------------------------------------------------------------------------


async def test_missing_invalid_or_foreign_csrf_tokens_are_refused(flow: Flow) -> None:
    page = await flow.page()
    for fields, says in [
        ({k: v for k, v in page.fields.items() if k != "csrf"}, "The security token is missing."),
        ({**page.fields, "csrf": "not-a-token"}, "The security token is not valid."),
        ({**page.fields, "csrf": page.fields["csrf"][:-3]}, "The security token is not valid."),
        ({**page.fields, "state": "other-state"}, "The security token belongs to a different request."),
        ({**page.fields, "scope": "statuspal:read"}, "The security token belongs to a different request."),
    ]:
        status, headers, body = await flow.browser.submit(fields, DEMO_KEY)
        answer = Page.parse(status, headers, body)
        assert status == 403 and says in answer.alert and "Location" not in headers, says


async def test_an_expired_form_says_so(flow: Flow) -> None:
    page = await flow.page()
    keyring = flow.gw.app[GATEWAY].keyring
    keyring.clock = clock = Clock()
    clock.advance(flow.gw.settings.oauth.csrf_ttl_seconds + 1)
    try:
        status, headers, body = await flow.browser.submit(page.fields, DEMO_KEY)
    finally:
        keyring.clock = time.time  # the gateway is shared with the module's other tests
    assert status == 403 and Page.parse(status, headers, body).alert == (
        "The sign-in page was open too long. Go back to the app and start connecting again.")


@pytest.mark.parametrize("headers", [
    {"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"},
    {"Origin": "https://evil.example", "Sec-Fetch-Site": None},
    {"Origin": "null", "Sec-Fetch-Site": "cross-site"},  # a sandboxed frame elsewhere
    {"Origin": None, "Sec-Fetch-Site": "same-site"},  # a sibling subdomain is not us
    {"Origin": "http://127.0.0.1:1", "Sec-Fetch-Site": "same-origin"},
])
async def test_cross_origin_posts_are_refused(flow: Flow, headers: dict) -> None:
    status, answer_headers, page = await flow.post(DEMO_KEY, headers=headers)
    assert status == 403 and page.alert == "The sign-in form was submitted from another site, so it was refused."
    assert "Location" not in answer_headers


async def test_our_own_page_posting_under_no_referrer_is_same_origin(flow: Flow) -> None:
    """Browsers send Origin: null from a no-referrer page; Sec-Fetch-Site: same-origin vouches for it."""
    status, headers, _ = await flow.post(DEMO_KEY, headers={"Origin": "null", "Sec-Fetch-Site": "same-origin"})
    assert status == 302 and "code" in query_of(headers["Location"])


async def test_a_form_without_a_declared_length_is_411_and_nothing_is_issued(flow: Flow) -> None:
    """Our page always sends Content-Length; a chunked form is refused before any of it is read."""
    page = await flow.page()
    form = urlencode({**page.fields, "access": "full", "action": "allow", "key": DEMO_KEY}).encode()

    async def chunked() -> AsyncIterator[bytes]:
        yield form

    async with flow.http.post(f"{flow.gw.url}/authorize", data=chunked(), allow_redirects=False, headers={
            "Origin": flow.gw.url, "Sec-Fetch-Site": "same-origin", "Content-Type": "application/x-www-form-urlencoded"}) as r:
        status, body = r.status, await r.text()
        assert "Location" not in r.headers
    assert status == 411 and Page.parse(status, r.headers, body).alert == (
        "The sign-in form is always sent with its length; this one was not, so it was refused.")


# --- the key ---------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("key, status, says", [
    ("", 400, "Paste your StatusPal API key."),
    ("   ", 400, "Paste your StatusPal API key."),
    (None, 400, "Paste your StatusPal API key."),
    ("not a key", 400, "That does not look like a StatusPal API key: keys start with sk_ and contain no spaces."),
    ("pk_live_123", 400, "That does not look like a StatusPal API key: keys start with sk_ and contain no spaces."),
    ("sk_unknown_key_123", 400, "StatusPal does not recognise this key. Check that you copied the whole key from Settings → API keys."),
])
async def test_bad_keys_get_their_own_message_and_nothing_is_issued(flow: Flow, key: str | None, status: int, says: str) -> None:
    answer_status, headers, page = await flow.post(key)
    assert answer_status == status and page.alert == says and "Location" not in headers
    key_input = next(i for i in page.inputs if i.get("name") == "key")
    assert key_input.get("aria-invalid") == "true" and "value" not in key_input  # never echoed back
    assert page.fields["csrf"]  # a fresh form to try again


async def test_a_revoked_key_is_named_as_revoked(flow: Flow, sandbox_admin) -> None:
    await sandbox_admin.add_key("sk_revoked_one", revoked=True)
    status, headers, page = await flow.post("sk_revoked_one")
    assert status == 400 and "Location" not in headers
    assert page.alert == "This key has been revoked in StatusPal. Create a new key under Settings → API keys and paste it here."


async def test_statuspal_down_means_nothing_is_issued(flow: Flow, sandbox_admin) -> None:
    await sandbox_admin.faults(error_rate=1.0, error_status=503)
    status, headers, page = await flow.post(DEMO_KEY)
    assert status == 503 and headers["Retry-After"] == "5" and "Location" not in headers
    assert page.alert == "StatusPal could not be reached to check your key, so nothing was issued. Try again in a moment."


async def test_a_good_key_redirects_with_code_state_and_iss(flow: Flow) -> None:
    status, headers, _ = await flow.post(DEMO_KEY, access="read")
    assert status == 302 and headers["Location"].startswith(REDIRECT + "?")
    assert headers["Cache-Control"] == "no-store" and headers["Referrer-Policy"] == "no-referrer"
    answer = query_of(headers["Location"])
    assert set(answer) == {"code", "state", "iss"} and answer["state"] == "st-1" and answer["iss"] == flow.gw.url


async def test_cancel_tells_the_client_access_was_denied(flow: Flow) -> None:
    status, headers, _ = await flow.post(None, action="deny")
    assert status == 302 and query_of(headers["Location"]) == {
        "error": "access_denied", "error_description": "The user cancelled the connection", "state": "st-1", "iss": flow.gw.url}


async def test_an_access_level_must_be_chosen(flow: Flow) -> None:
    status, headers, page = await flow.post(DEMO_KEY, access="admin")
    assert status == 400 and page.alert == "Choose read-only or full access." and "Location" not in headers


# --- rate limits -------------------------------------------------------------------------------------------------------


async def test_the_login_page_draws_on_the_host_wide_rate_of_key_checks(make_gateway, sandbox_admin, http) -> None:
    # Registering clients from many addresses must not buy a way around the bound /mcp's key checks meet.
    flow = await make_flow(await make_gateway(limits={"key_checks_per_second": 0.01}), http)
    status, _, _ = await flow.post(DEMO_KEY, access="read")
    assert status == 302  # the one check the bucket holds
    status, headers, page = await flow.post(DEMO_KEY, access="read")
    assert status == 503 and "Location" not in headers and int(headers["Retry-After"]) >= 1
    assert page.alert == ("Sign-in is busy checking other keys with StatusPal, so yours was not checked and nothing was issued. "
                          f"Try again in {headers['Retry-After']} seconds.")  # 100 s: the bucket refills one check per 100 s


async def test_attempts_per_address_are_limited_with_one_uniform_message(make_gateway, sandbox_admin, http) -> None:
    gw = await make_gateway(oauth={"rate_limit_attempts": 3, "rate_limit_window_seconds": 60})
    flow = await make_flow(gw, http)
    statuses = [(await flow.post("sk_wrong_guess"))[0] for _ in range(3)]
    assert statuses == [400, 400, 400]
    for key in ("sk_wrong_guess", DEMO_KEY):  # a right key gets the same answer: no oracle
        status, headers, page = await flow.post(key)
        assert status == 429 and page.alert == "Too many attempts. Wait a minute, then try again." and headers["Retry-After"] == "60"
        assert "Location" not in headers


async def test_behind_a_trusted_proxy_attempts_count_per_forwarded_address(make_gateway, sandbox_admin, http) -> None:
    """The test client plays the proxy on loopback: one user's failed attempts do not lock out the next user."""
    gw = await make_gateway(oauth={"rate_limit_attempts": 2, "rate_limit_window_seconds": 60}, server={"trusted_proxies": ["127.0.0.0/8"]})
    flow = await make_flow(gw, http)
    first = [(await flow.post("sk_wrong_guess", headers={"X-Forwarded-For": "203.0.113.1"}))[0] for _ in range(3)]
    assert first == [400, 400, 429]
    status, headers, _ = await flow.post(DEMO_KEY, headers={"X-Forwarded-For": "203.0.113.2"})
    assert status == 302 and "code=" in headers["Location"]


async def test_failures_through_one_client_pause_it_for_everyone(make_gateway, sandbox_admin) -> None:
    """Many addresses guessing through one client: after attempts × 10 failures the client is paused."""
    gw = await make_gateway(oauth={"rate_limit_attempts": 1, "rate_limit_window_seconds": 60})
    async with aiohttp.ClientSession() as http:
        flow = await make_flow(gw, http)
    results = []
    for n in range(2, 13):  # each from its own loopback address, so the per-address limit never applies
        connector = aiohttp.TCPConnector(local_addr=(f"127.0.0.{n}", 0))
        async with aiohttp.ClientSession(connector=connector) as http:
            flow.http, flow.browser = http, Browser(http, gw.url)
            results.append((await flow.post(DEMO_KEY if n == 12 else "sk_wrong_guess"))[0])
    assert results == [400] * 10 + [429]
