"""The shared store: Redis, so every instance sees the same marks and counters (`gateway.store.base` says why)."""

from __future__ import annotations

import time
from collections.abc import Awaitable
from typing import Any
from urllib.parse import urlsplit

from redis import asyncio as aioredis
from redis.exceptions import OutOfMemoryError, RedisError

from gateway.store.base import NAMESPACE, Store, StoreUnavailable

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
_HIT = """
local count = redis.call('INCR', KEYS[1])
if count == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
return count
"""
_QUOTA = """
local count = redis.call('INCR', KEYS[1])
if count == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
if count <= tonumber(ARGV[2]) then return 0 end
return redis.call('PTTL', KEYS[1])
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
    ``statuspal-mcp:`` so the database can be shared with other applications."""

    def __init__(self, url: str, timeout_seconds: float = 2.0) -> None:
        self._url = url
        self._where = _describe(url)
        self._timeout = timeout_seconds
        self._client: aioredis.Redis | None = None
        self._scripts: dict[str, Any] = {}

    async def start(self) -> None:
        client = aioredis.from_url(
            self._url,
            decode_responses=True,
            socket_timeout=self._timeout,
            socket_connect_timeout=self._timeout,
            health_check_interval=30,
        )
        self._client = client
        self._scripts = {
            name: client.register_script(lua)
            for name, lua in (("claim", _CLAIM), ("revoke", _REVOKE), ("hit", _HIT), ("quota", _QUOTA), ("take", _TAKE),
                              ("append", _APPEND))
        }
        await self._run(client.ping())

    async def check_ready(self) -> None:
        # A write, not a ping: a Redis at maxmemory still answers reads while it refuses every mark.
        await self.set("readyz", "1", 5)

    async def close(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    async def claim(self, key: str, ttl: float) -> float | None:
        first = await self._script("claim", key, repr(time.time()), _ms(ttl))
        return None if first is None else float(first)

    async def revoke(self, key: str, ttl: float) -> None:
        await self._script("revoke", key, _ms(ttl))

    async def is_revoked(self, key: str) -> bool:
        return bool(await self._run(self._redis.exists(NAMESPACE + key)))

    async def hit(self, key: str, limit: int, window: float) -> bool:
        return int(await self._script("hit", key, _ms(window))) <= limit

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

    async def _script(self, name: str, key: str, *args: Any) -> Any:
        if self._client is None:
            raise StoreUnavailable(f"the Redis store at {self._where} is not started")
        return await self._run(self._scripts[name](keys=[NAMESPACE + key], args=list(args)))

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
