"""Who is asking: a client as the authorization server knows it, and the checks on what it says about itself.

A client comes from a registration signed by us (`gateway.oauth.registration`) or from a Client ID Metadata
Document it publishes (`gateway.oauth.client_metadata`); either way it is this `Client`, and its name and URL
pass the same checks, because both are shown on the login page.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import urlsplit

from gateway.oauth.redirects import MAX_URI_CHARS, UNSAFE_CHARS, RedirectRejected, loopback_parts
from gateway.observability.redaction import has_secret_shape

MAX_NAME_CHARS = 100


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
            asked = loopback_parts(requested)
        except RedirectRejected:
            return None
        if asked is None:
            return None
        for registered in self.redirect_uris:
            parts = loopback_parts(registered)
            if parts is not None and (parts.hostname, parts.path, parts.query) == (asked.hostname, asked.path, asked.query):
                return requested
        return None


def client_name_field(value: Any) -> str | None:
    """The `client_name` a registration or metadata document gives, on one line; ValueError saying what is wrong."""
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


def client_uri_field(value: Any) -> str | None:
    """The `client_uri` a registration or metadata document gives: an https URL or nothing; ValueError otherwise."""
    if value is None or value == "":
        return None
    if not isinstance(value, str) or len(value) > MAX_URI_CHARS or urlsplit(value).scheme != "https" or UNSAFE_CHARS.search(value):
        raise ValueError(f"client_uri must be an https URL of at most {MAX_URI_CHARS} characters")
    if has_secret_shape(value):
        raise ValueError("client_uri must not contain an API key, webhook secret or token")
    return value



def client_key(client_id: str) -> str:
    """A short stable name for a client in store keys (a client_id can be kilobytes long)."""
    return hashlib.sha256(client_id.encode()).hexdigest()[:24]
