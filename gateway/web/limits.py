"""Inbound budgets on /mcp: how much of the gateway, and of StatusPal through it, one caller may use.

Three counts, each in fixed windows of ``limits.window_seconds`` aligned to the clock (so every instance
agrees when a window ends and the answer can say exactly how long to wait):

- per client address, before credentials are resolved. A stranger needs no valid key to send requests, so
  this is the only budget a flood of made-up keys meets before it costs anything; the address is the one
  `ClientAddresses.bucket` counts (through `server.trusted_proxies`, IPv6 by /64).
- per principal, after. The principal is the StatusPal key id, also for OAuth grants (a grant carries its
  key's id): registering more clients or signing in more often buys no more budget for one key.
- per address, upstream key checks. Checking a key costs a StatusPal call, so a key that is neither known
  good nor known bad is checked only while its address has budget for it.
- for the whole host, and with Redis the whole fleet, upstream key checks a second. Per-address budgets hold
  per address, not in total: a crowd of a thousand addresses, one request each (or through a trusted proxy's
  X-Forwarded-For), cost StatusPal about 940 checks per 1,000 random keys. A token bucket of
  ``limits.key_checks_per_second`` (`Store.take`, so shared through Redis) bounds what any number of addresses
  costs StatusPal, beside the cap on checks in flight. Keys already checked never reach it, so they keep working
  while the bucket is empty; the login page's key checks draw from the same bucket.

Counters go through `Store.hit` under ``rl:`` keys, so with Redis configured every instance shares them.
When the store does not answer, the request budgets let requests through (they protect the gateway's own
time, and the in-process bounds on key checks still hold), while the key-check budget refuses: an unknown key
must never reach StatusPal uncounted.

The two request budgets are counted in batches (``batched=True``): on Redis each request would otherwise cost
two round trips, about half its CPU. Far from the limit an instance counts a request itself, from the fleet's
total Redis last told it plus its own hits since, and sends its counts about every 100 ms, all keys in one round
trip; within the headroom below the limit (a tenth of it, at least 10) each request goes to Redis as before,
with the counts not yet sent, so near the limit the answer is Redis's. What that costs: beyond a budget the
fleet can admit what the other instances had counted and not yet sent, at most about the headroom per other
instance (twice it while a flush is on its way) and never more than each took in about one flush interval; one
instance alone, and any budget of 11 or fewer, stays exact. When Redis is down, counts not yet sent are
dropped, which the fail-open policy already accepts. The key-check budget counts exactly, one round trip each
(`gateway.store.batching` has the details).
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from gateway.store.base import StoreUnavailable

if TYPE_CHECKING:
    from aiohttp import web

    from gateway.config import LimitsSettings
    from gateway.store.base import Store
    from gateway.web.client_address import ClientAddresses

log = logging.getLogger("gateway.web.limits")

# The one bucket of new-key checks. A rate-limit entry like the counters: the memory store may evict it when its
# room for counters is full, which refills it early, the same cost as a counter's window restarting early (and it
# takes that many new counters to happen again), while as a mark it would take room sign-ins need.
_KEY_CHECK_BUCKET = "rl:keycheck:bucket"


@dataclass
class OverBudget(Exception):
    """A request refused before any work: `status` 429 (this caller's budget) or 503 (the gateway's own cap, or
    the store that counts is down); `retry_after` whole seconds; `message` says which budget and the wait."""

    status: int
    retry_after: int
    message: str

    def __str__(self) -> str:
        return f"{self.status}: {self.message}"


class InboundLimits:
    def __init__(
        self, settings: LimitsSettings, store: Store, addresses: ClientAddresses,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.settings = settings
        self._store = store
        self._addresses = addresses
        # Wall-clock time, not monotonic: instances sharing Redis must agree which window it is.
        self.clock = clock
        self._store_failed = False

    async def admit_address(self, request: web.BaseRequest) -> str:
        """Count one request from the request's client address; the address, for the key-check budget."""
        address = self._addresses.bucket(request)
        limit = self.settings.address_requests
        if limit:
            await self._count(f"rl:mcp:addr:{address}", limit, "this address", "requests", fail_open=True, batched=True)
        return address

    async def admit_principal(self, key_id: str) -> None:
        """Count one request of an authenticated caller."""
        limit = self.settings.principal_requests
        if limit:
            await self._count(f"rl:mcp:key:{key_id}", limit, "this API key", "requests", fail_open=True, batched=True)

    async def admit_key_check(self, address: str) -> None:
        """Count one upstream check of a key not seen before, from `address`."""
        await self._count(
            f"rl:keycheck:addr:{address}", self.settings.key_checks_per_address, "this address", "checks of unknown API keys",
            fail_open=False,
        )

    async def admit_new_key_check(self) -> None:
        """Take one upstream check of a new key from the bucket the whole host (with Redis, the fleet) shares;
        OverBudget (503: the gateway's own bound, not this caller's) when it is empty."""
        rate = self.settings.key_checks_per_second
        try:
            # Holding a second's worth: a burst of new users is served at once, a crowd of made-up keys at `rate`.
            wait = await self._store.take(_KEY_CHECK_BUCKET, rate, max(1, math.ceil(rate)), 0.0)
        except StoreUnavailable as exc:
            raise self._store_down(exc) from None
        if wait > 0:
            seconds = max(1, math.ceil(wait))
            raise OverBudget(
                503, seconds, f"Service Unavailable: the gateway is checking as many new API keys with StatusPal as it may ({rate:g} a second); "
                f"try again in {seconds} s"
            )

    def _store_down(self, exc: StoreUnavailable) -> OverBudget:
        """The store cannot count: said in the log once per outage; the refusal for a budget that fails closed."""
        if not self._store_failed:
            log.warning("rate limits cannot be counted: %s", exc)
        self._store_failed = True
        return OverBudget(503, 5, "Service Unavailable: new API keys cannot be checked right now; try again in 5 s")

    async def _count(self, key: str, limit: int, who: str, what: str, *, fail_open: bool, batched: bool = False) -> None:
        window = self.settings.window_seconds
        now = self.clock()
        index = math.floor(now / window)
        remaining = (index + 1) * window - now
        try:
            # The window's index is part of the key, and the counter lives only until the window ends.
            allowed = await self._store.hit(f"{key}:{index}", limit, remaining, batched=batched)
        except StoreUnavailable as exc:
            refusal = self._store_down(exc)
            if fail_open:
                return
            raise refusal from None
        self._store_failed = False
        if not allowed:
            wait = max(1, math.ceil(remaining))
            raise OverBudget(
                429, wait, f"Too Many Requests: {who} has used its {limit} {what} per {window:g} s; try again in {wait} s"
            )
