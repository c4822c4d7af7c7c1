"""The MCP conformance suite's `authorization` command (0.2.0 prerelease) against our authorization server.

It reads our RFC 8414 metadata, then runs an authorization-code grant: it prints an authorization URL and
waits for the browser to reach its callback on 127.0.0.1. The test registers that callback through /register
first (so the client_id is one of ours), plays the browser on our login page with the sandbox key, and lets
the suite exchange the code and judge the token response. Every check must pass, the CIMD one included.
"""

from __future__ import annotations

import asyncio
import json
import socket

import aiohttp
import pytest

from tests.conformance.node import CONFORMANCE, node_process, require
from tests.conftest import DEMO_KEY
from tests.oauth_browser import Browser, register

pytestmark = pytest.mark.node

WAIT = 60.0  # a guard against a hung child, not a performance assertion


def free_loopback_port() -> int:
    """The suite binds its callback port itself, so it needs a number: one the kernel just handed out."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


async def read_authorization_url(stream: asyncio.StreamReader, seen: list[str], authorize: str) -> str:
    """The URL the suite asks the user to open, once its callback server also says it is listening
    (it prints the URL before Node has finished binding, so following the redirect at once can find nobody)."""
    url, listening = None, False
    while line := (await stream.readline()).decode():
        seen.append(line)
        url = line.strip() if line.startswith(authorize) else url
        listening = listening or line.startswith("Callback server started")
        if url and listening:
            return url
    raise AssertionError("the suite exited without a listening callback and an authorization URL:\n" + "".join(seen))


async def test_the_conformance_suite_authorization_command_passes(make_gateway, sandbox_admin, tmp_path) -> None:
    require(CONFORMANCE["0.2"])
    gateway = await make_gateway()
    port = free_loopback_port()
    callback = f"http://127.0.0.1:{port}/callback"
    results = tmp_path / "results"
    async with aiohttp.ClientSession() as http:
        client = await register(http, gateway.url, [callback], client_name="MCP conformance suite")
        args = ["authorization", "--url", gateway.url, "--client-id", client["client_id"], "--resource", gateway.mcp_url,
                "-p", str(port), "-o", str(results)]
        async with node_process(CONFORMANCE["0.2"], *args, home=tmp_path) as proc:
            assert proc.stdout and proc.stderr
            seen: list[str] = []
            url = await asyncio.wait_for(read_authorization_url(proc.stdout, seen, f"{gateway.url}/authorize?"), WAIT)
            landed = await Browser(http, gateway.url).authorize(url, DEMO_KEY)  # follows the 302 to the suite's callback
            assert landed.startswith(callback + "?")
            rest, err = await asyncio.wait_for(proc.communicate(), WAIT)
    output = "".join(seen) + rest.decode() + err.decode()
    files = sorted(results.glob("**/checks.json"))
    assert files, f"no checks written:\n{output}"
    checks = [c for f in files for c in json.loads(f.read_text())]
    by_id = {c["id"]: c["status"] for c in checks}
    assert by_id == {"authorization-server-metadata": "SUCCESS", "authorization-server-metadata-cimd": "SUCCESS",
                     "authorization-code-grant": "SUCCESS"}, output
    assert proc.returncode == 0, output
