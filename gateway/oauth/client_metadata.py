"""Client ID Metadata Documents: fetching a client's self-published registration from its https client_id, safely.

The URL comes from whoever opens /authorize, so the fetch is an outbound request to an attacker-chosen
address and is guarded as one (see `MetadataDocuments`).
"""

from __future__ import annotations

import asyncio
import socket
import ssl
import time
from collections import OrderedDict
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import aiohttp
import orjson
from aiohttp.abc import AbstractResolver, ResolveResult

from gateway.oauth.clients import Client, ClientRejected, client_name_field, client_uri_field
from gateway.oauth.redirects import DOT_SEGMENT, LOOPBACK_HOSTS, MAX_URI_CHARS, UNSAFE_CHARS, check_redirect_uris
from gateway.observability.redaction import quotable
from gateway.web.client_address import IPAddress, parse_address

if TYPE_CHECKING:
    from gateway.config import Settings

# Metadata documents: cache lifetime when the response says nothing, the longest we honour, how many we keep.
CIMD_DEFAULT_TTL = 300.0
CIMD_MAX_TTL = 86400.0
CIMD_CACHE_ENTRIES = 256


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
        except TimeoutError:
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
        if len(url) > MAX_URI_CHARS or UNSAFE_CHARS.search(url) or "#" in url or "@" in parts.netloc or not parts.hostname:
            raise ClientRejected(f"The client_id URL {quotable(url)!r} is not a plain https URL (no fragment, credentials or unusual characters).")
        if parts.path in ("", "/") or DOT_SEGMENT.search(parts.path):
            raise ClientRejected(f"The client_id URL {quotable(url)} must have a path without . or .. segments.")
        try:
            _ = parts.port  # reading it raises ValueError for a port that is not a number in 0-65535
        except ValueError:
            return  # not a URL we can connect to: the fetch fails
        address = parse_address(parts.hostname)
        if address is None:
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
            # trust_env=False: no HTTP(S)_PROXY or .netrc from the environment, so the connection goes to the
            # checked addresses and carries no credentials of ours to a host the caller chose.
            async with aiohttp.ClientSession(connector=connector, timeout=timeout, trust_env=False) as session:
                # identity: no compressed body, whose decompression could expand a few bytes far past the size cap
                # before the cap sees them.
                async with session.get(url, allow_redirects=False,
                                       headers={"Accept": "application/json", "Accept-Encoding": "identity"}) as response:
                    if 300 <= response.status < 400:
                        raise ClientRejected(f"The client metadata document at {quotable(url)} redirected (HTTP {response.status}); "
                                             "documents must be served directly.")
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
                raise ClientRejected(f"The client_id URL {quotable(url)} resolves to a non-public address; "
                                     "metadata documents must be on the public internet.") from None
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
            redirect_uris = check_redirect_uris(doc.get("redirect_uris"), self._oauth)
            name = client_name_field(doc.get("client_name"))
            client_uri = client_uri_field(doc.get("client_uri"))
        except ValueError as exc:  # RedirectRejected is a ValueError too
            raise ClientRejected(f"The client metadata document at {quotable(url)} is not acceptable: {exc}") from None
        return Client(client_id=url, client_name=name, redirect_uris=redirect_uris, client_uri=client_uri, kind="metadata_document")


def _address_allowed(address: IPAddress, allow_loopback: bool) -> bool:
    """Public and unicast (or loopback, when a test allows it). `parse_address` has already made ::ffff:10.0.0.1 10.0.0.1."""
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
            address = parse_address(result["host"].split("%")[0])
            if address is None or not _address_allowed(address, self._allow_loopback):
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

