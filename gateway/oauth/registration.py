"""RFC 7591 registration that stores nothing, and resolving a ``client_id`` back to its client.

A registered ``client_id`` *is* the registration: the redirect URIs and name, signed with the keyring
(`Keyring.sign("client", …)`). Nothing is written anywhere, so a restart, a second instance or a
Redis flush never forgets a client (claude.ai re-registers often and dead-ends when a server forgets
one). A ``client_id`` that is an https URL is a Client ID Metadata Document, fetched by
`gateway.oauth.client_metadata`. Redirect URIs pass the policy in `gateway.oauth.redirects`.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any

import orjson
from aiohttp import web

from gateway.auth.scopes import SCOPES_SUPPORTED
from gateway.auth.sealing import InvalidToken
from gateway.oauth.clients import Client, ClientRejected, client_name_field, client_uri_field
from gateway.oauth.errors import json_error, json_response
from gateway.oauth.redirects import RedirectRejected, check_redirect_uris
from gateway.observability.redaction import quotable
from gateway.store.base import StoreUnavailable
from gateway.web.connections import BodyTooLarge, BodyUnreadable, read_body
from gateway.web.services import GATEWAY

if TYPE_CHECKING:
    from gateway.web.services import Gateway

log = logging.getLogger(__name__)

CLIENT_PURPOSE = "client"
GRANT_TYPES = frozenset({"authorization_code", "refresh_token"})
MAX_REGISTRATION_BYTES = 16 * 1024
# /register stores nothing and costs one HMAC; its limit is there against floods, and it is generous because
# hosted assistants register from a few shared backend addresses on behalf of all their users.
REGISTER_LIMIT_FACTOR = 10


# --- POST /register (RFC 7591) ---------------------------------------------------------------------------


async def register(request: web.Request) -> web.Response:
    """Register a public client: validate the metadata, sign it, hand it back as the client_id. Stores nothing."""
    gateway = request.app[GATEWAY]
    oauth = gateway.settings.oauth
    try:
        allowed = await gateway.store.hit(
            f"rl:oauth-register:ip:{gateway.addresses.bucket(request)}", oauth.rate_limit_attempts * REGISTER_LIMIT_FACTOR,
            oauth.rate_limit_window_seconds,
        )
    except StoreUnavailable as exc:
        # Without the count the limit cannot hold, and registering unlimited would let a flood through.
        log.error("registration refused: %s", exc)
        return json_error(503, "temporarily_unavailable", f"The server cannot register clients right now because {exc.reason}; "
                          "try again in a moment.", **{"Retry-After": "5"})
    if not allowed:
        return json_error(429, "too_many_requests", "Too many registrations from this address; wait a minute and try again.",
                          **{"Retry-After": str(oauth.rate_limit_window_seconds)})
    try:
        raw = await read_body(request, MAX_REGISTRATION_BYTES)
    except BodyTooLarge:
        return json_error(413, "invalid_client_metadata", f"The registration may be at most {MAX_REGISTRATION_BYTES} bytes.")
    except BodyUnreadable:
        return json_error(400, "invalid_client_metadata", "The request body could not be read.")
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError:
        body = None
    if not isinstance(body, dict):
        return json_error(400, "invalid_client_metadata", "The body must be a JSON object of client metadata (RFC 7591).")

    try:
        redirect_uris = check_redirect_uris(body.get("redirect_uris"), oauth)
    except RedirectRejected as exc:
        log.info("registration refused: redirect URI outside the policy", extra={"reason": str(exc)})
        return json_error(400, "invalid_redirect_uri", str(exc))
    try:
        grant_types = _grant_types(body.get("grant_types", ["authorization_code"]))
        response_types = _subset(body.get("response_types", ["code"]), frozenset({"code"}), "response_types")
        name = client_name_field(body.get("client_name"))
        client_uri = client_uri_field(body.get("client_uri"))
    except ValueError as exc:
        return json_error(400, "invalid_client_metadata", str(exc))

    issued_at = int(time.time())
    claims: dict[str, Any] = {"typ": "client", "iat": issued_at, "redirect_uris": list(redirect_uris)}
    if name:
        claims["client_name"] = name
    if client_uri:
        claims["client_uri"] = client_uri
    answer: dict[str, Any] = {
        "client_id": gateway.keyring.sign(CLIENT_PURPOSE, claims),
        "client_id_issued_at": issued_at,
        "redirect_uris": list(redirect_uris),
        "grant_types": grant_types,
        "response_types": response_types,
        # Every client here is public and PKCE is the binding. A client that asked for a secret method
        # (claude.ai's hosted connector asks for client_secret_post) gets "none" back, which RFC 7591
        # §3.2.1 allows and which such clients read from the response; refusing breaks them.
        "token_endpoint_auth_method": "none",
        # Unknown scopes (claude.ai has sent "claudeai") are dropped, never an error; the user picks the
        # actual grant on the login page.
        "scope": " ".join(s for s in SCOPES_SUPPORTED if s in _words(body.get("scope"))) or " ".join(SCOPES_SUPPORTED),
    }
    if name:
        answer["client_name"] = name
    if client_uri:
        answer["client_uri"] = client_uri
    if body.get("application_type") in ("web", "native"):
        answer["application_type"] = body["application_type"]
    return json_response(201, answer)


def _subset(value: Any, allowed: frozenset[str], field: str) -> list[str]:
    if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
        raise ValueError(f"{field} must be a non-empty list of strings")
    unknown = [v for v in value if v not in allowed]
    if unknown:
        raise ValueError(f"{field} may only contain {', '.join(sorted(allowed))}; not {quotable(', '.join(unknown))}")
    return list(dict.fromkeys(value))


def _grant_types(value: Any) -> list[str]:
    """The requested grants we issue; others are dropped, not refused (RFC 7591 §3.2.1 lets the server
    replace them, and the answer says what was registered). Claude's published client metadata lists a
    jwt-bearer grant beside authorization_code, and refusing the registration would strand the connector."""
    if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
        raise ValueError("grant_types must be a non-empty list of strings")
    kept = [v for v in dict.fromkeys(value) if v in GRANT_TYPES]
    if "authorization_code" not in kept:
        raise ValueError("grant_types must include authorization_code (this server issues only authorization_code and refresh_token grants)")
    return kept


def _words(value: Any) -> list[str]:
    return value.split() if isinstance(value, str) else []


# --- resolving a client_id ----------------------------------------------------------------------------------


async def resolve_client(gateway: Gateway, client_id: Any) -> Client:
    """The client a `client_id` names: a signed registration or an https metadata document URL.

    Raises ClientRejected with a message fit for the user (the login page) or the client (`invalid_client`).
    """
    if not isinstance(client_id, str) or not client_id:
        raise ClientRejected("client_id is missing.")
    if ":" in client_id:  # a URL of some kind (a signed client_id is base64url and dots only)
        return await gateway.clients.resolve(client_id)
    try:
        claims = gateway.keyring.verify(CLIENT_PURPOSE, client_id)
    except InvalidToken:
        raise ClientRejected(
            "This app's registration (client_id) was not issued by this server or is no longer valid; remove the connector and add it again."
        ) from None
    uris = claims.get("redirect_uris")
    if claims.get("typ") != "client" or not isinstance(uris, list) or not uris:
        raise ClientRejected("This app's registration (client_id) is malformed.")
    return Client(
        client_id=client_id,
        client_name=claims.get("client_name") if isinstance(claims.get("client_name"), str) else None,
        redirect_uris=tuple(u for u in uris if isinstance(u, str)),
        client_uri=claims.get("client_uri") if isinstance(claims.get("client_uri"), str) else None,
    )

