"""/authorize: the paste-your-key page (GET renders it, POST submits it).

Order matters for safety. Until the client and its redirect URI are known good, every problem is shown
on our own page and nothing redirects: redirecting an error to an unchecked URI would make this
endpoint an open redirector. After that, protocol errors go back to the client as
``?error=…&state=…&iss=…`` like any OAuth server (RFC 6749 §4.1.2.1, RFC 9207).

The page itself is the phishing target: an attacker can register a client and send a user our genuine
page. So it names the client (and says whether that name is vouched for by a metadata document's host
or merely claimed), shows prominently the host that will receive access, never remembers consent, and
carries a CSRF token bound to the exact request plus a same-origin check. It cannot be framed, loads
nothing from elsewhere, leaks nothing through Referer, and is never cached. A key is checked with
StatusPal before any code exists; every outcome of that check has its own message.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import html
import logging
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from string import Template
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode, urlsplit

import orjson
from aiohttp import web
from multidict import MultiDict, MultiMapping

from gateway.auth.identity import API_KEY_SHAPE, key_id
from gateway.auth.scopes import READ, WRITE
from gateway.auth.sealing import ExpiredToken, InvalidToken
from gateway.auth.surfaces import Surface, surface_of_resource
from gateway.oauth.clients import Client, ClientRejected, client_key
from gateway.oauth.errors import NO_STORE
from gateway.oauth.forms import FORM_TYPE, FormUnreadable, read_form
from gateway.oauth.redirects import LOOPBACK_HOSTS
from gateway.oauth.registration import resolve_client
from gateway.oauth.tokens import issue_code
from gateway.observability.audit import AuditEvent
from gateway.observability.redaction import has_secret_shape, quotable, redact_text
from gateway.statuspal.errors import UpstreamAuthError, UpstreamError, UpstreamUnavailable
from gateway.store.base import StoreUnavailable
from gateway.web.connections import BodyTooLarge, BodyUnreadable
from gateway.web.cors import normalise_origin
from gateway.web.services import GATEWAY

if TYPE_CHECKING:
    from gateway.web.services import Gateway

log = logging.getLogger(__name__)

CSRF_PURPOSE = "csrf"
# The authorization request parameters the form carries through and the CSRF token is bound to.
_OPAQUE_PARAMS = frozenset({"client_id", "state", "code_challenge"})
REQUEST_PARAMS = ("client_id", "redirect_uri", "response_type", "code_challenge", "code_challenge_method", "resource", "scope", "state")
GRANTS = {"read": READ, "full": f"{READ} {WRITE}"}
MAX_FORM_BYTES = 32 * 1024
# The login form sends about a dozen fields; far more is not our page.
MAX_FORM_FIELDS = 64
MAX_STATE_CHARS = 2048
# Failed key checks through one client, across all addresses, before that client is paused for a window.
# Counted on failures only: a shared client (claude.ai's metadata document) serves every user at once.
CLIENT_FAILURE_FACTOR = 10
_CHALLENGE = re.compile(r"^[A-Za-z0-9_-]{43}$")  # base64url(SHA-256), no padding: exactly 43 characters
RATE_LIMITED = "Too many attempts. Wait a minute, then try again."


# --- the page template ---------------------------------------------------------------------------------


def _blocks(text: str) -> dict[str, Template]:
    found = re.findall(r"<!-- block (\w+) -->\n(.*?)<!-- end \1 -->", text, re.S)
    return {name: Template(body) for name, body in found}


_TEMPLATES = _blocks((Path(__file__).with_name("login.html")).read_text(encoding="utf-8"))
# The one stylesheet is inline and static, so the CSP allows it by hash: nothing injected could run or style.
_STYLE = re.search(r"<style>(.*?)</style>", _TEMPLATES["page"].template, re.S)
assert _STYLE is not None, "login.html must carry its stylesheet inline"
_STYLE_HASH = base64.b64encode(hashlib.sha256(_STYLE.group(1).encode()).digest()).decode()


def _e(value: Any) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def _page(gateway: Gateway, status: int, title: str, content: str, form_action: str = "'none'", **headers: str) -> web.Response:
    """A page with the headers every page here carries (see module docstring)."""
    body = _TEMPLATES["page"].substitute(title=_e(title), content=content)
    csp = (
        f"default-src 'none'; style-src 'sha256-{_STYLE_HASH}'; form-action {form_action}; "
        "frame-ancestors 'none'; base-uri 'none'"
    )
    page_headers = {
        "Content-Security-Policy": csp,
        "X-Frame-Options": "DENY",
        "Referrer-Policy": "no-referrer",
        **NO_STORE,
        "X-Content-Type-Options": "nosniff",
        "Cross-Origin-Opener-Policy": "same-origin",
        **headers,
    }
    if gateway.settings.server.public_url.startswith("https://"):
        page_headers["Strict-Transport-Security"] = "max-age=31536000"
    return web.Response(status=status, text=body, content_type="text/html", charset="utf-8", headers=page_headers)


def _error_page(gateway: Gateway, status: int, heading: str, message: str) -> web.Response:
    content = _TEMPLATES["error"].substitute(heading=_e(heading), message=_e(redact_text(message)))
    return _page(gateway, status, heading, content)


# --- the request ---------------------------------------------------------------------------------------------


class _PageError(Exception):
    """Shown on our page, never redirected: the client or its redirect URI is not (yet) trusted."""

    def __init__(self, status: int, heading: str, message: str) -> None:
        super().__init__(message)
        self.status, self.heading, self.message = status, heading, message


class _FormError(Exception):
    """Shown above the login form, rendered again with the user's choice kept, so they can correct and resend."""

    def __init__(self, status: int, alert: str, *, kind: str = "error", key_error: bool = False,
                 headers: Mapping[str, str] | None = None) -> None:
        super().__init__(alert)
        self.status, self.alert, self.kind, self.key_error, self.headers = status, alert, kind, key_error, dict(headers or {})


class _RedirectError(Exception):
    """Sent back to the (validated) redirect URI as an OAuth error."""

    def __init__(self, error: str, description: str) -> None:
        super().__init__(description)
        self.error, self.description = error, description


@dataclass(frozen=True)
class AuthorizeRequest:
    client: Client
    redirect_uri: str
    params: dict[str, str]  # the request parameters as received (present ones only), carried by the form
    code_challenge: str
    state: str | None
    requested: frozenset[str]  # the known scopes asked for; unknown ones were dropped
    resource: str  # the exact surface URL the tokens will be bound to (RFC 8707); /mcp when none was named
    surface: Surface


async def _client_and_redirect(gateway: Gateway, params: Mapping[str, str]) -> tuple[Client, str]:
    """Step one: who is asking and where the answer goes. Failures are _PageError."""
    try:
        client = await resolve_client(gateway, params.get("client_id"))
    except ClientRejected as exc:
        raise _PageError(400, "This app could not be identified", str(exc)) from None
    redirect_uri = client.redirect_for(params.get("redirect_uri"))
    if redirect_uri is None:
        log.info("authorize refused: redirect URI not registered for the client", extra={"redirect_uri": params.get("redirect_uri")})
        asked = params.get("redirect_uri")
        raise _PageError(
            400,
            "This app asked to send you somewhere unexpected",
            "The redirect_uri is missing or is not one this app registered, so nothing will be sent to it."
            if asked is None else f"{quotable(asked)} is not a redirect URI this app registered, so nothing will be sent to it.",
        )
    return client, redirect_uri


def _check_request(gateway: Gateway, client: Client, redirect_uri: str, params: Mapping[str, str]) -> AuthorizeRequest:
    """Step two: the OAuth parameters. Failures are _RedirectError (the redirect URI is trusted now)."""
    if params.get("response_type") != "code":
        raise _RedirectError("unsupported_response_type", "response_type must be code")
    method = params.get("code_challenge_method")
    challenge = params.get("code_challenge")
    if not challenge:
        raise _RedirectError("invalid_request", "code_challenge is required (PKCE with S256)")
    if method != "S256":
        raise _RedirectError(
            "invalid_request",
            "code_challenge_method must be S256" + ("; plain is not supported" if method in (None, "plain") else ""),
        )
    if not _CHALLENGE.match(challenge):
        raise _RedirectError("invalid_request", "code_challenge must be the 43-character base64url SHA-256 of the verifier")
    server = gateway.settings.server
    resource = params.get("resource", server.resource_url)
    # Exactly one surface's one URL, as /token and the tokens' `aud` require (no trailing-slash variant).
    surface = surface_of_resource(resource, server.public_url)
    if surface is None:
        raise _RedirectError(
            "invalid_target",
            f"resource must be {server.resource_url} or one of its surfaces, spelt exactly "
            f"(e.g. {server.resource_url}/readonly or {server.resource_url}/pages/acme/x/notices)",
        )
    state = params.get("state")
    if state is not None and len(state) > MAX_STATE_CHARS:
        raise _RedirectError("invalid_request", f"state may be at most {MAX_STATE_CHARS} characters")
    scopes = (params.get("scope") or "").split()
    return AuthorizeRequest(
        client=client,
        redirect_uri=redirect_uri,
        params={name: params[name] for name in REQUEST_PARAMS if name in params},
        code_challenge=challenge,
        state=state,
        requested=frozenset(s for s in scopes if s in (READ, WRITE)),
        resource=resource,
        surface=surface,
    )


def _single(params: MultiMapping[str]) -> dict[str, str]:
    """The request parameters, each at most once (RFC 6749 §3.1: a repeated parameter is an error)."""
    values: dict[str, str] = {}
    for name in REQUEST_PARAMS:
        found = params.getall(name, [])
        if len(found) > 1:
            raise _PageError(400, "This sign-in link is malformed", f"The parameter {name} appears more than once.")
        if found:
            values[name] = found[0]
            # The parameters are carried in the login form: a value shaped like a secret would be quoted back.
            # Exempt: our own client_id (a signed token), and the client's random state and code_challenge,
            # which go back verbatim because the protocol says so and could look like a key by chance.
            if name not in _OPAQUE_PARAMS and has_secret_shape(found[0]):
                raise _PageError(400, "This sign-in link is malformed",
                                 f"The parameter {name} holds what looks like an API key, webhook secret or token.")
    return values


def _redirect(gateway: Gateway, uri: str, params: dict[str, str | None]) -> web.Response:
    """302 to the client with `params`, `iss` always included (RFC 9207)."""
    params = {**params, "iss": gateway.settings.server.public_url}
    query = urlencode({k: v for k, v in params.items() if v is not None})
    location = f"{uri}{'&' if '?' in uri else '?'}{query}"
    return web.Response(status=302, headers={"Location": location, "Cache-Control": "no-store", "Referrer-Policy": "no-referrer"})


def _error_redirect(gateway: Gateway, redirect_uri: str, params: Mapping[str, str], exc: _RedirectError) -> web.Response:
    return _redirect(gateway, redirect_uri, {"error": exc.error, "error_description": exc.description, "state": params.get("state")})


# --- CSRF ---------------------------------------------------------------------------------------------------


def _params_hash(params: Mapping[str, str]) -> str:
    canonical = orjson.dumps(sorted(params.items()))
    return hashlib.sha256(canonical).hexdigest()


def _csrf_token(gateway: Gateway, auth: AuthorizeRequest) -> str:
    ttl = gateway.settings.oauth.csrf_ttl_seconds
    return gateway.keyring.sign(CSRF_PURPOSE, {"h": _params_hash(auth.params), "exp": int(time.time()) + ttl})


def _check_csrf(gateway: Gateway, token: str | None, auth: AuthorizeRequest) -> None:
    if not token:
        raise _PageError(403, "This form was not sent from our page",
                         "The security token is missing. Go back to the app and start connecting again.")
    try:
        claims = gateway.keyring.verify(CSRF_PURPOSE, token)
    except ExpiredToken:
        raise _PageError(403, "This page expired",
                         "The sign-in page was open too long. Go back to the app and start connecting again.") from None
    except InvalidToken:
        raise _PageError(403, "This form was not sent from our page",
                         "The security token is not valid. Go back to the app and start connecting again.") from None
    bound = claims.get("h")
    if not isinstance(bound, str) or not hmac.compare_digest(bound, _params_hash(auth.params)):
        raise _PageError(403, "This form was not sent from our page",
                         "The security token belongs to a different request. Go back to the app and start connecting again.")


def _same_origin(request: web.Request, public_url: str) -> bool:
    """A browser's POST must come from our own page.

    A real Origin must be ours. Our own page sends ``Origin: null``, not its origin: under
    ``Referrer-Policy: no-referrer`` browsers withhold the origin of a form POST (Fetch, "serializing a
    request origin"). So for a null or absent Origin the deciding header is Sec-Fetch-Site, which every
    current browser sends and which says "same-origin" only for our own page ("cross-site" for a
    sandboxed frame elsewhere). A request with neither signal is not from a browser that could carry
    anyone's ambient authority; the CSRF token bound to the request is still required.
    """
    origin = request.headers.get("Origin")
    if origin is not None and origin != "null":
        return normalise_origin(origin) == normalise_origin(public_url)
    site = request.headers.get("Sec-Fetch-Site")
    return site is None or site == "same-origin"


# --- rendering the login form ----------------------------------------------------------------------------


def _recipient(redirect_uri: str) -> tuple[str, str]:
    """Who will hold the access, in words a user can judge, as (headline, phrase): the redirect host for
    https, "an app on this computer" for loopback and app schemes (the URI itself is shown below it)."""
    parts = urlsplit(redirect_uri)
    if parts.scheme == "https":
        host = parts.hostname or redirect_uri
        return host, host
    if parts.scheme == "http" and parts.hostname in LOOPBACK_HOSTS:
        return "An app on this computer", "an app on this computer"
    return f"The {parts.scheme} app on this computer", f"the {parts.scheme} app on this computer"


# The docs section that says where in StatusPal Next API keys are made (docs_corpus/01-getting-started.md).
API_KEYS_DOCS = "getting-started#get-an-api-key"


def _form_action(redirect_uri: str) -> str:
    """CSP form-action: our own form plus the redirect target, since browsers apply it to the redirect a POST answers with."""
    parts = urlsplit(redirect_uri)
    if parts.scheme in ("http", "https"):
        return f"'self' {parts.scheme}://{parts.netloc}"
    return f"'self' {parts.scheme}:"


def _login(gateway: Gateway, auth: AuthorizeRequest, status: int = 200, alert: str | None = None, alert_kind: str = "error",
           key_error: bool = False, access: str | None = None, **headers: str) -> web.Response:
    client = auth.client
    # Lower case: the name only ever stands inside a sentence ("Connect an unnamed app to StatusPal").
    name = client.client_name or "an unnamed app"
    if client.document_host:
        note = f"Identified by its published client metadata at {client.document_host}."
    else:
        note = "This name was supplied by the app itself and is not verified."
    if access not in GRANTS:
        # On a read-only URL a write grant could do nothing more, so read-only is what the page suggests.
        access = "full" if WRITE in auth.requested and not auth.surface.readonly else "read"
    hidden = "\n".join(
        f'  <input type="hidden" name="{_e(k)}" value="{_e(v)}">'
        for k, v in (*auth.params.items(), ("csrf", _csrf_token(gateway, auth)))
    )
    headline, phrase = _recipient(auth.redirect_uri)
    alert_html = _TEMPLATES["alert"].substitute(kind=alert_kind, message=_e(alert)) if alert else ""
    content = _TEMPLATES["login"].substitute(
        client_name=_e(name),
        client_note=_e(note),
        surface=_surface_note(auth.surface),
        api_keys_url=_e(f"{gateway.settings.search.docs_base_url}/{API_KEYS_DOCS}"),
        recipient_headline=_e(headline),
        recipient=_e(phrase),
        redirect_uri=_e(auth.redirect_uri),
        alert=alert_html,
        hidden=hidden,
        read_checked=" checked" if access == "read" else "",
        full_checked=" checked" if access == "full" else "",
        key_invalid=' aria-invalid="true" aria-errormessage="form-error"' if key_error else "",
    )
    return _page(gateway, status, f"Connect {name} to StatusPal", content, form_action=_form_action(auth.redirect_uri), **headers)


def _surface_note(surface: Surface) -> str:
    """What the URL being connected allows, when it is less than everything: the grant chosen below can never
    reach beyond it, so the user decides knowing the whole of it."""
    if surface.is_full:
        return ""
    return _TEMPLATES["surface"].substitute(allows=_e(surface.describe()), path=_e(surface.path))


# --- handlers -------------------------------------------------------------------------------------------------


async def authorize_get(request: web.Request) -> web.Response:
    gateway = request.app[GATEWAY]
    try:
        params = _single(request.query)
        client, redirect_uri = await _client_and_redirect(gateway, params)
    except _PageError as exc:
        return _error_page(gateway, exc.status, exc.heading, exc.message)
    try:
        auth = _check_request(gateway, client, redirect_uri, params)
    except _RedirectError as exc:
        return _error_redirect(gateway, redirect_uri, params, exc)
    return _login(gateway, auth)


async def authorize_post(request: web.Request) -> web.Response:
    gateway = request.app[GATEWAY]
    try:
        form = await _login_form(request, gateway.settings.server.public_url)
        params = _single(form)
        client, redirect_uri = await _client_and_redirect(gateway, params)
        auth = _check_request(gateway, client, redirect_uri, params)
        _check_csrf(gateway, form.get("csrf"), auth)
    except _PageError as exc:
        return _error_page(gateway, exc.status, exc.heading, exc.message)
    except _RedirectError as exc:  # the form was tampered with: the redirect URI is still a validated one
        return _error_redirect(gateway, redirect_uri, params, exc)

    if form.get("action") == "deny":
        return _redirect(gateway, auth.redirect_uri,
                         {"error": "access_denied", "error_description": "The user cancelled the connection", "state": auth.state})
    access = form.get("access")
    try:
        if access is None or access not in GRANTS:
            raise _FormError(400, "Choose read-only or full access.")
        await _admit_attempt(gateway, request, client)
        key = await _checked_key(gateway, client, form.get("key"))
    except _FormError as exc:
        submitted = form.get("key") or ""
        if exc.key_error and API_KEY_SHAPE.match(submitted):
            await gateway.audit.record(_sign_in(client, auth.resource, key_id(submitted), "refused", access))
        return _login(gateway, auth, exc.status, exc.alert, alert_kind=exc.kind, key_error=exc.key_error,
                      access=access, **exc.headers)

    code = issue_code(
        gateway,
        client_id=client.client_id,
        redirect_uri=auth.redirect_uri,
        code_challenge=auth.code_challenge,
        resource=auth.resource,
        scope=GRANTS[access],
        api_key=key,
        client_name=client.client_name,
        client_verified=client.document_host is not None,
    )
    await gateway.audit.record(_sign_in(client, auth.resource, key_id(key), "ok", access))
    return _redirect(gateway, auth.redirect_uri, {"code": code, "state": auth.state})


def _sign_in(client: Client, resource: str, key: str, outcome: str, access: str | None) -> AuditEvent:
    """A sign-in on the login page: who (by key id), which client and whether its name was vouched for, for which URL."""
    return AuditEvent(
        "sign_in", key, outcome, client_id=client.client_id, client_name=client.client_name,
        client_verified=client.document_host is not None, surface=urlsplit(resource).path or None,
        detail={"access": access} if access else {},
    )


async def _login_form(request: web.Request, public_url: str) -> MultiDict[str]:
    """The submitted login form, if it is one our own page sent; _PageError otherwise."""
    if not _same_origin(request, public_url):
        raise _PageError(403, "This form was not sent from our page", "The sign-in form was submitted from another site, so it was refused.")
    if request.content_length is None:
        # Browsers send a form with its length; refusing a chunked one keeps the cap a check before any read.
        raise _PageError(411, "This form has no length", "The sign-in form is always sent with its length; this one was not, so it was refused.")
    if request.content_length > MAX_FORM_BYTES:
        raise _PageError(413, "This form is too large", "The submitted form is larger than this page ever sends.")
    if request.content_type != FORM_TYPE:
        # Only what our own page sends is parsed: a multipart body would reach aiohttp's multipart reader.
        raise _PageError(415, "This form was not sent from our page", "The sign-in form is always sent URL-encoded.")
    try:
        return MultiDict(await read_form(request, MAX_FORM_BYTES, MAX_FORM_FIELDS))
    except BodyTooLarge:
        raise _PageError(413, "This form is too large", "The submitted form is larger than this page ever sends.") from None
    except (BodyUnreadable, FormUnreadable):
        raise _PageError(400, "This form could not be read", "The submitted form is not one this page sends.") from None


async def _admit_attempt(gateway: Gateway, request: web.Request, client: Client) -> None:
    """Count the attempt against the address; _FormError while the address or the client is paused."""
    oauth = gateway.settings.oauth
    try:
        if not await gateway.store.hit(f"rl:oauth-login:ip:{gateway.addresses.bucket(request)}", oauth.rate_limit_attempts,
                                       oauth.rate_limit_window_seconds) \
                or await gateway.store.get(_client_blocked(client)):
            raise _FormError(429, RATE_LIMITED, headers={"Retry-After": str(oauth.rate_limit_window_seconds)})
    except StoreUnavailable as exc:
        raise _store_down(exc) from None


async def _checked_key(gateway: Gateway, client: Client, raw_key: str | None) -> str:
    """The pasted key once StatusPal has accepted it; _FormError saying what is wrong with it otherwise."""
    key = raw_key.strip() if raw_key is not None else ""
    if not key:
        raise _FormError(400, "Paste your StatusPal API key.", key_error=True)
    if not API_KEY_SHAPE.match(key):
        raise _FormError(400, "That does not look like a StatusPal API key: keys start with sk_ and contain no spaces.", key_error=True)
    oauth = gateway.settings.oauth
    try:
        await gateway.upstream.for_key(key).check_key()
    except UpstreamAuthError as exc:
        # The failure that reaches the allowance pauses the client, so the next attempt meets the pause.
        allowance = oauth.rate_limit_attempts * CLIENT_FAILURE_FACTOR
        try:
            if not await gateway.store.hit(f"rl:oauth-login-fail:client:{client_key(client.client_id)}", allowance - 1,
                                           oauth.rate_limit_window_seconds):
                await gateway.store.set(_client_blocked(client), "1", oauth.rate_limit_window_seconds)
        except StoreUnavailable as down:
            raise _store_down(down) from None
        raise _FormError(400, _rejected_key_message(exc), key_error=True) from None
    except UpstreamUnavailable:
        raise _FormError(503, "StatusPal could not be reached to check your key, so nothing was issued. Try again in a moment.",
                         kind="warn", headers={"Retry-After": "5"}) from None
    except UpstreamError as exc:
        raise _FormError(502, f"StatusPal answered the key check with an unexpected error (HTTP {exc.status}), so nothing was "
                         "issued. Try again later.", kind="warn") from None
    return key


def _client_blocked(client: Client) -> str:
    return f"rl:oauth-login-blocked:client:{client_key(client.client_id)}"


def _store_down(exc: StoreUnavailable) -> _FormError:
    """The sign-in attempts cannot be counted, so none is made: without the count the per-address limit cannot
    hold. The page stays, with the form, so the user can simply try again."""
    log.error("sign-in refused: %s", exc)
    return _FormError(503, f"Sign-in is paused because {exc.reason}, so your key was not checked and nothing was "
                      "issued. Try again in a moment.", kind="warn", headers={"Retry-After": "5"})


def _rejected_key_message(exc: UpstreamAuthError) -> str:
    """StatusPal says "revoked" in its message for a revoked key; that is the only signal there is."""
    if "revoked" in f"{exc.code} {exc.message}".lower():
        return "This key has been revoked in StatusPal. Create a new key under Settings → API keys and paste it here."
    return "StatusPal does not recognise this key. Check that you copied the whole key from Settings → API keys."
