"""Authorization codes, access and refresh tokens: issuing them, checking them, `/token` and `/revoke`.

Every one of them is sealed (`gateway.auth.sealing`): the StatusPal key travels inside, encrypted under our key, and
the server keeps no record of it. What a sealed token cannot say about itself lives in the store, by id only:

- ``code:<jti>``: the code was redeemed (codes are single-use; a replay revokes what the first use issued);
- ``rt:<jti>`` / ``rtg:<jti>``: a refresh token was used / used its one grace retry;
- ``fam:<id>``: the token family (everything issued from one authorization) is revoked.

Each redemption and each rotation leaves a mark that lives as long as the token it guards, so each StatusPal
key may cause only ``store.token_grants_per_hour`` of them (codes and refreshes together): past that, /token
answers 429 with Retry-After and uses nothing up, so the same code or refresh token works after the wait.
That keeps what one key can make the store hold bounded, whatever its request rate.

Refresh tokens rotate: each refresh returns a new one. The previous one is honoured once more within
``oauth.refresh_grace_seconds`` of its first use, because two chat windows refreshing together, or a response
lost on the way, replay it legitimately. Any other reuse means a copy is in someone
else's hands, so the whole family is revoked. Every refresh also asks StatusPal whether the key still works:
revoking the key there ends the grant at the next refresh, and at the next tool call before that.

Errors follow RFC 6749 §5.2 (400 with a JSON ``error``) and are never a 500: a client that sees
``invalid_grant`` starts a clean sign-in, while a 500 leaves it retrying the same request in a loop.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import hmac
import logging
import re
import secrets
import time
import traceback
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NoReturn
from urllib.parse import urlsplit

from aiohttp import web

from gateway.auth.access import claimed_client, client_claims
from gateway.auth.identity import key_id
from gateway.auth.scopes import TOOL_SCOPES, normalise_scope
from gateway.auth.sealing import InvalidToken, Keyring
from gateway.auth.surfaces import surface_of_resource
from gateway.oauth.clients import ClientRejected
from gateway.oauth.errors import NO_STORE, OAuthError, json_response
from gateway.oauth.forms import FORM_TYPE, FormUnreadable, read_form
from gateway.oauth.registration import resolve_client
from gateway.observability.audit import AuditEvent
from gateway.observability.redaction import quotable
from gateway.statuspal.errors import UpstreamAuthError, UpstreamError
from gateway.store.base import StoreUnavailable, held_by
from gateway.web.connections import BodyTimeout, BodyTooLarge, BodyUnreadable
from gateway.web.services import GATEWAY, Gateway

if TYPE_CHECKING:
    from gateway.config import Settings

log = logging.getLogger(__name__)

# Token requests are a handful of short fields; anything bigger is not one.
MAX_FORM_BYTES = 16 * 1024
MAX_FORM_FIELDS = 32
_VERIFIER = re.compile(r"^[A-Za-z0-9\-._~]{43,128}$")  # RFC 7636 §4.1
GRANT_WINDOW_SECONDS = 3600
# Store entries outlive the token they guard by a little, so clock skew between instances cannot reopen a hole.
_SLACK_SECONDS = 60


@dataclass(frozen=True)
class Grant:
    """What an authorization granted; carried inside every token issued from it."""

    api_key: str
    scope: str
    client_id: str
    family: str
    # The exact surface URL the grant was made for (RFC 8707): every token issued from it has it as `aud`.
    resource: str
    # The client's name as the login page showed it, and whether its host vouched for it (a metadata document)
    # or it only named itself: carried so the audit trail can say which assistant acted, never trusted for access.
    client_name: str | None = None
    client_verified: bool = False


# --- issuing -------------------------------------------------------------------------------------------


def issue_code(
    gateway: Gateway,
    *,
    client_id: str,
    redirect_uri: str,
    code_challenge: str,
    resource: str,
    scope: str,
    api_key: str,
    client_name: str | None = None,
    client_verified: bool = False,
) -> str:
    """A sealed, single-use authorization code for a key the login page has just checked upstream.

    `scope` is space-separated; only scopes this server knows are kept (the page decides read or read+write).
    The code's id doubles as the id of the token family it starts, so a replayed code can revoke that family.
    """
    settings = gateway.settings
    granted = normalise_scope(scope)
    if not granted:
        raise ValueError(f"a code needs at least one of {', '.join(TOOL_SCOPES)}")
    now = int(time.time())
    claims = {
        "typ": "code",
        "iss": settings.server.public_url,
        "jti": new_id(),
        "client_id": client_id,
        **client_claims(client_name, client_verified),
        "redirect_uri": redirect_uri,
        "code_challenge": code_challenge,
        "resource": resource,
        "scope": granted,
        "k": api_key,
        "iat": now,
        "exp": now + settings.oauth.code_ttl_seconds,
    }
    return gateway.keyring.seal("code", claims)


def token_claims(settings: Settings, grant: Grant, typ: str, ttl: int, now: int) -> dict[str, Any]:
    """The claims of a token issued from `grant`: `typ` "at" (access) or "rt" (refresh), valid `ttl` seconds."""
    return {
        "typ": typ,
        "iss": settings.server.public_url,
        "aud": grant.resource,
        "sub": key_id(grant.api_key),
        "client_id": grant.client_id,
        **client_claims(grant.client_name, grant.client_verified),
        "scope": grant.scope,
        "fam": grant.family,
        "jti": new_id(),
        "iat": now,
        "exp": now + ttl,
        "k": grant.api_key,
    }


def _grant_event(event: str, grant: Grant) -> AuditEvent:
    return AuditEvent(
        event, key_id(grant.api_key), "ok", client_id=grant.client_id, client_name=grant.client_name,
        client_verified=grant.client_verified, surface=_path(grant.resource), detail={"scope": grant.scope},
    )


def _path(resource: Any) -> str | None:
    return urlsplit(resource).path if isinstance(resource, str) else None


def _issue_pair(gateway: Gateway, grant: Grant, access_scope: str) -> dict[str, Any]:
    """The token response. The refresh token keeps the full grant; only the access token is narrowed (RFC 6749 §6)."""
    settings, now = gateway.settings, int(time.time())
    access = token_claims(settings, dataclasses.replace(grant, scope=access_scope), "at", settings.oauth.access_token_ttl_seconds, now)
    refresh = token_claims(settings, grant, "rt", settings.oauth.refresh_token_ttl_seconds, now)
    return {
        "access_token": gateway.keyring.seal("access", access),
        "token_type": "Bearer",
        "expires_in": settings.oauth.access_token_ttl_seconds,
        "refresh_token": gateway.keyring.seal("refresh", refresh),
        "scope": access_scope,
    }


def new_id() -> str:
    """A token, code or family id: random, URL-safe, 16 characters."""
    return secrets.token_urlsafe(12)


# --- /token --------------------------------------------------------------------------------------------


async def token_endpoint(request: web.Request) -> web.Response:
    """RFC 6749 token endpoint for public clients (PKCE instead of a client secret)."""
    gateway = request.app[GATEWAY]
    grant_type = "?"
    try:
        form = await _read_form(request)
        grant_type = form.get("grant_type", "")
        if grant_type == "authorization_code":
            body = await _exchange_code(gateway, form)
        elif grant_type == "refresh_token":
            body = await _refresh(gateway, form)
        elif not grant_type:
            raise OAuthError("invalid_request", "grant_type is required: authorization_code or refresh_token.")
        else:
            raise OAuthError("unsupported_grant_type", "This server supports grant_type authorization_code and refresh_token.")
    except OAuthError as exc:
        log.info("token request refused", extra={"grant_type": grant_type, "error": exc.error, "reason": exc.description})
        return exc.response()
    except StoreUnavailable as exc:
        log.error("token request failed: %s", exc, extra={"grant_type": grant_type})
        return OAuthError("temporarily_unavailable", f"The server cannot complete this right now because {exc.reason}; try again in a moment.", 503).response()
    except Exception as exc:
        _log_unexpected("token", exc)
        return OAuthError("invalid_grant", "The grant could not be processed; sign in again.").response()
    return json_response(200, body)


async def _exchange_code(gateway: Gateway, form: Mapping[str, str]) -> dict[str, Any]:
    settings = gateway.settings
    missing = [name for name in ("code", "redirect_uri", "client_id", "code_verifier") if not form.get(name)]
    if missing:
        raise OAuthError("invalid_request", f"Missing required parameter(s): {', '.join(missing)}.")
    verifier = form["code_verifier"]
    if not _VERIFIER.match(verifier):
        raise OAuthError("invalid_request", "code_verifier must be 43-128 characters of A-Z a-z 0-9 - . _ ~ (RFC 7636).")
    code = _open(gateway, "code", form["code"], "code", "authorization code")
    if not _same(form["client_id"], code.get("client_id")):
        raise OAuthError("invalid_grant", "The authorization code was issued to another client.")
    if not _same(form["redirect_uri"], code.get("redirect_uri")):
        raise OAuthError("invalid_grant", "redirect_uri does not match the one used in the authorization request.")
    if not _same(_s256(verifier), code.get("code_challenge")):
        raise OAuthError("invalid_grant", "code_verifier does not match the code_challenge of the authorization request.")
    if surface_of_resource(code.get("resource"), settings.server.public_url) is None:
        raise OAuthError("invalid_grant", "The authorization code was issued for another resource.")
    _check_resource(form, code["resource"])
    await _check_client(gateway, form["client_id"])

    family = code["jti"]
    await _count_grant(gateway, code["k"])
    if not await gateway.store.use_once("code:" + family, code["exp"] - time.time() + _SLACK_SECONDS):
        # RFC 6749 §4.1.2: a code used twice was intercepted; what its first use issued is revoked too.
        await gateway.store.revoke("fam:" + family, settings.oauth.refresh_token_ttl_seconds + _SLACK_SECONDS)
        log.warning("authorization code replayed; its token family is revoked", extra={"family": family})
        raise OAuthError("invalid_grant", "The authorization code was already used.")
    client_name, client_verified = claimed_client(code)
    grant = Grant(api_key=code["k"], scope=code["scope"], client_id=code["client_id"], family=family, resource=code["resource"],
                  client_name=client_name, client_verified=client_verified)
    log.info("tokens issued", extra={"grant_type": "authorization_code", "key_id": key_id(grant.api_key), "family": family})
    await gateway.audit.record(_grant_event("grant", grant))
    return _issue_pair(gateway, grant, grant.scope)


async def _refresh(gateway: Gateway, form: Mapping[str, str]) -> dict[str, Any]:
    settings = gateway.settings
    if not form.get("refresh_token"):
        raise OAuthError("invalid_request", "Missing required parameter: refresh_token.")
    token = _open(gateway, "refresh", form["refresh_token"], "rt", "refresh token")
    if surface_of_resource(token.get("aud"), settings.server.public_url) is None:
        raise OAuthError("invalid_grant", "The refresh token was issued for another resource.")
    _check_resource(form, token["aud"])
    # Optional: a public client has no secret to prove itself with and some omit it at refresh; possession of the
    # sealed token is the proof, and the token names its client, so a client_id that is sent must match it.
    if form.get("client_id") and not _same(form["client_id"], token.get("client_id")):
        raise OAuthError("invalid_grant", "The refresh token was issued to another client.")
    client_name, client_verified = claimed_client(token)
    grant = Grant(api_key=token["k"], scope=token["scope"], client_id=token["client_id"], family=token["fam"], resource=token["aud"],
                  client_name=client_name, client_verified=client_verified)
    access_scope = _narrowed_scope(grant.scope, form.get("scope"))
    if await gateway.store.is_revoked("fam:" + grant.family):
        raise OAuthError("invalid_grant", "This grant was revoked; sign in again.")

    # The key is checked before the token is marked used, so an upstream outage costs the client nothing:
    # it retries later with the same refresh token.
    try:
        await gateway.upstream.for_key(grant.api_key).check_key()
    except UpstreamAuthError:
        raise OAuthError("invalid_grant", "StatusPal no longer accepts the API key behind this grant; sign in again with a valid key.") from None
    except UpstreamError:
        raise OAuthError("temporarily_unavailable", "StatusPal could not be reached to re-check the API key; try again in a moment.", 503) from None

    await _count_grant(gateway, grant.api_key)
    jti, ttl = token["jti"], token["exp"] - time.time() + _SLACK_SECONDS
    first_use = await gateway.store.claim("rt:" + jti, ttl)
    if first_use is not None:
        in_grace = time.time() - first_use <= settings.oauth.refresh_grace_seconds
        if not (in_grace and await gateway.store.use_once("rtg:" + jti, ttl)):
            await gateway.store.revoke("fam:" + grant.family, settings.oauth.refresh_token_ttl_seconds + _SLACK_SECONDS)
            log.warning("refresh token reused; its token family is revoked", extra={"family": grant.family, "key_id": key_id(grant.api_key)})
            raise OAuthError("invalid_grant", "The refresh token was already used; this grant is revoked, sign in again.")
    log.info("tokens issued", extra={"grant_type": "refresh_token", "key_id": key_id(grant.api_key), "family": grant.family})
    await gateway.audit.record(_grant_event("refresh", grant))
    return _issue_pair(gateway, grant, access_scope)


async def _count_grant(gateway: Gateway, api_key: str) -> None:
    """Count a redemption or rotation against the key's hourly quota, and reserve its room among the marks the key
    holds, before anything is marked used."""
    store = gateway.settings.store
    limit = store.token_grants_per_hour
    wait = await gateway.store.quota(f"quota:grant:{key_id(api_key)}", limit, GRANT_WINDOW_SECONDS)
    if wait:
        _over(wait, f"This StatusPal key has had {limit} codes redeemed or tokens refreshed in the last hour, the most the server records")
    # Held as long as the longest mark a grant can leave: a used refresh token's, or the revoked family a replayed
    # code or token leaves, both as long as a refresh token lives.
    wait = await gateway.store.hold(held_by(key_id(api_key)), store.entries_per_key, gateway.settings.oauth.refresh_token_ttl_seconds + _SLACK_SECONDS)
    if wait:
        _over(wait, f"This StatusPal key holds {store.entries_per_key} records on this server (sign-ins, refreshes and ended sessions), the most "
                    "it keeps for one key")


def _over(wait: float, why: str) -> NoReturn:
    seconds = max(1, int(wait + 0.999))
    raise OAuthError("temporarily_unavailable", f"{why}; nothing was used up, so retry the same request in {seconds} seconds.", 429, retry_after=seconds)


def _open(gateway: Gateway, purpose: str, value: str, typ: str, what: str) -> dict[str, Any]:
    """The claims of a code or refresh token presented at /token: sealed by us, of the right type, not expired."""
    try:
        claims = gateway.keyring.unseal(purpose, value)
    except InvalidToken:
        raise OAuthError("invalid_grant", f"The {what} is not valid.") from None
    if claims.get("typ") != typ or claims.get("iss") != gateway.settings.server.public_url:
        raise OAuthError("invalid_grant", f"The {what} is not valid.")
    if not isinstance(claims.get("exp"), int) or claims["exp"] <= time.time():
        raise OAuthError("invalid_grant", f"The {what} has expired; sign in again.")
    return claims


def _narrowed_scope(granted: str, requested: str | None) -> str:
    """RFC 6749 §6: a refresh may ask for less than was granted, never more. Unknown scopes are ignored, as
    everywhere: clients add their own, and refusing them would strand the refresh."""
    if not requested:
        return granted
    wanted = normalise_scope(requested)
    if not wanted:
        return granted
    if not set(wanted.split()) <= set(granted.split()):
        raise OAuthError("invalid_scope", f"A refresh can only keep or narrow the granted scope ({granted}).")
    return wanted


def _check_resource(form: Mapping[str, str], granted: str) -> None:
    """A `resource` sent to /token must be the one the grant was made for: tokens are bound to one surface
    URL, and a grant for a narrow surface must not mint a token for a broader one."""
    resource = form.get("resource")
    if resource and resource != granted:
        raise OAuthError("invalid_target", f"This grant was made for {granted}; its tokens are issued only for the resource it was made for.")


async def _check_client(gateway: Gateway, client_id: str) -> None:
    """The client must still be one the registration module accepts (a signed registration or a CIMD URL):
    a registration signed with a key that has since been retired is refused here as at /authorize."""
    try:
        await resolve_client(gateway, client_id)
    except ClientRejected as exc:
        raise OAuthError("invalid_client", str(exc)) from None


def _same(given: str, expected: Any) -> bool:
    return isinstance(expected, str) and hmac.compare_digest(given.encode(), expected.encode())


def _s256(verifier: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode("ascii")).digest()).rstrip(b"=").decode("ascii")


# --- /revoke -------------------------------------------------------------------------------------------


async def revoke_endpoint(request: web.Request) -> web.Response:
    """RFC 7009: revokes the token's whole family until its longest-lived member would have expired.

    Unknown, invalid and expired tokens get 200 too: the answer must not tell a caller which strings are live
    tokens, and the client's goal (the token no longer works) is met either way.
    """
    gateway = request.app[GATEWAY]
    try:
        form = await _read_form(request)
        if not form.get("token"):
            raise OAuthError("invalid_request", "Missing required parameter: token.")
        claims = _unseal_any(gateway.keyring, form["token"], form.get("token_type_hint"))
        if claims is not None and claims.get("iss") == gateway.settings.server.public_url and isinstance(claims.get("fam"), str):
            # Optional (RFC 7009 §2.1 authenticates only confidential clients): whoever holds a token may end it,
            # which is the point of revocation. A client_id that is sent must still be the token's.
            if form.get("client_id") and not _same(form["client_id"], claims.get("client_id")):
                raise OAuthError("invalid_client", "The token was issued to another client.")
            await gateway.store.revoke("fam:" + claims["fam"], gateway.settings.oauth.refresh_token_ttl_seconds + _SLACK_SECONDS)
            log.info("token family revoked", extra={"family": claims["fam"]})
            client_name, client_verified = claimed_client(claims)
            await gateway.audit.record(AuditEvent(
                "revocation", str(claims.get("sub", "")), "ok", client_id=claims.get("client_id"), client_name=client_name,
                client_verified=client_verified, surface=_path(claims.get("aud")),
            ))
    except OAuthError as exc:
        return exc.response()
    except StoreUnavailable as exc:
        log.error("revocation failed: %s", exc)
        return OAuthError("temporarily_unavailable", f"The server cannot revoke right now because {exc.reason}; try again in a moment.", 503).response()
    except Exception as exc:
        _log_unexpected("revoke", exc)
        return OAuthError("invalid_request", "The revocation request could not be processed.").response()
    return web.Response(status=200, headers=NO_STORE)


def _unseal_any(keyring: Keyring, token: str, hint: str | None) -> dict[str, Any] | None:
    """Refresh or access token, trying the hinted type first (RFC 7009 §2.1: the hint only speeds the lookup)."""
    order = ("access", "refresh") if hint == "access_token" else ("refresh", "access")
    for purpose in order:
        try:
            return keyring.unseal(purpose, token)
        except InvalidToken:
            continue
    return None


# --- HTTP plumbing -------------------------------------------------------------------------------------


async def _read_form(request: web.Request) -> dict[str, str]:
    """The urlencoded body as a dict. Each parameter at most once (RFC 6749 §3.2); bounded in size and fields."""
    if request.content_type != FORM_TYPE:
        raise OAuthError("invalid_request", "The body must be application/x-www-form-urlencoded.")
    try:
        pairs = await read_form(request, MAX_FORM_BYTES, MAX_FORM_FIELDS)
    except BodyTooLarge:
        raise OAuthError("invalid_request", f"The request body is larger than {MAX_FORM_BYTES} bytes.", 413) from None
    except BodyUnreadable as exc:
        raise OAuthError("invalid_request", f"The request body could not be read: {exc}.") from None
    except BodyTimeout as exc:
        raise OAuthError("invalid_request", f"The request body was not received within {exc.seconds:g} seconds.", 408) from None
    except FormUnreadable:
        raise OAuthError("invalid_request", f"The request body is not a valid UTF-8 form with at most {MAX_FORM_FIELDS} fields.") from None
    form: dict[str, str] = {}
    for name, value in pairs:
        if name in form:
            raise OAuthError("invalid_request", f"The parameter {quotable(name)!r} was sent more than once.")
        form[name] = value
    return form


def _log_unexpected(endpoint: str, exc: Exception) -> None:
    """A bug, logged with its type and stack only: the message of an arbitrary exception may quote a token."""
    log.error(
        "unexpected error in the %s endpoint: %s", endpoint, type(exc).__name__,
        extra={"stack": "".join(traceback.format_tb(exc.__traceback__))},
    )
