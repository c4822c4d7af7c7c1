"""Who is asking: RFC 7591 registration that stores nothing, Client ID Metadata Documents, and redirect URIs.

A registered ``client_id`` *is* the registration: the redirect URIs and name, signed with the keyring
(`Keyring.sign("client", …)`). Nothing is written anywhere, so a restart, a second instance or a
Redis flush never forgets a client (claude.ai re-registers often and dead-ends when a server forgets
one). A ``client_id`` that is an https URL is a Client ID Metadata Document: the client publishes its
own registration at that URL and we fetch it, with the guards an outbound fetch of an
attacker-chosen URL needs (see `MetadataDocuments`).

Redirect URIs pass two checks. At registration (and when a metadata document is read), a host policy:
only the callbacks of the assistants we serve, loopback for native apps (RFC 8252) and the IDE schemes
the operator lists; a phishing client cannot register ``https://evil.example/``. At authorization, the
requested URI must equal a registered one exactly, except that a loopback URI may use any port.
"""

from __future__ import annotations

import asyncio
import hashlib
import ipaddress
import logging
import re
import socket
import ssl
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import SplitResult, urlsplit

import aiohttp
import orjson
from aiohttp import web
from aiohttp.abc import AbstractResolver, ResolveResult

from gateway.config import OAuthSettings, Settings
from gateway.oauth.metadata import json_error
from gateway.redaction import has_secret_shape, quotable
from gateway.scopes import SCOPES_SUPPORTED
from gateway.sealing import InvalidToken
from gateway.state import GATEWAY
from gateway.store import StoreUnavailable

if TYPE_CHECKING:
    from gateway.state import Gateway

log = logging.getLogger(__name__)

CLIENT_PURPOSE = "client"
GRANT_TYPES = frozenset({"authorization_code", "refresh_token"})
LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})
# Bounds that keep a signed client_id well under the keyring's token size limit and a sane URL length.
MAX_REDIRECT_URIS = 5
MAX_URI_CHARS = 512
MAX_NAME_CHARS = 100
MAX_REGISTRATION_BYTES = 16 * 1024
# /register stores nothing and costs one HMAC; its limit is there against floods, and it is generous because
# hosted assistants register from a few shared backend addresses on behalf of all their users.
REGISTER_LIMIT_FACTOR = 10
# Metadata documents: cache lifetime when the response says nothing, the longest we honour, how many we keep.
CIMD_DEFAULT_TTL = 300.0
CIMD_MAX_TTL = 86400.0
CIMD_CACHE_ENTRIES = 256

# Known assistants' callbacks: on these hosts only these paths are accepted, so an open redirector or an
# unrelated page elsewhere on claude.ai or chatgpt.com can never receive a code.
_CHATGPT_CONNECTOR = re.compile(r"/connector/oauth/[A-Za-z0-9_-]{1,128}")
_KNOWN_CALLBACKS: dict[str, tuple[str, ...]] = {
    "claude.ai": ("https://claude.ai/api/mcp/auth_callback",),
    "claude.com": ("https://claude.com/api/mcp/auth_callback",),
    "chatgpt.com": ("https://chatgpt.com/connector_platform_oauth_redirect", "https://chatgpt.com/connector/oauth/<id>"),
}
_UNSAFE_CHARS = re.compile(r"[\x00-\x20\x7f\\<>\"`{}|^]|[^\x00-\x7f]")
_DOT_SEGMENT = re.compile(r"(^|/)(\.|%2e){1,2}(/|$)", re.IGNORECASE)


class RedirectRejected(ValueError):
    """A redirect URI the policy refuses; the message says why and what would be accepted."""


class ClientRejected(Exception):
    """A client_id we cannot honour (bad signature, unreachable or invalid metadata document). OAuth `invalid_client`."""


@dataclass(frozen=True)
class Client:
    client_id: str
    client_name: str | None
    redirect_uris: tuple[str, ...]
    client_uri: str | None = None
    # "registered": the name is whatever the registrant claimed. "metadata_document": the document was
    # served by the host in the client_id URL, so that host vouches for it.
    kind: Literal["registered", "metadata_document"] = "registered"

    @property
    def document_host(self) -> str | None:
        return urlsplit(self.client_id).hostname if self.kind == "metadata_document" else None

    def redirect_for(self, requested: str | None) -> str | None:
        """The redirect URI to use for `requested`, or None when it is not one this client registered.

        Omitted is allowed only when exactly one URI is registered (OAuth 2.1 §4.1.1). A loopback URI
        matches on scheme, host, path and query with any port: native apps get an ephemeral port from the
        OS on every run (RFC 8252 §7.3). Everything else is an exact string match, never a prefix.
        """
        if requested is None:
            return self.redirect_uris[0] if len(self.redirect_uris) == 1 else None
        if requested in self.redirect_uris:
            return requested
        try:
            asked = _loopback_parts(requested)
        except RedirectRejected:
            return None
        if asked is None:
            return None
        for registered in self.redirect_uris:
            parts = _loopback_parts(registered)
            if parts is not None and (parts.hostname, parts.path, parts.query) == (asked.hostname, asked.path, asked.query):
                return requested
        return None


# --- redirect URI policy -------------------------------------------------------------------------------


def check_redirect_uri(uri: Any, oauth: OAuthSettings) -> str:
    """`uri` if the registration-time policy admits it, else RedirectRejected saying why.

    Parsing tricks are refused before any host comparison: userinfo (``https://claude.ai@evil.example``
    is a request to evil.example), backslashes and spaces (parsers disagree on them), non-ASCII and
    percent-encoding in the host, fragments (RFC 6749 §3.1.2), dot segments, and explicit ports on https.
    """
    if not isinstance(uri, str) or not uri:
        raise RedirectRejected("each redirect URI must be a non-empty string")
    if len(uri) > MAX_URI_CHARS:
        raise RedirectRejected(f"redirect URIs may be at most {MAX_URI_CHARS} characters")
    if has_secret_shape(uri):
        # It would be echoed in the registration, signed into the client_id and shown on the login page.
        raise RedirectRejected("a redirect URI must not contain an API key, webhook secret or token")
    if _UNSAFE_CHARS.search(uri):
        raise RedirectRejected(f"{quotable(uri)!r} contains spaces, backslashes, control or non-ASCII characters")
    if "#" in uri:
        raise RedirectRejected(f"{quotable(uri)!r} must not contain a fragment (#)")
    parts = urlsplit(uri)
    scheme = parts.scheme
    if scheme in ("https", "http"):
        if "@" in parts.netloc or "%" in parts.netloc:
            raise RedirectRejected(f"{quotable(uri)!r} must not contain user information or an encoded host")
        try:
            port = parts.port
        except ValueError:
            raise RedirectRejected(f"{quotable(uri)!r} has an invalid port") from None
        host = parts.hostname or ""
        if _DOT_SEGMENT.search(parts.path):
            raise RedirectRejected(f"{quotable(uri)!r} must not contain . or .. path segments")
        if scheme == "http":
            if host not in LOOPBACK_HOSTS:
                raise RedirectRejected(
                    f"{quotable(uri)!r}: plain http is allowed only for loopback (http://localhost, http://127.0.0.1, http://[::1]); use https"
                )
            return uri
        hosts = tuple(h.lower() for h in oauth.redirect_hosts)
        if host not in hosts:
            raise RedirectRejected(f"{quotable(uri)!r}: https redirect URIs must be on {', '.join(hosts) or 'no host (none configured)'}")
        if port is not None:
            raise RedirectRejected(f"{quotable(uri)!r}: https redirect URIs must not name a port")
        known = _KNOWN_CALLBACKS.get(host)
        if known is not None and not _known_callback(host, parts):
            raise RedirectRejected(f"{quotable(uri)!r}: on {host} only {' or '.join(known)} is accepted")
        return uri
    if scheme and scheme in {s.lower() for s in oauth.redirect_schemes} and uri.startswith(f"{scheme}:"):
        if "@" in parts.netloc:
            raise RedirectRejected(f"{quotable(uri)!r} must not contain user information")
        return uri
    allowed = ["https (" + ", ".join(oauth.redirect_hosts) + ")", "http on loopback", *(f"{s}:" for s in oauth.redirect_schemes)]
    raise RedirectRejected(f"{quotable(uri)!r}: the scheme {scheme + ':' if scheme else '(none)'} is not allowed; use {', '.join(allowed)}")


def _known_callback(host: str, parts: SplitResult) -> bool:
    if parts.query:
        return False
    if host in ("claude.ai", "claude.com"):
        return parts.path == "/api/mcp/auth_callback"
    return parts.path == "/connector_platform_oauth_redirect" or _CHATGPT_CONNECTOR.fullmatch(parts.path) is not None


def _loopback_parts(uri: str) -> SplitResult | None:
    """The parts of a well-formed http loopback URI, None for any other URI (RedirectRejected when malformed)."""
    parts = urlsplit(uri)
    if parts.scheme != "http" or parts.hostname not in LOOPBACK_HOSTS:
        return None
    if "@" in parts.netloc or "%" in parts.netloc or "#" in uri or _UNSAFE_CHARS.search(uri):
        raise RedirectRejected(uri)
    try:
        parts.port
    except ValueError:
        raise RedirectRejected(uri) from None
    return parts


def _redirect_uris(value: Any, oauth: OAuthSettings) -> tuple[str, ...]:
    if not isinstance(value, list) or not value:
        raise RedirectRejected(f"redirect_uris is required: a list of 1 to {MAX_REDIRECT_URIS} URIs")
    if len(value) > MAX_REDIRECT_URIS:
        raise RedirectRejected(f"at most {MAX_REDIRECT_URIS} redirect URIs may be registered")
    return tuple(dict.fromkeys(check_redirect_uri(uri, oauth) for uri in value))


def _client_name(value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValueError("client_name must be a string")
    name = " ".join(value.split())  # no newlines or control whitespace on the login page
    if has_secret_shape(name):  # it is echoed in the registration and shown on the login page
        raise ValueError("client_name must not contain an API key, webhook secret or token")
    if len(name) > MAX_NAME_CHARS:
        raise ValueError(f"client_name may be at most {MAX_NAME_CHARS} characters")
    return name or None


def _client_uri(value: Any) -> str | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str) or len(value) > MAX_URI_CHARS or urlsplit(value).scheme != "https" or _UNSAFE_CHARS.search(value):
        raise ValueError(f"client_uri must be an https URL of at most {MAX_URI_CHARS} characters")
    if has_secret_shape(value):
        raise ValueError("client_uri must not contain an API key, webhook secret or token")
    return value


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
    if request.content_length is not None and request.content_length > MAX_REGISTRATION_BYTES:
        return json_error(413, "invalid_client_metadata", f"The registration may be at most {MAX_REGISTRATION_BYTES} bytes.")
    try:
        raw = await request.content.read(MAX_REGISTRATION_BYTES + 1)
    except aiohttp.ClientPayloadError:
        return json_error(400, "invalid_client_metadata", "The request body could not be read.")
    if len(raw) > MAX_REGISTRATION_BYTES:
        return json_error(413, "invalid_client_metadata", f"The registration may be at most {MAX_REGISTRATION_BYTES} bytes.")
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError:
        body = None
    if not isinstance(body, dict):
        return json_error(400, "invalid_client_metadata", "The body must be a JSON object of client metadata (RFC 7591).")

    try:
        redirect_uris = _redirect_uris(body.get("redirect_uris"), oauth)
    except RedirectRejected as exc:
        log.info("registration refused: redirect URI outside the policy", extra={"reason": str(exc)})
        return json_error(400, "invalid_redirect_uri", str(exc))
    try:
        grant_types = _grant_types(body.get("grant_types", ["authorization_code"]))
        response_types = _subset(body.get("response_types", ["code"]), frozenset({"code"}), "response_types")
        name = _client_name(body.get("client_name"))
        client_uri = _client_uri(body.get("client_uri"))
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
    return web.Response(status=201, body=orjson.dumps(answer), content_type="application/json",
                        headers={"Cache-Control": "no-store", "Pragma": "no-cache"})


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


async def resolve_client(gateway: "Gateway", client_id: Any) -> Client:
    """The client a `client_id` names: a signed registration or an https metadata document URL.

    Raises ClientRejected with a message fit for the user (the login page) or the client (`invalid_client`).
    """
    if not isinstance(client_id, str) or not client_id:
        raise ClientRejected("client_id is missing.")
    if ":" in client_id:  # a URL of some kind (a signed client_id is base64url and dots only)
        documents = gateway.clients or _attach(gateway)
        return await documents.resolve(client_id)
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


def _attach(gateway: "Gateway") -> "MetadataDocuments":
    gateway.clients = MetadataDocuments(gateway.settings)
    return gateway.clients


class MetadataDocuments:
    """Fetches and caches Client ID Metadata Documents, safely.

    The URL comes from whoever opens /authorize, so the fetch is treated as hostile: https only, no
    redirects (a redirect could point anywhere), public addresses only (no probing of our own network:
    private, loopback, link-local, multicast and reserved ranges are refused), the host's addresses
    resolved by us, checked, and used for the connection itself (so a DNS answer cannot change between
    the check and the connect), at most `cimd_max_bytes` read and `cimd_timeout_seconds` spent. Results
    are cached per Cache-Control in a bounded cache, so a busy client costs one fetch per lifetime.
    """

    def __init__(self, settings: Settings) -> None:
        self._oauth = settings.oauth
        self._allow_loopback = settings.oauth.cimd_allow_loopback
        self._cache: OrderedDict[str, tuple[float, Client]] = OrderedDict()

    async def resolve(self, url: str) -> Client:
        cached = self._cache.get(url)
        if cached is not None and cached[0] > time.monotonic():
            self._cache.move_to_end(url)
            return cached[1]
        self._check_url(url)
        try:
            body, ttl = await asyncio.wait_for(self._fetch(url), self._oauth.cimd_timeout_seconds)
        except asyncio.TimeoutError:
            raise ClientRejected(f"The client metadata document at {quotable(url)} did not arrive within {self._oauth.cimd_timeout_seconds:g} s.") from None
        client = self._parse(url, body)
        if ttl > 0:
            self._cache[url] = (time.monotonic() + ttl, client)
            self._cache.move_to_end(url)
            while len(self._cache) > CIMD_CACHE_ENTRIES:
                self._cache.popitem(last=False)
        return client

    def _check_url(self, url: str) -> None:
        """The URL rules of the CIMD draft: https, a path, no fragment, no credentials, no dot segments."""
        parts = urlsplit(url)
        loopback_http = self._allow_loopback and parts.scheme == "http" and parts.hostname in LOOPBACK_HOSTS
        if parts.scheme != "https" and not loopback_http:
            raise ClientRejected(f"A client_id URL must use https: {quotable(url)}")
        if len(url) > MAX_URI_CHARS or _UNSAFE_CHARS.search(url) or "#" in url or "@" in parts.netloc or not parts.hostname:
            raise ClientRejected(f"The client_id URL {quotable(url)!r} is not a plain https URL (no fragment, credentials or unusual characters).")
        if parts.path in ("", "/") or _DOT_SEGMENT.search(parts.path):
            raise ClientRejected(f"The client_id URL {quotable(url)} must have a path without . or .. segments.")
        try:
            parts.port
            address = ipaddress.ip_address(parts.hostname)
        except ValueError:
            return  # a name: checked when it is resolved, see _GuardedResolver
        if not _address_allowed(address, self._allow_loopback):
            raise ClientRejected(f"The client_id URL {quotable(url)} points at a non-public address; metadata documents must be on the public internet.")

    async def _fetch(self, url: str) -> tuple[bytes, float]:
        resolver = _GuardedResolver(self._allow_loopback)
        # Built per fetch (fetches are rare and cached) so the system trust store in effect is the one used.
        connector = aiohttp.TCPConnector(resolver=resolver, use_dns_cache=False, ssl=ssl.create_default_context(), limit=1)
        timeout = aiohttp.ClientTimeout(total=self._oauth.cimd_timeout_seconds)
        cap = self._oauth.cimd_max_bytes
        try:
            async with aiohttp.ClientSession(connector=connector, timeout=timeout, trust_env=False) as session:
                async with session.get(url, allow_redirects=False,
                                       headers={"Accept": "application/json", "Accept-Encoding": "identity"}) as response:
                    if 300 <= response.status < 400:
                        raise ClientRejected(f"The client metadata document at {quotable(url)} redirected (HTTP {response.status}); documents must be served directly.")
                    if response.status != 200:
                        raise ClientRejected(f"The client metadata document at {quotable(url)} could not be fetched (HTTP {response.status}).")
                    if response.content_length is not None and response.content_length > cap:
                        raise ClientRejected(f"The client metadata document at {quotable(url)} is larger than {cap} bytes.")
                    body = bytearray()
                    async for chunk in response.content.iter_chunked(1024):
                        body += chunk
                        if len(body) > cap:
                            raise ClientRejected(f"The client metadata document at {quotable(url)} is larger than {cap} bytes.")
                    return bytes(body), _cache_seconds(response.headers.get("Cache-Control"))
        except ClientRejected:
            raise
        except (aiohttp.ClientError, OSError) as exc:
            if resolver.refused:
                raise ClientRejected(f"The client_id URL {quotable(url)} resolves to a non-public address; metadata documents must be on the public internet.") from None
            reason = "its certificate is not trusted" if isinstance(exc, aiohttp.ClientSSLError) else "it could not be reached"
            raise ClientRejected(f"The client metadata document at {quotable(url)} could not be fetched: {reason}.") from None

    def _parse(self, url: str, body: bytes) -> Client:
        try:
            doc = orjson.loads(body)
        except orjson.JSONDecodeError:
            doc = None
        if not isinstance(doc, dict):
            raise ClientRejected(f"The client metadata document at {quotable(url)} is not a JSON object.")
        if doc.get("client_id") != url:
            raise ClientRejected(f"The client metadata document at {quotable(url)} names a different client_id; it must equal the URL it is served from.")
        try:
            redirect_uris = _redirect_uris(doc.get("redirect_uris"), self._oauth)
            name = _client_name(doc.get("client_name"))
            client_uri = _client_uri(doc.get("client_uri"))
        except ValueError as exc:  # RedirectRejected is a ValueError too
            raise ClientRejected(f"The client metadata document at {quotable(url)} is not acceptable: {exc}") from None
        return Client(client_id=url, client_name=name, redirect_uris=redirect_uris, client_uri=client_uri, kind="metadata_document")


def _address_allowed(address: ipaddress.IPv4Address | ipaddress.IPv6Address, allow_loopback: bool) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped  # ::ffff:10.0.0.1 is 10.0.0.1
    if allow_loopback and address.is_loopback:
        return True
    return address.is_global and not address.is_multicast


class _GuardedResolver(AbstractResolver):
    """Resolves like the system does, then refuses the whole answer if any address is not public.

    aiohttp connects to exactly the addresses this returns, which is what pins the connection to the
    addresses that were checked.
    """

    def __init__(self, allow_loopback: bool) -> None:
        self._inner = aiohttp.ThreadedResolver()
        self._allow_loopback = allow_loopback
        self.refused = False

    async def resolve(self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET) -> list[ResolveResult]:
        results = await self._inner.resolve(host, port, family)
        for result in results:
            if not _address_allowed(ipaddress.ip_address(result["host"].split("%")[0]), self._allow_loopback):
                self.refused = True
                raise OSError(f"{host} resolves to a non-public address")
        return results

    async def close(self) -> None:
        await self._inner.close()


def _cache_seconds(header: str | None) -> float:
    """How long to keep a document: its max-age (bounded), nothing for no-store/no-cache, a default otherwise."""
    if not header:
        return CIMD_DEFAULT_TTL
    directives = {d.strip().lower().partition("=")[0]: d.strip().partition("=")[2] for d in header.split(",")}
    if "no-store" in directives or "no-cache" in directives:
        return 0.0
    try:
        return min(float(directives["max-age"].strip('"')), CIMD_MAX_TTL) if "max-age" in directives else CIMD_DEFAULT_TTL
    except ValueError:
        return CIMD_DEFAULT_TTL


def client_key(client_id: str) -> str:
    """A short stable name for a client in store keys (a client_id can be kilobytes long)."""
    return hashlib.sha256(client_id.encode()).hexdigest()[:24]
