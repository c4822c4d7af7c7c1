"""The `statuspal-mcp` command as an operator meets it: real child processes, real ports, real signals."""

from __future__ import annotations

import asyncio
import json
import re
import shlex

import aiohttp
import pytest

from tests.conftest import DEMO_KEY, bound_socket
from tests.processes import run, serving

# Every child gets its own ephemeral ports: the gateway via --port 0, the embedded sandbox via this.
EPHEMERAL_SANDBOX = {"STATUSPAL_MCP_SANDBOX_PORT": "0"}
MCP_HEADERS = {
    "Accept": "application/json, text/event-stream",
    "Content-Type": "application/json",
    "MCP-Protocol-Version": "2025-11-25",
}


def assert_one_line_error(child, *fragments: str) -> None:
    assert child.proc.returncode == 2, (child.stdout, child.stderr)
    lines = child.stderr.strip().splitlines()
    assert len(lines) == 1, child.stderr
    assert "Traceback" not in child.stderr and "Traceback" not in child.stdout
    assert lines[0].startswith("statuspal-mcp: error: ")
    for fragment in fragments:
        assert fragment in lines[0]


@pytest.mark.parametrize(
    ("env", "fragments"),
    [
        ({"STATUSPAL_MCP_SERVER_PORT": "eighty"}, ("bad value for server.port", "'eighty'")),
        ({"STATUSPAL_MCP_SERVER_PUBLIC_URL": "http://example.com/"}, ("server.public_url",)),
        ({"STATUSPAL_MCP_SERVER_PROT": "9000"}, ("unknown setting", "STATUSPAL_MCP_SERVER_PROT")),
        ({"STATUSPAL_MCP_LOGGING_LEVEL": "LOUD"}, ("logging.level",)),
        ({"STATUSPAL_MCP_SERVER_PRODUCTION": "true"}, ("STATUSPAL_MCP_SEALING_KEYS",)),
        # The embedded sandbox cannot also be a remote StatusPal: say which setting to change.
        ({"STATUSPAL_MCP_STATUSPAL_BASE_URL": "https://next.statuspal.io/api/v1", **EPHEMERAL_SANDBOX},
         ("sandbox.embedded", "STATUSPAL_MCP_SANDBOX_EMBEDDED=false")),
    ],
)
async def test_bad_config_value_is_one_line_and_exit_2(env, fragments) -> None:
    child = await run(["serve", "--port", "0"], env=env)
    assert_one_line_error(child, *fragments)


async def test_missing_config_file(tmp_path) -> None:
    missing = tmp_path / "nope.toml"
    child = await run(["serve", "--config", str(missing)])
    assert_one_line_error(child, "config file not found", str(missing))


async def test_unparsable_config_file(tmp_path) -> None:
    bad = tmp_path / "config.toml"
    bad.write_text("[server\nport = 1\n")
    child = await run(["serve", "--config", str(bad)])
    assert_one_line_error(child, "not valid TOML")


async def test_taken_port_names_the_port_and_the_flag() -> None:
    taken = bound_socket()
    port = taken.getsockname()[1]
    try:
        child = await run(["serve", "--port", str(port)], env=EPHEMERAL_SANDBOX)
    finally:
        taken.close()
    assert_one_line_error(child, f"port {port} on 127.0.0.1 is already in use; choose another with --port")


async def test_taken_sandbox_port_names_the_setting() -> None:
    taken = bound_socket()
    port = taken.getsockname()[1]
    try:
        child = await run(["serve", "--port", "0"], env={"STATUSPAL_MCP_SANDBOX_PORT": str(port)})
    finally:
        taken.close()
    assert_one_line_error(child, f"port {port} on 127.0.0.1 is already in use", "STATUSPAL_MCP_SANDBOX_PORT")


async def test_taken_port_for_the_standalone_sandbox() -> None:
    taken = bound_socket()
    port = taken.getsockname()[1]
    try:
        child = await run(["sandbox", "--port", str(port)])
    finally:
        taken.close()
    assert_one_line_error(child, f"port {port} on 127.0.0.1 is already in use; choose another with --port")
