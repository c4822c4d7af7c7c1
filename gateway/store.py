"""The little shared state the gateway needs, behind one interface (DESIGN decision 2).

Tokens carry everything about a grant, so the store only remembers facts that a token cannot carry about
itself: that a code or refresh token was already used, that a token family was revoked, how often someone
tried the login page. It holds ids and hashes with a time to live, never an API key or a token.

Two backends with the same semantics:

- ``MemoryStore`` (default): one process. Right for development and for a single instance; with several
  instances each would keep its own view, and a code could be redeemed once per instance.
- ``RedisStore`` (``STATUSPAL_MCP_REDIS_URL``): shared by every instance, so a code used on one is refused on
  all, and a revocation on one holds everywhere. Each operation is one atomic command or Lua script.

Failure policy: when the store cannot answer, every operation raises ``StoreUnavailable`` rather than guessing.
Callers fail closed: a code is not redeemed, a refresh is not rotated, a sealed token is not accepted (HTTP 503
``temporarily_unavailable``, so clients retry rather than discard their tokens).
"""

from __future__ import annotations

import asyncio
import heapq
import time
from abc import ABC, abstractmethod
from typing import TYPE_CHECKING, Any, Awaitable
from urllib.parse import urlsplit

from redis import asyncio as aioredis
from redis.exceptions import RedisError

if TYPE_CHECKING:
    from gateway.config import Settings

NAMESPACE = "statuspal-mcp:"


class StoreUnavailable(Exception):
    """The shared store did not answer; the operation did not happen. The message names no secret."""


class Store(ABC):
    """Keys are short strings chosen by the caller (``code:<jti>``, ``fam:<id>``, ``rl:ip:<addr>``); TTLs are seconds."""

    async def start(self) -> None:
        """Connect (and check the connection) before the server accepts requests."""

    async def close(self) -> None:
        """Release connections on shutdown."""

    @abstractmethod
    async def claim(self, key: str, ttl: float) -> float | None:
        """Mark `key` as used now, for `ttl` seconds. None if this call was the first; otherwise the wall-clock time
        (epoch seconds) of the first use, so a caller can tell a retry seconds later from a replay days later."""

    async def use_once(self, key: str, ttl: float) -> bool:
        """True exactly once per `key` within `ttl` (single-use authorization codes)."""
        return await self.claim(key, ttl) is None

    @abstractmethod
    async def revoke(self, key: str, ttl: float) -> None:
        """Mark `key` revoked for at least `ttl` seconds. A shorter later revocation never shortens an earlier one."""

    @abstractmethod
    async def is_revoked(self, key: str) -> bool: ...

    @abstractmethod
    async def hit(self, key: str, limit: int, window: float) -> bool:
        """Count one attempt in a fixed window of `window` seconds that opens at the first attempt; True while the
        count is within `limit` (allowed), False once it is exceeded."""

    @abstractmethod
    async def get(self, key: str) -> str | None: ...

    @abstractmethod
    async def set(self, key: str, value: str, ttl: float) -> None:
        """Store a non-secret value (never a key or a token) for `ttl` seconds."""

    @abstractmethod
    async def take(self, key: str, rate: float, burst: int, max_wait: float) -> float:
        """Take one token from the bucket `key` (`rate` tokens a second, holding at most `burst`) and return how many
        seconds the caller must wait before using it: 0 when one is there now. Reservation style, so concurrent
        callers queue in order. When the wait would exceed `max_wait`, nothing is taken and that wait is returned,
        so a caller that gives up leaves the bucket as it found it."""


class MemoryStore(Store):
    """A dict with deadlines, bounded. Safe under asyncio because no operation awaits between read and write.

    Expired entries are dropped as their deadlines pass (a heap of deadlines, so each write costs O(log n)).
    When `max_entries` live entries exist, new writes raise StoreUnavailable instead of evicting: evicting a
    "used" or "revoked" mark would silently re-enable a replay.
    """

    def __init__(self, max_entries: int = 500_000) -> None:
        self._max = max_entries
        # key -> (value, monotonic deadline)
        self._entries: dict[str, tuple[str, float]] = {}
        self._deadlines: list[tuple[float, str]] = []

    async def claim(self, key: str, ttl: float) -> float | None:
        found = self._live(key)
        if found is not None:
            return float(found)
        self._put(key, repr(time.time()), ttl)
        return None

    async def revoke(self, key: str, ttl: float) -> None:
        entry = self._entries.get(key)
        deadline = time.monotonic() + ttl
        if entry is not None and entry[1] >= deadline:
            return
        self._put(key, "1", ttl)

    async def is_revoked(self, key: str) -> bool:
        return self._live(key) is not None

    async def hit(self, key: str, limit: int, window: float) -> bool:
        found = self._live(key)
        if found is None:
            self._put(key, "1", window)
            return 1 <= limit
        count = int(found) + 1
        self._entries[key] = (str(count), self._entries[key][1])  # the window keeps its original deadline
        return count <= limit

    async def get(self, key: str) -> str | None:
        return self._live(key)

    async def set(self, key: str, value: str, ttl: float) -> None:
        self._put(key, value, ttl)

    def _live(self, key: str) -> str | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        if entry[1] <= time.monotonic():
            del self._entries[key]
            return None
        return entry[0]

    def _put(self, key: str, value: str, ttl: float) -> None:
        now = time.monotonic()
        self._expire(now)
        if key not in self._entries and len(self._entries) >= self._max:
            raise StoreUnavailable(f"the in-memory store is full ({self._max} live entries); configure Redis for this load")
        deadline = now + ttl
        self._entries[key] = (value, deadline)
        heapq.heappush(self._deadlines, (deadline, key))
        if len(self._deadlines) > 2 * len(self._entries) + 1024:  # rewritten keys leave stale heap items behind
            self._deadlines = [(d, k) for k, (_, d) in self._entries.items()]
            heapq.heapify(self._deadlines)

    def _expire(self, now: float) -> None:
        heap = self._deadlines
        while heap and heap[0][0] <= now:
            deadline, key = heapq.heappop(heap)
            entry = self._entries.get(key)
            if entry is not None and entry[1] == deadline:
                del self._entries[key]

    async def take(self, key: str, rate: float, burst: int, max_wait: float) -> float:
        now = time.monotonic()
        found = self._live(key)
        tokens, stamp = (float(burst), now) if found is None else map(float, found.split(":"))
        tokens = min(float(burst), tokens + (now - stamp) * rate)
        wait = 0.0 if tokens >= 1 else (1 - tokens) / rate
        if wait > max_wait:
            return wait
        tokens -= 1
        # Kept until the bucket would be full again; after that a fresh bucket is the same thing.
        self._put(key, f"{tokens!r}:{now!r}", (burst - tokens) / rate + 1)
        return wait


# Each script is atomic on the server: no other client's command runs between its reads and writes.
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
# The server's own clock, so instances whose clocks disagree still share one bucket fairly. Numbers travel as
# strings: Redis turns a Lua number reply into an integer, which would drop the fraction of a second.
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
        self._scripts = {name: client.register_script(lua) for name, lua in (("claim", _CLAIM), ("revoke", _REVOKE), ("hit", _HIT), ("take", _TAKE))}
        await self._run(client.ping())

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
        except (RedisError, OSError, asyncio.TimeoutError) as exc:
            # The type only: a Redis error message can quote the URL, and with it a password.
            raise StoreUnavailable(f"the Redis store at {self._where} did not answer ({type(exc).__name__})") from None

    async def take(self, key: str, rate: float, burst: int, max_wait: float) -> float:
        return float(await self._script("take", key, repr(rate), burst, repr(max_wait)))


def open_store(settings: "Settings") -> Store:
    """Redis when ``STATUSPAL_MCP_REDIS_URL`` is set, else memory. Call ``start()`` before use."""
    if settings.secrets.redis_url:
        return RedisStore(settings.secrets.redis_url)
    return MemoryStore()


def _ms(seconds: float) -> int:
    return max(1, int(seconds * 1000))


def _describe(url: str) -> str:
    """Where the store is, for error messages: scheme, host, port or socket path, never the user or password."""
    parts = urlsplit(url)
    if parts.scheme == "unix":
        return f"unix:{parts.path}"
    host = parts.hostname or "?"
    return f"{parts.scheme}://{host}:{parts.port or 6379}"
