"""The little shared state the gateway needs, behind one interface, so any instance can answer any request.

Tokens carry everything about a grant, so the store only remembers facts that a token cannot carry about
itself: that a code or refresh token was already used, that a token family was revoked, how often someone
tried the login page. It holds ids and hashes with a time to live, never an API key or a token.

Two backends with the same semantics:

- ``MemoryStore`` (default): one process. Right for development and for a single instance; with several
  instances each would keep its own view, and a code could be redeemed once per instance.
- ``RedisStore`` (``STATUSPAL_MCP_REDIS_URL``): shared by every instance, so a code used on one is refused on
  all, and a revocation on one holds everywhere. Each operation is one atomic command or Lua script.

What may be written is bounded by whoever causes it, never by one cap everyone shares. Two kinds of entry:

- Rate-limit counters (keys starting ``rl:``): losing one only restarts someone's window early, so the
  in-memory store keeps them in their own bounded area and evicts the oldest counter when it is full. A flood
  of counters therefore never makes any other write fail.
- Security marks (everything else: used codes and refresh tokens, revoked families, ended sessions, and the
  ``quota:`` counters that bound them): evicting one would silently re-enable a replay or revive an ended
  session, so they are never evicted. Where a principal could add marks at will (ending sessions, redeeming
  codes, rotating refresh tokens), each write first counts against that principal's hourly quota
  (``Store.quota``); the other marks come at most one per such write (the family a replayed code revokes) or
  one per family (a revocation). So each key can hold only so many at once, and the total grows with the
  number of real users, not with anyone's request rate. The memory store's room for marks is a last line of
  defence: when it is full, new marks raise ``StoreUnavailable`` (503) and ``/readyz`` says so.

Every key is written with a time to live, in both backends, so nothing outlives the token or session it guards.
A Redis used here should run with ``maxmemory-policy noeviction``: an evicting policy could drop a mark, while
noeviction turns a full Redis into refused writes (503), which fail closed.

Failure policy: when the store cannot answer, every operation raises ``StoreUnavailable`` rather than guessing.
Callers fail closed: a code is not redeemed, a refresh is not rotated, a sealed token is not accepted (HTTP 503
``temporarily_unavailable``, so clients retry rather than discard their tokens).
"""

from __future__ import annotations

import heapq
import time
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from redis import asyncio as aioredis
from redis.exceptions import OutOfMemoryError, RedisError

if TYPE_CHECKING:
    from gateway.config import Settings

NAMESPACE = "statuspal-mcp:"
# Keys that only count attempts for a rate limit; the in-memory store may evict them (see the module docstring).
RATE_LIMIT_PREFIX = "rl:"


class StoreUnavailable(Exception):
    """The store did not answer or is full; the operation did not happen. The message names no secret."""

    def __init__(self, message: str, *, full: bool = False) -> None:
        super().__init__(message)
        self.full = full

    @property
    def reason(self) -> str:
        """What a caller is told: full or unreachable, without where the store is (that is for the operator's log)."""
        return "its store is full" if self.full else "its store cannot be reached"


class Store(ABC):
    """Keys are short strings chosen by the caller (``code:<jti>``, ``fam:<id>``, ``rl:ip:<addr>``); TTLs are seconds."""

    async def start(self) -> None:  # noqa: B027  (optional hook: a store without a connection has nothing to do)
        """Connect (and check the connection) before the server accepts requests."""

    async def close(self) -> None:  # noqa: B027  (optional hook: a store without a connection has nothing to do)
        """Release connections on shutdown."""

    async def check_ready(self) -> None:
        """Raise StoreUnavailable, saying why, when the store cannot take the writes requests need (for /readyz)."""
        await self.get("readyz")

    @abstractmethod
    async def quota(self, key: str, limit: int, window: float) -> float:
        """Count one write a principal causes, in a fixed window of `window` seconds that opens at the first one.
        0.0 while the count is within `limit`; otherwise the seconds until the window ends, for a Retry-After.
        `key` names the kind and the principal (``quota:session-end:<key id>``) and is never an ``rl:`` key: a
        quota counter is kept like the marks it guards, because one that could be evicted would let its
        principal write past the bound."""

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
        count is within `limit` (allowed), False once it is exceeded. Under an ``rl:`` key the memory store may
        evict the count when its room for counters is full, which only restarts that window."""

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


class _Area:
    """Entries with deadlines and a size bound. Expired entries are dropped as their deadlines pass (a heap of
    deadlines, so each write costs O(log n)); dicts keep insertion order, so the first live entry is the oldest."""

    def __init__(self, max_entries: int, evict_when_full: bool, what: str) -> None:
        self.max = max_entries
        self.evict_when_full = evict_when_full
        self.what = what
        # key -> (value, monotonic deadline)
        self.entries: dict[str, tuple[str, float]] = {}
        self._deadlines: list[tuple[float, str]] = []

    def live(self, key: str, now: float) -> tuple[str, float] | None:
        entry = self.entries.get(key)
        if entry is None:
            return None
        if entry[1] <= now:
            del self.entries[key]
            return None
        return entry

    def full(self, now: float) -> bool:
        self.expire(now)
        return len(self.entries) >= self.max

    def full_error(self) -> StoreUnavailable:
        return StoreUnavailable(f"the in-memory store is full ({self.max} live {self.what}); configure Redis or raise its bound", full=True)

    def put(self, key: str, value: str, deadline: float, now: float) -> None:
        previous = self.entries.get(key)
        if previous is None and self.full(now):
            if not self.evict_when_full:
                raise self.full_error()
            del self.entries[next(iter(self.entries))]
        self.entries[key] = (value, deadline)
        if previous is None or previous[1] != deadline:  # a count going up keeps its deadline: no heap work
            heapq.heappush(self._deadlines, (deadline, key))
        if len(self._deadlines) > 2 * len(self.entries) + 1024:  # rewritten keys leave stale heap items behind
            self._deadlines = [(d, k) for k, (_, d) in self.entries.items()]
            heapq.heapify(self._deadlines)

    def increment(self, key: str, window: float, now: float) -> tuple[int, float]:
        """One more on the count at `key`: (the count now, when its window ends). A live count keeps its deadline;
        a missing or expired one starts at 1 with a window from `now`."""
        entry = self.entries.get(key)
        if entry is not None and entry[1] > now:
            # The usual case, on every /mcp request: an unchanged deadline means no heap item and no bound to check.
            count = int(entry[0]) + 1
            self.entries[key] = (str(count), entry[1])
            return count, entry[1]
        if entry is not None:
            del self.entries[key]  # expired, as live() would have found it
        self.put(key, "1", now + window, now)
        return 1, now + window

    def expire(self, now: float) -> None:
        heap = self._deadlines
        while heap and heap[0][0] <= now:
            deadline, key = heapq.heappop(heap)
            entry = self.entries.get(key)
            if entry is not None and entry[1] == deadline:
                del self.entries[key]


class MemoryStore(Store):
    """Two bounded dicts with deadlines, one for security marks and one for rate-limit counters. Safe under
    asyncio because no operation awaits between read and write.

    When `max_marks` marks are live, a new mark raises StoreUnavailable instead of evicting: evicting a "used"
    or "revoked" mark would silently re-enable a replay. When `max_counters` counters are live, the oldest
    counter goes: that only restarts one window early, and it keeps counters from ever blocking a mark.
    `clock` (monotonic seconds) is injectable so tests can move time instead of sleeping.
    """

    def __init__(self, max_marks: int = 500_000, max_counters: int = 200_000, clock: Callable[[], float] = time.monotonic) -> None:
        self._marks = _Area(max_marks, evict_when_full=False, what="entries")
        self._counters = _Area(max_counters, evict_when_full=True, what="counters")
        self._clock = clock

    async def check_ready(self) -> None:
        if self._marks.full(self._clock()):
            raise self._marks.full_error()

    async def claim(self, key: str, ttl: float) -> float | None:
        found = self._live(key)
        if found is not None:
            return float(found)
        self._put(key, repr(time.time()), ttl)
        return None

    async def revoke(self, key: str, ttl: float) -> None:
        now = self._clock()
        entry = self._area(key).live(key, now)
        if entry is not None and entry[1] >= now + ttl:
            return
        self._put(key, "1", ttl)

    async def is_revoked(self, key: str) -> bool:
        return self._live(key) is not None

    async def hit(self, key: str, limit: int, window: float) -> bool:
        return self._area(key).increment(key, window, self._clock())[0] <= limit  # _count's work, a call fewer: twice a request

    async def quota(self, key: str, limit: int, window: float) -> float:
        count, deadline = self._count(key, window)
        return 0.0 if count <= limit else max(0.0, deadline - self._clock())

    async def get(self, key: str) -> str | None:
        return self._live(key)

    async def set(self, key: str, value: str, ttl: float) -> None:
        self._put(key, value, ttl)

    def _count(self, key: str, window: float) -> tuple[int, float]:
        """One more in the window at `key`: (the count now, when the window ends). The window keeps its deadline."""
        return self._area(key).increment(key, window, self._clock())

    def _area(self, key: str) -> _Area:
        return self._counters if key.startswith(RATE_LIMIT_PREFIX) else self._marks

    def _live(self, key: str) -> str | None:
        entry = self._area(key).live(key, self._clock())
        return None if entry is None else entry[0]

    def _put(self, key: str, value: str, ttl: float) -> None:
        now = self._clock()
        self._area(key).put(key, value, now + ttl, now)

    async def take(self, key: str, rate: float, burst: int, max_wait: float) -> float:
        now = self._clock()
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
_QUOTA = """
local count = redis.call('INCR', KEYS[1])
if count == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
if count <= tonumber(ARGV[2]) then return 0 end
return redis.call('PTTL', KEYS[1])
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
        self._scripts = {
            name: client.register_script(lua)
            for name, lua in (("claim", _CLAIM), ("revoke", _REVOKE), ("hit", _HIT), ("quota", _QUOTA), ("take", _TAKE))
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

    async def take(self, key: str, rate: float, burst: int, max_wait: float) -> float:
        return float(await self._script("take", key, repr(rate), burst, repr(max_wait)))


def open_store(settings: Settings) -> Store:
    """Redis when ``STATUSPAL_MCP_REDIS_URL`` is set, else memory. Call ``start()`` before use."""
    if settings.secrets.redis_url:
        return RedisStore(settings.secrets.redis_url)
    return MemoryStore(max_marks=settings.store.memory_max_entries, max_counters=settings.store.memory_max_counters)


def _ms(seconds: float) -> int:
    return max(1, int(seconds * 1000))


def _describe(url: str) -> str:
    """Where the store is, for error messages: scheme, host, port or socket path, never the user or password."""
    parts = urlsplit(url)
    if parts.scheme == "unix":
        return f"unix:{parts.path}"
    host = parts.hostname or "?"
    return f"{parts.scheme}://{host}:{parts.port or 6379}"
