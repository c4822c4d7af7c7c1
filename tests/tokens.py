"""Access tokens exactly as `/token` issues them, for tests and benchmarks that skip the browser sign-in."""

from __future__ import annotations

import time

from gateway.auth.scopes import normalise_scope
from gateway.auth.sealing import Keyring
from gateway.config import Settings
from gateway.oauth.tokens import Grant, new_id, token_claims


def mint_access_token(
    settings: Settings, api_key: str, scope: str, *, keyring: Keyring, client_id: str = "local",
    resource: str | None = None,
) -> str:
    """An access token for `api_key` with `scope`, sealed with `keyring`; without `resource` it is for `/mcp`."""
    grant = Grant(
        api_key=api_key, scope=normalise_scope(scope), client_id=client_id, family=new_id(),
        resource=resource or settings.server.resource_url,
    )
    return keyring.seal("access", token_claims(settings, grant, "at", settings.oauth.access_token_ttl_seconds, int(time.time())))
