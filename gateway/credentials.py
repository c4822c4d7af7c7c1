"""From the `Authorization` header to the caller's StatusPal API key (DESIGN decision 3).

The bearer value is routed on its shape, so one value can never mean two things:

- ``sk_…`` is a direct developer key (Claude Code, Cursor). It is checked against the StatusPal API once and
  the success is cached by a hash of the key for ``statuspal.key_cache_seconds``; the key itself is only ever
  sent to the configured StatusPal base URL.
- a compact JWE whose ``kid`` is in our keyring is a sealed OAuth access token; `gateway.oauth.tokens`
  unseals it and checks its type, audience and expiry.
- anything else is 401 with the ``resource_metadata`` challenge (and the scopes to ask for), so OAuth-capable
  clients start discovery.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

from gateway.statuspal.errors import UpstreamAuthError, UpstreamError, UpstreamUnavailable
from gateway.tools.base import READ, TOOL_SCOPES, WRITE

if TYPE_CHECKING:
    from gateway.config import Settings
    from gateway.sealing import Keyring
    from gateway.statuspal.client import StatusPalClient
    from gateway.store import Store

DIRECT_SCOPES = frozenset({READ, WRITE})
# A StatusPal key is short and URL-safe; anything else is refused before it can reach the upstream.
_DIRECT_KEY = re.compile(r"^sk_[A-Za-z0-9_-]{1,200}$")
# Bound on cached key checks, so a flood of distinct keys cannot grow memory without limit.
_CACHE_MAX = 10_000
# What a 401 asks for: the MCP authorization spec says a server SHOULD name the scopes in its challenge, and
# clients that read it (Claude among them) request exactly those. Every tool scope, so the user still picks
# read-only or read and write on the login page; never offline_access, which a challenge should not carry
# (refresh tokens are issued without it).
_CHALLENGE_SCOPE = " ".join(TOOL_SCOPES)


@dataclass(frozen=True)
class Credentials:
    """Who is calling: the API key every upstream call uses, and what the grant allows."""

    api_key: str = field(repr=False)
    scopes: frozenset[str]
    kind: Literal["direct", "sealed"]
    # sha256 hex of the API key, first 16 characters: safe to log and to bind sessions to.
    key_id: str
    client_id: str | None = None


@dataclass
class AuthError(Exception):
    """A request the gateway will not serve; `status` is 401, 403 or 503, `error` an RFC 6750 code."""

    status: int
    error: str
    description: str
    scope: str | None = None

    def __str__(self) -> str:
        return f"{self.status} {self.error}: {self.description}"


class CredentialResolver:
    def __init__(self, settings: "Settings", upstream: "StatusPalClient", keyring: "Keyring", store: "Store") -> None:
        self._settings = settings
        self._upstream = upstream
        self._keyring = keyring
        self._store = store
        self._ttl = settings.statuspal.key_cache_seconds
        # full sha256 hex of a key -> monotonic deadline until which its successful check is trusted.
        self._checked: OrderedDict[str, float] = OrderedDict()
        # Concurrent first requests with one key share one upstream check instead of each making their own.
        self._pending: dict[str, asyncio.Future[None]] = {}
        self._metadata_url = settings.server.resource_metadata_url

    async def resolve(self, authorization: str | None) -> Credentials:
        token = _bearer(authorization)
        if token.startswith("sk_"):
            return await self._direct(token)
        if self._keyring.looks_sealed(token):
            # Imported here, not at the top: gateway.oauth.tokens builds on Credentials and AuthError from this module.
            from gateway.oauth.tokens import access_credentials

            return await access_credentials(token, self._settings, self._keyring, self._store)
        raise AuthError(401, "invalid_token", "The bearer token is neither a StatusPal API key (sk_…) nor a token issued by this server.")

    def forget(self, credentials: Credentials) -> None:
        """Drop a cached key check, e.g. after StatusPal rejected the key on a call (it was revoked)."""
        self._checked.pop(hashlib.sha256(credentials.api_key.encode()).hexdigest(), None)

    def challenge(self, err: AuthError) -> str:
        """The WWW-Authenticate value: always the protected-resource metadata URL, so clients can discover OAuth,
        and the scope to ask for: the missing one on a 403, every tool scope on a 401."""
        parts = []
        if err.error in ("invalid_token", "insufficient_scope"):
            parts.append(f'error="{err.error}"')
        scope = err.scope or (_CHALLENGE_SCOPE if err.status == 401 else None)
        if scope:
            parts.append(f'scope="{scope}"')
        parts.append(f'resource_metadata="{self._metadata_url}"')
        return "Bearer " + ", ".join(parts)

    async def _direct(self, api_key: str) -> Credentials:
        digest = hashlib.sha256(api_key.encode()).hexdigest()
        deadline = self._checked.get(digest)
        if deadline is None or deadline < time.monotonic():
            # Only well-formed keys are ever checked and so remembered: a cached digest needs no shape check.
            if not _DIRECT_KEY.match(api_key):
                raise AuthError(401, "invalid_token", "The API key is malformed: StatusPal keys look like sk_ followed by letters, digits, - or _.")
            await self._check(api_key, digest)
        return Credentials(api_key=api_key, scopes=DIRECT_SCOPES, kind="direct", key_id=digest[:16])

    async def _check(self, api_key: str, digest: str) -> None:
        check = self._pending.get(digest)
        if check is None:
            # Its own task, so a caller that disconnects does not cancel the check others are waiting on.
            check = asyncio.ensure_future(self._run_check(api_key, digest))
            self._pending[digest] = check
        try:
            await asyncio.shield(check)
        except UpstreamAuthError:
            raise AuthError(401, "invalid_token", "StatusPal rejected this API key (it is unknown or was revoked).") from None
        except UpstreamUnavailable:
            raise AuthError(
                503, "temporarily_unavailable", "StatusPal could not be reached to check the API key; try again in a moment."
            ) from None
        except UpstreamError as exc:
            raise AuthError(
                503, "temporarily_unavailable", f"StatusPal answered the key check with HTTP {exc.status}; try again in a moment."
            ) from None

    async def _run_check(self, api_key: str, digest: str) -> None:
        try:
            await self._upstream.for_key(api_key).check_key()
            self._remember(digest)  # only successes are cached: a rejected key is asked again next time
        finally:
            del self._pending[digest]

    def _remember(self, digest: str) -> None:
        self._checked[digest] = time.monotonic() + self._ttl
        self._checked.move_to_end(digest)
        while len(self._checked) > _CACHE_MAX:
            self._checked.popitem(last=False)


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
