"""The per-request check of a sealed access token: from the bearer value to the caller's credentials.

Apart from `/token` and `/revoke` (`gateway.oauth.tokens`), which issue and revoke tokens: this runs on every
/mcp request and needs only the keyring, the settings and the store's revocation list. The credential
resolver is handed one of these, so the request path never imports the token endpoints.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from gateway.auth.identity import AuthError, Credentials
from gateway.auth.scopes import scope_set
from gateway.auth.sealing import InvalidToken
from gateway.auth.surfaces import surface_of_resource
from gateway.store.base import StoreUnavailable

if TYPE_CHECKING:
    from gateway.auth.sealing import Keyring
    from gateway.config import Settings
    from gateway.store.base import Store

log = logging.getLogger(__name__)

# A client names itself at registration; its name rides in every token, so it is cut to a bounded length.
CLIENT_NAME_CLAIM_CHARS = 100


def client_claims(name: str | None, verified: bool) -> dict[str, Any]:
    """What a token carries of its OAuth client for the audit: its display name (bounded, since a registrant
    picks it) and whether it was verified. `claimed_client` reads them back."""
    return {"cn": name[:CLIENT_NAME_CLAIM_CHARS], "cv": verified} if name else {"cv": verified}


def claimed_client(claims: Mapping[str, Any]) -> tuple[str | None, bool]:
    """(the client's display name, whether it was verified) from a token's claims (`client_claims`)."""
    name = claims.get("cn")
    return (name if isinstance(name, str) else None), claims.get("cv") is True


class AccessTokenVerifier:
    """Opens and checks the access tokens this server issued."""

    def __init__(self, settings: Settings, keyring: Keyring, store: Store) -> None:
        self._issuer = settings.server.public_url
        self._resource = settings.server.resource_url
        self._keyring = keyring
        self._store = store

    def recognises(self, token: str) -> bool:
        """Whether a bearer value is shaped like one of our sealed tokens (cheap; `verify` does the real checks)."""
        return self._keyring.looks_sealed(token)

    async def verify(self, token: str) -> Credentials:
        """The caller behind a sealed access token, or AuthError 401 ``invalid_token`` saying exactly what is wrong.

        The audience must be exactly one of our resources, /mcp or one of its surfaces (RFC 8707): a token minted
        for another deployment sharing our keys (staging vs production) is refused. Whether that surface covers
        the one the request is for is the transport's check, which knows the request's URL. Revocation is checked in the store on every request; if the
        store is down the request is refused with 503 rather than served on a possibly revoked token.
        """
        try:
            # The keyring remembers tokens that opened, by their exact text; that cache vouches for the seal only,
            # so expiry, audience and revocation below are checked on every request, cached or not.
            claims = self._keyring.unseal("access", token, remember=True)
        except InvalidToken:
            raise AuthError(401, "invalid_token", self._not_an_access_token(token)) from None
        if claims.get("typ") != "at":
            raise AuthError(401, "invalid_token", "The bearer token is not an access token.")
        if claims.get("iss") != self._issuer:
            raise AuthError(401, "invalid_token", "The access token was not issued by this server.")
        audience = claims.get("aud")
        if surface_of_resource(audience, self._issuer) is None:
            raise AuthError(401, "invalid_token", f"The access token was issued for another resource, not {self._resource} or a surface under it.")
        api_key, scope, family, exp, sub = claims.get("k"), claims.get("scope"), claims.get("fam"), claims.get("exp"), claims.get("sub")
        if not (isinstance(api_key, str) and isinstance(scope, str) and isinstance(family, str) and isinstance(exp, int) and isinstance(sub, str)):
            raise AuthError(401, "invalid_token", "The access token is malformed.")
        if exp <= self._keyring.clock():
            raise AuthError(401, "invalid_token", "The access token has expired; refresh it or sign in again.")
        try:
            revoked = await self._store.is_revoked("fam:" + family)
        except StoreUnavailable as exc:
            log.error("cannot check token revocation: %s", exc)
            raise AuthError(503, "temporarily_unavailable",
                            f"The server cannot check this token right now because {exc.reason}; try again in a moment.") from None
        if revoked:
            raise AuthError(401, "invalid_token", "The access token was revoked; sign in again.")
        client_id = claims.get("client_id")
        client_name, client_verified = claimed_client(claims)
        return Credentials(
            api_key=api_key,
            scopes=scope_set(scope),
            kind="sealed",
            key_id=sub,  # key_id(api_key), computed once when the token was issued
            client_id=client_id if isinstance(client_id, str) else None,
            audience=audience,
            client_name=client_name,
            client_verified=client_verified,
        )

    def _not_an_access_token(self, token: str) -> str:
        """Why a token that looked like ours did not open. Only reached on failure, so the second try costs nothing
        on the hot path; a refresh token sent as a bearer is a common client mistake worth naming."""
        try:
            self._keyring.unseal("refresh", token)
        except InvalidToken:
            return "The access token is malformed, was altered, or was sealed with a key this server no longer has."
        return "That is a refresh token; send it to the token endpoint, and use the access token as the bearer."
