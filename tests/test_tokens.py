"""/token, /revoke and sealed access tokens, against a real sandbox upstream and a real store (memory or Redis).

The server here mounts only the token handlers on a real loopback port; codes come from `issue_code`, exactly
as the login page issues them after checking the key. Each negative case asserts the exact RFC 6749 error.
"""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import hashlib
import logging
import secrets
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from gateway.auth.access import AccessTokenVerifier
from gateway.auth.identity import AuthError
from gateway.auth.scopes import READ, WRITE
from gateway.auth.sealing import Keyring
from gateway.oauth.client_metadata import MetadataDocuments
from gateway.oauth.tokens import issue_code, revoke_endpoint, token_endpoint
from gateway.observability.audit import AuditTrail
from gateway.statuspal.client import StatusPalClient
from gateway.statuspal.endpoints import EndpointTable
from gateway.store.base import Store
from gateway.store.memory import MemoryStore
from gateway.store.redis import RedisStore
from gateway.web.client_address import ClientAddresses
from gateway.web.services import GATEWAY, Gateway
from tests.conftest import bound_socket, gateway_settings, serve_app
from tests.redis_server import RedisServer, redis_server_fixture, redis_url_fixture  # noqa: F401  (pytest fixtures)
from tests.tokens import mint_access_token

CANARY = "sk_canary_" + secrets.token_hex(8)
REDIRECT = "http://127.0.0.1:33418/callback"
BOTH = f"{READ} {WRITE}"


def pkce() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge


@dataclass
class TokenServer:
    url: str
    gateway: Gateway
    http: aiohttp.ClientSession
    client_id: str

    async def token(self, **form: str) -> tuple[int, dict[str, Any], Any]:
        async with self.http.post(f"{self.url}/token", data=form) as r:
            return r.status, await r.json(), r.headers

    async def revoke(self, **form: str) -> int:
        async with self.http.post(f"{self.url}/revoke", data=form) as r:
            return r.status

    def code(self, challenge: str, scope: str = BOTH, api_key: str = CANARY, gateway: Gateway | None = None, **claims: str) -> str:
        values = dict(client_id=self.client_id, redirect_uri=REDIRECT, code_challenge=challenge,
                      resource=self.gateway.settings.server.resource_url, scope=scope, api_key=api_key)
        values.update(claims)
        return issue_code(gateway or self.gateway, **values)

    async def authorize(self, scope: str = BOTH, api_key: str = CANARY) -> dict[str, Any]:
        """Code → tokens, the happy path every other test starts from."""
        verifier, challenge = pkce()
        status, body, _ = await self.token(
            grant_type="authorization_code", code=self.code(challenge, scope, api_key), redirect_uri=REDIRECT,
            client_id=self.client_id, code_verifier=verifier,
        )
        assert status == 200, body
        return body

    async def refresh(self, refresh_token: str, **form: str) -> tuple[int, dict[str, Any], Any]:
        return await self.token(**{"grant_type": "refresh_token", "refresh_token": refresh_token, "client_id": self.client_id, **form})

    async def credentials(self, access_token: str):
        g = self.gateway
        return await AccessTokenVerifier(g.settings, g.keyring, g.store).verify(access_token)


@asynccontextmanager
async def token_server(sandbox_url: str, store: Store, keyring: Keyring, **sections: Any) -> AsyncIterator[TokenServer]:
    sock = bound_socket()
    settings = gateway_settings(sock.getsockname()[1], sandbox_url, **sections)
    upstream = StatusPalClient(settings.statuspal, EndpointTable.from_settings(settings.statuspal))
    gateway = Gateway(settings=settings, upstream=upstream, credentials=None, catalogue=None, keyring=keyring, store=store, metrics=None,  # type: ignore[arg-type]
                      addresses=ClientAddresses(()), limits=None, docs=None, resources=None, clients=MetadataDocuments(settings),
                      audit=AuditTrail(settings.audit, store))
    app = web.Application()
    app[GATEWAY] = gateway
    app.router.add_post("/token", token_endpoint)
    app.router.add_post("/revoke", revoke_endpoint)
    await upstream.start()
    await store.start()
    client_id = keyring.sign("client", {"typ": "client", "redirect_uris": [REDIRECT], "client_name": "Token tests"})
    try:
        async with serve_app(app, sock) as url, aiohttp.ClientSession() as http:
            yield TokenServer(url, gateway, http, client_id)
    finally:
        await store.close()
        await upstream.close()


@pytest.fixture
def keyring() -> Keyring:
    return Keyring.parse(Keyring.generate_secret())


@pytest.fixture
async def server(sandbox_url, sandbox_admin, keyring) -> AsyncIterator[TokenServer]:
    await sandbox_admin.add_key(CANARY)
    async with token_server(sandbox_url, MemoryStore(), keyring) as s:
        yield s


# --- authorization_code ------------------------------------------------------------------------------


async def test_code_exchange_issues_working_tokens_with_no_store_headers(server: TokenServer) -> None:
    verifier, challenge = pkce()
    code = server.code(challenge)
    # Default lifetimes: a code lives at most 5 minutes (an intercepted one is soon worthless), a refresh token 30 days.
    claims = server.gateway.keyring.unseal("code", code)
    assert claims["exp"] - claims["iat"] == 300
    status, body, headers = await server.token(
        grant_type="authorization_code", code=code, redirect_uri=REDIRECT,
        client_id=server.client_id, code_verifier=verifier, resource=server.gateway.settings.server.resource_url,
    )
    assert status == 200
    assert headers["Cache-Control"] == "no-store" and headers["Pragma"] == "no-cache"
    assert body["token_type"] == "Bearer" and body["scope"] == BOTH
    assert body["expires_in"] == server.gateway.settings.oauth.access_token_ttl_seconds == 86400
    refresh = server.gateway.keyring.unseal("refresh", body["refresh_token"])
    assert refresh["exp"] - refresh["iat"] == 30 * 86400
    assert CANARY not in body["access_token"] + body["refresh_token"]
    creds = await server.credentials(body["access_token"])
    assert creds.api_key == CANARY and creds.kind == "sealed" and creds.scopes == {READ, WRITE}
    assert creds.key_id == hashlib.sha256(CANARY.encode()).hexdigest()[:16]
    assert creds.client_id == server.client_id
    assert CANARY not in repr(creds)


async def test_read_only_grant_carries_only_the_read_scope(server: TokenServer) -> None:
    body = await server.authorize(scope=f"{READ} claudeai offline_access")  # unknown scopes are dropped, not refused
    assert body["scope"] == READ
    assert (await server.credentials(body["access_token"])).scopes == {READ}


async def test_a_replayed_code_is_refused_and_revokes_what_it_issued(server: TokenServer) -> None:
    verifier, challenge = pkce()
    form = dict(grant_type="authorization_code", code=server.code(challenge), redirect_uri=REDIRECT,
                client_id=server.client_id, code_verifier=verifier)
    status, first, _ = await server.token(**form)
    assert status == 200
    status, body, _ = await server.token(**form)
    assert (status, body["error"]) == (400, "invalid_grant")
    assert body["error_description"] == "The authorization code was already used."
    with pytest.raises(AuthError, match="revoked"):
        await server.credentials(first["access_token"])
    status, body, _ = await server.refresh(first["refresh_token"])
    assert (status, body["error"]) == (400, "invalid_grant")


@pytest.mark.parametrize(
    "change, error, says",
    [
        ({"code_verifier": None}, "invalid_request", "code_verifier"),
        ({"code_verifier": "short"}, "invalid_request", "43-128 characters"),
        ({"code_verifier": "WRONG"}, "invalid_grant", "code_verifier does not match"),
        ({"code_verifier": "CHALLENGE"}, "invalid_grant", "code_verifier does not match"),  # `plain` PKCE
        ({"redirect_uri": "http://127.0.0.1:33418/other"}, "invalid_grant", "redirect_uri does not match"),
        ({"redirect_uri": "https://evil.example/callback"}, "invalid_grant", "redirect_uri does not match"),
        ({"redirect_uri": None}, "invalid_request", "redirect_uri"),
        ({"client_id": "someone-else"}, "invalid_grant", "another client"),
        ({"client_id": None}, "invalid_request", "client_id"),
        ({"resource": "https://evil.example/mcp"}, "invalid_target", "only for the resource"),
        ({"resource": "RESOURCE/"}, "invalid_target", "only for the resource"),
        ({"code": None}, "invalid_request", "code"),
        ({"code": "TRUNCATE"}, "invalid_grant", "not valid"),
        ({"code": "TAMPER"}, "invalid_grant", "not valid"),
        ({"code": "ACCESS_TOKEN"}, "invalid_grant", "not valid"),
        ({"grant_type": "password"}, "unsupported_grant_type", "authorization_code and refresh_token"),
        ({"grant_type": None}, "invalid_request", "grant_type is required"),
    ],
)
async def test_bad_code_exchanges_get_the_exact_error(server: TokenServer, change: dict, error: str, says: str) -> None:
    verifier, challenge = pkce()
    code = server.code(challenge)
    form = dict(grant_type="authorization_code", code=code, redirect_uri=REDIRECT, client_id=server.client_id, code_verifier=verifier)
    for name, value in change.items():
        if value is None:
            del form[name]
        elif value == "WRONG":
            form[name] = pkce()[0]
        elif value == "CHALLENGE":
            form[name] = challenge
        elif value == "TRUNCATE":
            form[name] = code[:-10]
        elif value == "TAMPER":
            form[name] = code[:40] + ("A" if code[40] != "A" else "B") + code[41:]
        elif value == "ACCESS_TOKEN":
            form[name] = mint_access_token(server.gateway.settings, CANARY, BOTH, keyring=server.gateway.keyring)
        elif value == "RESOURCE/":
            form[name] = server.gateway.settings.server.resource_url + "/"
        else:
            form[name] = value
    status, body, headers = await server.token(**form)
    assert (status, body["error"]) == (400, error), body
    assert says in body["error_description"]
    assert headers["Cache-Control"] == "no-store"
    # A refused exchange does not burn the code: the genuine client can still redeem it.
    if change.get("code") is None and "code" in change:
        return
    genuine = dict(grant_type="authorization_code", code=code, redirect_uri=REDIRECT, client_id=server.client_id, code_verifier=verifier)
    assert (await server.token(**genuine))[0] == 200


async def test_a_client_id_this_server_did_not_issue_is_invalid_client(server: TokenServer) -> None:
    verifier, challenge = pkce()
    forged = Keyring.parse(Keyring.generate_secret()).sign("client", {"typ": "client", "redirect_uris": [REDIRECT]})
    status, body, _ = await server.token(grant_type="authorization_code", code=server.code(challenge, client_id=forged),
                                         redirect_uri=REDIRECT, client_id=forged, code_verifier=verifier)
    assert (status, body["error"]) == (400, "invalid_client")
    assert "not issued by this server" in body["error_description"]


async def test_an_expired_code_is_refused(server: TokenServer) -> None:
    settings = server.gateway.settings
    expired = dataclasses.replace(settings, oauth=dataclasses.replace(settings.oauth, code_ttl_seconds=-1))
    verifier, challenge = pkce()
    code = server.code(challenge, gateway=dataclasses.replace(server.gateway, settings=expired))
    status, body, _ = await server.token(grant_type="authorization_code", code=code, redirect_uri=REDIRECT,
                                         client_id=server.client_id, code_verifier=verifier)
    assert (status, body["error"]) == (400, "invalid_grant")
    assert "expired" in body["error_description"]


@pytest.mark.parametrize(
    "content_type, payload, says",
    [
        ("application/json", b'{"grant_type": "authorization_code"}', "application/x-www-form-urlencoded"),
        ("application/x-www-form-urlencoded", b"grant_type=refresh_token&grant_type=authorization_code", "more than once"),
        ("application/x-www-form-urlencoded", b"grant_type=\xff\xfe", "not a valid UTF-8 form"),
        ("application/x-www-form-urlencoded", b"a=1&" * 40, "at most 32 fields"),
        ("application/x-www-form-urlencoded", b"", "grant_type is required"),
    ],
)
async def test_malformed_requests_are_invalid_request_never_a_500(server: TokenServer, content_type: str, payload: bytes, says: str) -> None:
    async with server.http.post(f"{server.url}/token", data=payload, headers={"Content-Type": content_type}) as r:
        body = await r.json()
        assert (r.status, body["error"]) == (400, "invalid_request")
        assert says in body["error_description"]


# --- refresh_token -----------------------------------------------------------------------------------


async def test_refresh_rotates_and_the_old_token_gets_one_grace_retry(server: TokenServer) -> None:
    first = await server.authorize()
    status, second, headers = await server.refresh(first["refresh_token"])
    assert status == 200 and headers["Cache-Control"] == "no-store"
    assert second["refresh_token"] != first["refresh_token"]
    assert (await server.credentials(second["access_token"])).api_key == CANARY

    # A retry of the same refresh (the response was lost) is honoured once...
    status, retried, _ = await server.refresh(first["refresh_token"])
    assert status == 200
    # ...a third use means a copy is loose: refused, and the whole family with it.
    status, body, _ = await server.refresh(first["refresh_token"])
    assert (status, body["error"]) == (400, "invalid_grant")
    assert "already used" in body["error_description"]
    for tokens in (second, retried):
        assert (await server.refresh(tokens["refresh_token"]))[1]["error"] == "invalid_grant"
        with pytest.raises(AuthError, match="revoked"):
            await server.credentials(tokens["access_token"])


async def test_reuse_after_the_grace_window_is_refused_and_revokes_the_family(sandbox_url, sandbox_admin, keyring) -> None:
    await sandbox_admin.add_key(CANARY)
    async with token_server(sandbox_url, MemoryStore(), keyring, oauth={"refresh_grace_seconds": 0}) as server:
        first = await server.authorize()
        status, second, _ = await server.refresh(first["refresh_token"])
        assert status == 200
        await asyncio.sleep(0.05)
        status, body, _ = await server.refresh(first["refresh_token"])
        assert (status, body["error"]) == (400, "invalid_grant")
        status, body, _ = await server.refresh(second["refresh_token"])
        assert (status, body["error"], body["error_description"]) == (400, "invalid_grant", "This grant was revoked; sign in again.")


async def test_concurrent_refreshes_with_one_token_both_succeed(server: TokenServer) -> None:
    first = await server.authorize()
    answers = await asyncio.gather(server.refresh(first["refresh_token"]), server.refresh(first["refresh_token"]))
    assert [status for status, _, _ in answers] == [200, 200]


async def test_refresh_can_narrow_the_scope_but_never_widen_it(server: TokenServer) -> None:
    full = await server.authorize()
    status, narrowed, _ = await server.refresh(full["refresh_token"], scope=READ)
    assert status == 200 and narrowed["scope"] == READ
    assert (await server.credentials(narrowed["access_token"])).scopes == {READ}
    # The refresh token still carries the original grant (RFC 6749 §6): a later refresh may return to it.
    status, again, _ = await server.refresh(narrowed["refresh_token"])
    assert status == 200 and again["scope"] == BOTH
    # Unknown scopes alone change nothing.
    status, unknown, _ = await server.refresh(again["refresh_token"], scope="claudeai")
    assert status == 200 and unknown["scope"] == BOTH

    read_only = await server.authorize(scope=READ)
    status, body, _ = await server.refresh(read_only["refresh_token"], scope=BOTH)
    assert (status, body["error"]) == (400, "invalid_scope")


async def test_refresh_rechecks_the_key_upstream(server: TokenServer, sandbox_admin) -> None:
    tokens = await server.authorize()
    await sandbox_admin.faults(error_rate=1.0, error_status=503)
    status, body, headers = await server.refresh(tokens["refresh_token"])
    assert (status, body["error"]) == (503, "temporarily_unavailable")
    assert headers["Retry-After"]
    await sandbox_admin.faults()
    # The outage did not consume the refresh token.
    status, renewed, _ = await server.refresh(tokens["refresh_token"])
    assert status == 200

    await sandbox_admin.add_key(CANARY, revoked=True)  # the user revokes the key in StatusPal
    status, body, _ = await server.refresh(renewed["refresh_token"])
    assert (status, body["error"]) == (400, "invalid_grant")
    assert "StatusPal no longer accepts the API key" in body["error_description"]


@pytest.mark.parametrize("kind", ["access token", "tampered", "other client", "wrong resource", "missing"])
async def test_bad_refreshes_are_invalid_grant(server: TokenServer, kind: str) -> None:
    tokens = await server.authorize()
    refresh = tokens["refresh_token"]
    form: dict[str, str] = {}
    expected = ("invalid_grant", "not valid")
    if kind == "access token":
        refresh = tokens["access_token"]
    elif kind == "tampered":
        refresh = refresh[:-5] + ("AAAAA" if not refresh.endswith("AAAAA") else "BBBBB")
    elif kind == "other client":
        form["client_id"] = "someone-else"
        expected = ("invalid_grant", "another client")
    elif kind == "wrong resource":
        form["resource"] = "https://evil.example/mcp"
        expected = ("invalid_target", "only for the resource")
    else:
        status, body, _ = await server.token(grant_type="refresh_token")
        assert (status, body["error"]) == (400, "invalid_request")
        return
    status, body, _ = await server.refresh(refresh, **form)
    assert (status, body["error"]) == (400, expected[0])
    assert expected[1] in body["error_description"]


async def test_a_refresh_token_for_another_resource_is_invalid_grant(server: TokenServer, keyring: Keyring) -> None:
    settings = server.gateway.settings
    token = keyring.seal("refresh", {
        "typ": "rt", "iss": settings.server.public_url, "aud": "https://other.example/mcp", "k": CANARY,
        "scope": READ, "client_id": server.client_id, "fam": "f", "jti": "j", "exp": 2_000_000_000,
    })
    status, body, _ = await server.refresh(token)
    assert (status, body["error"], body["error_description"]) == (400, "invalid_grant", "The refresh token was issued for another resource.")


async def test_an_expired_refresh_token_is_invalid_grant(sandbox_url, sandbox_admin, keyring) -> None:
    await sandbox_admin.add_key(CANARY)
    async with token_server(sandbox_url, MemoryStore(), keyring, oauth={"refresh_token_ttl_seconds": 0}) as server:
        tokens = await server.authorize()
        status, body, _ = await server.refresh(tokens["refresh_token"])
        assert (status, body["error"]) == (400, "invalid_grant")
        assert "expired" in body["error_description"]


# --- access tokens on /mcp -----------------------------------------------------------------------------


async def test_access_token_failures_say_exactly_what_is_wrong(server: TokenServer, keyring: Keyring) -> None:
    tokens = await server.authorize()
    settings = server.gateway.settings

    with pytest.raises(AuthError) as caught:
        await server.credentials(tokens["refresh_token"])
    assert (caught.value.status, caught.value.error) == (401, "invalid_token")
    assert "That is a refresh token" in caught.value.description

    token = tokens["access_token"]
    with pytest.raises(AuthError, match="malformed, was altered"):
        await server.credentials(token[:-3])

    other = dataclasses.replace(settings, server=dataclasses.replace(settings.server, public_url="https://staging.example"))
    with pytest.raises(AuthError, match="not issued by this server"):
        await AccessTokenVerifier(other, keyring, server.gateway.store).verify(token)

    expired_settings = dataclasses.replace(settings, oauth=dataclasses.replace(settings.oauth, access_token_ttl_seconds=-1))
    with pytest.raises(AuthError, match="has expired"):
        await server.credentials(mint_access_token(expired_settings, CANARY, BOTH, keyring=keyring))

    retired = Keyring.parse(Keyring.generate_secret())
    with pytest.raises(AuthError, match="no longer has"):
        await AccessTokenVerifier(settings, retired, server.gateway.store).verify(token)


async def test_wrong_audience_with_our_issuer_is_refused(server: TokenServer, keyring: Keyring) -> None:
    """The audience check on its own: same issuer, a resource that is not ours."""
    settings = server.gateway.settings
    token = keyring.seal("access", {
        "typ": "at", "iss": settings.server.public_url, "aud": settings.server.public_url + "/other",
        "k": CANARY, "scope": READ, "fam": "f", "exp": 2_000_000_000,
    })
    with pytest.raises(AuthError, match="issued for another resource"):
        await server.credentials(token)
    wrong_type = keyring.seal("access", {"typ": "rt", "iss": settings.server.public_url, "aud": settings.server.resource_url})
    with pytest.raises(AuthError, match="not an access token"):
        await server.credentials(wrong_type)


async def test_minted_tokens_work_like_issued_ones(server: TokenServer) -> None:
    token = mint_access_token(server.gateway.settings, CANARY, READ, keyring=server.gateway.keyring)
    creds = await server.credentials(token)
    assert creds.api_key == CANARY and creds.scopes == {READ}


# --- /revoke -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("which, hint", [("refresh_token", ""), ("access_token", "access_token"), ("access_token", "refresh_token")])
async def test_revoking_any_token_revokes_its_family(server: TokenServer, which: str, hint: str) -> None:
    tokens = await server.authorize()
    untouched = await server.authorize()
    form = {"token": tokens[which], "client_id": server.client_id}
    if hint:
        form["token_type_hint"] = hint
    assert await server.revoke(**form) == 200
    with pytest.raises(AuthError, match="revoked"):
        await server.credentials(tokens["access_token"])
    status, body, _ = await server.refresh(tokens["refresh_token"])
    assert (status, body["error"]) == (400, "invalid_grant")
    assert (await server.credentials(untouched["access_token"])).api_key == CANARY  # other grants are unaffected


async def test_revoke_answers_200_for_unknown_tokens_and_400_without_one(server: TokenServer) -> None:
    for junk in ("not-a-token", "sk_sandbox_demo", "a" * 9000, Keyring.parse(Keyring.generate_secret()).seal("refresh", {"fam": "x"})):
        assert await server.revoke(token=junk) == 200
    assert await server.revoke(token_type_hint="refresh_token") == 400
    tokens = await server.authorize()
    assert await server.revoke(token=tokens["refresh_token"], client_id="someone-else") == 400
    assert (await server.credentials(tokens["access_token"])).api_key == CANARY


# --- shared state on Redis -------------------------------------------------------------------------------


async def test_two_instances_on_one_redis_share_codes_rotation_and_revocation(sandbox_url, sandbox_admin, keyring, redis_url,
                                                                               redis_server: RedisServer) -> None:
    await sandbox_admin.add_key(CANARY)
    async with AsyncExitStack() as stack:
        one = await stack.enter_async_context(token_server(sandbox_url, RedisStore(redis_url), keyring))
        # Instances behind one load balancer share the public URL, the keyring and the store, nothing else.
        shared = {"public_url": one.gateway.settings.server.public_url}
        two = await stack.enter_async_context(token_server(sandbox_url, RedisStore(redis_url), keyring, server=shared))
        verifier, challenge = pkce()
        form = dict(grant_type="authorization_code", code=one.code(challenge), redirect_uri=REDIRECT,
                    client_id=one.client_id, code_verifier=verifier)
        status, tokens, _ = await one.token(**form)
        assert status == 200
        status, body, _ = await two.token(**form)  # the same code on the other instance
        assert (status, body["error"]) == (400, "invalid_grant")

        fresh = await one.authorize()
        assert (await two.refresh(fresh["refresh_token"]))[0] == 200
        assert (await one.refresh(fresh["refresh_token"]))[0] == 200  # the grace retry, seen across instances
        assert (await two.refresh(fresh["refresh_token"]))[1]["error"] == "invalid_grant"

        other = await two.authorize()
        assert await one.revoke(token=other["refresh_token"]) == 200
        with pytest.raises(AuthError, match="revoked"):
            await two.credentials(other["access_token"])

        # Only ids are stored: neither the key nor any token is in Redis.
        dump = b""
        for key in redis_server.command(b"KEYS", b"*").split(b"\r\n"):
            if key.startswith(b"statuspal-mcp:"):
                dump += key + redis_server.command(b"GET", key)
        assert dump and CANARY.encode() not in dump
        for token in (tokens["access_token"], tokens["refresh_token"], fresh["refresh_token"]):
            assert token.encode() not in dump

async def test_a_redis_outage_fails_closed_with_503(sandbox_url, sandbox_admin, keyring, redis_url, redis_server: RedisServer) -> None:
    await sandbox_admin.add_key(CANARY)
    async with token_server(sandbox_url, RedisStore(redis_url), keyring) as server:
        tokens = await server.authorize()
        verifier, challenge = pkce()
        code = server.code(challenge)
        redis_server.stop()
        try:
            status, body, _ = await server.token(grant_type="authorization_code", code=code, redirect_uri=REDIRECT,
                                                 client_id=server.client_id, code_verifier=verifier)
            assert (status, body["error"]) == (503, "temporarily_unavailable")
            status, body, _ = await server.refresh(tokens["refresh_token"])
            assert (status, body["error"]) == (503, "temporarily_unavailable")
            assert await server.revoke(token=tokens["refresh_token"]) == 503
            with pytest.raises(AuthError) as caught:
                await server.credentials(tokens["access_token"])
            assert (caught.value.status, caught.value.error) == (503, "temporarily_unavailable")
        finally:
            redis_server.start()
        assert (await server.refresh(tokens["refresh_token"]))[0] == 200


# --- secrets stay secret -----------------------------------------------------------------------------------


async def test_no_key_token_or_code_reaches_a_log_line(server: TokenServer, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    verifier, challenge = pkce()
    code = server.code(challenge)
    status, tokens, _ = await server.token(grant_type="authorization_code", code=code, redirect_uri=REDIRECT,
                                           client_id=server.client_id, code_verifier=verifier)
    assert status == 200
    await server.token(grant_type="authorization_code", code=code, redirect_uri=REDIRECT, client_id=server.client_id, code_verifier=verifier)
    await server.refresh(tokens["refresh_token"])
    await server.refresh(tokens["refresh_token"])
    await server.refresh(tokens["refresh_token"])
    await server.revoke(token=tokens["access_token"])
    assert any(r.name == "gateway.oauth.tokens" for r in caplog.records)
    for record in caplog.records:
        text = record.getMessage() + repr(record.__dict__)
        for secret in (CANARY, code, verifier, tokens["access_token"], tokens["refresh_token"]):
            assert secret not in text
