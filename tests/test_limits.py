"""Inbound limits against the real gateway and sandbox on loopback: what a stranger's flood costs StatusPal, what a
legitimate caller still gets, the 429 answers, the budgets shared through a real Redis, and the per-key upstream
bucket that two instances share.

Clients are told apart by X-Forwarded-For from a trusted proxy (the test client on 127.0.0.1), exactly as they
would be behind a load balancer.
"""

from __future__ import annotations

import asyncio
import itertools
import math
import secrets
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from gateway.store.base import Store
from gateway.store.memory import MemoryStore
from gateway.store.redis import RedisStore
from gateway.web.services import GATEWAY
from tests.clock import Clock
from tests.mcp_wire import DEMO_KEY, modern_headers, modern_request, post, request, send
from tests.redis_server import redis_server_fixture, redis_url_fixture  # noqa: F401  (pytest fixtures)

TOOLS_LIST = request("tools/list")
PROXIED = {"server": {"trusted_proxies": ("127.0.0.1",)}}
# A moment 15.2 s before a 60 s window ends, for the limits' injectable clock.
WINDOW_START = 60 * 30_000_000
NOW = WINDOW_START + 44.8
# Windows handed out by `freeze`, each used by one test only (a shared Redis keeps counters between tests).
_FRESH_WINDOWS = itertools.count(1)


def freeze(*servers: Any) -> None:
    """Stop the limits' clock inside one window, so a test counting a whole budget never sees the window roll
    over halfway through (which doubles the budget on a slow machine)."""
    moment = NOW + 60 * next(_FRESH_WINDOWS)
    for server in servers:
        server.app[GATEWAY].limits.clock = lambda: moment


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=64)) as session:
        yield session


def sections(**limits: Any) -> dict[str, Any]:
    return {**PROXIED, "limits": limits}


def client(address: str) -> dict[str, str]:
    return {"X-Forwarded-For": address}


def random_key() -> str:
    return "sk_live_" + secrets.token_urlsafe(24)


async def upstream_calls(sandbox_admin) -> int:
    """Requests that reached the sandbox (StatusPal)."""
    return len(await sandbox_admin.requests())


async def key_checks(sandbox_admin) -> int:
    """How many key checks reached StatusPal (the check is a one-item page of status pages)."""
    return sum(
        1 for r in await sandbox_admin.requests()
        if r["endpoint"] == "status_pages_list" and r["query"] == {"per_page": "1"}
    )


async def flood(http: aiohttp.ClientSession, url: str, keys: list[str], address: str, batch: int = 100) -> list[Any]:
    answers = []
    for start in range(0, len(keys), batch):
        answers += await asyncio.gather(
            *(post(http, url, TOOLS_LIST, key=k, headers=client(address)) for k in keys[start:start + batch])
        )
    return answers


def assert_over_budget(answer, status: int = 429, wait: int | None = None) -> int:
    """The refusal's shape: Retry-After, and a JSON-RPC error whose message names the same wait."""
    assert answer.status == status, answer.text
    retry_after = int(answer.headers["Retry-After"])
    assert retry_after >= 1
    if wait is not None:
        assert retry_after == wait
    body = answer.json
    assert body["jsonrpc"] == "2.0" and body["id"] is None
    assert body["error"]["data"] == {"retryAfterSeconds": retry_after}
    assert body["error"]["message"].endswith(f"try again in {retry_after} s")
    return retry_after


# --- unknown keys: what a stranger's flood costs StatusPal ---------------------------------------------------------


async def test_a_flood_of_random_keys_from_one_address_costs_only_its_check_budget(make_gateway, sandbox_admin, http):
    # The host-wide rate of checks is set out of the way: this test is about the per-address budget.
    server = await make_gateway(**sections(key_checks_per_address=20, key_checks_per_second=1000))
    freeze(server)
    # A legitimate user's key is checked (and cached) before the flood starts.
    assert (await post(http, server.mcp_url, TOOLS_LIST, headers=client("198.51.100.9"))).status == 200
    await sandbox_admin.clear_requests()

    answers = await flood(http, server.mcp_url, [random_key() for _ in range(3000)], "203.0.113.7")

    assert await key_checks(sandbox_admin) == 20
    statuses = [a.status for a in answers]
    assert statuses.count(401) == 20 and statuses.count(429) == 2980
    refused = next(a for a in answers if a.status == 429)
    assert_over_budget(refused)
    assert "this address has used its 20 checks of unknown API keys per 60 s" in refused.json["error"]["message"]
    # The flood's address is not everyone: another address still gets its unknown key checked...
    assert (await post(http, server.mcp_url, TOOLS_LIST, key=random_key(), headers=client("192.0.2.1"))).status == 401
    assert await key_checks(sandbox_admin) == 21
    # ...and cached keys are still served, to the legitimate user and even from the flooding address.
    for address in ("198.51.100.9", "203.0.113.7"):
        assert (await post(http, server.mcp_url, TOOLS_LIST, headers=client(address))).status == 200
    assert await key_checks(sandbox_admin) == 21


async def test_the_same_bad_key_fifty_times_costs_one_upstream_call(make_gateway, sandbox_admin, http):
    server = await make_gateway(**PROXIED)
    await sandbox_admin.clear_requests()
    bad = random_key()
    # Concurrent (sharing the check in flight) and then one after another (answered from the rejection cache).
    answers = await asyncio.gather(*(post(http, server.mcp_url, TOOLS_LIST, key=bad) for _ in range(25)))
    for _ in range(25):
        answers.append(await post(http, server.mcp_url, TOOLS_LIST, key=bad))
    assert {a.status for a in answers} == {401}
    assert {a.json["error_description"] for a in answers} == {"StatusPal rejected this API key (it is unknown or was revoked)."}
    assert await key_checks(sandbox_admin) == 1


async def test_key_checks_in_flight_are_capped_for_the_whole_gateway(make_gateway, sandbox_admin, http):
    """Many addresses at once cannot open more StatusPal checks than the cap; the rest are told to come back."""
    server = await make_gateway(**sections(key_checks_in_flight=4))
    await sandbox_admin.faults(latency_ms=300)
    await sandbox_admin.clear_requests()
    answers = await asyncio.gather(*(
        post(http, server.mcp_url, TOOLS_LIST, key=random_key(), headers=client(f"203.0.113.{n}")) for n in range(1, 21)
    ))
    statuses = sorted(a.status for a in answers)
    assert statuses == [401] * 4 + [503] * 16
    busy = next(a for a in answers if a.status == 503)
    assert_over_budget(busy, status=503, wait=1)
    assert "too many new API keys are being checked right now" in busy.json["error"]["message"]
    await sandbox_admin.faults()
    assert await key_checks(sandbox_admin) == 4


async def flood_from_a_crowd(http: aiohttp.ClientSession, servers: list[Any], count: int, first: int = 0) -> list[Any]:
    """`count` requests with made-up keys, each from an address of its own behind the trusted proxy (spread over
    `servers` in turn): what the attack run did, which per-address budgets cannot bound in total."""
    return await asyncio.gather(*(
        post(http, servers[n % len(servers)].mcp_url, TOOLS_LIST, key=random_key(), headers=client(f"198.18.{n // 250}.{n % 250 + 1}"))
        for n in range(first, first + count)
    ))


async def test_a_crowd_of_addresses_costs_statuspal_no_more_than_the_host_wide_rate(make_gateway, sandbox_admin, http):
    server = await make_gateway(**sections(key_checks_per_second=5, key_checks_in_flight=1000))
    freeze(server)
    clock = Clock()
    server.app[GATEWAY].store.clock = clock  # the bucket's time: it refills only when the test says a second passed
    assert (await post(http, server.mcp_url, TOOLS_LIST, headers=client("198.51.100.9"))).status == 200  # a real user's key
    clock.advance(60)  # the bucket full again: five checks
    await sandbox_admin.clear_requests()
    answers = await flood_from_a_crowd(http, [server], 1000)
    assert await key_checks(sandbox_admin) == 5
    assert sorted(a.status for a in answers) == [401] * 5 + [503] * 995
    busy = next(a for a in answers if a.status == 503)
    assert_over_budget(busy, status=503, wait=1)
    assert "checking as many new API keys with StatusPal as it may (5 a second)" in busy.json["error"]["message"]
    # A checked key never needs the bucket: the real user is served while it is empty, and StatusPal sees nothing.
    assert (await post(http, server.mcp_url, TOOLS_LIST, headers=client("198.51.100.9"))).status == 200
    assert await key_checks(sandbox_admin) == 5
    # A second later, five more: the cost is a rate, whatever the number of addresses.
    clock.advance(1)
    answers = await flood_from_a_crowd(http, [server], 1000, first=1000)
    assert await key_checks(sandbox_admin) == 10
    assert sorted(a.status for a in answers) == [401] * 5 + [503] * 995


async def test_with_redis_the_key_check_rate_holds_for_the_whole_fleet(make_gateway, sandbox_admin, http, redis_url):
    # One check per 100 s for everyone: however the crowd is spread over two instances, StatusPal sees one check
    # (the bucket lives in Redis and runs on Redis's clock; a test would have to run 100 s to earn a second).
    env = {"STATUSPAL_MCP_REDIS_URL": redis_url}
    one, two = [await make_gateway(env=env, **sections(key_checks_per_second=0.01, key_checks_in_flight=1000)) for _ in range(2)]
    freeze(one, two)
    await sandbox_admin.clear_requests()
    answers = await flood_from_a_crowd(http, [one, two], 400)
    assert await key_checks(sandbox_admin) == 1
    assert sorted(a.status for a in answers) == [401] + [503] * 399


# --- request budgets: 429 with the wait, in both eras ---------------------------------------------------------------


async def test_over_the_address_budget_is_429_naming_the_wait_in_both_eras(make_gateway, sandbox_admin, http):
    server = await make_gateway(**sections(address_requests=3))
    limits = server.app[GATEWAY].limits
    limits.clock = lambda: NOW
    for _ in range(3):
        assert (await post(http, server.mcp_url, TOOLS_LIST, headers=client("203.0.113.7"))).status == 200
    await sandbox_admin.clear_requests()

    handshake = await post(http, server.mcp_url, TOOLS_LIST, headers=client("203.0.113.7"))
    modern = await post(http, server.mcp_url, modern_request("tools/list"),
                        headers={**client("203.0.113.7"), **modern_headers("tools/list")})
    for answer in (handshake, modern):
        assert_over_budget(answer, wait=math.ceil(WINDOW_START + 60 - NOW))  # 15.2 s left: 16 s, never less
        assert answer.json["error"]["message"] == "Too Many Requests: this address has used its 3 requests per 60 s; try again in 16 s"
    # Counted before credentials: a refused request costs nothing upstream, whatever key it carries.
    assert (await post(http, server.mcp_url, TOOLS_LIST, key=random_key(), headers=client("203.0.113.7"))).status == 429
    assert await upstream_calls(sandbox_admin) == 0
    # Other addresses have their own budget, and IPv6 addresses in one /64 share one.
    assert (await post(http, server.mcp_url, TOOLS_LIST, headers=client("198.51.100.9"))).status == 200
    for n in range(3):
        assert (await post(http, server.mcp_url, TOOLS_LIST, headers=client(f"2001:db8:1:2::{n + 1}"))).status == 200
    assert (await post(http, server.mcp_url, TOOLS_LIST, headers=client("2001:db8:1:2:ffff::9"))).status == 429
    # The next window opens a fresh budget.
    limits.clock = lambda: WINDOW_START + 60.5
    assert (await post(http, server.mcp_url, TOOLS_LIST, headers=client("203.0.113.7"))).status == 200


async def test_get_and_delete_are_counted_too(make_gateway, sandbox_admin, http):
    server = await make_gateway(**sections(address_requests=2))
    freeze(server)
    headers = {"Authorization": f"Bearer {DEMO_KEY}", **client("203.0.113.7")}
    for _ in range(2):
        assert (await send(http, "DELETE", server.mcp_url, headers=headers)).status == 400  # no session id
    assert_over_budget(await send(http, "DELETE", server.mcp_url, headers=headers))
    assert_over_budget(await send(http, "GET", server.mcp_url, headers={**headers, "Accept": "text/event-stream"}))
    assert_over_budget(await post(http, server.mcp_url, TOOLS_LIST, headers=client("203.0.113.7")))


async def test_over_the_key_budget_is_429_while_other_keys_are_served(make_gateway, sandbox_admin, http):
    server = await make_gateway(**sections(principal_requests=3))
    freeze(server)
    other = "sk_test_other_user"
    await sandbox_admin.add_key(other)
    for _ in range(3):
        assert (await post(http, server.mcp_url, TOOLS_LIST)).status == 200
    refused = await post(http, server.mcp_url, TOOLS_LIST)
    assert_over_budget(refused)
    assert "this API key has used its 3 requests per 60 s" in refused.json["error"]["message"]
    # The same address with another key is served: the principal budget is the key's, not the address's.
    assert (await post(http, server.mcp_url, TOOLS_LIST, key=other)).status == 200


# --- shared through Redis --------------------------------------------------------------------------------------------


async def test_two_instances_on_one_redis_share_the_address_budget(make_gateway, sandbox_admin, http, redis_url):
    env = {"STATUSPAL_MCP_REDIS_URL": redis_url}
    one = await make_gateway(env=env, **sections(address_requests=4))
    two = await make_gateway(env=env, **sections(address_requests=4))
    freeze(one, two)
    for server in (one, two, one, two):
        assert (await post(http, server.mcp_url, TOOLS_LIST, headers=client("203.0.113.7"))).status == 200
    for server in (one, two):
        assert_over_budget(await post(http, server.mcp_url, TOOLS_LIST, headers=client("203.0.113.7")))
    assert (await post(http, two.mcp_url, TOOLS_LIST, headers=client("198.51.100.9"))).status == 200


async def test_two_instances_on_one_redis_share_the_key_check_budget(make_gateway, sandbox_admin, http, redis_url):
    env = {"STATUSPAL_MCP_REDIS_URL": redis_url}
    one = await make_gateway(env=env, **sections(key_checks_per_address=5))
    two = await make_gateway(env=env, **sections(key_checks_per_address=5))
    freeze(one, two)
    await sandbox_admin.clear_requests()
    answers = await asyncio.gather(*(
        post(http, (one, two)[n % 2].mcp_url, TOOLS_LIST, key=random_key(), headers=client("203.0.113.7"))
        for n in range(40)
    ))
    assert await key_checks(sandbox_admin) == 5
    assert sorted(a.status for a in answers) == [401] * 5 + [429] * 35


async def test_two_instances_on_one_redis_share_each_keys_upstream_bucket(make_gateway, sandbox_admin, http, redis_url):
    """StatusPal limits a key, so two instances must not let it through at twice its rate. A burst of 4 with a slow
    refill: the fifth and sixth upstream calls would have to wait longer than a call may take, so they come back at
    once as a rate-limit result; with a bucket per instance each instance would have sent its own 4."""
    env = {"STATUSPAL_MCP_REDIS_URL": redis_url}
    upstream = {"rate_per_second": 0.1, "rate_burst": 4, "total_timeout_seconds": 1.0}
    one = await make_gateway(env=env, statuspal=upstream)
    two = await make_gateway(env=env, statuspal=upstream)
    await sandbox_admin.clear_requests()
    call = request("tools/call", {"name": "list_status_pages", "arguments": {}})
    results = []
    for server in (one, two, one, two):  # the first two each check the key first: 2 checks + 2 calls = the burst
        answer = await post(http, server.mcp_url, call)
        assert answer.status == 200, answer.text
        results.append(answer.result)
    assert [r["isError"] for r in results] == [False, False, True, True]
    assert "rate limiting" in results[-1]["content"][0]["text"] and "try again in" in results[-1]["content"][0]["text"]
    assert await upstream_calls(sandbox_admin) == 4


# --- upstream 429: prompt, not held -----------------------------------------------------------------------------------


async def test_an_upstream_429_with_a_long_wait_comes_back_at_once_naming_it(make_gateway, sandbox_admin, http):
    server = await make_gateway()
    assert (await post(http, server.mcp_url, TOOLS_LIST)).status == 200  # the key is checked before the fault
    await sandbox_admin.faults(rate_limit_rate=1.0, retry_after_seconds=30, only=["status_pages_get"])
    await sandbox_admin.clear_requests()
    answer = await post(http, server.mcp_url, request("tools/call", {"name": "get_status_page", "arguments": {"subdomain": "acme"}}))
    assert answer.status == 200
    assert answer.result["isError"] is True
    assert answer.result["content"][0]["text"] == "StatusPal is rate limiting requests (429). This is temporary: try again in 30 seconds."
    # Not retried, so not held: StatusPal saw the one call and the answer named its wait.
    assert await upstream_calls(sandbox_admin) == 1


async def test_a_key_check_statuspal_rate_limits_names_statuspals_wait(make_gateway, sandbox_admin, http):
    server = await make_gateway()
    await sandbox_admin.faults(rate_limit_rate=1.0, retry_after_seconds=30)
    await sandbox_admin.clear_requests()
    answer = await post(http, server.mcp_url, TOOLS_LIST)
    assert answer.status == 503
    assert answer.headers["Retry-After"] == "30"
    assert answer.json == {
        "error": "temporarily_unavailable", "error_description": "StatusPal is rate limiting key checks; try again in 30 s.",
    }
    assert await upstream_calls(sandbox_admin) == 1


# --- the store's shared token bucket, on both backends -----------------------------------------------------------------


@pytest.fixture(params=["memory", "redis"])
async def store(request) -> AsyncIterator[Store]:
    backend: Store = MemoryStore() if request.param == "memory" else RedisStore(request.getfixturevalue("redis_url"))
    await backend.start()
    try:
        yield backend
    finally:
        await backend.close()


async def test_take_spends_the_burst_then_reserves_in_order(store: Store) -> None:
    assert [await store.take("rl:upstream:k", 1.0, 3, 10.0) for _ in range(3)] == [0.0, 0.0, 0.0]
    first = await store.take("rl:upstream:k", 1.0, 3, 10.0)
    second = await store.take("rl:upstream:k", 1.0, 3, 10.0)
    assert 0.9 < first <= 1.0 and 1.9 < second <= 2.0  # queued one refill apart
    # A wait longer than the caller accepts takes nothing: the next caller's wait is unchanged by it.
    refused = await store.take("rl:upstream:k", 1.0, 3, 0.5)
    assert 2.9 < refused <= 3.0
    assert 2.9 < await store.take("rl:upstream:k", 1.0, 3, 10.0) <= 3.0
    # Another key has its own bucket.
    assert await store.take("rl:upstream:other", 1.0, 3, 0.0) == 0.0


@pytest.mark.redis
async def test_concurrent_requests_on_an_unchecked_key_share_one_check_of_the_budgets(make_gateway, sandbox_admin, http, redis_url):
    """32 requests at once with a key whose check is not cached (a new key, or its cached check just expired) join
    one check: they cost one of the address's checks, not 32, so a busy client is never refused its own good key.
    On Redis, where counting a budget is a round trip, the requests would otherwise all count before one starts."""
    server = await make_gateway(env={"STATUSPAL_MCP_REDIS_URL": redis_url}, **sections(key_checks_per_address=2, key_checks_per_second=1))
    await sandbox_admin.clear_requests()
    answers = await asyncio.gather(*(post(http, server.mcp_url, TOOLS_LIST, headers=client("198.51.100.20")) for _ in range(32)))
    assert [a.status for a in answers] == [200] * 32
    assert await key_checks(sandbox_admin) == 1
