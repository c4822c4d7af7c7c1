"""Who is on the other end: the client's IP address, also when the gateway runs behind reverse proxies.

The per-address limits on the login page and on client registration are only as good as the address
they count. Behind a proxy (TLS termination, a load balancer) every connection comes from the proxy, so
counting the peer would turn "ten attempts per address" into "ten attempts for everyone", and one
attacker could lock every user out. The proxy says who it forwarded for in `X-Forwarded-For`, which it
appends to whatever the client sent.

That header is the client's to write, so it is believed only as far as trusted hands wrote it: only when
the connecting peer is in `server.trusted_proxies`, and then read from the right (the end each trusted
proxy appended to), skipping addresses that are themselves trusted proxies. The first address that is
not is the client: a client can put anything to its left, but nothing to its right. With no trusted
proxies configured (the default), the header is ignored and the peer is the client.

Limits count IPv6 clients by their /64: one subscriber line or one cloud VM is routinely handed a whole
/64, so counting single addresses would give such a client 2^64 fresh budgets.
"""

from __future__ import annotations

import ipaddress
from typing import TYPE_CHECKING, Iterable

if TYPE_CHECKING:
    from aiohttp import web

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

UNKNOWN = "unknown"


def parse_networks(values: Iterable[str]) -> tuple[IPNetwork, ...]:
    """`["10.0.0.0/8", "127.0.0.1"]` as networks; ValueError naming the first entry that is neither."""
    networks = []
    for value in values:
        try:
            networks.append(ipaddress.ip_network(value.strip(), strict=False))
        except ValueError:
            raise ValueError(f"{value!r} is not an IP address or network (CIDR)") from None
    return tuple(networks)


class ClientAddresses:
    def __init__(self, trusted_proxies: Iterable[str]) -> None:
        self._trusted = parse_networks(trusted_proxies)

    def of(self, request: "web.BaseRequest") -> str:
        """The client's address as text, for keys such as `oauth:login:ip:<address>`; never raises."""
        peer = _address(request.remote)
        if peer is None:
            return request.remote or UNKNOWN
        if not self._trusted or not self._is_trusted(peer):
            return str(peer)
        hops = [hop.strip() for header in request.headers.getall("X-Forwarded-For", ()) for hop in header.split(",")]
        client = peer
        for hop in reversed(hops):
            address = _address(hop)
            if address is None:
                # Only a trusted proxy wrote this far right, so garbage here is a misconfigured proxy, not a
                # client's trick: count the last trusted hop rather than guess.
                break
            client = address
            if not self._is_trusted(address):
                break
        return str(client)

    def bucket(self, request: "web.BaseRequest") -> str:
        """What per-address limits count: the client's IPv4 address, or the /64 its IPv6 address is in."""
        client = self.of(request)
        address = _address(client)
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is None:
            return str(ipaddress.IPv6Network((address, 64), strict=False))
        return str(getattr(address, "ipv4_mapped", None) or client)

    def _is_trusted(self, address: IPAddress) -> bool:
        address = getattr(address, "ipv4_mapped", None) or address
        return any(address in network for network in self._trusted)


def _address(text: str | None) -> IPAddress | None:
    """An address as proxies write it: `203.0.113.7`, `203.0.113.7:51234`, `2001:db8::1` or `[2001:db8::1]:443`."""
    if not text:
        return None
    if text.startswith("["):
        text = text[1:].partition("]")[0]
    elif text.count(":") == 1:
        text = text.partition(":")[0]
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None
