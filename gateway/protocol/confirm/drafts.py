"""Sealed drafts: exactly what a person approves, carried by the client and opened only by this server.

A draft (the preview's, in a tool result's `_meta`) and a form's `requestState` are the same thing: the call's
arguments (or their digest), the target as it was read for the person, and what the draft is bound to. Both
come back from a client, and a host may hand them to its model, so they are treated as attacker-controlled:

- sealed with the keyring under a purpose of their own (AES-GCM), so nobody can read or alter one, and no
  other token of ours (an access token, a code) can be passed off as one;
- bound to the caller's key id, the surface URL, the tool, the channel and a digest of the arguments, so a
  draft copied to another key, another URL or another tool opens nowhere;
- valid for `[confirm] draft_ttl_seconds` (10 minutes by default), and used once: its id is marked in the store
  (shared through Redis by every instance) before anything is written, so a replay writes nothing. Those marks
  are never evicted, so each counts against what its key may hold (`Store.hold`, `store.entries_per_key`): one
  key's approvals cannot fill the store others need.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import orjson

from gateway.auth.sealing import InvalidToken
from gateway.store.base import held_by

if TYPE_CHECKING:
    from gateway.auth.sealing import Keyring
    from gateway.store.base import Store

PURPOSE = "draft"
# A draft carries the call's arguments (a notice's text may be 10,000 characters); refused unread beyond this.
MAX_DRAFT_CHARS = 192 * 1024


class DraftRefused(Exception):
    """A draft or form state that cannot be used; the message says why and that nothing was written."""


@dataclass(frozen=True, slots=True)
class Binding:
    """What a draft is valid for: one key, one surface URL, one tool, one channel."""

    key_id: str
    surface: str
    tool: str
    channel: str


@dataclass(frozen=True, slots=True)
class Draft:
    binding: Binding
    # The arguments as the model sent them (None in a form's state: the retry carries them itself).
    arguments: dict[str, Any] | None
    digest: str
    # The target as it was read for the person; the write is refused if a fresh read differs.
    fingerprint: Any
    draft_id: str
    expires_at: int


def digest(arguments: Mapping[str, Any]) -> str:
    """A digest of the arguments in canonical JSON: the same arguments in any key order give the same digest."""
    return hashlib.sha256(orjson.dumps(arguments, option=orjson.OPT_SORT_KEYS)).hexdigest()


class Drafts:
    def __init__(self, keyring: Keyring, store: Store, ttl_seconds: int, entries_per_key: int) -> None:
        self._keyring = keyring
        self._store = store
        self.ttl = ttl_seconds
        self._entries_per_key = entries_per_key

    def seal(self, binding: Binding, arguments: Mapping[str, Any], fingerprint: Any, *, carry_arguments: bool) -> tuple[str, int]:
        """The sealed draft and when it expires (Unix seconds)."""
        expires = int(time.time()) + self.ttl
        claims: dict[str, Any] = {
            "k": binding.key_id, "s": binding.surface, "t": binding.tool, "c": binding.channel,
            "d": digest(arguments), "f": fingerprint, "jti": secrets.token_urlsafe(12), "exp": expires,
        }
        if carry_arguments:
            claims["a"] = dict(arguments)
        return self._keyring.seal(PURPOSE, claims), expires

    def unseal(self, token: Any) -> dict[str, Any] | None:
        """A draft's sealed claims, or None for anything that is not a draft of ours. Only a check of origin: the
        publish preview's call reads the tool from them before `check` looks at the rest, so it decrypts once."""
        try:
            return self._keyring.unseal(PURPOSE, token, max_chars=MAX_DRAFT_CHARS)
        except InvalidToken:
            return None

    def open(self, token: Any, expected: Binding) -> Draft:
        """The draft, once it is shown to be ours, unexpired and bound to `expected`; DraftRefused otherwise.
        It is not yet used: `use` marks it, right before the write."""
        claims = self.unseal(token)
        if claims is None:
            raise DraftRefused("the draft is not one this server sealed, or it was altered")
        return self.check(claims, expected)

    def check(self, claims: Mapping[str, Any], expected: Binding) -> Draft:
        """`open` for claims already unsealed."""
        exp = claims.get("exp")
        if not isinstance(exp, int) or exp <= time.time():
            raise DraftRefused(f"the draft expired (drafts are valid for {_duration(self.ttl)})")
        bound = Binding(str(claims.get("k")), str(claims.get("s")), str(claims.get("t")), str(claims.get("c")))
        # Constant-time on the key id, the one part of the binding a stranger might probe for.
        if not hmac.compare_digest(bound.key_id, expected.key_id):
            raise DraftRefused("the draft was made for another API key or sign-in")
        if bound.surface != expected.surface:
            raise DraftRefused(f"the draft was made on another connection URL ({bound.surface}), not this one")
        if bound.tool != expected.tool or bound.channel != expected.channel:
            raise DraftRefused("the draft was made for another tool or another way of confirming")
        arguments = claims.get("a")
        return Draft(
            binding=bound, arguments=arguments if isinstance(arguments, dict) else None, digest=str(claims.get("d")),
            fingerprint=claims.get("f"), draft_id=str(claims.get("jti")), expires_at=exp,
        )

    async def use(self, draft: Draft) -> None:
        """Mark the draft used, once for every instance; DraftRefused if it already was. Raises the store's
        StoreUnavailable when that cannot be known: the write is then refused, never done twice."""
        ttl = max(1, draft.expires_at - time.time())
        wait = await self._store.hold(held_by(draft.binding.key_id), self._entries_per_key, ttl)
        if wait:
            raise DraftRefused(f"this API key holds as many used approvals as the gateway keeps for one key; try again in "
                               f"{math.ceil(wait)} seconds")
        if not await self._store.use_once("draft:" + draft.draft_id, ttl):
            raise DraftRefused("the draft was already used; each approval writes once")


def _duration(seconds: int) -> str:
    return f"{seconds // 60} minutes" if seconds >= 120 else f"{seconds} seconds"
