"""Registration that stores nothing, the redirect URI policy, and Client ID Metadata Documents fetched safely.

DCR is exercised on /register directly; metadata documents through /authorize, where a client_id URL is
resolved, against real loopback document hosts (http, https with a test CA, slow, redirecting, oversized).
"""

from __future__ import annotations

import asyncio
from typing import Any
from urllib.parse import urlencode

import aiohttp
import pytest
from aiohttp import web

from gateway.auth.sealing import Keyring
from tests.conftest import RunningServer, bound_socket, serve_app
from tests.oauth_browser import Browser, document_server, make_tls, pkce

CLAUDE = "https://claude.ai/api/mcp/auth_callback"


@pytest.fixture(scope="module")
async def gw(make_module_gateway) -> RunningServer:
    """Shared by the module: every test registers clients of its own, so none sees another's. The per-address
    registration limit is raised so that the module's many registrations from 127.0.0.1 stay under it; the limit
    itself is tested on a gateway of its own."""
    return await make_module_gateway(oauth={"rate_limit_attempts": 1000})


async def post_register(gw: RunningServer, body: Any, raw: bytes | None = None) -> tuple[int, dict, Any]:
    async with aiohttp.ClientSession() as http:
        kwargs = {"data": raw, "headers": {"Content-Type": "application/json"}} if raw is not None else {"json": body}
        async with http.post(f"{gw.url}/register", **kwargs) as r:
            return r.status, await r.json(), r.headers


def authorize_url(gw: RunningServer, client_id: str, redirect_uri: str | None) -> str:
    _, challenge = pkce()
    q = {"response_type": "code", "client_id": client_id, "code_challenge": challenge, "code_challenge_method": "S256", "state": "s1"}
    if redirect_uri:
        q["redirect_uri"] = redirect_uri
    return f"{gw.url}/authorize?{urlencode(q)}"


async def open_page(gw: RunningServer, client_id: str, redirect_uri: str | None):
    async with aiohttp.ClientSession() as http:
        return await Browser(http, gw.url).open(authorize_url(gw, client_id, redirect_uri))


# --- DCR ---------------------------------------------------------------------------------------------------


async def test_registration_returns_a_public_client_whatever_auth_method_was_asked(gw: RunningServer) -> None:
    """claude.ai's hosted connector asks for client_secret_post; refusing breaks it, so we answer "none" (RFC 7591 §3.2.1)."""
    status, body, headers = await post_register(gw, {
        "redirect_uris": [CLAUDE], "client_name": "Claude", "token_endpoint_auth_method": "client_secret_post",
        "grant_types": ["authorization_code", "refresh_token"], "response_types": ["code"], "scope": "claudeai",
        "application_type": "web",
    })
    assert status == 201 and headers["Cache-Control"] == "no-store"
    assert body["token_endpoint_auth_method"] == "none" and "client_secret" not in body
    assert body["redirect_uris"] == [CLAUDE] and body["client_name"] == "Claude"
    assert body["grant_types"] == ["authorization_code", "refresh_token"] and body["response_types"] == ["code"]
    # "claudeai" is ignored, never an error: Claude.ai sends it, and refusing it breaks sign-in.
    assert body["scope"] == "statuspal:read statuspal:write offline_access"
    assert isinstance(body["client_id_issued_at"], int) and body["application_type"] == "web"


async def test_a_registration_works_on_any_instance_sharing_the_keys_and_on_none_other(make_gateway, sandbox_admin) -> None:
    keys = {"STATUSPAL_MCP_SEALING_KEYS": Keyring.generate_secret()}
    first, second = await make_gateway(env=keys), await make_gateway(env=keys)
    other = await make_gateway(env={"STATUSPAL_MCP_SEALING_KEYS": Keyring.generate_secret()})
    _, body, _ = await post_register(first, {"redirect_uris": ["http://127.0.0.1:9/cb"], "client_name": "Roaming"})
    page = await open_page(second, body["client_id"], "http://127.0.0.1:9/cb")
    assert page.status == 200 and "Roaming" in page.html
    page = await open_page(other, body["client_id"], "http://127.0.0.1:9/cb")
    assert page.status == 400 and "not issued by this server" in page.alert


ALLOWED = [
    CLAUDE,
    "https://claude.com/api/mcp/auth_callback",
    "https://chatgpt.com/connector_platform_oauth_redirect",
    "https://chatgpt.com/connector/oauth/AbC-123_x",
    "http://localhost:33418/callback",
    "http://127.0.0.1/callback",
    "http://[::1]:8080/cb",
    "cursor://anysphere.cursor-retrieval/oauth/user-statuspal/callback",
    "vscode://vscode.github-authentication/did-authenticate",
]


@pytest.mark.parametrize("uri", ALLOWED)
async def test_the_redirect_policy_admits_the_assistants_loopback_and_ide_schemes(gw: RunningServer, uri: str) -> None:
    status, body, _ = await post_register(gw, {"redirect_uris": [uri]})
    assert status == 201 and body["redirect_uris"] == [uri]


REFUSED = [
    ("javascript:alert(1)", "the scheme javascript: is not allowed"),
    ("data:text/html,<script>alert(1)</script>", "contains spaces, backslashes, control or non-ASCII characters"),
    ("data:text/html;base64,PHNjcmlwdD4=", "the scheme data: is not allowed"),
    ("https://evil.example/callback", "https redirect URIs must be on claude.ai, claude.com, chatgpt.com"),
    ("https://claude.ai@evil.example/api/mcp/auth_callback", "must not contain user information or an encoded host"),
    ("https://claude.ai%40evil.example/api/mcp/auth_callback", "must not contain user information or an encoded host"),
    ("https://claude.ai%2F@evil.example/", "must not contain user information or an encoded host"),
    ("https://evil.example\\@claude.ai/api/mcp/auth_callback", "contains spaces, backslashes"),
    ("https://claude.ai.evil.example/api/mcp/auth_callback", "https redirect URIs must be on"),
    ("https://evil.example#@claude.ai/api/mcp/auth_callback", "must not contain a fragment"),
    ("https://claude.ai/api/mcp/auth_callback#frag", "must not contain a fragment"),
    ("https://claude.ai/api/mcp/auth_callback/../../oauth/evil", "must not contain . or .. path segments"),
    ("https://chatgpt.com/connector/oauth/%2e%2e/x", "must not contain . or .. path segments"),
    ("https://claude.ai/somewhere/else", "on claude.ai only https://claude.ai/api/mcp/auth_callback is accepted"),
    ("https://claude.ai/api/mcp/auth_callback?next=https://evil.example", "on claude.ai only"),
    ("https://chatgpt.com/connector/oauth/a/b", "on chatgpt.com only"),
    ("https://claude.ai:8443/api/mcp/auth_callback", "https redirect URIs must not name a port"),
    ("http://claude.ai/api/mcp/auth_callback", "plain http is allowed only for loopback"),
    ("http://127.0.0.1.nip.io/callback", "plain http is allowed only for loopback"),
    ("http://localhost:99999/cb", "has an invalid port"),
    ("//evil.example/callback", "the scheme (none) is not allowed"),
    ("claude://callback", "the scheme claude: is not allowed"),
    ("https://clаude.ai/api/mcp/auth_callback", "non-ASCII"),  # Cyrillic а
    ("https://claude.ai/api/mcp/auth callback", "contains spaces"),
]


@pytest.mark.parametrize("uri, says", REFUSED)
async def test_the_redirect_policy_refuses_open_redirect_tricks(gw: RunningServer, uri: str, says: str) -> None:
    status, body, _ = await post_register(gw, {"redirect_uris": [CLAUDE, uri]})
    assert status == 400 and body["error"] == "invalid_redirect_uri"
    assert says in body["error_description"], body["error_description"]


@pytest.mark.parametrize("body, error, says", [
    ({}, "invalid_redirect_uri", "redirect_uris is required"),
    ({"redirect_uris": []}, "invalid_redirect_uri", "redirect_uris is required"),
    ({"redirect_uris": CLAUDE}, "invalid_redirect_uri", "redirect_uris is required"),
    ({"redirect_uris": [f"http://127.0.0.1:{p}/cb" for p in range(6)]}, "invalid_redirect_uri", "at most 5"),
    ({"redirect_uris": [CLAUDE], "grant_types": ["client_credentials"]}, "invalid_client_metadata",
     "grant_types must include authorization_code (this server issues only authorization_code and refresh_token grants)"),
    ({"redirect_uris": [CLAUDE], "grant_types": ["implicit"]}, "invalid_client_metadata", "grant_types must include authorization_code"),
    ({"redirect_uris": [CLAUDE], "response_types": ["token"]}, "invalid_client_metadata", "response_types may only contain code"),
    ({"redirect_uris": [CLAUDE], "client_name": 42}, "invalid_client_metadata", "client_name must be a string"),
    ({"redirect_uris": [CLAUDE], "client_name": "x" * 101}, "invalid_client_metadata", "at most 100 characters"),
    ({"redirect_uris": [CLAUDE], "client_uri": "javascript:alert(1)"}, "invalid_client_metadata", "client_uri must be an https URL"),
    ([CLAUDE], "invalid_client_metadata", "must be a JSON object"),
])
async def test_bad_registrations_say_what_is_wrong(gw: RunningServer, body: Any, error: str, says: str) -> None:
    status, answer, _ = await post_register(gw, body)
    assert status == 400 and answer["error"] == error and says in answer["error_description"], answer


async def test_registration_body_must_be_json_and_small(gw: RunningServer) -> None:
    status, answer, _ = await post_register(gw, None, raw=b"{not json")
    assert (status, answer["error"]) == (400, "invalid_client_metadata")
    status, answer, _ = await post_register(gw, None, raw=b'{"client_name": "' + b"x" * 20000 + b'"}')
    assert status == 413 and "at most 16384 bytes" in answer["error_description"]


async def test_registration_is_rate_limited_per_address(make_gateway, sandbox_admin) -> None:
    gw = await make_gateway(oauth={"rate_limit_attempts": 1, "rate_limit_window_seconds": 60})
    statuses = [(await post_register(gw, {"redirect_uris": [CLAUDE]}))[0] for _ in range(11)]
    assert statuses == [201] * 10 + [429]
    status, body, headers = await post_register(gw, {"redirect_uris": [CLAUDE]})
    assert status == 429 and body["error"] == "too_many_requests" and headers["Retry-After"] == "60"


async def test_redirect_uri_must_match_the_registration_exactly_except_loopback_ports(gw: RunningServer) -> None:
    _, body, _ = await post_register(gw, {"redirect_uris": ["http://127.0.0.1:5000/callback", CLAUDE]})
    cid = body["client_id"]
    assert (await open_page(gw, cid, "http://127.0.0.1:61234/callback")).status == 200  # RFC 8252: any port
    assert (await open_page(gw, cid, CLAUDE)).status == 200
    for wrong in ["http://127.0.0.1:5000/other", "http://localhost:5000/callback", "http://127.0.0.1:5000/callback?x=1",
                  CLAUDE + "/", "https://claude.ai/api/mcp/auth_callback?x=1", "https://claude.com/api/mcp/auth_callback",
                  "http://127.0.0.1:5000/callback#f", "http://user@127.0.0.1:5000/callback"]:
        page = await open_page(gw, cid, wrong)
        assert page.status == 400 and page.alert == f"{wrong} is not a redirect URI this app registered, so nothing will be sent to it.", wrong
    page = await open_page(gw, cid, None)  # two registered: the client must say which
    assert page.status == 400 and "redirect_uri is missing" in page.alert


# --- Client ID Metadata Documents ------------------------------------------------------------------------------


def cimd(url: str, redirect_uris: list[str] | None = None, **extra: Any) -> dict[str, Any]:
    return {"client_id": url, "client_name": "Doc Client", "redirect_uris": redirect_uris or ["http://127.0.0.1:7777/cb"], **extra}


async def test_a_plain_http_loopback_document_is_accepted_only_with_the_test_setting(make_gateway, sandbox_admin) -> None:
    lenient = await make_gateway(oauth={"cimd_allow_loopback": True})
    strict = await make_gateway()
    async with document_server() as docs:
        url = docs.publish("/client", cimd(f"{docs.url}/client"))
        page = await open_page(lenient, url, "http://127.0.0.1:7777/cb")
        assert page.status == 200 and "Doc Client" in page.html and "Identified by its published client metadata at 127.0.0.1" in page.html
        page = await open_page(strict, url, "http://127.0.0.1:7777/cb")
        assert page.status == 400 and page.alert == f"A client_id URL must use https: {url}"
    assert docs.fetches == ["/client"]


async def test_documents_on_private_addresses_are_refused_before_and_after_resolution(make_gateway, sandbox_admin, tmp_path, monkeypatch) -> None:
    tls = make_tls(tmp_path)
    monkeypatch.setenv("SSL_CERT_FILE", tls.ca)
    strict = await make_gateway()
    async with document_server(tls) as docs:
        port = docs.url.rsplit(":", 1)[1]
        by_ip = docs.publish("/c", cimd(f"{docs.url}/c"))
        page = await open_page(strict, by_ip, "http://127.0.0.1:7777/cb")
        assert page.alert == f"The client_id URL {by_ip} points at a non-public address; metadata documents must be on the public internet."
        by_name = f"https://localhost:{port}/c"
        docs.publish("/c", cimd(by_name))
        page = await open_page(strict, by_name, "http://127.0.0.1:7777/cb")
        assert page.alert == f"The client_id URL {by_name} resolves to a non-public address; metadata documents must be on the public internet."
    assert docs.fetches == []  # nothing ever reached the private host
    for url in ["https://10.0.0.1/c", "https://169.254.169.254/latest/meta-data", "https://[::ffff:127.0.0.1]/c", "https://[fe80::1]/c",
                "https://224.0.0.1/c", "https://100.64.0.1/c"]:
        page = await open_page(strict, url, "http://127.0.0.1:7777/cb")
        assert "points at a non-public address" in page.alert, url


@pytest.mark.parametrize("url, says", [
    ("https://example.com", "must have a path"),
    ("https://example.com/", "must have a path"),
    ("https://example.com/a/../c", "without . or .. segments"),
    ("https://example.com/c#frag", "is not a plain https URL"),
    ("https://user:pw@example.com/c", "is not a plain https URL"),
    ("ftp://example.com/c", "A client_id URL must use https"),
])
async def test_malformed_client_id_urls_are_refused_without_fetching(gw: RunningServer, url: str, says: str) -> None:
    page = await open_page(gw, url, "http://127.0.0.1:7777/cb")
    assert page.status == 400 and says in page.alert, page.alert


async def test_documents_must_be_well_formed_small_direct_and_truthful(make_gateway, sandbox_admin, tmp_path, monkeypatch) -> None:
    tls = make_tls(tmp_path)
    monkeypatch.setenv("SSL_CERT_FILE", tls.ca)
    gw = await make_gateway(oauth={"cimd_allow_loopback": True, "cimd_max_bytes": 5120})
    async with document_server(tls) as docs:
        base = docs.url
        cases = {
            "/other-id": (cimd(f"{base}/impostor"), {}, 200, "names a different client_id; it must equal the URL it is served from"),
            "/big": (cimd(f"{base}/big", client_name="x", padding="y" * 6000), {}, 200, "is larger than 5120 bytes"),
            "/moved": (b"", {"Location": f"{base}/elsewhere"}, 302, "redirected (HTTP 302); documents must be served directly"),
            "/not-json": (b"<html>hello</html>", {}, 200, "is not a JSON object"),
            "/evil-redirect": (cimd(f"{base}/evil-redirect", ["https://evil.example/cb"]), {}, 200, "is not acceptable: 'https://evil.example/cb'"),
            "/gone": (cimd(f"{base}/gone"), {}, 410, "could not be fetched (HTTP 410)"),
        }
        for path, (doc, headers, status, says) in cases.items():
            url = docs.publish(path, doc, status=status, headers=headers)
            page = await open_page(gw, url, "http://127.0.0.1:7777/cb")
            assert page.status == 400 and says in page.alert, (path, page.alert)
        page = await open_page(gw, f"{base}/missing", "http://127.0.0.1:7777/cb")
        assert "could not be fetched (HTTP 404)" in page.alert
    assert "/elsewhere" not in docs.fetches


async def test_an_untrusted_certificate_is_refused(make_gateway, sandbox_admin, tmp_path) -> None:
    gw = await make_gateway(oauth={"cimd_allow_loopback": True})
    async with document_server(make_tls(tmp_path)) as docs:
        url = docs.publish("/c", cimd(f"{docs.url}/c"))
        page = await open_page(gw, url, "http://127.0.0.1:7777/cb")
        assert page.alert == f"The client metadata document at {url} could not be fetched: its certificate is not trusted."


async def test_a_slow_document_host_is_cut_off(make_gateway, sandbox_admin) -> None:
    gw = await make_gateway(oauth={"cimd_allow_loopback": True, "cimd_timeout_seconds": 0.3})
    async with document_server(delay=3) as docs:
        url = docs.publish("/slow", cimd(f"{docs.url}/slow"))
        page = await open_page(gw, url, "http://127.0.0.1:7777/cb")
        assert page.alert == f"The client metadata document at {url} did not arrive within 0.3 s."


async def test_documents_are_cached_as_their_cache_control_says(make_gateway, sandbox_admin) -> None:
    gw = await make_gateway(oauth={"cimd_allow_loopback": True})
    async with document_server() as docs:
        cached = docs.publish("/cached", cimd(f"{docs.url}/cached"), headers={"Cache-Control": "public, max-age=600"})
        fresh = docs.publish("/fresh", cimd(f"{docs.url}/fresh"), headers={"Cache-Control": "no-store"})
        for _ in range(3):
            assert (await open_page(gw, cached, "http://127.0.0.1:7777/cb")).status == 200
            assert (await open_page(gw, fresh, "http://127.0.0.1:7777/cb")).status == 200
        assert docs.fetches.count("/cached") == 1 and docs.fetches.count("/fresh") == 3
        # A cached document still needs the exact redirect URI it lists.
        page = await open_page(gw, cached, "http://127.0.0.1:7777/other")
        assert page.status == 400 and "is not a redirect URI this app registered" in page.alert


async def test_a_document_without_a_length_is_cut_off_at_the_size_cap(make_gateway, sandbox_admin) -> None:
    """A host that streams (chunked, no Content-Length) is stopped once it passes the cap, not read to the end."""
    gw = await make_gateway(oauth={"cimd_allow_loopback": True, "cimd_max_bytes": 5120})
    sent: list[int] = []

    async def endless(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "application/json"})
        response.enable_chunked_encoding()
        await response.prepare(request)
        try:
            for _ in range(1000):  # up to 1 MB, if the reader kept reading
                await response.write(b" " * 1024)
                sent.append(1024)
                await asyncio.sleep(0.001)
        except (ConnectionResetError, RuntimeError):
            pass  # the reader hung up, as it should
        return response

    app = web.Application()
    app.router.add_get("/stream", endless)
    async with serve_app(app, bound_socket()) as base:
        url = f"{base}/stream"
        page = await open_page(gw, url, "http://127.0.0.1:7777/cb")
    assert page.status == 400 and page.alert == f"The client metadata document at {url} is larger than 5120 bytes."
    assert sum(sent) < 200 * 1024  # stopped near the cap, not after the whole stream


async def test_the_published_claude_documents_are_accepted_as_they_are(make_gateway, sandbox_admin) -> None:
    """Claude.ai's live metadata document (client_uri, and a jwt-bearer grant we do not offer) and Claude Code's
    (port-less loopback callbacks, used with whatever port the CLI got): only client_id differs, as it must."""
    gw = await make_gateway(oauth={"cimd_allow_loopback": True})
    async with document_server() as docs:
        claude = docs.publish("/oauth/mcp-oauth-client-metadata", {
            "client_id": f"{docs.url}/oauth/mcp-oauth-client-metadata", "client_name": "Claude", "client_uri": "https://claude.ai",
            "redirect_uris": [CLAUDE], "response_types": ["code"], "token_endpoint_auth_method": "none",
            "grant_types": ["authorization_code", "refresh_token", "urn:ietf:params:oauth:grant-type:jwt-bearer"]})
        code = docs.publish("/oauth/claude-code-client-metadata", {
            "client_id": f"{docs.url}/oauth/claude-code-client-metadata", "client_name": "Claude Code",
            "redirect_uris": ["http://localhost/callback", "http://127.0.0.1/callback"], "response_types": ["code"],
            "grant_types": ["authorization_code", "refresh_token"], "token_endpoint_auth_method": "none"})
        page = await open_page(gw, claude, CLAUDE)
        assert page.status == 200 and '<p class="host">claude.ai</p>' in page.html and "Claude" in page.html
        for redirect in ("http://localhost:54321/callback", "http://127.0.0.1:8123/callback"):
            assert (await open_page(gw, code, redirect)).status == 200, redirect
        assert (await open_page(gw, code, "http://localhost:54321/other")).status == 400


async def test_unknown_grant_types_beside_authorization_code_are_dropped_not_refused(gw: RunningServer) -> None:
    status, body, _ = await post_register(gw, {
        "redirect_uris": [CLAUDE], "client_name": "Claude",
        "grant_types": ["authorization_code", "refresh_token", "urn:ietf:params:oauth:grant-type:jwt-bearer"],
    })
    assert status == 201, body
    assert body["grant_types"] == ["authorization_code", "refresh_token"]


@pytest.mark.parametrize("field, value", [
    ("redirect_uris", ["http://127.0.0.1:9/cb/x_sk_live_4fGh7KmP2qRsT9vW"]),
    ("client_name", "My app whs_Zx81bQ0aLmN3pQ"),
    ("client_uri", "https://example.com/?k=eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl"),
])
async def test_registration_refuses_metadata_shaped_like_a_secret(gw: RunningServer, field: str, value: Any) -> None:
    # Registered metadata is echoed in the answer, signed (readable) into the client_id and shown on the login
    # page: a key pasted there would be shown back everywhere. The refusal says why and does not quote it.
    status, body, _ = await post_register(gw, {"redirect_uris": ["http://127.0.0.1:9/cb"], field: value})
    assert status == 400 and body["error"] in ("invalid_redirect_uri", "invalid_client_metadata")
    assert "API key, webhook secret or token" in body["error_description"]
    assert "4fGh7KmP2qRsT9vW" not in str(body) and "Zx81bQ0aLmN3pQ" not in str(body) and "c2lnbmF0dXJl" not in str(body)
