"""What an attacker or a confused client gets, through the whole real gateway: codes from the real login page,
tokens presented at the real /token and /mcp. Each case asserts the exact error a client acts on.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from typing import Any
from urllib.parse import urlencode

import aiohttp
import pytest

from gateway.auth.sealing import Keyring
from gateway.web.services import GATEWAY
from tests.clock import Clock
from tests.conftest import DEMO_KEY, RunningServer
from tests.oauth_browser import Browser, pkce, query_of, register
from tests.tokens import mint_access_token

REDIRECT = "http://127.0.0.1:7777/cb"


class Session:
    def __init__(self, gw: RunningServer, http: aiohttp.ClientSession) -> None:
        self.gw, self.http = gw, http
        self.client_id = ""

    async def code(self, access: str = "full", key: str = DEMO_KEY) -> tuple[str, str]:
        """(code, verifier) from the real page with `key` (the demo key unless told)."""
        if not self.client_id:
            self.client_id = (await register(self.http, self.gw.url, [REDIRECT], client_name="Neg"))["client_id"]
        verifier, challenge = pkce()
        q = {"response_type": "code", "client_id": self.client_id, "redirect_uri": REDIRECT, "state": "s",
             "code_challenge": challenge, "code_challenge_method": "S256", "resource": self.gw.mcp_url}
        browser = Browser(self.http, self.gw.url)
        page = await browser.open(f"{self.gw.url}/authorize?{urlencode(q)}")
        status, headers, body = await browser.submit(page.fields, key, access)
        assert status == 302, body
        return query_of(headers["Location"])["code"], verifier

    async def token(self, **form: str) -> tuple[int, dict[str, Any]]:
        async with self.http.post(f"{self.gw.url}/token", data=form) as r:
            return r.status, await r.json()

    async def exchange(self, code: str, verifier: str | None, **extra: str) -> tuple[int, dict[str, Any]]:
        form = {"grant_type": "authorization_code", "code": code, "client_id": self.client_id, "redirect_uri": REDIRECT,
                "resource": self.gw.mcp_url, **extra}
        if verifier is not None:
            form["code_verifier"] = verifier
        return await self.token(**form)

    async def tokens(self, key: str = DEMO_KEY) -> dict[str, Any]:
        status, body = await self.exchange(*(await self.code(key=key)))
        assert status == 200, body
        return body

    async def mcp(self, bearer: str, gw: RunningServer | None = None) -> tuple[int, str, dict[str, Any]]:
        gw = gw or self.gw
        async with self.http.post(gw.mcp_url, json={"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {}},
                                  headers={"Authorization": f"Bearer {bearer}", "Accept": "application/json, text/event-stream"}) as r:
            return r.status, r.headers.get("WWW-Authenticate", ""), await r.json(content_type=None)


@pytest.fixture
async def http():
    async with aiohttp.ClientSession() as session:
        yield session


async def start(make_gateway, http, **sections: Any) -> Session:
    return Session(await make_gateway(**sections), http)


@pytest.fixture(scope="module")
async def shared_gw(make_module_gateway) -> RunningServer:
    """Default settings, shared by the tests that need no others: each registers its own client and signs in for
    tokens of its own. The per-address sign-in limit is raised so the module's sign-ins stay under it."""
    return await make_module_gateway(oauth={"rate_limit_attempts": 1000})


async def test_pkce_verifier_must_be_present_and_right(shared_gw, sandbox_admin, http) -> None:
    s = Session(shared_gw, http)
    code, verifier = await s.code()
    assert await s.exchange(code, None) == (400, {"error": "invalid_request", "error_description": "Missing required parameter(s): code_verifier."})
    wrong = pkce()[0]
    assert await s.exchange(code, wrong) == (400, {"error": "invalid_grant",
                                                   "error_description": "code_verifier does not match the code_challenge of the authorization request."})
    assert await s.exchange(code, verifier, redirect_uri="http://127.0.0.1:7777/other") == (400, {
        "error": "invalid_grant", "error_description": "redirect_uri does not match the one used in the authorization request."})
    status, body = await s.exchange(code, verifier)  # failed attempts did not burn the code
    assert status == 200 and body["token_type"] == "Bearer"


async def test_a_replayed_code_is_refused_and_what_it_issued_is_revoked(shared_gw, sandbox_admin, http) -> None:
    s = Session(shared_gw, http)
    code, verifier = await s.code()
    status, first = await s.exchange(code, verifier)
    assert status == 200 and (await s.mcp(first["access_token"]))[0] == 200
    assert await s.exchange(code, verifier) == (400, {"error": "invalid_grant", "error_description": "The authorization code was already used."})
    status, _, body = await s.mcp(first["access_token"])
    assert status == 401 and body["error_description"] == "The access token was revoked; sign in again."


async def test_refresh_reuse_after_the_grace_window_revokes_the_grant(make_gateway, sandbox_admin, http) -> None:
    s = await start(make_gateway, http, oauth={"refresh_grace_seconds": 0})
    first = await s.tokens()
    status, second = await s.token(grant_type="refresh_token", refresh_token=first["refresh_token"], scope="claudeai")
    assert status == 200 and second["scope"] == "statuspal:read statuspal:write"  # unknown scope ignored on refresh too
    await asyncio.sleep(0.05)
    assert await s.token(grant_type="refresh_token", refresh_token=first["refresh_token"]) == (400, {
        "error": "invalid_grant", "error_description": "The refresh token was already used; this grant is revoked, sign in again."})
    assert (await s.mcp(second["access_token"]))[0] == 401
    status, body = await s.token(grant_type="refresh_token", refresh_token=second["refresh_token"])
    assert (status, body["error"]) == (400, "invalid_grant")


async def test_access_tokens_that_are_not_right_say_exactly_why(make_gateway, sandbox_admin, http) -> None:
    keys = {"STATUSPAL_MCP_SEALING_KEYS": Keyring.generate_secret()}
    s = await start(make_gateway, http, env=keys)
    other_deployment = await make_gateway(env=keys)  # same keys, different public URL: staging vs production
    tokens = await s.tokens()
    access, refresh = tokens["access_token"], tokens["refresh_token"]
    header, empty, iv, ciphertext, tag = access.split(".")
    flipped = ciphertext[:10] + ("A" if ciphertext[10] != "A" else "B") + ciphertext[11:]
    cases = [
        (".".join([header, empty, iv, flipped, tag]), "The access token is malformed, was altered, or was sealed with a key this server no longer has."),
        (access[:-4], "The access token is malformed, was altered, or was sealed with a key this server no longer has."),
        (".".join(access.split(".")[:3]), "The bearer token is neither a StatusPal API key (sk_…) nor a token issued by this server."),
        (refresh, "That is a refresh token; send it to the token endpoint, and use the access token as the bearer."),
        ((await s.code())[0], "The access token is malformed, was altered, or was sealed with a key this server no longer has."),
    ]
    for bearer, says in cases:
        status, challenge, body = await s.mcp(bearer)
        assert (status, body) == (401, {"error": "invalid_token", "error_description": says}), says
        assert challenge == ('Bearer error="invalid_token", scope="statuspal:read statuspal:write", '
                             f'resource_metadata="{s.gw.settings.server.resource_metadata_url}"')
    status, challenge, body = await s.mcp(access, gw=other_deployment)
    assert (status, body["error_description"]) == (401, "The access token was not issued by this server.")
    assert (await s.mcp(access))[0] == 200


async def test_tokens_sealed_under_a_retired_key_work_while_it_is_listed_and_fail_cleanly_after(make_gateway, sandbox_admin, http) -> None:
    """Key rotation as an operator does it: put a new key first, keep the old one listed, later drop it."""
    old, new = Keyring.generate_secret(), Keyring.generate_secret()
    rotated = await start(make_gateway, http, env={"STATUSPAL_MCP_SEALING_KEYS": f"{new},{old}"})
    retired = await start(make_gateway, http, env={"STATUSPAL_MCP_SEALING_KEYS": new})
    for s in (rotated, retired):
        s.client_id = Keyring.parse(old).sign("client", {"typ": "client", "redirect_uris": [REDIRECT], "client_name": "Old"})

    def refresh_token(s: Session, secret: str) -> str:
        settings, now = s.gw.settings, int(time.time())
        return Keyring.parse(secret).seal("refresh", {
            "typ": "rt", "iss": settings.server.public_url, "aud": settings.server.resource_url, "sub": "x", "client_id": s.client_id,
            "scope": "statuspal:read", "fam": secrets.token_urlsafe(8), "jti": secrets.token_urlsafe(8), "iat": now, "exp": now + 600,
            "k": DEMO_KEY})

    # Still listed: the old key opens access and refresh tokens, and the registration it signed still works.
    assert (await rotated.mcp(mint_access_token(rotated.gw.settings, DEMO_KEY, "statuspal:read", keyring=Keyring.parse(old))))[0] == 200
    assert (await rotated.token(grant_type="refresh_token", refresh_token=refresh_token(rotated, old)))[0] == 200
    code, verifier = await rotated.code()
    assert (await rotated.exchange(code, verifier))[0] == 200

    # Dropped: each fails with the error that sends the client back to sign in, never a 500.
    status, challenge, body = await retired.mcp(mint_access_token(retired.gw.settings, DEMO_KEY, "statuspal:read", keyring=Keyring.parse(old)))
    assert (status, body) == (401, {"error": "invalid_token",
                                    "error_description": "The bearer token is neither a StatusPal API key (sk_…) nor a token issued by this server."})
    assert challenge == ('Bearer error="invalid_token", scope="statuspal:read statuspal:write", '
                         f'resource_metadata="{retired.gw.settings.server.resource_metadata_url}"')
    assert await retired.token(grant_type="refresh_token", refresh_token=refresh_token(retired, old)) == (400, {
        "error": "invalid_grant", "error_description": "The refresh token is not valid."})
    assert (await retired.token(grant_type="refresh_token", refresh_token=refresh_token(retired, new)))[0] == 200  # the key, nothing else
    page = await Browser(http, retired.gw.url).open(f"{retired.gw.url}/authorize?" + urlencode({
        "response_type": "code", "client_id": retired.client_id, "redirect_uri": REDIRECT, "code_challenge": pkce()[1],
        "code_challenge_method": "S256"}))
    assert page.status == 400 and page.alert == ("This app's registration (client_id) was not issued by this server or is no longer valid; "
                                                 "remove the connector and add it again.")


async def test_a_token_in_the_query_string_is_never_accepted(shared_gw, sandbox_admin, http) -> None:
    """Bearer tokens travel only in the Authorization header (RFC 6750 §2.3 is not supported: URLs end up in logs)."""
    s = Session(shared_gw, http)
    tokens = await s.tokens()
    async with http.post(f"{s.gw.mcp_url}?access_token={tokens['access_token']}", json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"},
                         headers={"Accept": "application/json, text/event-stream"}) as r:
        assert r.status == 401 and (await r.json(content_type=None))["error"] == "invalid_request"
        assert r.headers["WWW-Authenticate"] == ('Bearer scope="statuspal:read statuspal:write", '
                                                 f'resource_metadata="{s.gw.settings.server.resource_metadata_url}"')


async def test_an_expired_access_token_asks_for_a_refresh(make_gateway, sandbox_admin, http) -> None:
    s = await start(make_gateway, http, oauth={"access_token_ttl_seconds": 1})
    tokens = await s.tokens()
    assert tokens["expires_in"] == 1
    keyring = s.gw.app[GATEWAY].keyring
    keyring.clock = clock = Clock()
    clock.advance(2)
    status, challenge, body = await s.mcp(tokens["access_token"])
    assert (status, body["error_description"]) == (401, "The access token has expired; refresh it or sign in again.")
    keyring.clock = time.time  # back to the present, where the refreshed token is minted
    status, fresh = await s.token(grant_type="refresh_token", refresh_token=tokens["refresh_token"])
    assert status == 200 and (await s.mcp(fresh["access_token"]))[0] == 200


async def test_revoking_the_key_in_statuspal_ends_a_sealed_grant_at_the_next_call_and_refresh(shared_gw, sandbox_admin, http) -> None:
    """The issue's promise: revoke the key in StatusPal and the assistant's access ends at its next call or refresh.
    The sealed token itself still opens, so the upstream 401 on the tool call must become HTTP 401 with the
    challenge (an isError result would leave the client calling on with a dead key instead of re-authorising)."""
    key = "sk_oauth_soon_revoked"
    await sandbox_admin.add_key(key)
    s = Session(shared_gw, http)
    tokens = await s.tokens(key=key)
    call = {"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {"name": "list_status_pages", "arguments": {}}}
    headers = {"Authorization": f"Bearer {tokens['access_token']}", "Accept": "application/json, text/event-stream",
               "MCP-Protocol-Version": "2025-06-18"}
    async with http.post(s.gw.mcp_url, json=call, headers=headers) as r:
        assert r.status == 200 and (await r.json(content_type=None))["result"]["isError"] is False

    await sandbox_admin.add_key(key, revoked=True)
    async with http.post(s.gw.mcp_url, json=call, headers=headers) as r:
        assert (r.status, await r.json(content_type=None)) == (401, {
            "error": "invalid_token", "error_description": "StatusPal refused the API key of this connection (401: revoked, expired or not allowed)."})
        assert r.headers["WWW-Authenticate"] == ('Bearer error="invalid_token", scope="statuspal:read statuspal:write", '
                                                 f'resource_metadata="{s.gw.settings.server.resource_metadata_url}"')
    assert await s.token(grant_type="refresh_token", refresh_token=tokens["refresh_token"]) == (400, {
        "error": "invalid_grant", "error_description": "StatusPal no longer accepts the API key behind this grant; sign in again with a valid key."})
