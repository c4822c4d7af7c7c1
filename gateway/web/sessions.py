"""Handshake-era sessions: the ``Mcp-Session-Id`` issued on ``initialize``, checked on later requests, ended
by DELETE.

Sessions are stateless: the id is signed by the keyring and bound to the caller's key id, so any instance can
check it; ending one records its id as revoked in the shared store, which is what makes a terminated session
answer 404 on every instance. That record is the one store write a session causes, so each key may end only
so many sessions an hour (``store.session_ends_per_hour``), and its marks of every kind stay under
``store.entries_per_key``: past either, ending is refused and the session simply lives out its day. Without
these bounds one key could fill the store for everyone.
"""

from __future__ import annotations

import hmac
import secrets
import time
from collections.abc import Mapping
from typing import Any

from gateway.auth.sealing import InvalidToken, Keyring
from gateway.protocol.meta import NO_CAPABILITIES, ClientCapabilities
from gateway.store.base import Store, held_by

SESSION_PURPOSE = "mcp-session"
# A session outlives a working day; after it, the client gets 404 and initializes again, as the spec asks of
# it. The mark of an ended session is kept until the session would have expired, so this is also how long
# each of a key's session-end marks occupies the store.
SESSION_TTL_SECONDS = 86400
SESSION_END_WINDOW_SECONDS = 3600


class SessionEndsExhausted(Exception):
    """The key has ended as many sessions this hour as the store records; this one was not ended."""

    def __init__(self, wait: float, held: bool = False) -> None:
        super().__init__(wait)
        self.wait = wait
        # True: the key holds as many marks as the store keeps for one key (not only its hourly quota).
        self.held = held


class Sessions:
    """Issues, checks and ends handshake-era sessions. May raise `gateway.store.base.StoreUnavailable`."""

    def __init__(self, keyring: Keyring, store: Store, ends_per_hour: int, entries_per_key: int) -> None:
        self._keyring = keyring
        self._store = store
        self.ends_per_hour = ends_per_hour
        self.entries_per_key = entries_per_key

    def issue(self, key_id: str, capabilities: ClientCapabilities = NO_CAPABILITIES) -> str:
        """A session id for `key_id`. It carries the few client capabilities the gateway acts on (apps, elicitation
        modes, bounded to a few dozen bytes by `ClientCapabilities.compact`), because in the handshake era the
        client states them only in ``initialize`` and any instance may answer the requests after it."""
        claims: dict[str, Any] = {"sub": key_id, "sid": secrets.token_urlsafe(16), "exp": int(time.time()) + SESSION_TTL_SECONDS}
        flags = capabilities.compact()
        if flags:
            claims["cap"] = flags
        return self._keyring.sign(SESSION_PURPOSE, claims)

    async def capabilities(self, session_id: str, key_id: str) -> ClientCapabilities | None:
        """The client capabilities the session was opened with, or None when it is not live for this key."""
        claims = await self._claims(session_id, key_id)
        return None if claims is None else ClientCapabilities.from_compact(claims.get("cap"))

    async def end(self, session_id: str, key_id: str) -> bool:
        """Whether the session was live and is now ended; SessionEndsExhausted when over the key's quota."""
        claims = await self._claims(session_id, key_id)
        if claims is None:
            return False
        wait = await self._store.quota(f"quota:session-end:{key_id}", self.ends_per_hour, SESSION_END_WINDOW_SECONDS)
        if wait:
            raise SessionEndsExhausted(wait)
        ttl = max(1, int(claims["exp"] - time.time()))
        wait = await self._store.hold(held_by(key_id), self.entries_per_key, ttl)
        if wait:
            raise SessionEndsExhausted(wait, held=True)
        await self._store.revoke(_revocation_key(claims), ttl)
        return True

    async def _claims(self, session_id: str, key_id: str) -> dict[str, Any] | None:
        """The session's claims, or None if it is forged, expired, terminated or another caller's."""
        try:
            claims = self._keyring.verify(SESSION_PURPOSE, session_id, remember=True)
        except InvalidToken:
            return None
        # Bound to the key that opened it, so a leaked session id is useless with other credentials.
        if not hmac.compare_digest(str(claims.get("sub", "")), key_id):
            return None
        if await self._store.is_revoked(_revocation_key(claims)):
            return None
        return claims


def _revocation_key(claims: Mapping[str, Any]) -> str:
    return f"mcp-session:{claims.get('sid', '')}"
