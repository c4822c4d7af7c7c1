"""The in-process store: one process's memory, bounded per kind of entry (`gateway.store.base` says why)."""

from __future__ import annotations

import heapq
import time
from collections.abc import Callable

import orjson

from gateway.store.base import HISTORY_PREFIX, RATE_LIMIT_PREFIX, Store, StoreUnavailable


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
    `clock` (monotonic seconds) is injectable, and may be replaced, so tests can move time instead of sleeping.
    """

    def __init__(self, max_marks: int = 500_000, max_counters: int = 200_000, clock: Callable[[], float] = time.monotonic) -> None:
        self._marks = _Area(max_marks, evict_when_full=False, what="entries")
        self._counters = _Area(max_counters, evict_when_full=True, what="counters")
        self.clock = clock
        # owner -> heap of its reservations' deadlines. Each reservation stands for a mark, so this grows no further
        # than the marks do; owners whose reservations have all ended are dropped now and then.
        self._held: dict[str, list[float]] = {}

    async def check_ready(self) -> None:
        if self._marks.full(self.clock()):
            raise self._marks.full_error()

    async def claim(self, key: str, ttl: float) -> float | None:
        found = self._live(key)
        if found is not None:
            return float(found)
        self._put(key, repr(time.time()), ttl)
        return None

    async def revoke(self, key: str, ttl: float) -> None:
        now = self.clock()
        entry = self._area(key).live(key, now)
        if entry is not None and entry[1] >= now + ttl:
            return
        self._put(key, "1", ttl)

    async def is_revoked(self, key: str) -> bool:
        return self._live(key) is not None

    async def hit(self, key: str, limit: int, window: float, *, batched: bool = False) -> bool:
        # In-process, so exact and cheap already: `batched` changes nothing here.
        return self._area(key).increment(key, window, self.clock())[0] <= limit  # _count's work, a call fewer: twice a request

    async def hold(self, owner: str, limit: int, ttl: float) -> float:
        now = self.clock()
        held = self._held.setdefault(owner, [])
        while held and held[0] <= now:
            heapq.heappop(held)
        if len(held) >= limit:
            return held[0] - now
        heapq.heappush(held, now + ttl)
        if len(self._held) > len(self._marks.entries) + 1024:
            self._held = {o: h for o, h in self._held.items() if h and max(h) > now}
        return 0.0

    async def quota(self, key: str, limit: int, window: float) -> float:
        count, deadline = self._count(key, window)
        return 0.0 if count <= limit else max(0.0, deadline - self.clock())

    async def get(self, key: str) -> str | None:
        return self._live(key)

    async def set(self, key: str, value: str, ttl: float) -> None:
        self._put(key, value, ttl)

    def _count(self, key: str, window: float) -> tuple[int, float]:
        """One more in the window at `key`: (the count now, when the window ends). The window keeps its deadline."""
        return self._area(key).increment(key, window, self.clock())

    async def append(self, key: str, value: str, keep: int, ttl: float) -> None:
        items = orjson.loads(self._live(key) or "[]")
        items.append(value)
        self._put(key, orjson.dumps(items[-keep:]).decode(), ttl)

    async def recent(self, key: str) -> list[str]:
        return list(orjson.loads(self._live(key) or "[]"))

    def _area(self, key: str) -> _Area:
        return self._counters if key.startswith((RATE_LIMIT_PREFIX, HISTORY_PREFIX)) else self._marks

    def _live(self, key: str) -> str | None:
        entry = self._area(key).live(key, self.clock())
        return None if entry is None else entry[0]

    def _put(self, key: str, value: str, ttl: float) -> None:
        now = self.clock()
        self._area(key).put(key, value, now + ttl, now)

    async def take(self, key: str, rate: float, burst: int, max_wait: float) -> float:
        now = self.clock()
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
