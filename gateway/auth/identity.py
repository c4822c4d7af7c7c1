"""Who is calling, as every layer sees it: the credential types, the key id and the shape of a StatusPal key.

A leaf: it imports nothing of the gateway, so the transport, the protocol, the tools and the OAuth server
can all use these types without importing one another.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from typing import Literal

# A StatusPal key is short and URL-safe; anything else is refused before it can reach the upstream.
API_KEY_SHAPE = re.compile(r"^sk_[A-Za-z0-9_-]{1,200}$")


def key_id(api_key: str) -> str:
    """A stable, non-reversible handle for a key, safe to log: sha256 hex, first 16 characters. The one
    definition: Credentials.key_id, the per-key rate buckets and token `sub` claims all use it."""
    return key_id_of_digest(key_digest(api_key))


def key_digest(api_key: str) -> str:
    """The full sha256 hex of a key: what the key-check caches remember in place of the key."""
    return hashlib.sha256(api_key.encode()).hexdigest()


def key_id_of_digest(digest: str) -> str:
    """`key_id` from a `key_digest` already computed: a request with a key needs both, and hashes it once."""
    return digest[:16]


@dataclass(frozen=True)
class Credentials:
    """Who is calling: the API key every upstream call uses, and what the grant allows."""

    api_key: str = field(repr=False)
    scopes: frozenset[str]
    kind: Literal["direct", "sealed"]
    # `key_id(api_key)`: safe to log and to bind sessions to.
    key_id: str
    client_id: str | None = None
    # The exact resource URL a sealed token was issued for (its `aud`); None for a direct API key, which works
    # on every surface. Which surfaces a token may reach is decided by gateway.auth.surfaces.audience_refusal.
    audience: str | None = None
    # For a sealed token: the client's name as the login page showed it, and whether its host vouched for it.
    client_name: str | None = None
    client_verified: bool = False


@dataclass
class AuthError(Exception):
    """A request the gateway will not serve; `status` is 401, 403 or 503, `error` an RFC 6750 code."""

    status: int
    error: str
    description: str
    scope: str | None = None
    # For a 503: when to come back, in whole seconds, if StatusPal said.
    retry_after: int | None = None

    def __str__(self) -> str:
        return f"{self.status} {self.error}: {self.description}"
