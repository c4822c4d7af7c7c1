"""The client address behind reverse proxies: X-Forwarded-For believed only as far as trusted proxies wrote it."""

from __future__ import annotations

import ipaddress
import re
from unittest import mock

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import make_mocked_request
from multidict import CIMultiDict

from gateway.config import ConfigError, load_settings
from gateway.web.client_address import ClientAddresses, parse_networks

CLAUDE = "https://claude.ai/api/mcp/auth_callback"


def request_from(peer: str | None, *forwarded_for: str) -> web.Request:
    transport = mock.Mock()
    transport.get_extra_info.side_effect = lambda name, default=None: (peer, 40000) if name == "peername" and peer else default
    headers = CIMultiDict(("X-Forwarded-For", value) for value in forwarded_for)
    return make_mocked_request("POST", "/register", headers=headers, transport=transport)


@pytest.mark.parametrize("trusted, peer, forwarded_for, client", [
    # No trusted proxies: the header is the client's own words and is ignored.
    ((), "198.51.100.7", ["203.0.113.1"], "198.51.100.7"),
    # A peer that is not a trusted proxy cannot speak for anyone else either.
    (("10.0.0.0/8",), "198.51.100.7", ["203.0.113.1"], "198.51.100.7"),
    # One trusted proxy: the address it appended is the client, whatever the client put to its left.
    (("10.0.0.0/8",), "10.1.2.3", ["203.0.113.1"], "203.0.113.1"),
    (("10.0.0.0/8",), "10.1.2.3", ["1.1.1.1, 203.0.113.1"], "203.0.113.1"),
    # Two proxies in a chain, the header split over two lines: skip the trusted hops from the right.
    (("10.0.0.0/8", "192.0.2.10"), "10.1.2.3", ["6.6.6.6, 203.0.113.1", "192.0.2.10"], "203.0.113.1"),
    # Ports and IPv6 brackets as some proxies write them.
    (("10.0.0.0/8",), "10.1.2.3", ["203.0.113.1:51234"], "203.0.113.1"),
    (("10.0.0.0/8",), "10.1.2.3", ["[2001:db8::1]:443"], "2001:db8::1"),
    (("::1",), "::1", ["2001:db8::5"], "2001:db8::5"),
    # Every hop trusted: the left-most is as far as the chain goes.
    (("10.0.0.0/8",), "10.1.2.3", ["10.9.9.9"], "10.9.9.9"),
    # A trusted proxy that sent no header, or garbage where the client should be: the last trusted hop counts.
    (("10.0.0.0/8",), "10.1.2.3", [], "10.1.2.3"),
    (("10.0.0.0/8",), "10.1.2.3", [""], "10.1.2.3"),
    (("10.0.0.0/8",), "10.1.2.3", ["203.0.113.1, not-an-ip"], "10.1.2.3"),
    # Empty list elements are skipped, not taken for garbage.
    (("10.0.0.0/8",), "10.1.2.3", ["6.6.6.6, 203.0.113.1, ,"], "203.0.113.1"),
    # An IPv4 proxy seen on a dual-stack socket as ::ffff:10.1.2.3 is still that proxy, also when listed mapped.
    (("10.0.0.0/8",), "::ffff:10.1.2.3", ["203.0.113.1"], "203.0.113.1"),
    ((), "::ffff:198.51.100.7", [], "198.51.100.7"),
    (("::ffff:10.0.0.0/104",), "10.1.2.3", ["203.0.113.1"], "203.0.113.1"),
    (("10.0.0.0/8",), "10.1.2.3", ["::ffff:10.9.9.9, ::ffff:203.0.113.1"], "203.0.113.1"),
])
def test_the_client_is_the_first_untrusted_address_from_the_right(trusted, peer, forwarded_for, client) -> None:
    assert ClientAddresses(trusted).of(request_from(peer, *forwarded_for)) == client


@pytest.mark.parametrize("peer, bucket", [
    ("198.51.100.7", "198.51.100.7"),
    ("2001:db8:1:2:aaaa::1", "2001:db8:1:2::/64"),
    ("2001:db8:1:2:ffff:ffff:ffff:ffff", "2001:db8:1:2::/64"),
    ("2001:db8:1:3::1", "2001:db8:1:3::/64"),
    ("::ffff:198.51.100.7", "198.51.100.7"),
])
def test_limits_count_ipv6_clients_by_their_64(peer: str, bucket: str) -> None:
    assert ClientAddresses(()).bucket(request_from(peer)) == bucket


def test_a_request_without_a_peer_address_is_counted_as_unknown() -> None:
    assert ClientAddresses(("10.0.0.0/8",)).of(request_from(None, "203.0.113.1")) == "unknown"
    assert ClientAddresses(()).bucket(request_from(None)) == "unknown"


def test_a_proxy_that_writes_garbage_is_reported_once(caplog: pytest.LogCaptureFixture) -> None:
    addresses = ClientAddresses(("10.0.0.0/8",))
    with caplog.at_level("WARNING", logger="gateway.web.client_address"):
        assert [addresses.of(request_from("10.1.2.3", "unknown")) for _ in range(3)] == ["10.1.2.3"] * 3
    assert [r.getMessage() for r in caplog.records] == [
        "a trusted proxy sent an X-Forwarded-For entry that is not an address; such requests are counted as the proxy itself"]


@pytest.mark.parametrize("entry, says", [
    ("proxy.internal", "'proxy.internal' is not an IP address or network"),
    ("10.1.2.3/8", "'10.1.2.3/8' is not an IP address or network (CIDR) with its host bits zero"),
    ("0.0.0.0/0", "'0.0.0.0/0' would trust every address"),
    ("::/0", "'::/0' would trust every address"),
    ("::ffff:0.0.0.0/96", "'::ffff:0.0.0.0/96' would trust every address"),
])
def test_trusted_proxies_that_are_typos_or_trust_everyone_are_refused(entry: str, says: str) -> None:
    with pytest.raises(ValueError, match=re.escape(says)):
        parse_networks([entry])


def test_bad_trusted_proxies_are_a_start_up_error_naming_the_entry() -> None:
    assert parse_networks(["10.0.0.0/8", " 127.0.0.1 ", "2001:db8::/32"])[1].prefixlen == 32
    assert parse_networks(["::ffff:10.0.0.0/104"]) == (ipaddress.IPv4Network("10.0.0.0/8"),)
    with pytest.raises(ConfigError, match=r"server.trusted_proxies: 'proxy.internal' is not an IP address or network"):
        load_settings(env={"STATUSPAL_MCP_SERVER_TRUSTED_PROXIES": "10.0.0.1,proxy.internal"})
    assert load_settings(env={"STATUSPAL_MCP_SERVER_TRUSTED_PROXIES": "10.0.0.1, 127.0.0.1"}).server.trusted_proxies == ("10.0.0.1", "127.0.0.1")


async def register(url: str, forwarded_for: str) -> int:
    async with aiohttp.ClientSession() as http:
        async with http.post(f"{url}/register", json={"redirect_uris": [CLAUDE]}, headers={"X-Forwarded-For": forwarded_for}) as r:
            return r.status


async def test_behind_a_trusted_proxy_each_client_has_its_own_registration_budget(make_gateway, sandbox_admin) -> None:
    """The test client plays the proxy on loopback. Without the setting, a forged header buys no fresh budget."""
    limits = {"rate_limit_attempts": 1, "rate_limit_window_seconds": 60}
    proxied = await make_gateway(oauth=limits, server={"trusted_proxies": ["127.0.0.1"]})
    assert [await register(proxied.url, "203.0.113.1") for _ in range(11)] == [201] * 10 + [429]
    assert await register(proxied.url, "203.0.113.2") == 201  # another user behind the same proxy is not locked out
    assert await register(proxied.url, "203.0.113.2, 203.0.113.1") == 429  # the proxy's entry counts, not the client's

    direct = await make_gateway(oauth=limits)
    assert [await register(direct.url, f"203.0.113.{n}") for n in range(11)] == [201] * 10 + [429]
