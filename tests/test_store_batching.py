"""Batched hits on a real redis-server: far from the limit a hit costs no round trip, near it the answer is Redis's,
and two stores on one Redis (two workers) admit no more than the limit allows, give or take the documented bound.

The stores here flush only when a test says so (a flush interval of an hour), so what each instance holds unsent
at any moment is known; one test runs the background flusher for real.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import AsyncIterator
from itertools import count

import pytest

from gateway.config import LimitsSettings
from gateway.store.base import StoreUnavailable
from gateway.store.batching import headroom
from gateway.store.redis import RedisStore
from gateway.web.client_address import ClientAddresses
from gateway.web.limits import InboundLimits
from tests.redis_server import RedisServer, redis_server_fixture, redis_url_fixture  # noqa: F401  (pytest fixtures)

HOUR = 3600.0
_KEYS = count()


def fresh_key() -> str:
    return f"rl:test:{next(_KEYS)}"


def scripts_run(server: RedisServer) -> int:
    """Round trips the stores made since the last `CONFIG RESETSTAT`: each of their operations is one EVALSHA (a
    NOSCRIPT refusal, before a script is loaded, is not one)."""
    for line in server.command(b"INFO", b"commandstats").decode().splitlines():
        if line.startswith("cmdstat_evalsha:"):
            fields = dict(part.split("=") for part in line.split(":", 1)[1].split(","))
            return int(fields["calls"]) - int(fields["failed_calls"])
    return 0


def counted(server: RedisServer, key: str) -> int:
    reply = server.command(b"GET", b"statuspal-mcp:" + key.encode())
    return 0 if reply.startswith(b"$-1") else int(reply.split(b"\r\n")[1])


def reset_stats(server: RedisServer) -> None:
    assert server.command(b"CONFIG", b"RESETSTAT").startswith(b"+OK")


@pytest.fixture
async def stores(redis_url: str) -> AsyncIterator[list[RedisStore]]:
    """Two stores on one Redis, as two workers would have, flushing only when told; their scripts already loaded."""
    started = [RedisStore(redis_url, flush_interval=HOUR), RedisStore(redis_url, flush_interval=HOUR)]
    for store in started:
        await store.start()
        await store.hit(fresh_key(), 1, 60)
        await store.hit(fresh_key(), 1, 60, batched=True)
    await started[0].flush()
    yield started
    for store in started:
        await store.close()


async def test_far_from_the_limit_batched_hits_make_no_round_trip_until_the_flush(stores, redis_server: RedisServer) -> None:
    store = stores[0]
    key = fresh_key()
    reset_stats(redis_server)
    assert all([await store.hit(key, 10_000, 60, batched=True) for _ in range(1000)])
    assert scripts_run(redis_server) == 1  # the first: the store had no total for the key
    assert counted(redis_server, key) == 1
    await store.flush()
    assert scripts_run(redis_server) == 2
    assert counted(redis_server, key) == 1000
    ttl = int(redis_server.command(b"PTTL", b"statuspal-mcp:" + key.encode()).strip(b":\r\n"))
    assert 55_000 < ttl <= 60_000  # the window's time left, as an exact hit would have set it
    await store.flush()  # nothing pending: no round trip
    assert scripts_run(redis_server) == 2


async def test_batched_and_exact_hits_count_into_one_counter(stores, redis_server: RedisServer) -> None:
    store = stores[0]
    key = fresh_key()
    for _ in range(5):
        assert await store.hit(key, 100, 60, batched=True)
    for _ in range(3):
        assert await store.hit(key, 100, 60)
    await store.flush()
    assert counted(redis_server, key) == 8


async def test_one_store_alone_is_exact_at_the_limit_and_refuses_past_it_without_round_trips(stores, redis_server: RedisServer) -> None:
    store = stores[0]
    key, limit = fresh_key(), 100
    answers = [await store.hit(key, limit, 60, batched=True) for _ in range(limit)]
    assert all(answers)
    # Near the limit each hit went to Redis, carrying any unsent ones: the count there is exact.
    assert counted(redis_server, key) == limit
    reset_stats(redis_server)
    assert not any([await store.hit(key, limit, 60, batched=True) for _ in range(50)])
    assert scripts_run(redis_server) == 0  # past the limit: Redis would refuse too, as counts only grow
    await store.flush()
    assert counted(redis_server, key) == limit + 50  # refused attempts count, as they do when counted exactly


async def test_concurrent_hits_on_one_store_stay_exact_while_a_flush_is_on_its_way(stores, redis_server: RedisServer) -> None:
    store = stores[0]
    key, limit = fresh_key(), 50
    assert await store.hit(key, limit, 60, batched=True)
    for _ in range(limit - headroom(limit) - 2):
        assert await store.hit(key, limit, 60, batched=True)  # decided here: unsent
    # A flush and a crowd of hits at once: the hits near the limit wait for the flush, so Redis counts it first.
    answers = await asyncio.gather(store.flush(), *(store.hit(key, limit, 60, batched=True) for _ in range(40)))
    assert sum(answers[1:]) == limit - (limit - headroom(limit) - 1)
    await store.flush()
    assert counted(redis_server, key) == limit - headroom(limit) - 1 + 40


@pytest.mark.parametrize("seed", range(6))
async def test_two_stores_never_admit_more_than_a_small_limit(stores, redis_server: RedisServer, seed: int) -> None:
    """A budget of 5: within the headroom from the start, so every hit is Redis's to answer. Hits in turn, in bursts
    on both stores at once, with flushes between: exactly 5 admitted."""
    rng = random.Random(seed)
    key, limit = fresh_key(), 5
    admitted = 0
    for _ in range(6):
        burst = [rng.choice(stores) for _ in range(rng.randint(1, 6))]
        if rng.random() < 0.5:
            answers = [await store.hit(key, limit, 60, batched=True) for store in burst]
        else:
            answers = await asyncio.gather(*(store.hit(key, limit, 60, batched=True) for store in burst))
        admitted += sum(answers)
        await rng.choice(stores).flush()
    assert admitted == limit


@pytest.mark.parametrize("seed", range(8))
async def test_two_stores_hammering_a_larger_limit_overshoot_by_at_most_the_bound(stores, seed: int) -> None:
    """A budget of 100, both stores taking `per_interval` hits each between flushes, in a random interleaving: the
    fleet admits at least the limit, and beyond it at most what the other store could hold unsent: its hits in
    one flush interval, and never more than the headroom (the bound `gateway.store.batching` documents)."""
    rng = random.Random(seed)
    key, limit, per_interval = fresh_key(), 100, rng.choice((5, 15, 30, 200))
    admitted = 0
    for _ in range(max(3, 3 * limit // per_interval)):
        turns = [store for store in stores for _ in range(per_interval)]
        rng.shuffle(turns)
        admitted += sum([await store.hit(key, limit, 60, batched=True) for store in turns])
        await asyncio.gather(*(store.flush() for store in stores))
    assert limit <= admitted <= limit + min(per_interval, headroom(limit))


async def test_two_stores_with_their_own_flushers_stay_within_the_bound(redis_url: str, redis_server: RedisServer) -> None:
    """The background flusher for real (every 20 ms), two stores each serving four clients that hit one key for
    about a quarter of a second: at least the limit admitted, at most twice the headroom beyond it (the worst the
    module documents for one other instance), most hits decided without a round trip, and every hit counted in
    Redis in the end."""
    stores = [RedisStore(redis_url, flush_interval=0.02), RedisStore(redis_url, flush_interval=0.02)]
    for store in stores:
        await store.start()
    key, limit = fresh_key(), 500
    admitted = made = 0

    async def client(store: RedisStore) -> None:
        nonlocal admitted, made
        for _ in range(150):
            made += 1
            allowed = await store.hit(key, limit, 60, batched=True)
            admitted += allowed  # not `admitted += await …`: that would read `admitted` before the await
            await asyncio.sleep(0.001)

    try:
        reset_stats(redis_server)
        await asyncio.gather(*(client(store) for store in stores for _ in range(4)))
        round_trips = scripts_run(redis_server)
    finally:
        for store in stores:
            await store.close()
    assert made == 1200
    assert limit <= admitted <= limit + 2 * headroom(limit), admitted
    assert round_trips < made / 4, round_trips
    assert counted(redis_server, key) == made  # close() sent the rest


async def test_close_sends_what_is_still_held(redis_url: str, redis_server: RedisServer) -> None:
    store = RedisStore(redis_url, flush_interval=HOUR)
    await store.start()
    key = fresh_key()
    for _ in range(30):
        assert await store.hit(key, 1000, 60, batched=True)
    assert counted(redis_server, key) == 1
    await store.close()
    assert counted(redis_server, key) == 30


async def test_the_table_stays_bounded_under_a_flood_of_keys(redis_url: str, redis_server: RedisServer) -> None:
    store = RedisStore(redis_url, flush_interval=HOUR, max_batched_keys=50)
    await store.start()
    try:
        keys = [fresh_key() for _ in range(500)]
        reset_stats(redis_server)
        for key in keys:
            for _ in range(3):
                assert await store.hit(key, 1000, 60, batched=True)
        assert len(store._batched) == 50
        # The first 50 keys are counted here after their first hit; every other key's hits go to Redis, as before.
        assert scripts_run(redis_server) == 50 + 450 * 3
        await store.flush()
        assert [counted(redis_server, key) for key in keys] == [3] * 500
        # A flush forgets the keys idle since the one before: room for the next clients.
        await store.flush()
        assert len(store._batched) == 0
    finally:
        await store.close()


async def test_a_new_window_starts_fresh(stores, redis_server: RedisServer) -> None:
    store = stores[0]
    key, limit = fresh_key(), 30
    answers = [await store.hit(key, limit, 0.4, batched=True) for _ in range(40)]
    assert answers == [True] * 30 + [False] * 10
    await asyncio.sleep(0.5)
    # The table's entry and Redis's counter both ended with the window.
    assert await store.hit(key, limit, 0.4, batched=True)
    assert counted(redis_server, key) == 1


async def test_a_flush_redis_does_not_answer_drops_its_counts_and_says_so_once_an_outage(
    redis_url: str, redis_server: RedisServer, caplog: pytest.LogCaptureFixture,
) -> None:
    store = RedisStore(redis_url, flush_interval=HOUR, timeout_seconds=0.5)
    await store.start()
    key = fresh_key()

    def warnings() -> list[str]:
        return [r.getMessage() for r in caplog.records if r.name == "gateway.store.redis"]

    try:
        caplog.set_level(logging.WARNING, logger="gateway.store.redis")
        for _ in range(10):
            assert await store.hit(key, 1000, 60, batched=True)
        redis_server.stop()
        await store.flush()
        assert len(warnings()) == 1 and "batched rate-limit counts were dropped" in warnings()[0]
        assert "did not answer" in warnings()[0]
        # The table forgot what it held: each hit goes to Redis again and fails there, as before batching, and the
        # caller lets the request through (and logs the outage once).
        assert len(store._batched) == 0
        with pytest.raises(StoreUnavailable):
            await store.hit(key, 1000, 60, batched=True)
        await store.flush()
        assert len(warnings()) == 1
        redis_server.start()
        assert await store.hit(key, 1000, 60, batched=True)  # counting again, from Redis's total
        assert await store.hit(key, 1000, 60, batched=True)
        await store.flush()
        assert counted(redis_server, key) == 2  # the new server knew nothing of the first ten
        assert await store.hit(key, 1000, 60, batched=True)
        redis_server.stop()
        await store.flush()  # a new outage is said again
        assert len(warnings()) == 2
    finally:
        if not redis_server.running:
            redis_server.start()
        await store.close()


async def test_request_budgets_are_batched_and_the_key_check_budget_is_not(stores, redis_server: RedisServer) -> None:
    settings = LimitsSettings(principal_requests=1000, key_checks_per_address=1000)
    moment = 60 * 30_000_000 + 10.0  # one window throughout, whatever the machine's speed
    limits = InboundLimits(settings, stores[0], ClientAddresses(()), clock=lambda: moment)
    reset_stats(redis_server)
    for _ in range(200):
        await limits.admit_principal("key-1")
    # The first, and the hit after 100 (the headroom of 1,000) were held unsent, which takes them to Redis.
    assert scripts_run(redis_server) == 2
    for _ in range(20):
        await limits.admit_key_check("192.0.2.1")
    assert scripts_run(redis_server) == 22  # fail-closed, so one round trip each: never decided from a stale total
