"""Who is on the other end: the client's IP address, also when the gateway runs behind reverse proxies.

The per-address limits on the login page and on client registration are only as good as the address
they count. Behind a proxy (TLS termination, a load balancer) every connection comes from the proxy, so
counting the peer would turn "ten attempts per address" into "ten attempts for everyone", and one
attacker could lock every user out. The proxy says who it forwarded for in `X-Forwarded-For`, which it
appends to whatever the client sent.

That header is the client's to write, so it is believed only as far as trusted hands wrote it: only when
the connecting peer is in `server.trusted_proxies`, and then read from the right (the end each trusted
proxy appended to), skipping addresses that are themselves trusted proxies. The first address that is
not is the client: a client can put anything to its left, but nothing to its right. That holds only for
proxies that append to the header (or replace it); a plain TCP balancer that passes the header through
must not be listed. With no trusted proxies configured (the default), the header is ignored and the peer
is the client.

Limits count IPv6 clients by their /64: one subscriber line or one cloud VM is routinely handed a whole
/64, so counting single addresses would give such a client 2^64 fresh budgets.
"""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Iterable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from aiohttp import web

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

log = logging.getLogger("gateway.web.client_address")

UNKNOWN = "unknown"
_MAPPED = ipaddress.IPv6Network("::ffff:0:0/96")


def parse_networks(values: Iterable[str]) -> tuple[IPNetwork, ...]:
    """`["10.0.0.0/8", "127.0.0.1"]` as networks; ValueError naming the first entry that is not one.

    Strict, so a typo such as `10.1.2.3/8` (host bits set) is refused rather than widened, and a network of
    everything (`/0`) is refused: trusting every peer would let any client choose the address it is counted as.
    IPv4-mapped IPv6 networks are stored as the IPv4 networks they are, because peers are compared so.
    """
    networks = []
    for value in values:
        try:
            network = ipaddress.ip_network(value.strip())
        except ValueError:
            raise ValueError(f"{value!r} is not an IP address or network (CIDR) with its host bits zero") from None
        if isinstance(network, ipaddress.IPv6Network) and network.prefixlen >= 96 and network.subnet_of(_MAPPED):
            network = ipaddress.IPv4Network((network.network_address.ipv4_mapped, network.prefixlen - 96))
        if network.prefixlen == 0:
            raise ValueError(f"{value!r} would trust every address, so any client could pick the address it is counted as")
        networks.append(network)
    return tuple(networks)


# Remembered (peer, X-Forwarded-For) -> counted address answers (`ClientAddresses.bucket`).
_BUCKETS_MAX = 4096


class ClientAddresses:
    """The trusted proxies, parsed once, and the two questions asked of a request: who is it, what is counted."""

    def __init__(self, trusted_proxies: Iterable[str]) -> None:
        self._trusted = parse_networks(trusted_proxies)
        self._warned = False
        self._buckets: dict[tuple[str | None, ...], str] = {}

    def of(self, request: web.BaseRequest) -> str:
        """The client's address as text (`unknown` without a peer address); never raises."""
        peer = parse_address(request.remote)
        if peer is None:
            return request.remote or UNKNOWN
        if not self._trusted or not self._is_trusted(peer):
            return str(peer)
        # Empty list elements ("a, , b") are ignored, as RFC 9110 §5.6.1 asks of every list header.
        hops = [hop for header in request.headers.getall("X-Forwarded-For", ()) for hop in map(str.strip, header.split(",")) if hop]
        client = peer
        for hop in reversed(hops):
            address = parse_address(hop)
            if address is None:
                # Only a trusted proxy wrote this far right, so garbage here (Squid writes `unknown`) is the
                # proxy's doing, not a client's trick: count the last trusted hop rather than guess, and say so
                # once, because every client counted as the proxy share one budget again.
                if not self._warned:
                    self._warned = True
                    log.warning("a trusted proxy sent an X-Forwarded-For entry that is not an address; "
                                "such requests are counted as the proxy itself", extra={"proxy": str(client)})
                break
            client = address
            if not self._is_trusted(address):
                break
        return str(client)

    def bucket(self, request: web.BaseRequest) -> str:
        """What per-address limits count: the client's IPv4 address, or the /64 its IPv6 address is in.

        Remembered: it parses IP addresses, a few microseconds that are a noticeable share of a cached /mcp call,
        and a client sends many requests from one peer with one forwarding header. The answer depends on nothing
        else, so the pair is the whole key; past `_BUCKETS_MAX` pairs the memory starts over."""
        key = (request.remote, *request.headers.getall("X-Forwarded-For", ()))
        bucket = self._buckets.get(key)
        if bucket is None:
            if len(self._buckets) >= _BUCKETS_MAX:
                self._buckets.clear()
            bucket = self._buckets[key] = self._bucket(request)
        return bucket

    def _bucket(self, request: web.BaseRequest) -> str:
        client = self.of(request)
        address = parse_address(client)
        if isinstance(address, ipaddress.IPv6Address):
            return str(ipaddress.IPv6Network((address, 64), strict=False))
        return client

    def _is_trusted(self, address: IPAddress) -> bool:
        return any(address in network for network in self._trusted)


def parse_address(text: str | None) -> IPAddress | None:
    """An address as proxies write it: `203.0.113.7`, `203.0.113.7:51234`, `2001:db8::1` or `[2001:db8::1]:443`.

    An IPv4-mapped IPv6 address (a dual-stack socket's `::ffff:203.0.113.7`) comes back as the IPv4 address it is,
    so one client is one address however it was seen."""
    if not text:
        return None
    if text.startswith("["):
        text = text[1:].partition("]")[0]
    elif text.count(":") == 1:
        text = text.partition(":")[0]
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    return getattr(address, "ipv4_mapped", None) or address
