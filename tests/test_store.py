"""The store's semantics, identical on both backends: in-process memory and a real redis-server."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from gateway.app import open_store
from gateway.config import DEFAULT_CONFIG, load_settings
from gateway.store.base import Store, StoreUnavailable
from gateway.store.memory import MemoryStore
from gateway.store.redis import RedisStore
from tests.clock import Clock
from tests.redis_server import RedisServer, redis_server_fixture, redis_url_fixture  # noqa: F401  (pytest fixtures)

Elapse = Callable[[float], Awaitable[None]]


@pytest.fixture(params=["memory", "redis"])
async def timed_store(request) -> AsyncIterator[tuple[Store, Elapse]]:
    """A store and a way to let seconds pass for it: the memory store's clock is moved by hand; redis-server keeps
    its own time (its TTLs are its own to enforce), so for it the test really waits."""
    if request.param == "memory":
        clock = Clock()
        backend: Store = MemoryStore(clock=clock)

        async def elapse(seconds: float) -> None:
            clock.advance(seconds)
    else:
        backend = RedisStore(request.getfixturevalue("redis_url"))

        async def elapse(seconds: float) -> None:
            await asyncio.sleep(seconds)
    await backend.start()
    yield backend, elapse
    await backend.close()


@pytest.fixture
def store(timed_store: tuple[Store, Elapse]) -> Store:
    return timed_store[0]


async def test_use_once_is_true_exactly_once_per_key(store: Store) -> None:
    assert await store.use_once("code:a", 60)
    assert not await store.use_once("code:a", 60)
    assert await store.use_once("code:b", 60)


async def test_use_once_under_concurrency_admits_one(store: Store) -> None:
    results = await asyncio.gather(*(store.use_once("code:race", 60) for _ in range(40)))
    assert results.count(True) == 1


async def test_claim_reports_when_the_first_use_happened(store: Store) -> None:
    before = time.time()
    assert await store.claim("rt:x", 60) is None
    first = await store.claim("rt:x", 60)
    assert first is not None and before - 1 <= first <= time.time() + 1
    assert await store.claim("rt:x", 60) == first  # later uses still see the first one, not themselves


async def test_marks_expire_after_their_ttl(timed_store: tuple[Store, Elapse]) -> None:
    store, elapse = timed_store
    assert await store.use_once("code:short", 0.2)
    await store.set("cache:x", "v", 0.2)
    assert await store.get("cache:x") == "v"
    await elapse(0.35)
    assert await store.use_once("code:short", 0.2)
    assert await store.get("cache:x") is None


async def test_revocation_is_never_shortened(timed_store: tuple[Store, Elapse]) -> None:
    store, elapse = timed_store
    assert not await store.is_revoked("fam:1")
    await store.revoke("fam:1", 60)
    await store.revoke("fam:1", 0.1)  # e.g. revoked again through a short-lived access token
    await store.revoke("fam:2", 0.1)
    await store.revoke("fam:2", 60)  # ...but a longer one extends it
    await store.revoke("fam:3", 0.1)
    await elapse(0.3)
    assert await store.is_revoked("fam:1")
    assert await store.is_revoked("fam:2")
    assert not await store.is_revoked("fam:3")


async def test_hit_counts_attempts_in_a_window(timed_store: tuple[Store, Elapse]) -> None:
    store, elapse = timed_store
    assert [await store.hit("rl:ip:1", 3, 0.3) for _ in range(5)] == [True, True, True, False, False]
    assert await store.hit("rl:ip:2", 3, 0.3)  # other keys have their own count
    await elapse(0.45)
    assert await store.hit("rl:ip:1", 3, 0.3)


async def test_redis_instances_share_one_view(redis_url: str, redis_server: RedisServer) -> None:
    one, two = RedisStore(redis_url), RedisStore(redis_url)
    await one.start()
    await two.start()
    try:
        assert await one.use_once("code:shared", 60)
        assert not await two.use_once("code:shared", 60)
        await two.revoke("fam:shared", 60)
        assert await one.is_revoked("fam:shared")
        keys = redis_server.command(b"KEYS", b"*")
        assert b"statuspal-mcp:code:shared" in keys and b"statuspal-mcp:fam:shared" in keys
    finally:
        await one.close()
        await two.close()


async def test_redis_outage_fails_closed_and_recovers(redis_url: str, redis_server: RedisServer) -> None:
    store = RedisStore(redis_url)
    await store.start()
    try:
        await store.revoke("fam:x", 60)
        redis_server.stop()
        for operation in (
            store.use_once("code:y", 60),
            store.claim("rt:y", 60),
            store.is_revoked("fam:x"),
            store.revoke("fam:y", 60),
            store.hit("rl:y", 5, 60),
            store.quota("quota:y", 5, 60),
            store.check_ready(),
            store.get("k"),
            store.set("k", "v", 60),
        ):
            with pytest.raises(StoreUnavailable, match=r"the Redis store at unix:.*redis.sock did not answer"):
                await operation
        redis_server.start()
        assert await store.use_once("code:y", 60)  # the client reconnects by itself
    finally:
        await store.close()


async def test_unreachable_redis_is_a_clear_start_error_without_the_password() -> None:
    store = RedisStore("redis://app:hunter2@127.0.0.1:1/0", timeout_seconds=0.5)
    with pytest.raises(StoreUnavailable) as caught:
        await store.start()
    assert "redis://127.0.0.1:1 did not answer" in str(caught.value)
    assert "hunter2" not in str(caught.value) and "app" not in str(caught.value)
    await store.close()


async def test_memory_store_refuses_marks_rather_than_evicting_when_full() -> None:
    clock = Clock()
    store = MemoryStore(max_marks=3, clock=clock)
    for key in ("a", "b"):
        assert await store.use_once(key, 10)
    await store.check_ready()  # room for one more
    assert await store.use_once("c", 10)
    with pytest.raises(StoreUnavailable, match="full") as caught:
        await store.use_once("d", 60)
    assert caught.value.full
    with pytest.raises(StoreUnavailable, match="full"):
        await store.check_ready()
    assert not await store.use_once("a", 60)  # existing marks are kept, so no replay slips through
    clock.now += 11
    assert await store.use_once("d", 60)  # expired entries make room
    await store.check_ready()


async def test_memory_store_counters_evict_the_oldest_and_never_block_marks() -> None:
    clock = Clock()
    store = MemoryStore(max_marks=3, max_counters=3, clock=clock)
    assert [await store.hit("rl:ip:first", 2, 60) for _ in range(3)] == [True, True, False]
    for n in range(10):  # a flood of counters, far past their room
        assert await store.hit(f"rl:ip:{n}", 2, 60)
    assert await store.hit("rl:ip:first", 2, 60)  # evicted: its window restarted, which is all eviction costs
    await store.set("rl:blocked:x", "1", 60)  # a rate-limit mark set on an rl: key counts as a counter too
    assert await store.use_once("code:a", 60) and await store.use_once("code:b", 60)  # marks have their own room
    await store.check_ready()


async def test_quota_counts_per_key_and_names_the_wait(store: Store) -> None:
    assert [await store.quota("quota:x:one", 2, 60) for _ in range(2)] == [0.0, 0.0]
    wait = await store.quota("quota:x:one", 2, 60)
    assert 0 < wait <= 60
    assert await store.quota("quota:x:two", 2, 60) == 0.0  # another principal has its own count


async def test_hold_keeps_an_owner_under_its_limit_until_its_oldest_reservation_ends(timed_store: tuple[Store, Elapse]) -> None:
    store, elapse = timed_store
    assert await store.hold("held:one", 2, 0.4) == 0.0
    assert await store.hold("held:one", 2, 60) == 0.0
    wait = await store.hold("held:one", 2, 60)
    assert 0 < wait < 1  # until the oldest ends (0.4 s), not until the newest (60 s)
    assert await store.hold("held:two", 2, 60) == 0.0  # another owner holds its own
    await elapse(0.5)
    assert await store.hold("held:one", 2, 60) == 0.0  # the oldest ended: room for one more, and only one
    assert 55 < await store.hold("held:one", 2, 60) <= 60


async def test_memory_quota_window_reopens_on_the_injected_clock() -> None:
    clock = Clock()
    store = MemoryStore(clock=clock)
    assert await store.quota("quota:k", 1, 100) == 0.0
    clock.now += 40
    assert await store.quota("quota:k", 1, 100) == pytest.approx(60.0)
    clock.now += 61
    assert await store.quota("quota:k", 1, 100) == 0.0


async def test_redis_at_maxmemory_is_reported_full(redis_url: str, redis_server: RedisServer) -> None:
    store = RedisStore(redis_url)
    await store.start()
    try:
        await store.check_ready()
        # A limit below what Redis already uses: every write is refused (noeviction), reads still answer.
        assert redis_server.command(b"CONFIG", b"SET", b"maxmemory-policy", b"noeviction").startswith(b"+OK")
        assert redis_server.command(b"CONFIG", b"SET", b"maxmemory", b"1").startswith(b"+OK")
        with pytest.raises(StoreUnavailable, match="is full") as caught:
            await store.check_ready()
        assert caught.value.full
        assert not await store.is_revoked("fam:x")
    finally:
        redis_server.command(b"CONFIG", b"SET", b"maxmemory", b"0")
        await store.close()


def test_open_store_picks_redis_only_when_configured() -> None:
    assert isinstance(open_store(load_settings(DEFAULT_CONFIG, env={})), MemoryStore)
    settings = load_settings(DEFAULT_CONFIG, env={"STATUSPAL_MCP_REDIS_URL": "redis://127.0.0.1:6379/0"})
    assert isinstance(open_store(settings), RedisStore)
