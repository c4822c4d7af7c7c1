"""The `statuspal-mcp` command as an operator meets it: real child processes, real ports, real signals.

Start-up refusals are checked end to end once (a missing config file, in a real child); the many bad values
behind them call the command's `main` in this process, which reaches the same checks without paying for a
fresh interpreter each time.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shlex
import socket
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass

import aiohttp
import pytest

from tests.conftest import DEMO_KEY, bound_socket
from tests.processes import Child, run, serving

# Every child gets its own ephemeral ports: the gateway via --port 0, the embedded sandbox via this.
EPHEMERAL_SANDBOX = {"STATUSPAL_MCP_SANDBOX_PORT": "0"}
MCP_HEADERS = {
    "Accept": "application/json, text/event-stream",
    "Content-Type": "application/json",
    "MCP-Protocol-Version": "2025-11-25",
}


@dataclass
class Refusal:
    """What `main` answered when called in this process: its exit code and what it printed."""

    returncode: int | None
    stdout: str
    stderr: str


def run_main(argv: Sequence[str], env: Mapping[str, str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Refusal:
    """`statuspal-mcp ARGV` in this process, with the environment a child would get. For arguments that must be
    refused at start-up: should they pass the checks, setting up logging fails the call instead of serving."""
    import gateway.cli

    def not_refused(*args: object) -> None:
        raise AssertionError("the arguments passed the start-up checks")

    for name in [k for k in os.environ if k.startswith("STATUSPAL_MCP_")]:
        monkeypatch.delenv(name)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr(gateway.cli, "configure_logging", not_refused)
    code = gateway.cli.main(list(argv))
    printed = capsys.readouterr()
    return Refusal(code, printed.out, printed.err)


def assert_one_line_error(child, *fragments: str) -> None:
    returncode = child.returncode if isinstance(child, Refusal) else child.proc.returncode
    assert returncode == 2, (child.stdout, child.stderr)
    # Log lines (JSON) may come first once logging is configured; the error itself is one plain line.
    lines = [line for line in child.stderr.strip().splitlines() if not line.startswith("{")]
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
def test_bad_config_value_is_one_line_and_exit_2(env, fragments, monkeypatch, capsys) -> None:
    assert_one_line_error(run_main(["serve", "--port", "0"], env, monkeypatch, capsys), *fragments)


async def test_unreachable_redis_is_a_start_up_error() -> None:
    closed = bound_socket()
    port = closed.getsockname()[1]
    closed.close()  # nothing listens there now
    child = await run(["serve", "--port", "0"], env={**EPHEMERAL_SANDBOX,
                                                     "STATUSPAL_MCP_REDIS_URL": f"redis://:hunter2@127.0.0.1:{port}/0"})
    assert_one_line_error(child, "Redis", f"127.0.0.1:{port}")
    assert "hunter2" not in child.stderr


async def test_missing_config_file(tmp_path) -> None:
    missing = tmp_path / "nope.toml"
    child = await run(["serve", "--config", str(missing)])
    assert_one_line_error(child, "config file not found", str(missing))


def test_unparsable_config_file(tmp_path, monkeypatch, capsys) -> None:
    bad = tmp_path / "config.toml"
    bad.write_text("[server\nport = 1\n")
    assert_one_line_error(run_main(["serve", "--config", str(bad)], {}, monkeypatch, capsys), "not valid TOML")


def test_taken_port_names_the_port_and_the_flag(monkeypatch, capsys) -> None:
    taken = bound_socket()
    port = taken.getsockname()[1]
    try:
        refusal = run_main(["serve", "--port", str(port)], EPHEMERAL_SANDBOX, monkeypatch, capsys)
    finally:
        taken.close()
    assert_one_line_error(refusal, f"port {port} on 127.0.0.1 is already in use; choose another with --port")


def test_taken_sandbox_port_names_the_setting(monkeypatch, capsys) -> None:
    taken = bound_socket()
    port = taken.getsockname()[1]
    try:
        refusal = run_main(["serve", "--port", "0"], {"STATUSPAL_MCP_SANDBOX_PORT": str(port)}, monkeypatch, capsys)
    finally:
        taken.close()
    assert_one_line_error(refusal, f"port {port} on 127.0.0.1 is already in use", "STATUSPAL_MCP_SANDBOX_PORT")


def test_taken_port_for_the_standalone_sandbox(monkeypatch, capsys) -> None:
    taken = bound_socket()
    port = taken.getsockname()[1]
    try:
        refusal = run_main(["sandbox", "--port", str(port)], {}, monkeypatch, capsys)
    finally:
        taken.close()
    assert_one_line_error(refusal, f"port {port} on 127.0.0.1 is already in use; choose another with --port")


async def mcp_post(http: aiohttp.ClientSession, url: str, body: dict, key: str | None = DEMO_KEY) -> aiohttp.ClientResponse:
    headers = dict(MCP_HEADERS)
    if key:
        headers["Authorization"] = f"Bearer {key}"
    return await http.post(url, json=body, headers=headers)


@pytest.fixture(scope="module")
async def served() -> AsyncIterator[Child]:
    """`serve --port 0` with the shipped config, for the tests that only read from it (a start costs more than
    they do). Tests that stop it, or change its settings, start their own."""
    async with serving(["serve", "--port", "0"], env=EPHEMERAL_SANDBOX) as child:
        yield child


async def test_serve_prints_what_a_user_needs_and_answers_on_it(served: Child) -> None:
    child = served
    mcp_url = child.url_after("MCP URL:")
    origin = mcp_url.removesuffix("/mcp")
    assert mcp_url.endswith("/mcp") and not mcp_url.startswith("http://127.0.0.1:8080")
    assert f"demo key: {DEMO_KEY}" in child.stdout

    # The Claude Code line is a shell command that runs as printed.
    claude = next(line.strip() for line in child.stdout.splitlines() if line.strip().startswith("claude mcp add"))
    assert shlex.split(claude) == [
        "claude", "mcp", "add", "--transport", "http", "StatusPal Next", mcp_url,
        "--header", f"Authorization: Bearer {DEMO_KEY}",
    ]
    # The Cursor snippet is valid JSON with the URL and the header.
    snippet = child.stdout[child.stdout.index("{"): child.stdout.rindex("}") + 1]
    server = json.loads(snippet)["mcpServers"]["StatusPal Next"]
    assert server == {"url": mcp_url, "headers": {"Authorization": f"Bearer {DEMO_KEY}"}}

    async with aiohttp.ClientSession() as http:
        async with http.get(f"{origin}/healthz") as r:
            assert r.status == 200
        # Connected exactly as the banner says: the demo key reaches the embedded sandbox through the gateway.
        async with await mcp_post(http, mcp_url, {"jsonrpc": "2.0", "id": 1, "method": "tools/call",
                                                  "params": {"name": "list_status_pages", "arguments": {}}}) as r:
            body = await r.json()
            assert r.status == 200 and body["result"]["isError"] is False, body
        # The metadata follows the port actually bound, not the one in config.toml.
        async with await mcp_post(http, mcp_url, {"jsonrpc": "2.0", "id": 2, "method": "tools/list"}, key=None) as r:
            assert r.status == 401
            assert f'resource_metadata="{origin}/.well-known/oauth-protected-resource/mcp"' in r.headers["WWW-Authenticate"]

    # Everything the process logged is one JSON object a line, with request ids on the access lines. The access
    # line of a request is written just after its answer: wait for the three above (and any earlier test's).
    async def access_lines() -> list[dict]:
        while True:
            records = [json.loads(line) for line in child.stderr_lines if line.strip()]
            access = [r for r in records if r["logger"] == "gateway.access"]
            if len(access) >= 3:
                return access
            await asyncio.sleep(0.02)

    access = await asyncio.wait_for(access_lines(), 10)
    assert all(re.fullmatch(r"[0-9a-f]{16}", r["request_id"]) for r in access)


async def test_the_allowed_hosts_and_origins_follow_the_port_actually_bound(served: Child) -> None:
    """config.toml names port 8080; served elsewhere, that old port must not stay allowed beside the new one."""
    mcp_url = served.url_after("MCP URL:")
    port = int(mcp_url.rsplit(":", 1)[1].removesuffix("/mcp"))
    assert port != 8080
    ping = {"jsonrpc": "2.0", "id": 1, "method": "ping"}
    async with aiohttp.ClientSession() as http:
        for origin, status in ((f"http://localhost:{port}", 200), ("http://localhost:8080", 403), ("http://127.0.0.1:8080", 403)):
            headers = {**MCP_HEADERS, "Authorization": f"Bearer {DEMO_KEY}", "Origin": origin}
            async with http.post(mcp_url, json=ping, headers=headers) as r:
                assert r.status == status, (origin, await r.text())
        for host, status in ((f"localhost:{port}", 200), ("127.0.0.1:8080", 403)):
            headers = {**MCP_HEADERS, "Authorization": f"Bearer {DEMO_KEY}", "Host": host}
            async with http.post(mcp_url, json=ping, headers=headers) as r:
                assert r.status == status, (host, await r.text())


@pytest.mark.parametrize("env, host, port, hosts, origins", [
    # STATUSPAL_MCP_SERVER_PORT with the shipped config: the defaults move with it.
    ({"STATUSPAL_MCP_SERVER_PORT": "9001"}, "127.0.0.1", 9001,
     ("127.0.0.1:9001", "localhost:9001"), ("http://127.0.0.1:9001", "http://localhost:9001")),
    # Entries naming another port, or another host, are the operator's own and stay.
    ({"STATUSPAL_MCP_SERVER_ALLOWED_HOSTS": "localhost:8080,localhost:7000,mcp.example.com:8080"}, "127.0.0.1", 9002,
     ("localhost:9002", "localhost:7000", "mcp.example.com:8080", "127.0.0.1:9002"),
     ("http://127.0.0.1:9002", "http://localhost:9002")),
    # Behind a proxy (public URL not loopback) the public URL stays, and the loopback defaults still follow.
    ({"STATUSPAL_MCP_SERVER_PUBLIC_URL": "https://mcp.example.com"}, "0.0.0.0", 9003,
     ("127.0.0.1:9003", "localhost:9003"), ("http://127.0.0.1:9003", "http://localhost:9003")),
])
def test_listen_overrides_move_loopback_entries_to_the_bound_port(env, host, port, hosts, origins) -> None:
    from gateway.cli import listen_overrides
    from gateway.config import load_settings

    settings = load_settings(env=env)
    values = listen_overrides(settings, host, port)
    assert (values["allowed_hosts"], values["allowed_origins"]) == (hosts, origins)
    assert values.get("public_url", settings.server.public_url) == env.get("STATUSPAL_MCP_SERVER_PUBLIC_URL", f"http://127.0.0.1:{port}")


async def test_sigterm_finishes_the_call_in_flight() -> None:
    async with serving(["serve", "--port", "0"], env=EPHEMERAL_SANDBOX) as child:
        mcp_url = child.url_after("MCP URL:")
        sandbox_url = child.url_after("Sandbox StatusPal API at").removesuffix("/api/v1")
        async with aiohttp.ClientSession() as http:
            # Warm the key cache first, so the slow part of the call below is the tool's own upstream call.
            async with await mcp_post(http, mcp_url, {"jsonrpc": "2.0", "id": 1, "method": "tools/list"}) as r:
                assert r.status == 200
            async with http.post(f"{sandbox_url}/_sandbox/faults", json={"latency_ms": 1500}) as r:
                assert r.status in (200, 204)

            async def slow_call() -> tuple[int, dict]:
                body = {"jsonrpc": "2.0", "id": 2, "method": "tools/call",
                        "params": {"name": "list_status_pages", "arguments": {}}}
                async with await mcp_post(http, mcp_url, body) as r:
                    return r.status, await r.json()

            async def upstream_call_waiting() -> None:
                """Returns once the sandbox has the tool's call and has not answered it yet (it logs a request
                before its injected latency and fills in the status after)."""
                while True:
                    async with http.get(f"{sandbox_url}/_sandbox/requests") as r:
                        entries = (await r.json())["data"]
                    if any(e["endpoint"] == "status_pages_list" and e["status"] is None for e in entries):
                        return
                    await asyncio.sleep(0.02)

            call = asyncio.create_task(slow_call())
            await asyncio.wait_for(upstream_call_waiting(), 10)
            assert not call.done()
            child.terminate()
            status, body = await asyncio.wait_for(call, 10)
        code = await child.finish()
    assert status == 200 and body["result"]["isError"] is False, body
    assert code == 0, child.stderr
    messages = [json.loads(line)["msg"] for line in child.stderr.splitlines() if line.strip()]
    assert "shutting down: finishing requests in flight" in messages and messages[-1] == "stopped"


async def test_standalone_sandbox_serves_the_demo_key() -> None:
    async with serving(["sandbox", "--port", "0"]) as child:
        api = child.url_after("Sandbox StatusPal API at")
        assert api.endswith("/api/v1")
        async with aiohttp.ClientSession() as http:
            async with http.get(f"{api}/status_pages", headers={"Authorization": f"Bearer {DEMO_KEY}"}) as r:
                assert r.status == 200 and (await r.json())["data"] == []
            async with http.get(f"{api}/status_pages", headers={"Authorization": "Bearer sk_not_a_key"}) as r:
                assert r.status == 401


async def test_keygen_prints_a_key_the_gateway_accepts(capsys) -> None:
    from gateway.auth.sealing import Keyring
    from gateway.cli import main

    child = await run(["keygen"])
    assert child.proc.returncode == 0
    key = child.stdout.strip()
    assert "\n" not in key and "STATUSPAL_MCP_SEALING_KEYS" in child.stderr
    keyring = Keyring.parse(key)
    assert keyring.unseal("access", keyring.seal("access", {"x": 1}))["x"] == 1
    # A new key every time (the second from `main` in this process: the command is the same, the start-up is not).
    assert main(["keygen"]) == 0
    assert capsys.readouterr().out.strip() not in ("", key)


async def test_build_index_writes_a_loadable_index(tmp_path) -> None:
    from gateway.config import load_settings
    from search.lifecycle import DocsIndex

    child = await run(["build-index", "--output", str(tmp_path / "index"), "--quiet"], timeout=120)
    assert child.proc.returncode == 0, child.stderr
    index = DocsIndex.open(tmp_path / "index", load_settings(env={}).search)
    assert index.loaded and index.search("open an incident", 3)


async def test_sigterm_does_not_wait_for_open_event_streams() -> None:
    # A GET /mcp stream never ends by itself; shutdown must end it rather than wait out the whole timeout.
    env = {**EPHEMERAL_SANDBOX, "STATUSPAL_MCP_SERVER_SHUTDOWN_TIMEOUT_SECONDS": "120"}
    async with serving(["serve", "--port", "0"], env=env) as child:
        mcp_url = child.url_after("MCP URL:")
        async with aiohttp.ClientSession() as http:
            init = {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
                "protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}}
            async with await mcp_post(http, mcp_url, init) as r:
                assert r.status == 200
                session = r.headers["Mcp-Session-Id"]
            headers = {"Accept": "text/event-stream", "Authorization": f"Bearer {DEMO_KEY}",
                       "MCP-Protocol-Version": "2025-11-25", "Mcp-Session-Id": session}
            async with http.get(mcp_url, headers=headers) as stream:
                assert stream.status == 200 and stream.headers["Content-Type"].startswith("text/event-stream")
                child.terminate()
                code = await child.finish(timeout=60)  # well inside the 120 s the server would otherwise wait
    assert code == 0, child.stderr


def _ipv6_loopback() -> bool:
    try:
        socket.create_server(("::1", 0), family=socket.AF_INET6).close()
    except OSError:
        return False
    return True


@pytest.mark.skipif(not _ipv6_loopback(), reason="this machine has no IPv6 loopback")
async def test_serve_on_ipv6_loopback_prints_a_url_that_answers() -> None:
    # --host ::1 listens on IPv6 only: the printed URL (and the resource URL in the challenge) must name [::1],
    # and that Host must be served, or the banner hands the user a URL that cannot connect.
    async with serving(["serve", "--host", "::1", "--port", "0"], env=EPHEMERAL_SANDBOX) as child:
        mcp_url = child.url_after("MCP URL:")
        assert mcp_url.startswith("http://[::1]:"), mcp_url
        async with aiohttp.ClientSession() as http:
            async with await mcp_post(http, mcp_url, {"jsonrpc": "2.0", "id": 1, "method": "ping"}) as r:
                assert r.status == 200 and (await r.json())["result"] == {}
            async with await mcp_post(http, mcp_url, {"jsonrpc": "2.0", "id": 2, "method": "ping"}, key=None) as r:
                assert r.status == 401
                origin = mcp_url.removesuffix("/mcp")
                assert f'resource_metadata="{origin}/.well-known/oauth-protected-resource/mcp"' in r.headers["WWW-Authenticate"]
