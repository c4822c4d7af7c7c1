"""Which redirect URIs a client may register, and which of them an authorization request may use.

Two checks. At registration (and when a metadata document is read), a host policy: only the callbacks
of the assistants we serve, loopback for native apps (RFC 8252) and the IDE schemes the operator lists;
a phishing client cannot register ``https://evil.example/``. At authorization, the requested URI must
equal a registered one exactly, except that a loopback URI may use any port (`Client.redirect_for`).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any
from urllib.parse import SplitResult, urlsplit

from gateway.observability.redaction import has_secret_shape, quotable

if TYPE_CHECKING:
    from gateway.config import OAuthSettings

LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})
# Bounds that keep a signed client_id well under the keyring's token size limit and a sane URL length.
MAX_REDIRECT_URIS = 5
MAX_URI_CHARS = 512

# Known assistants' callbacks: on these hosts only these paths are accepted, so an open redirector or an
# unrelated page elsewhere on claude.ai or chatgpt.com can never receive a code. `<id>` is one path segment.
_KNOWN_CALLBACKS: dict[str, tuple[str, ...]] = {
    "claude.ai": ("/api/mcp/auth_callback",),
    "claude.com": ("/api/mcp/auth_callback",),
    "chatgpt.com": ("/connector_platform_oauth_redirect", "/connector/oauth/<id>"),
}
_CALLBACK_PATHS = {
    host: tuple(re.compile(re.escape(path).replace(re.escape("<id>"), "[A-Za-z0-9_-]{1,128}")) for path in paths)
    for host, paths in _KNOWN_CALLBACKS.items()
}
UNSAFE_CHARS = re.compile(r"[\x00-\x20\x7f\\<>\"`{}|^]|[^\x00-\x7f]")
DOT_SEGMENT = re.compile(r"(^|/)(\.|%2e){1,2}(/|$)", re.IGNORECASE)


class RedirectRejected(ValueError):
    """A redirect URI the policy refuses; the message says why and what would be accepted."""


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
    if UNSAFE_CHARS.search(uri):
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
        if DOT_SEGMENT.search(parts.path):
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
            raise RedirectRejected(f"{quotable(uri)!r}: on {host} only {' or '.join(f'https://{host}{path}' for path in known)} is accepted")
        return uri
    if scheme and scheme in {s.lower() for s in oauth.redirect_schemes} and uri.startswith(f"{scheme}:"):
        if "@" in parts.netloc:
            raise RedirectRejected(f"{quotable(uri)!r} must not contain user information")
        return uri
    allowed = ["https (" + ", ".join(oauth.redirect_hosts) + ")", "http on loopback", *(f"{s}:" for s in oauth.redirect_schemes)]
    raise RedirectRejected(f"{quotable(uri)!r}: the scheme {scheme + ':' if scheme else '(none)'} is not allowed; use {', '.join(allowed)}")


def _known_callback(host: str, parts: SplitResult) -> bool:
    return not parts.query and any(path.fullmatch(parts.path) for path in _CALLBACK_PATHS[host])

def loopback_parts(uri: str) -> SplitResult | None:
    """The parts of a well-formed http loopback URI, None for any other URI (RedirectRejected when malformed)."""
    parts = urlsplit(uri)
    if parts.scheme != "http" or parts.hostname not in LOOPBACK_HOSTS:
        return None
    if "@" in parts.netloc or "%" in parts.netloc or "#" in uri or UNSAFE_CHARS.search(uri):
        raise RedirectRejected(uri)
    try:
        _ = parts.port  # reading it raises ValueError for a port that is not a number in 0-65535
    except ValueError:
        raise RedirectRejected(uri) from None
    return parts


def check_redirect_uris(value: Any, oauth: OAuthSettings) -> tuple[str, ...]:
    """The `redirect_uris` of a registration or metadata document, each admitted by the policy, repeats dropped."""
    if not isinstance(value, list) or not value:
        raise RedirectRejected(f"redirect_uris is required: a list of 1 to {MAX_REDIRECT_URIS} URIs")
    if len(value) > MAX_REDIRECT_URIS:
        raise RedirectRejected(f"at most {MAX_REDIRECT_URIS} redirect URIs may be registered")
    return tuple(dict.fromkeys(check_redirect_uri(uri, oauth) for uri in value))

