"""Store calls made in the same turn of the event loop travel to a real redis-server as one pipeline, and each
caller still gets exactly its own answer or its own error."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from gateway.store.base import StoreUnavailable
from gateway.store.redis import RedisStore
from tests.redis_server import RedisServer, redis_server_fixture, redis_url_fixture  # noqa: F401  (pytest fixtures)


def connections(server: RedisServer) -> int:
    """Clients connected to Redis, not counting the one asking."""
    info = server.command(b"INFO", b"clients").decode()
    return int(next(line for line in info.splitlines() if line.startswith("connected_clients:")).split(":")[1]) - 1


@pytest.fixture
async def store(redis_url: str) -> AsyncIterator[RedisStore]:
    started = RedisStore(redis_url)
    await started.start()
    yield started
    await started.close()


async def test_calls_of_one_turn_share_one_connection(store: RedisStore, redis_server: RedisServer) -> None:
    before = connections(redis_server)
    # Sixty-four requests reaching the store together: alone, each would take a pooled connection of its own.
    waits = await asyncio.gather(*(store.take("rl:upstream:k", 1.0, 10, 0.0) for _ in range(32)))
    revoked = await asyncio.gather(*(store.is_revoked(f"fam:{n}") for n in range(32)))
    assert connections(redis_server) - before <= 1
    assert sorted(waits)[:10] == [0.0] * 10 and all(wait > 0 for wait in sorted(waits)[10:])  # the bucket held 10
    assert revoked == [False] * 32


async def test_each_caller_gets_its_own_answer(store: RedisStore) -> None:
    await store.revoke("fam:7", 60)
    limits = list(range(1, 41))
    answers = await asyncio.gather(*(store.hit(f"rl:own:{limit}", limit, 60) for limit in limits),
                                   *(store.is_revoked(f"fam:{n}") for n in range(10)))
    assert answers[:40] == [True] * 40
    assert answers[40:] == [n == 7 for n in range(10)]
    # Second round on the same counters: only the limit of 1 is now exceeded.
    again = await asyncio.gather(*(store.hit(f"rl:own:{limit}", limit, 60) for limit in limits))
    assert again == [limit > 1 for limit in limits]


async def test_a_refused_command_fails_only_its_caller(store: RedisStore, redis_server: RedisServer) -> None:
    assert redis_server.command(b"LPUSH", b"statuspal-mcp:rl:a-list", b"x").startswith(b":1")
    good, bad, other = await asyncio.gather(
        store.hit("rl:fine", 5, 60), store.hit("rl:a-list", 5, 60), store.is_revoked("fam:none"), return_exceptions=True,
    )
    assert good is True and other is False
    assert isinstance(bad, StoreUnavailable)  # WRONGTYPE: the store names Redis, never the command's text


async def test_scripts_redis_has_forgotten_are_loaded_again(store: RedisStore, redis_server: RedisServer) -> None:
    await store.hit("rl:warm", 5, 60)
    assert redis_server.command(b"SCRIPT", b"FLUSH").startswith(b"+OK")  # as after a Redis restart
    answers = await asyncio.gather(*(store.hit(f"rl:after-flush:{n}", 1, 60) for n in range(8)))
    assert answers == [True] * 8


async def test_a_caller_that_stops_waiting_leaves_the_others_their_answers(store: RedisStore, redis_server: RedisServer) -> None:
    calls = [asyncio.ensure_future(store.hit("rl:shared", 100, 60)) for _ in range(6)]
    calls[2].cancel()
    answers = await asyncio.gather(*calls, return_exceptions=True)
    assert isinstance(answers[2], asyncio.CancelledError)
    assert [a for n, a in enumerate(answers) if n != 2] == [True] * 5
    await asyncio.sleep(0.05)
    # The cancelled request's command had already been queued: Redis counted it, as it may have counted a lone one.
    assert int(redis_server.command(b"GET", b"statuspal-mcp:rl:shared").split(b"\r\n")[1]) in (5, 6)


async def test_when_redis_goes_away_every_waiting_caller_hears_it(redis_url: str, redis_server: RedisServer) -> None:
    store = RedisStore(redis_url, timeout_seconds=0.5)
    await store.start()
    try:
        await store.is_revoked("fam:warm")
        redis_server.stop()
        answers = await asyncio.wait_for(
            asyncio.gather(*(store.is_revoked(f"fam:{n}") for n in range(8)), return_exceptions=True), 30,
        )
        assert all(isinstance(answer, StoreUnavailable) for answer in answers), answers
    finally:
        await store.close()
        redis_server.start()


async def test_the_client_never_sends_a_command_twice(store: RedisStore) -> None:
    # A script whose reply was lost may have run: a retry could count a hit twice or call a fresh single-use code
    # a replay. Errors reach the caller instead (the proxy-cut test of the review showed each counter at 1).
    assert store._redis.get_retry() is not None and store._redis.get_retry().get_retries() == 0
