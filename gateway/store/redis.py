"""The shared store: Redis, so every instance sees the same marks and counters (`gateway.store.base` says why).

Each operation is one command, except hits the caller marks `batched` (the request budgets): far from their
limit those are counted in this process and sent about every `flush_interval` seconds, all keys in one round
trip (`gateway.store.batching` says how, and what it costs in precision). The commands of the requests a turn of
the event loop serves travel together as one pipeline (`gateway.store.pipelining`).
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from collections.abc import Awaitable
from typing import Any
from urllib.parse import urlsplit

from redis import asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import OutOfMemoryError, RedisError

from gateway.store.base import NAMESPACE, Store, StoreUnavailable
from gateway.store.batching import DEFAULT_MAX_KEYS, Batch, BatchedCounts
from gateway.store.pipelining import CommandQueue

log = logging.getLogger("gateway.store.redis")

_CLAIM = """
local first = redis.call('GET', KEYS[1])
if first then return first end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return false
"""
_REVOKE = """
if redis.call('PTTL', KEYS[1]) < tonumber(ARGV[1]) then
  redis.call('SET', KEYS[1], '1', 'PX', ARGV[1])
end
return 1
"""
# ARGV[2] hits at once (1, or a batched hit carrying the unsent ones); the counter expires when its window ends.
_HIT = """
local count = redis.call('INCRBY', KEYS[1], ARGV[2])
if count == tonumber(ARGV[2]) then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
return count
"""
# A flush: _HIT for every key at once (ARGV holds each key's hits and milliseconds left, in turn), so a batched
# and an exact hit on one key count into the same counter with the same time to live. One script call is one
# round trip whatever the number of keys (bounded by the batching table); the keys are on one Redis, never a
# cluster, which could not run them in one script.
_ADD = """
local totals = {}
for i, key in ipairs(KEYS) do
  local hits = tonumber(ARGV[2 * i - 1])
  local count = redis.call('INCRBY', key, hits)
  if count == hits then redis.call('PEXPIRE', key, ARGV[2 * i]) end
  totals[i] = count
end
return totals
"""
_QUOTA = """
local count = redis.call('INCR', KEYS[1])
if count == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
if count <= tonumber(ARGV[2]) then return 0 end
return redis.call('PTTL', KEYS[1])
"""
# A sorted set of the owner's reservations scored by when each ends (the server's clock, in ms): the ended ones
# are dropped, and a new one is added only below the limit. The set lives as long as its last reservation.
_HOLD = """
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[1]) then
  local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
  return math.max(1, tonumber(oldest[2]) - now)
end
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[3])
if redis.call('PTTL', KEYS[1]) < tonumber(ARGV[2]) then redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0
"""
# The server's own clock, so instances whose clocks disagree still share one bucket fairly. Numbers travel as
# strings: Redis turns a Lua number reply into an integer, which would drop the fraction of a second.
_APPEND = """
redis.call('RPUSH', KEYS[1], ARGV[1])
redis.call('LTRIM', KEYS[1], -tonumber(ARGV[2]), -1)
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return 1
"""
_TAKE = """
local rate, burst, max_wait = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local clock = redis.call('TIME')
local now = tonumber(clock[1]) + tonumber(clock[2]) / 1000000
local state = redis.call('HMGET', KEYS[1], 'tokens', 'stamp')
local tokens = tonumber(state[1]) or burst
local stamp = tonumber(state[2]) or now
tokens = math.min(burst, tokens + math.max(0, now - stamp) * rate)
local wait = 0
if tokens < 1 then wait = (1 - tokens) / rate end
if wait > max_wait then return tostring(wait) end
tokens = tokens - 1
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'stamp', tostring(now))
redis.call('PEXPIRE', KEYS[1], math.ceil(((burst - tokens) / rate + 1) * 1000))
return tostring(wait)
"""


class RedisStore(Store):
    """Shared state in Redis (any version with Lua; tested against Debian's redis-server). Keys are namespaced
    ``statuspal-mcp:`` so the database can be shared with other applications.

    `flush_interval` is how often the batched hits are sent (seconds; tests pass a long one and call `flush`),
    `max_batched_keys` how many keys this process may count itself at once."""

    def __init__(
        self, url: str, timeout_seconds: float = 2.0, *, flush_interval: float = 0.1, max_batched_keys: int = DEFAULT_MAX_KEYS,
    ) -> None:
        self._url = url
        self._where = _describe(url)
        self._timeout = timeout_seconds
        self._client: aioredis.Redis | None = None
        self._commands: CommandQueue | None = None
        self._scripts: dict[str, Any] = {}
        self._batched = BatchedCounts(max_batched_keys)
        self._flush_interval = flush_interval
        self._flusher: asyncio.Task[None] | None = None
        self._stop_flushing: asyncio.Event | None = None
        self._flush_failed = False

    async def start(self) -> None:
        client = aioredis.from_url(
            self._url,
            decode_responses=True,
            # Never sent twice: a command whose reply was lost may have run, and running a script again could count
            # a hit twice or refuse a single-use code as already used. The caller's own error path decides instead.
            # (from_url's default today, said here so a change of redis-py's defaults cannot turn it on.)
            retry=Retry(NoBackoff(), 0),
            socket_timeout=self._timeout,
            socket_connect_timeout=self._timeout,
            health_check_interval=30,
        )
        self._client = client
        self._commands = CommandQueue(client)
        self._scripts = {
            name: client.register_script(lua)
            for name, lua in (("claim", _CLAIM), ("revoke", _REVOKE), ("hit", _HIT), ("quota", _QUOTA), ("take", _TAKE),
                              ("append", _APPEND), ("hold", _HOLD), ("add", _ADD))
        }
        await self._run(client.ping())
        self._stop_flushing = asyncio.Event()
        self._flusher = asyncio.create_task(self._flush_every(self._flush_interval, self._stop_flushing), name="redis-store-flush")

    async def check_ready(self) -> None:
        # A write, not a ping: a Redis at maxmemory still answers reads while it refuses every mark.
        await self.set("readyz", "1", 5)

    async def close(self) -> None:
        """Send the batched hits still held here (the flusher's last round), then disconnect."""
        if self._flusher is not None and self._stop_flushing is not None:
            # Stopped between rounds rather than cancelled, which could cut a flush off after Redis counted it.
            self._stop_flushing.set()
            await self._flusher
            self._flusher = None
        if self._commands is not None:
            await self._commands.drain()
            self._commands = None
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    async def claim(self, key: str, ttl: float) -> float | None:
        first = await self._script("claim", key, repr(time.time()), _ms(ttl))
        return None if first is None else float(first)

    async def revoke(self, key: str, ttl: float) -> None:
        await self._script("revoke", key, _ms(ttl))

    async def is_revoked(self, key: str) -> bool:
        return bool(await self._run(self._queue.command("EXISTS", NAMESPACE + key)))

    async def hit(self, key: str, limit: int, window: float, *, batched: bool = False) -> bool:
        if not batched:
            return int(await self._script("hit", key, _ms(window), 1)) <= limit
        while (decided := self._batched.decide(key, limit)) is None:
            landing = self._batched.landing(key)
            if landing is None:
                break
            # Hits of this key decided here are on their way: Redis's answer must count them. Then the table may
            # know enough to decide after all. (`wait`, unlike awaiting the future, leaves it alone if this
            # request is cancelled.)
            await asyncio.wait((landing,))
        if decided is not None:
            return decided
        batch = self._batched.send_one(key, window)
        try:
            total = int(await self._script("hit", key, _ms(window), batch.counts[0]))
        except StoreUnavailable:
            self._batched.lost(batch)
            self._batched.forget()
            raise
        except BaseException:  # cancelled with the request: the hits may or may not have been counted
            self._batched.lost(batch)
            raise
        self._batched.answered(batch, (total,))
        return total <= limit

    async def flush(self) -> None:
        """Send every batched hit held here to Redis, all keys in one round trip, and take Redis's totals as the new
        totals seen. When Redis does not answer, those hits are dropped, with everything the table held, and that
        is logged once until a flush succeeds: they only count towards request budgets, which let requests through
        when the store is down anyway."""
        batch = self._batched.send_all()
        if batch is None:
            return
        try:
            totals = await self._send(batch)
        except StoreUnavailable as exc:
            self._batched.lost(batch)
            self._batched.forget()
            if not self._flush_failed:
                log.warning("batched rate-limit counts were dropped: %s", exc)
            self._flush_failed = True
            return
        except BaseException:
            self._batched.lost(batch)
            raise
        self._flush_failed = False
        self._batched.answered(batch, totals)

    async def _send(self, batch: Batch) -> list[int]:
        if self._client is None:
            raise StoreUnavailable(f"the Redis store at {self._where} is not started")
        args: list[int] = []
        for count, ttl_ms in zip(batch.counts, batch.ttls_ms, strict=True):
            args += (count, ttl_ms)
        totals = await self._run(self._scripts["add"](keys=[NAMESPACE + key for key in batch.keys], args=args))
        return [int(total) for total in totals]

    async def _flush_every(self, interval: float, stop: asyncio.Event) -> None:
        """`flush` every `interval` seconds until `stop` is set, then once more."""
        while not stop.is_set():
            try:
                await asyncio.wait_for(stop.wait(), interval)
            except TimeoutError:
                pass
            try:
                await self.flush()
            except Exception:  # a bug, not Redis (flush handles that): keep counting in Redis on the next round
                log.exception("sending batched rate-limit counts failed")

    async def hold(self, owner: str, limit: int, ttl: float) -> float:
        return int(await self._script("hold", owner, limit, _ms(ttl), secrets.token_hex(8))) / 1000

    async def quota(self, key: str, limit: int, window: float) -> float:
        return max(0, int(await self._script("quota", key, _ms(window), limit))) / 1000

    async def get(self, key: str) -> str | None:
        return await self._run(self._redis.get(NAMESPACE + key))

    async def set(self, key: str, value: str, ttl: float) -> None:
        await self._run(self._redis.set(NAMESPACE + key, value, px=_ms(ttl)))

    @property
    def _redis(self) -> aioredis.Redis:
        if self._client is None:
            raise StoreUnavailable(f"the Redis store at {self._where} is not started")
        return self._client

    @property
    def _queue(self) -> CommandQueue:
        if self._commands is None:
            raise StoreUnavailable(f"the Redis store at {self._where} is not started")
        return self._commands

    async def _script(self, name: str, key: str, *args: Any) -> Any:
        return await self._run(self._queue.script(self._scripts[name], [NAMESPACE + key], list(args)))

    async def _run(self, command: Awaitable[Any]) -> Any:
        try:
            return await command
        except OutOfMemoryError:  # maxmemory reached under noeviction: writes are refused, reads still work
            raise StoreUnavailable(f"the Redis store at {self._where} is full (maxmemory reached)", full=True) from None
        except (TimeoutError, RedisError, OSError) as exc:
            # The type only: a Redis error message can quote the URL, and with it a password.
            raise StoreUnavailable(f"the Redis store at {self._where} did not answer ({type(exc).__name__})") from None

    async def append(self, key: str, value: str, keep: int, ttl: float) -> None:
        await self._script("append", key, value, keep, _ms(ttl))

    async def recent(self, key: str) -> list[str]:
        return list(await self._run(self._redis.lrange(NAMESPACE + key, 0, -1)))

    async def take(self, key: str, rate: float, burst: int, max_wait: float) -> float:
        return float(await self._script("take", key, repr(rate), burst, repr(max_wait)))


def _ms(seconds: float) -> int:
    return max(1, int(seconds * 1000))


def _describe(url: str) -> str:
    """Where the store is, for error messages: scheme, host, port or socket path, never the user or password."""
    parts = urlsplit(url)
    if parts.scheme == "unix":
        return f"unix:{parts.path}"
    host = parts.hostname or "?"
    return f"{parts.scheme}://{host}:{parts.port or 6379}"
