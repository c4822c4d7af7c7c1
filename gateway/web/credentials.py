"""From the `Authorization` header to the caller's StatusPal API key.

The bearer value is routed on its shape, so one value can never mean two things:

- ``sk_…`` is a direct developer key (Claude Code, Cursor). It is checked against the StatusPal API once and
  the success is cached by a hash of the key for ``statuspal.key_cache_seconds``; the key itself is only ever
  sent to the configured StatusPal base URL. Anyone can make up a well-formed key, and each check is a
  StatusPal call on the gateway's behalf, so checks are bounded four ways: a rejection is remembered for
  ``limits.rejected_key_cache_seconds`` (the same bad key twice costs one call), each client address has a
  budget of checks (`gateway.web.limits`), only ``limits.key_checks_in_flight`` checks run at once, and the
  host (with Redis, the fleet) makes at most ``limits.key_checks_per_second``.
- a compact JWE whose ``kid`` is in our keyring is a sealed OAuth access token; the access-token verifier
  handed in (`gateway.auth.access`) unseals it and checks its type, audience, expiry and revocation.
- anything else is 401 with the ``resource_metadata`` challenge (and the scopes to ask for), so OAuth-capable
  clients start discovery.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import TYPE_CHECKING

from gateway.auth.identity import API_KEY_SHAPE, AuthError, Credentials, key_digest, key_id_of_digest
from gateway.auth.scopes import READ, TOOL_SCOPES, WRITE
from gateway.statuspal.errors import UpstreamAuthError, UpstreamError, UpstreamUnavailable
from gateway.web.limits import OverBudget

if TYPE_CHECKING:
    from gateway.auth.access import AccessTokenVerifier
    from gateway.config import Settings
    from gateway.statuspal.client import StatusPalClient
    from gateway.web.limits import InboundLimits

DIRECT_SCOPES = frozenset({READ, WRITE})
# Bound on cached key checks (each cache: good keys, rejected keys), so a flood of distinct keys cannot grow
# memory without limit; the least recently confirmed goes first.
_CACHE_MAX = 10_000
# What a check refused for the gateway's cap on checks in flight tells the caller to wait: checks take a moment.
_BUSY_RETRY_SECONDS = 1
# What a 401 asks for: the MCP authorization spec says a server SHOULD name the scopes in its challenge, and
# clients that read it (Claude among them) request exactly those. Every tool scope, so the user still picks
# read-only or read and write on the login page; never offline_access, which a challenge should not carry
# (refresh tokens are issued without it).
_CHALLENGE_SCOPE = " ".join(TOOL_SCOPES)


class CredentialResolver:
    def __init__(
        self, settings: Settings, upstream: StatusPalClient, tokens: AccessTokenVerifier, limits: InboundLimits,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        # Monotonic seconds for the check caches; injectable so tests move time instead of sleeping through a TTL.
        self.clock = clock
        self._upstream = upstream
        self._tokens = tokens
        self._limits = limits
        self._ttl = settings.statuspal.key_cache_seconds
        # full sha256 hex of a key -> monotonic deadline until which its successful check is trusted.
        self._checked: OrderedDict[str, float] = OrderedDict()
        # The same for rejected keys, kept briefly: long enough to absorb a client retrying a bad key in a loop,
        # short enough that a key created a moment after a failed attempt soon works.
        self._rejected: OrderedDict[str, float] = OrderedDict()
        self._rejected_ttl = settings.limits.rejected_key_cache_seconds
        self._max_in_flight = settings.limits.key_checks_in_flight
        # Concurrent first requests with one key share one check (its admission and its upstream call).
        self._pending: dict[str, asyncio.Future[None]] = {}
        # Upstream key checks running now, for the cap on checks in flight.
        self._running = 0

    async def resolve(self, authorization: str | None, address: str) -> Credentials:
        """The caller's credentials; AuthError when they are refused, OverBudget when an upstream check of a new key
        is over `address`'s budget or the gateway's cap on checks in flight."""
        token = _bearer(authorization)
        if token.startswith("sk_"):
            return await self._direct(token, address)
        if self._tokens.recognises(token):
            return await self._tokens.verify(token)
        raise AuthError(401, "invalid_token", "The bearer token is neither a StatusPal API key (sk_…) nor a token issued by this server.")

    def forget(self, credentials: Credentials) -> None:
        """Drop a cached key check, e.g. after StatusPal rejected the key on a call (it was revoked)."""
        self._checked.pop(key_digest(credentials.api_key), None)

    def challenge(self, err: AuthError, resource_metadata: str, default_scope: str = _CHALLENGE_SCOPE) -> str:
        """The WWW-Authenticate value: always the protected-resource metadata URL of the surface the request was
        for, so clients can discover OAuth, and the scope to ask for: the missing one on a 403, `default_scope`
        (every tool scope, unless the surface can use fewer) on a 401."""
        parts = []
        if err.error in ("invalid_token", "insufficient_scope"):
            parts.append(f'error="{err.error}"')
        scope = err.scope or (default_scope if err.status == 401 else None)
        if scope:
            parts.append(f'scope="{scope}"')
        parts.append(f'resource_metadata="{resource_metadata}"')
        return "Bearer " + ", ".join(parts)

    async def _direct(self, api_key: str, address: str) -> Credentials:
        digest = key_digest(api_key)
        now = self.clock()
        deadline = self._checked.get(digest)
        if deadline is None or deadline < now:
            # Only well-formed keys are ever checked and so remembered: a cached digest needs no shape check.
            if not API_KEY_SHAPE.match(api_key):
                raise AuthError(401, "invalid_token", "The API key is malformed: StatusPal keys look like sk_ followed by letters, digits, - or _.")
            rejected = self._rejected.get(digest)
            if rejected is not None and rejected >= now:
                raise _rejected_key()
            await self._check(api_key, digest, address)
        return Credentials(api_key=api_key, scopes=DIRECT_SCOPES, kind="direct", key_id=key_id_of_digest(digest))

    async def _check(self, api_key: str, digest: str, address: str) -> None:
        check = self._pending.get(digest)
        if check is None:
            # Registered before anything is awaited: requests that arrive with the same key while its check is
            # being admitted join it rather than each counting a check of their own (32 requests on a key whose
            # cached check just expired would otherwise spend 32 of the budgets' checks on a key that is fine). The
            # map holds at most one entry per request in flight, and each leaves when its check ends.
            # Its own task, so a caller that disconnects does not cancel the check others are waiting on.
            check = asyncio.ensure_future(self._admitted_check(api_key, digest, address))
            self._pending[digest] = check
        try:
            await asyncio.shield(check)
        except UpstreamAuthError:
            raise _rejected_key() from None
        except UpstreamUnavailable as exc:
            if exc.status == 429 and exc.retry_after:
                # StatusPal asked for a pause longer than a request should be held: pass the wait on, not a guess.
                wait = math.ceil(exc.retry_after)
                raise AuthError(
                    503, "temporarily_unavailable",
                    f"StatusPal is rate limiting key checks; try again in {wait} s.", retry_after=wait,
                ) from None
            raise AuthError(
                503, "temporarily_unavailable", "StatusPal could not be reached to check the API key; try again in a moment."
            ) from None
        except UpstreamError as exc:
            raise AuthError(
                503, "temporarily_unavailable", f"StatusPal answered the key check with HTTP {exc.status}; try again in a moment."
            ) from None

    async def _admitted_check(self, api_key: str, digest: str, address: str) -> None:
        """One check of a key that is not cached, once the budgets admit it: the address's, then the host's (or the
        fleet's) rate of checks, so any number of addresses at once costs StatusPal a bounded number of calls."""
        try:
            await self._limits.admit_key_check(address)
            await self._limits.admit_new_key_check()
            # The cap on checks open at once, tested with no wait between the test and the start, so it holds exactly.
            if self._running >= self._max_in_flight:
                raise OverBudget(
                    503, _BUSY_RETRY_SECONDS,
                    f"Service Unavailable: too many new API keys are being checked right now; try again in {_BUSY_RETRY_SECONDS} s",
                )
            self._running += 1
            try:
                await self._run_check(api_key, digest)
            finally:
                self._running -= 1
        finally:
            del self._pending[digest]

    async def _run_check(self, api_key: str, digest: str) -> None:
        try:
            await self._upstream.for_key(api_key).check_key()
            self._rejected.pop(digest, None)
            _remember(self._checked, digest, self.clock() + self._ttl)
        except UpstreamAuthError:
            # A verdict, so remembered; StatusPal being unreachable is not one and is asked again next time.
            _remember(self._rejected, digest, self.clock() + self._rejected_ttl)
            raise


def _remember(cache: OrderedDict[str, float], digest: str, deadline: float) -> None:
    cache[digest] = deadline
    cache.move_to_end(digest)
    while len(cache) > _CACHE_MAX:
        cache.popitem(last=False)


def _rejected_key() -> AuthError:
    return AuthError(401, "invalid_token", "StatusPal rejected this API key (it is unknown or was revoked).")


def _bearer(authorization: str | None) -> str:
    if not authorization:
        raise AuthError(401, "invalid_request", "This server needs an Authorization: Bearer header (a StatusPal API key or an OAuth access token).")
    scheme, _, value = authorization.strip().partition(" ")
    value = value.strip()
    if scheme.lower() != "bearer" or not value:
        raise AuthError(401, "invalid_request", "The Authorization header must be 'Bearer <token>'.")
    if not value.isascii():
        # Keys and our tokens are ASCII. Header bytes that are not UTF-8 arrive as lone surrogates, which
        # hashing the value (str.encode) would raise on, so they are refused here, before anything uses them.
        raise AuthError(401, "invalid_token", "The bearer token is neither a StatusPal API key (sk_…) nor a token issued by this server.")
    return value
