"""Two real gateway processes behind one public URL, sharing one real redis-server and one sealing key.

This is the scale-out deployment: `python -m gateway serve` twice with the same environment, as an operator
would run it behind a load balancer. Requests go to one instance or the other directly (with the public Host,
as the balancer would pass it), so the test decides who answers what: a client registered on one authorises on
the other, a code redeemed on one is refused on the other, a revocation on one holds on the other, and after
both restart every token and registration still works, and every revocation still holds.
"""

from __future__ import annotations

import socket
from contextlib import AsyncExitStack
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode, urlsplit

import aiohttp
import orjson
import pytest

from gateway.auth.sealing import Keyring
from tests.conftest import DEMO_KEY
from tests.oauth_browser import Page, pkce, query_of
from tests.processes import serving_together
from tests.redis_server import redis_server_fixture, redis_url_fixture  # noqa: F401  (pytest fixtures)

pytestmark = pytest.mark.redis

PUBLIC = "http://mcp.test"  # the load balancer's name; only ever sent as Host/Origin, never resolved
REDIRECT = "http://127.0.0.1:7777/cb"


def free_loopback_port() -> int:
    """`serve` binds its port itself and, behind a public URL, does not print it: give it one the kernel handed out."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Instance:
    """One gateway process, addressed directly but with the public Host every balancer forwards."""

    base: str
    http: aiohttp.ClientSession

    async def request(self, method: str, path: str, **kw: Any) -> tuple[int, Any, str]:
        headers = {"Host": urlsplit(PUBLIC).netloc, **kw.pop("headers", {})}
        async with self.http.request(method, self.base + path, headers=headers, allow_redirects=False, **kw) as r:
            return r.status, r.headers, await r.text()

    async def json(self, method: str, path: str, **kw: Any) -> tuple[int, Any]:
        status, _, text = await self.request(method, path, **kw)
        return status, orjson.loads(text) if text else None

    async def code(self, client_id: str) -> tuple[str, str]:
        """Open the login page and submit the demo key, as the user's browser would; returns (code, verifier)."""
        verifier, challenge = pkce()
        query = urlencode({"response_type": "code", "client_id": client_id, "redirect_uri": REDIRECT, "state": "s",
                           "code_challenge": challenge, "code_challenge_method": "S256", "resource": f"{PUBLIC}/mcp"})
        status, headers, html = await self.request("GET", f"/authorize?{query}")
        assert status == 200, html
        form = {**Page.parse(status, headers, html).fields, "key": DEMO_KEY, "access": "full", "action": "allow"}
        status, headers, html = await self.request("POST", "/authorize", data=form,
                                                   headers={"Origin": "null", "Sec-Fetch-Site": "same-origin"})
        assert status == 302, html
        answer = query_of(headers["Location"])
        assert answer["iss"] == PUBLIC
        return answer["code"], verifier

    async def exchange(self, client_id: str, code: str, verifier: str) -> tuple[int, Any]:
        return await self.json("POST", "/token", data={"grant_type": "authorization_code", "code": code, "code_verifier": verifier,
                                                       "client_id": client_id, "redirect_uri": REDIRECT})

    async def refresh(self, refresh_token: str) -> tuple[int, Any]:
        return await self.json("POST", "/token", data={"grant_type": "refresh_token", "refresh_token": refresh_token})

    async def tools(self, access_token: str) -> tuple[int, Any]:
        return await self.json("POST", "/mcp", json={"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {}},
                               headers={"Authorization": f"Bearer {access_token}", "Accept": "application/json, text/event-stream",
                                        "MCP-Protocol-Version": "2025-06-18"})


async def test_two_processes_on_one_redis_behave_as_one_server(sandbox_url, sandbox_admin, redis_url, tmp_path) -> None:
    env = {
        "STATUSPAL_MCP_SEALING_KEYS": Keyring.generate_secret(),
        "STATUSPAL_MCP_REDIS_URL": redis_url,
        "STATUSPAL_MCP_SERVER_PUBLIC_URL": PUBLIC,
        "STATUSPAL_MCP_SANDBOX_EMBEDDED": "false",
        "STATUSPAL_MCP_STATUSPAL_BASE_URL": f"{sandbox_url}/api/v1",
        "STATUSPAL_MCP_SEARCH_INDEX_DIR": str(tmp_path / "index"),
    }

    async def start_pair(stack: AsyncExitStack, http: aiohttp.ClientSession) -> tuple[Instance, Instance]:
        ports = [free_loopback_port() for _ in range(2)]
        await stack.enter_async_context(serving_together([["serve", "--port", str(port)] for port in ports], env=env))
        return Instance(f"http://127.0.0.1:{ports[0]}", http), Instance(f"http://127.0.0.1:{ports[1]}", http)

    async with aiohttp.ClientSession() as http:
        async with AsyncExitStack() as stack:
            a, b = await start_pair(stack, http)
            status, client = await a.json("POST", "/register", json={"redirect_uris": [REDIRECT], "client_name": "Roaming"})
            assert status == 201
            client_id = client["client_id"]

            # Registered on A, authorised on B; the code B issued is redeemed on A and then refused on B.
            code, verifier = await b.code(client_id)
            status, first = await a.exchange(client_id, code, verifier)
            assert status == 200, first
            assert await b.exchange(client_id, code, verifier) == (
                400, {"error": "invalid_grant", "error_description": "The authorization code was already used."})

            # The replay on B revoked what A issued from that code, on both instances.
            for instance in (a, b):
                status, body = await instance.tools(first["access_token"])
                assert (status, body["error_description"]) == (401, "The access token was revoked; sign in again."), instance.base

            # A grant issued on B works on both.
            code, verifier = await a.code(client_id)
            status, kept = await b.exchange(client_id, code, verifier)
            assert status == 200 and (await a.tools(kept["access_token"]))[0] == 200 and (await b.tools(kept["access_token"]))[0] == 200

            code, verifier = await b.code(client_id)
            status, doomed = await a.exchange(client_id, code, verifier)
            assert status == 200
            assert (await b.request("POST", "/revoke", data={"token": doomed["refresh_token"]}))[0] == 200  # revoked on B
            for instance in (a, b):
                assert (await instance.tools(doomed["access_token"]))[0] == 401
                assert (await instance.refresh(doomed["refresh_token"]))[0] == 400

        # Both restarted (new processes, same keys, same Redis): everything issued still behaves the same.
        async with AsyncExitStack() as stack:
            a, b = await start_pair(stack, http)
            for instance in (a, b):
                status, body = await instance.tools(kept["access_token"])
                assert status == 200 and body["result"]["tools"], instance.base
                assert (await instance.tools(doomed["access_token"]))[0] == 401
                assert (await instance.tools(first["access_token"]))[0] == 401
            status, refreshed = await b.refresh(kept["refresh_token"])
            assert status == 200 and (await a.tools(refreshed["access_token"]))[0] == 200
            code, verifier = await a.code(client_id)  # the registration from before the restart
            assert (await b.exchange(client_id, code, verifier))[0] == 200
