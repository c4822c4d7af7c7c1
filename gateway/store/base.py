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
  number of real users, not with anyone's request rate. An hourly quota alone still let one key pile up marks
  that outlive the hour (a used refresh token's mark lives as long as the token, a month): about 17,000 at
  steady state, so a few dozen keys could fill the store. Each such write therefore also reserves room among
  the marks its key holds (``Store.hold``), at most ``store.entries_per_key``, a small fraction of the store.
  The memory store's room for marks is a last line of defence: when it is full, new marks raise
  ``StoreUnavailable`` (503) and ``/readyz`` says so.

Every key is written with a time to live, in both backends, so nothing outlives the token or session it guards.
A Redis used here should run with ``maxmemory-policy noeviction``: an evicting policy could drop a mark, while
noeviction turns a full Redis into refused writes (503), which fail closed.

Failure policy: when the store cannot answer, every operation raises ``StoreUnavailable`` rather than guessing.
Callers fail closed: a code is not redeemed, a refresh is not rotated, a sealed token is not accepted (HTTP 503
``temporarily_unavailable``, so clients retry rather than discard their tokens).
"""

from __future__ import annotations

from abc import ABC, abstractmethod

NAMESPACE = "statuspal-mcp:"
# Keys that only count attempts for a rate limit; the in-memory store may evict them (see the module docstring).
RATE_LIMIT_PREFIX = "rl:"
# Keys of the audit history (`append`/`recent`): a record for people to read, never a guard, so the in-memory
# store may evict them like counters rather than refuse a security mark for their sake.
HISTORY_PREFIX = "history:"


class StoreUnavailable(Exception):
    """The store did not answer or is full; the operation did not happen. The message names no secret."""

    def __init__(self, message: str, *, full: bool = False) -> None:
        super().__init__(message)
        self.full = full

    @property
    def reason(self) -> str:
        """What a caller is told: full or unreachable, without where the store is (that is for the operator's log)."""
        return "its store is full" if self.full else "its store cannot be reached"


def held_by(key_id: str) -> str:
    """The `Store.hold` owner for everything one API key makes the store keep (session ends, token rotations, used
    approvals): one name, so the kinds share one bound (``store.entries_per_key``) instead of one each."""
    return f"held:{key_id}"


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
    async def hold(self, owner: str, limit: int, ttl: float) -> float:
        """Reserve room for one more mark `owner` causes, living `ttl` seconds: 0.0 while `owner` holds fewer than
        `limit` live reservations (and now one more); otherwise nothing is reserved and the seconds until its
        oldest reservation ends come back, for a Retry-After. `owner` names the principal (`held_by`)."""

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
    async def hit(self, key: str, limit: int, window: float, *, batched: bool = False) -> bool:
        """Count one attempt in a fixed window of `window` seconds that opens at the first attempt; True while the
        count is within `limit` (allowed), False once it is exceeded. Under an ``rl:`` key the memory store may
        evict the count when its room for counters is full, which only restarts that window.

        `batched`: the caller accepts an answer that is exact near the limit but not far from it, and a few
        attempts beyond the limit across instances (`gateway.store.batching` says how many), so that far from
        the limit the count costs no round trip. For budgets that let requests through when the store is down,
        under keys that name their window (`window` is then the seconds left of it). The memory store counts in
        its own process, exactly, either way; everything a guard depends on counts exactly (the default)."""

    @abstractmethod
    async def get(self, key: str) -> str | None: ...

    @abstractmethod
    async def set(self, key: str, value: str, ttl: float) -> None:
        """Store a non-secret value (never a key or a token) for `ttl` seconds."""

    @abstractmethod
    async def append(self, key: str, value: str, keep: int, ttl: float) -> None:
        """Add `value` to the list at `key`, keep only its newest `keep` items, and let the list expire `ttl` seconds
        after this write. For keys under HISTORY_PREFIX only: a bounded record, evictable under memory pressure."""

    @abstractmethod
    async def recent(self, key: str) -> list[str]:
        """The list at `key`, oldest first (empty when there is none)."""

    @abstractmethod
    async def take(self, key: str, rate: float, burst: int, max_wait: float) -> float:
        """Take one token from the bucket `key` (`rate` tokens a second, holding at most `burst`) and return how many
        seconds the caller must wait before using it: 0 when one is there now. Reservation style, so concurrent
        callers queue in order. When the wait would exceed `max_wait`, nothing is taken and that wait is returned,
        so a caller that gives up leaves the bucket as it found it."""
