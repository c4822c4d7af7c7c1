"""Hits on shared counters that this process counts itself while far from their limit, and sends to Redis later.

Counting a request budget in Redis costs a round trip per request, and redis-py's share of that was half the
CPU of a cached /mcp request. Far from its limit a count needs no such precision: whether 41 or 43 of 6,000
requests were made this minute changes no answer. So `RedisStore.hit(..., batched=True)` asks this table
first, and it decides from what it knows: the fleet's total as Redis last answered it for that key, plus the
hits counted here since (sent or not). The unsent hits go to Redis together, for every key in one round trip,
about every 100 ms (`RedisStore.flush`), and Redis's answers become the new totals seen.

Near the limit the table decides nothing: within the headroom below it (`headroom`), the hit goes to Redis at
once carrying the key's unsent hits, and Redis's count is the answer. It first waits for hits of the key already
on their way there, so one instance alone is exact. A key the table does not know (its first hit here, or one
quiet since the last flush) goes to Redis the same way, so a total seen is never much more than one flush
interval old; and so does the hit after `headroom` unsent ones, so a process never holds back more than that
per key, however fast requests come (a busy key costs one round trip per `headroom` hits, not one per hit). A
key whose total seen is already past its limit is refused here: counts only grow within a window, so Redis
would refuse it too.

What that costs in precision: beyond the limit the fleet may admit what the other instances had counted and not
yet sent when Redis's count reached it. That is at most about the headroom per other instance (up to twice it
while a flush is on its way), and never more than what each took in about one flush interval. One instance is
exact, and so is any budget of 11 or fewer, which never leaves Redis.

The table is bounded (`max_keys`): when it is full, a key it does not know keeps going to Redis on every hit,
as it did before batching, so a flood of addresses costs round trips, never memory. An entry lives until its
window ends (the key names its window; `window` is the seconds left of it) or until a flush finds it idle.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

# At most this many keys, which is about as many clients as one process sees within one flush interval.
DEFAULT_MAX_KEYS = 4096
# The headroom is a tenth of the limit: the last tenth before the limit is Redis's to decide, and no process
# holds back more than a tenth unsent, so an overshoot is at most about a tenth per other instance. A larger
# share would tighten that, at the cost of more round trips for busy keys (one per headroom's worth of hits)
# and for keys near their limit (one per hit in the headroom; past the limit refusals are local again). At
# least 10: under 100 a window a tenth is a handful, which busy instances exceed at once, and such a budget sees
# too few requests for batching to save anything; a budget of 11 or fewer then never leaves Redis (its first
# hit there makes the total seen at least 1, and nothing at or above limit - 10 is decided here).
MIN_HEADROOM = 10


def headroom(limit: int) -> int:
    """How many hits below `limit` always go to Redis at once, and how many one process may hold unsent for a key
    (see MIN_HEADROOM)."""
    return max(MIN_HEADROOM, limit // 10)


@dataclass(slots=True)
class _Entry:
    seen: int  # the fleet's total as Redis last answered it
    deadline: float  # monotonic seconds: when the key's window ends
    unsent: int = 0  # hits counted here and not yet sent
    sending: int = 0  # hits on their way to Redis, not yet answered
    # The latest call in flight carrying hits decided here: a hit sent to Redis waits for it, so that Redis's
    # answer includes every hit this process counted before it.
    landing: asyncio.Future[None] | None = None


@dataclass(slots=True)
class Batch:
    """Hits on their way to Redis in one call: per key, its entry (None when the table does not know it yet), how
    many hits, and the milliseconds its window has left (the counter's time to live, should Redis not have it)."""

    keys: list[str] = field(default_factory=list)
    entries: list[_Entry | None] = field(default_factory=list)
    counts: list[int] = field(default_factory=list)
    ttls_ms: list[int] = field(default_factory=list)
    # When the window of a key the table does not know yet ends (monotonic seconds), should Redis's answer add it.
    window_ends: float = 0.0
    done: asyncio.Future[None] | None = None

    def add(self, key: str, entry: _Entry | None, count: int, ttl: float) -> None:
        self.keys.append(key)
        self.entries.append(entry)
        self.counts.append(count)
        self.ttls_ms.append(max(1, int(ttl * 1000)))


class BatchedCounts:
    """This process's view of the counters it counts in batches. Not thread-safe: one event loop, and no method
    awaits, so each decision and its bookkeeping happen together."""

    def __init__(self, max_keys: int = DEFAULT_MAX_KEYS, clock: Callable[[], float] = time.monotonic) -> None:
        self.max_keys = max_keys
        self.clock = clock
        self._entries: dict[str, _Entry] = {}

    def __len__(self) -> int:
        return len(self._entries)

    def decide(self, key: str, limit: int) -> bool | None:
        """Count one hit here if the answer is certain enough: True (allowed) far below `limit`, False once the total
        seen is past it. None when the hit must go to Redis (`send_one`)."""
        entry = self._entries.get(key)
        if entry is None:
            return None
        if entry.deadline <= self.clock():
            del self._entries[key]
            return None
        known = entry.seen + entry.unsent  # counted in this window for certain: the unsent hits are in no total seen
        if known >= limit:
            entry.unsent += 1  # still sent, as an exact hit's count would be, so the other instances see it
            return False
        room = headroom(limit)
        # Those in flight may or may not be in `seen`: count them. And hold at most `room` unsent: the next hit takes
        # them to Redis, so what the other instances cannot see yet stays within the headroom however fast requests
        # come (one round trip per `room` hits, not per hit).
        if known + entry.sending < limit - room and entry.unsent < room:
            entry.unsent += 1
            return True
        return None

    def landing(self, key: str) -> asyncio.Future[None] | None:
        """The call in flight that carries hits of `key` decided here, for a hit about to go to Redis to wait for."""
        entry = self._entries.get(key)
        if entry is None or entry.landing is None or entry.landing.done():
            return None
        return entry.landing

    def send_one(self, key: str, window: float) -> Batch:
        """One hit going to Redis now, with the key's unsent hits: they count before it, and in flight they keep
        the table from deciding the next hits as if they had not been made."""
        now = self.clock()
        entry = self._entries.get(key)
        if entry is not None and entry.deadline <= now:
            del self._entries[key]
            entry = None
        batch = Batch(window_ends=now + window)
        if entry is None:
            batch.add(key, None, 1, window)
            return batch
        count = 1 + entry.unsent
        entry.unsent = 0
        entry.sending += count
        if count > 1:
            batch.done = entry.landing = asyncio.get_running_loop().create_future()
        batch.add(key, entry, count, entry.deadline - now)
        return batch

    def send_all(self) -> Batch | None:
        """Every key's unsent hits, for one flush; None when there are none. Entries whose window has ended go,
        with their unsent hits (they count in a window nobody asks about any more), and so do entries idle since
        the last flush: the next hit of such a key goes to Redis and brings its total up to date."""
        if not self._entries:
            return None
        now = self.clock()
        batch = Batch()
        kept: dict[str, _Entry] = {}
        for key, entry in self._entries.items():
            if entry.deadline <= now:
                continue
            if entry.unsent:
                if batch.done is None:
                    batch.done = asyncio.get_running_loop().create_future()
                batch.add(key, entry, entry.unsent, entry.deadline - now)
                entry.sending += entry.unsent
                entry.unsent = 0
                entry.landing = batch.done
                kept[key] = entry
            elif entry.sending:
                kept[key] = entry
        self._entries = kept
        return batch if batch.keys else None

    def answered(self, batch: Batch, totals: Sequence[int]) -> None:
        """Redis's totals after `batch`'s hits: the new totals seen. A key the table did not know is added while
        there is room; when it is full, that key's hits keep going to Redis."""
        for key, entry, count, total in zip(batch.keys, batch.entries, batch.counts, totals, strict=True):
            if entry is None:
                entry = self._entries.get(key)
                if entry is None:
                    if len(self._entries) < self.max_keys:
                        self._entries[key] = _Entry(seen=total, deadline=batch.window_ends)
                    continue
            else:
                entry.sending -= count
            # Answers may come back in another order than Redis ran them; a count only grows within its window.
            entry.seen = max(entry.seen, total)
        self._land(batch)

    def lost(self, batch: Batch) -> None:
        """Redis did not answer: the batch's hits are not counted anywhere (the budgets counted this way let
        requests through when the store is down, so a few uncounted ones are what that policy accepts)."""
        for entry, count in zip(batch.entries, batch.counts, strict=True):
            if entry is not None:
                entry.sending -= count
        self._land(batch)

    def forget(self) -> None:
        """Drop every entry and the hits they hold unsent, when Redis stops answering: until it answers again each hit
        goes there and fails as it did before batching (the caller lets the request through and logs the outage
        once), rather than being decided from totals that can no longer be brought up to date."""
        self._entries = {}

    @staticmethod
    def _land(batch: Batch) -> None:
        if batch.done is not None and not batch.done.done():
            batch.done.set_result(None)
