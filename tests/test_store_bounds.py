"""No caller can fill the store: one key's writes are bounded per key, counters cannot crowd out marks, and
every Redis key expires. Real gateways on loopback, a real sandbox, and a real redis-server.

The flood is sized far past the store's room (set small here so it is reached in a second), so without the
per-key quota it would fill the store and every other user's registration and sign-in would fail.
"""

from __future__ import annotations

import asyncio
from typing import Any
from urllib.parse import urlencode

import aiohttp
import pytest

from tests.conftest import DEMO_KEY, RunningServer
from tests.mcp_wire import post, request, send
from tests.oauth_browser import Browser, Page, pkce, query_of, register
from tests.redis_server import RedisServer, redis_server_fixture, redis_url_fixture  # noqa: F401  (pytest fixtures)

OTHER_USER_KEY = "sk_test_other_user_4242"
REDIRECT = "http://127.0.0.1:7777/cb"
INITIALIZE = request(
    "initialize",
    {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "flood", "version": "1"}},
)
SESSION_ENDS = 10
FLOOD = 200  # initialize + DELETE cycles, 5x the store's room for marks below
WORKERS = 8


@pytest.fixture
async def http():
    async with aiohttp.ClientSession() as session:
        yield session


async def flood_sessions(http: aiohttp.ClientSession, gw: RunningServer) -> dict[int, list[Any]]:
    """One key opening and closing sessions as fast as it can, from several connections at once.
    Returns every DELETE answer by status, and checks each one is honest about what happened."""
    answers: dict[int, list[Any]] = {}
    cycles = iter(range(FLOOD))

    async def worker() -> None:
        for _ in cycles:
            opened = await post(http, gw.mcp_url, INITIALIZE)
            assert opened.status == 200, opened.text
            session = {"Mcp-Session-Id": opened.headers["Mcp-Session-Id"], "MCP-Protocol-Version": "2025-06-18"}
            ended = await send(http, "DELETE", gw.mcp_url, headers={"Authorization": f"Bearer {DEMO_KEY}", **session})
            answers.setdefault(ended.status, []).append(ended)
            after = await post(http, gw.mcp_url, request("ping"), headers=session)
            # Ended means 404 from then on; refused means the session still works: never a pretend end.
            assert after.status == (404 if ended.status == 204 else 200), (ended.status, after.text)

    await asyncio.gather(*(worker() for _ in range(WORKERS)))
    return answers


def assert_refused_honestly(answers: dict[int, list[Any]]) -> None:
    assert sorted(answers) == [204, 429], {s: len(a) for s, a in answers.items()}
    assert len(answers[204]) == SESSION_ENDS
    for refused in answers[429]:
        assert 1 <= int(refused.headers["Retry-After"]) <= 3600
        error = refused.json["error"]
        assert f"this key has ended {SESSION_ENDS} sessions in the last hour" in error["message"]
        assert "this session was not ended" in error["message"]
        assert error["data"]["retryAfterSeconds"] == int(refused.headers["Retry-After"])


async def sign_in(http: aiohttp.ClientSession, gw: RunningServer, key: str, headers: dict[str, str] | None = None) -> dict[str, Any]:
    """Another user's whole sign-in: register a client, submit their key on the login page, redeem the code."""
    client = await register(http, gw.url, [REDIRECT], client_name="Other user's assistant")
    verifier, challenge = pkce()
    query = urlencode({"response_type": "code", "client_id": client["client_id"], "redirect_uri": REDIRECT, "state": "s",
                       "code_challenge": challenge, "code_challenge_method": "S256", "resource": gw.mcp_url})
    browser = Browser(http, gw.url)
    page = await browser.open(f"{gw.url}/authorize?{query}")
    assert page.status == 200, page.html
    status, answer_headers, body = await browser.submit(page.fields, key, headers=headers)
    assert status == 302, body
    code = query_of(answer_headers["Location"])["code"]
    async with http.post(f"{gw.url}/token", data={"grant_type": "authorization_code", "code": code, "code_verifier": verifier,
                                                  "client_id": client["client_id"], "redirect_uri": REDIRECT}) as r:
        tokens = await r.json()
        assert r.status == 200, tokens
    listed = await post(http, gw.mcp_url, request("tools/list"), key=tokens["access_token"], headers={"MCP-Protocol-Version": "2025-06-18"})
    assert listed.status == 200 and listed.result["tools"]
    return {**tokens, "client_id": client["client_id"], "code": code, "verifier": verifier}


async def assert_ready(http: aiohttp.ClientSession, gw: RunningServer) -> None:
    async with http.get(f"{gw.url}/readyz") as r:
        assert r.status == 200, await r.text()


async def test_one_key_flooding_sessions_cannot_stop_another_users_sign_in(make_gateway, sandbox_admin, http) -> None:
    gw = await make_gateway(store={"memory_max_entries": 40, "session_ends_per_hour": SESSION_ENDS})
    await sandbox_admin.add_key(OTHER_USER_KEY)
    assert_refused_honestly(await flood_sessions(http, gw))
    await assert_ready(http, gw)
    await sign_in(http, gw, OTHER_USER_KEY)


async def test_with_redis_one_key_flooding_sessions_leaves_a_bounded_number_of_keys(
    make_gateway, sandbox_admin, http, redis_url: str, redis_server: RedisServer
) -> None:
    gw = await make_gateway(env={"STATUSPAL_MCP_REDIS_URL": redis_url}, store={"session_ends_per_hour": SESSION_ENDS})
    await sandbox_admin.add_key(OTHER_USER_KEY)
    assert_refused_honestly(await flood_sessions(http, gw))
    keys = redis_keys(redis_server)
    # One mark per session actually ended plus the key's one quota counter, however long the flood ran;
    # rate-limit counters (if any count these requests) are one per address or key, so a handful.
    marks = [k for k in keys if not k.startswith(b"statuspal-mcp:rl:")]
    assert len([k for k in marks if k.startswith(b"statuspal-mcp:mcp-session:")]) == SESSION_ENDS
    # ... and the one set of what the key holds (`Store.hold`).
    assert len(marks) == SESSION_ENDS + 2 and b"statuspal-mcp:held:" in b" ".join(marks), marks
    assert len(keys) - len(marks) <= 5, keys
    await assert_ready(http, gw)
    await sign_in(http, gw, OTHER_USER_KEY)


@pytest.mark.parametrize("backend", ["memory", "redis"])
async def test_one_key_holds_at_most_its_share_of_the_store_whatever_its_hourly_quotas(make_gateway, sandbox_admin, http, backend, redis_url) -> None:
    """The hourly quotas let one key pile up about 17,000 marks over a month; a few dozen keys would fill the store.
    What one key holds at once is bounded on its own, across kinds (session ends and sign-ins)."""
    env = {"STATUSPAL_MCP_REDIS_URL": redis_url} if backend == "redis" else {}
    gw = await make_gateway(env=env, store={"entries_per_key": 4, "session_ends_per_hour": 1000, "token_grants_per_hour": 1000})
    await sandbox_admin.add_key(OTHER_USER_KEY)
    tokens = await sign_in(http, gw, DEMO_KEY)  # holds one
    ended = []
    for _ in range(4):
        opened = await post(http, gw.mcp_url, INITIALIZE)
        session = {"Authorization": f"Bearer {DEMO_KEY}", "Mcp-Session-Id": opened.headers["Mcp-Session-Id"], "MCP-Protocol-Version": "2025-06-18"}
        ended.append(await send(http, "DELETE", gw.mcp_url, headers=session))
    assert [e.status for e in ended] == [204, 204, 204, 429]
    refused = ended[-1]
    assert refused.error["message"].startswith("Too Many Requests: this key holds 4 records on the server (ended sessions and sign-ins)")
    assert "this session was not ended" in refused.error["message"]
    assert (await post(http, gw.mcp_url, request("ping"), headers=session)).status == 200  # and it still works
    async with http.post(f"{gw.url}/token", data={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]}) as r:
        body = await r.json()
        assert r.status == 429 and "This StatusPal key holds 4 records on this server" in body["error_description"], body
        assert int(r.headers["Retry-After"]) >= 1
    # Another user's sign-in is unaffected, and the store stays ready.
    await sign_in(http, gw, OTHER_USER_KEY)
    await assert_ready(http, gw)


async def test_a_flood_of_rate_limit_counters_cannot_crowd_out_sign_in(make_gateway, sandbox_admin, http) -> None:
    """Registrations from many addresses (through a trusted proxy) create a counter each, far past their room:
    the oldest counters go, and codes, refreshes and revocations still find room as marks."""
    gw = await make_gateway(store={"memory_max_entries": 20, "memory_max_counters": 10}, server={"trusted_proxies": ["127.0.0.0/8"]})
    for n in range(60):
        async with http.post(f"{gw.url}/register", json={"redirect_uris": [REDIRECT]}, headers={"X-Forwarded-For": f"198.51.100.{n}"}) as r:
            assert r.status == 201, await r.text()
    tokens = await sign_in(http, gw, DEMO_KEY, headers={"X-Forwarded-For": "203.0.113.7"})
    async with http.post(f"{gw.url}/token", data={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]}) as r:
        assert r.status == 200, await r.text()
    await assert_ready(http, gw)


async def test_over_the_grant_quota_token_requests_wait_and_use_nothing_up(make_gateway, sandbox_admin, http) -> None:
    gw = await make_gateway(store={"token_grants_per_hour": 2})
    tokens = await sign_in(http, gw, DEMO_KEY)  # the code's redemption is the first of two
    async with http.post(f"{gw.url}/token", data={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]}) as r:
        assert r.status == 200, await r.text()
        rotated = await r.json()
    async with http.post(f"{gw.url}/token", data={"grant_type": "refresh_token", "refresh_token": rotated["refresh_token"]}) as r:
        body = await r.json()
        assert r.status == 429 and body["error"] == "temporarily_unavailable", body
        assert "2 codes redeemed or tokens refreshed in the last hour" in body["error_description"]
        assert 1 <= int(r.headers["Retry-After"]) <= 3600
    # Nothing was used up: the refused refresh token is not "already used", so its family is not revoked.
    listed = await post(http, gw.mcp_url, request("tools/list"), key=rotated["access_token"], headers={"MCP-Protocol-Version": "2025-06-18"})
    assert listed.status == 200


async def test_a_full_store_is_503_with_a_clear_message_everywhere_and_readyz_says_so(make_gateway, sandbox_admin, http) -> None:
    # Room for four marks: a sign-in's code redemption and its quota counter, then a session end and its
    # quota counter, then nothing.
    gw = await make_gateway(store={"memory_max_entries": 4})
    tokens = await sign_in(http, gw, DEMO_KEY)
    opened = await post(http, gw.mcp_url, INITIALIZE)
    session = {"Authorization": f"Bearer {DEMO_KEY}", "Mcp-Session-Id": opened.headers["Mcp-Session-Id"]}
    assert (await send(http, "DELETE", gw.mcp_url, headers=session)).status == 204

    async with http.get(f"{gw.url}/readyz") as r:
        body = await r.json()
        assert r.status == 503 and body["reasons"] == [
            "store full: new sign-ins and session ends are refused until entries expire (raise store.memory_max_entries, or Redis's maxmemory)"], body

    opened = await post(http, gw.mcp_url, INITIALIZE)
    ended = await send(http, "DELETE", gw.mcp_url, headers={**session, "Mcp-Session-Id": opened.headers["Mcp-Session-Id"]})
    assert ended.status == 503 and ended.headers["Retry-After"] == "5"
    assert ended.json["error"]["message"] == (
        "Service Unavailable: sessions cannot be checked or ended right now because its store is full; try again in a moment"
    )
    async with http.post(f"{gw.url}/token", data={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]}) as r:
        assert r.status == 503 and r.headers["Retry-After"] == "5"
        assert await r.json() == {"error": "temporarily_unavailable", "error_description":
                                  "The server cannot complete this right now because its store is full; try again in a moment."}
    async with http.post(f"{gw.url}/revoke", data={"token": tokens["refresh_token"]}) as r:
        assert r.status == 503
        assert (await r.json())["error_description"] == "The server cannot revoke right now because its store is full; try again in a moment."
    # Registration and the login page only count attempts, which never need a mark: they still work.
    await register(http, gw.url, [REDIRECT])


async def test_an_unreachable_store_is_503_on_registration_and_sign_in_never_500(
    make_gateway, sandbox_admin, http, redis_url: str, redis_server: RedisServer
) -> None:
    gw = await make_gateway(env={"STATUSPAL_MCP_REDIS_URL": redis_url})
    tokens = await sign_in(http, gw, DEMO_KEY)
    verifier, challenge = pkce()
    query = urlencode({"response_type": "code", "client_id": tokens["client_id"], "redirect_uri": REDIRECT, "state": "s",
                       "code_challenge": challenge, "code_challenge_method": "S256", "resource": gw.mcp_url})
    browser = Browser(http, gw.url)
    page = await browser.open(f"{gw.url}/authorize?{query}")
    opened = await post(http, gw.mcp_url, INITIALIZE)
    session = {"Mcp-Session-Id": opened.headers["Mcp-Session-Id"], "MCP-Protocol-Version": "2025-06-18"}
    redis_server.stop()
    try:
        listed = await post(http, gw.mcp_url, request("tools/list"), key=tokens["access_token"], headers={"MCP-Protocol-Version": "2025-06-18"})
        assert listed.status == 503 and listed.json["error"] == "temporarily_unavailable"
        assert listed.json["error_description"] == "The server cannot check this token right now because its store cannot be reached; try again in a moment."
        for answer in (await post(http, gw.mcp_url, request("ping"), headers=session),
                       await send(http, "DELETE", gw.mcp_url, headers={"Authorization": f"Bearer {DEMO_KEY}", **session})):
            assert answer.status == 503 and answer.headers["Retry-After"] == "5"
            assert answer.error["message"] == ("Service Unavailable: sessions cannot be checked or ended right now because its store "
                                               "cannot be reached; try again in a moment")
        direct = await post(http, gw.mcp_url, request("tools/list"), headers={"MCP-Protocol-Version": "2025-06-18"})
        assert direct.status == 200 or (direct.status == 503 and "error" in direct.json), direct.text  # never a 500
        async with http.post(f"{gw.url}/register", json={"redirect_uris": [REDIRECT]}) as r:
            assert r.status == 503 and r.headers["Retry-After"] == "5"
            assert await r.json() == {"error": "temporarily_unavailable", "error_description":
                                      "The server cannot register clients right now because its store cannot be reached; try again in a moment."}
        status, headers, html = await browser.submit(page.fields, DEMO_KEY)
        assert status == 503 and headers["Retry-After"] == "5" and "Location" not in headers
        shown = Page.parse(status, headers, html)
        assert shown.alert == ("Sign-in is paused because its store cannot be reached, so your key was not checked and nothing "
                               "was issued. Try again in a moment.")
        assert shown.fields["csrf"]  # the form is still there to try again
        async with http.get(f"{gw.url}/readyz") as r:
            assert r.status == 503 and "shared store unreachable (check STATUSPAL_MCP_REDIS_URL)" in (await r.json())["reasons"]
    finally:
        redis_server.start()


async def test_every_redis_key_a_request_writes_expires(make_gateway, sandbox_admin, http, redis_url: str, redis_server: RedisServer) -> None:
    """Every route that writes, down every path that writes (counters, blocks, codes, replays, refreshes, grace
    retries, revocations, session ends, readiness): afterwards no key is left without a time to live."""
    gw = await make_gateway(
        env={"STATUSPAL_MCP_REDIS_URL": redis_url}, oauth={"rate_limit_attempts": 1}, server={"trusted_proxies": ["127.0.0.0/8"]}
    )
    tokens = await sign_in(http, gw, DEMO_KEY, headers={"X-Forwarded-For": "203.0.113.1"})
    token_url = f"{gw.url}/token"
    replay = {"grant_type": "authorization_code", "code": tokens["code"], "code_verifier": tokens["verifier"],
              "client_id": tokens["client_id"], "redirect_uri": REDIRECT}
    async with http.post(token_url, data=replay) as r:
        assert r.status == 400  # replayed: the family is revoked
    second = await sign_in(http, gw, DEMO_KEY, headers={"X-Forwarded-For": "203.0.113.2"})
    for _ in range(2):  # the second use is the grace retry
        async with http.post(token_url, data={"grant_type": "refresh_token", "refresh_token": second["refresh_token"]}) as r:
            assert r.status == 200, await r.text()
    async with http.post(f"{gw.url}/revoke", data={"token": second["refresh_token"]}) as r:
        assert r.status == 200
    # Failed keys through one client from many addresses until the client is paused (the block mark).
    client = await register(http, gw.url, [REDIRECT])
    verifier, challenge = pkce()
    query = urlencode({"response_type": "code", "client_id": client["client_id"], "redirect_uri": REDIRECT, "state": "s",
                       "code_challenge": challenge, "code_challenge_method": "S256", "resource": gw.mcp_url})
    browser = Browser(http, gw.url)
    page = await browser.open(f"{gw.url}/authorize?{query}")
    statuses = [(await browser.submit(page.fields, "sk_wrong_guess", headers={"X-Forwarded-For": f"198.51.100.{n}"}))[0] for n in range(11)]
    assert statuses == [400] * 10 + [429]
    opened = await post(http, gw.mcp_url, INITIALIZE)
    ended = await send(http, "DELETE", gw.mcp_url, headers={"Authorization": f"Bearer {DEMO_KEY}", "Mcp-Session-Id": opened.headers["Mcp-Session-Id"]})
    assert ended.status == 204
    await assert_ready(http, gw)

    keys = redis_keys(redis_server)
    kinds = {key.split(b":")[1] for key in keys}
    assert {b"code", b"fam", b"rt", b"rtg", b"mcp-session", b"quota", b"held", b"rl", b"readyz"} <= kinds, kinds
    assert {k.split(b":")[2] for k in keys if k.split(b":")[1] == b"rl"} >= {
        b"oauth-register", b"oauth-login", b"oauth-login-fail", b"oauth-login-blocked"}
    for key in keys:
        ttl = int(redis_server.command(b"PTTL", key).strip(b":\r\n"))
        assert ttl > 0, (key, ttl)


def redis_keys(server: RedisServer) -> list[bytes]:
    """Every key in the database, read with SCAN as an operator would (KEYS blocks a busy server)."""
    keys: list[bytes] = []
    cursor = b"0"
    while True:
        reply = server.command(b"SCAN", cursor, b"COUNT", b"1000")
        cursor, found = _scan_reply(reply)
        keys.extend(found)
        if cursor == b"0":
            return keys


def _scan_reply(reply: bytes) -> tuple[bytes, list[bytes]]:
    """RESP for SCAN: *2 / $n cursor / *m / $n key ... (keys here never contain CR or LF)."""
    lines = reply.split(b"\r\n")
    cursor = lines[2]
    count = int(lines[3][1:])
    return cursor, [lines[5 + 2 * i] for i in range(count)]
