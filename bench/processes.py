"""The benchmark's servers, each its own process on an ephemeral loopback port, stopped on exit.

Separate processes keep the comparison fair (each server has the event loop to itself, wrk has the
other core) and make the forwarded case real: gateway and sandbox talk over loopback TCP.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from gateway.auth.scopes import TOOL_SCOPES
from gateway.auth.sealing import Keyring
from gateway.config import DEFAULT_CONFIG, load_settings
from tests.tokens import mint_access_token

START_TIMEOUT = 60.0
ROOT = Path(__file__).resolve().parent.parent
NODE = ROOT / ".node" / "node22" / "node_modules" / ".bin" / "node"
URL = re.compile(r"http://127\.0\.0\.1:\d+")


@dataclass(frozen=True)
class Gateway:
    url: str
    sealing_keys: str
    pid: int


class Servers:
    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.children: list[subprocess.Popen[str]] = []
        self.stops: list[Callable[[], None]] = []

    def __enter__(self) -> Servers:
        return self

    def __exit__(self, *exc: object) -> None:
        for child in self.children:
            child.terminate()
        for child in self.children:
            try:
                child.wait(15)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
        for stop in self.stops:  # after the children: a gateway stopping may still write to Redis
            stop()

    def _start(self, name: str, argv: list[str], ready: str, env: Mapping[str, str] | None = None,
               tree: Path | None = None, program: str = sys.executable, cpus: str | None = None) -> str:
        """Start `python <argv>` (or `program <argv>`), wait for the line containing `ready`, return the first
        loopback URL on it. With `tree`, the child runs that checkout's code (see `from_tree`); with `cpus` (a
        taskset list such as "0"), it and every process it starts run on those cores only."""
        log = open(self.workdir / f"{name}.log", "w")
        child_env = from_tree({k: v for k, v in os.environ.items() if not k.startswith(("STATUSPAL_MCP_", "OTEL_"))}, tree)
        child_env.update(env or {})
        command = [program, *argv] if cpus is None else ["taskset", "-c", cpus, program, *argv]
        child = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=log, stdin=subprocess.DEVNULL,
                                 text=True, env=child_env, cwd=tree)
        self.children.append(child)
        deadline = time.monotonic() + START_TIMEOUT
        assert child.stdout is not None
        for line in child.stdout:
            found = URL.search(line)
            if ready in line and found:
                # Keep draining stdout so a chatty child never blocks on a full pipe.
                threading.Thread(target=child.stdout.read, daemon=True).start()
                return found.group(0)
            if time.monotonic() > deadline:
                break
        log.flush()
        tail = (self.workdir / f"{name}.log").read_text()[-2000:]
        raise SystemExit(f"bench: {name} did not start (exit {child.poll()}):\n{tail}")

    def sandbox(self) -> str:
        return self._start("sandbox", ["-m", "gateway", "sandbox", "--port", "0"], "Sandbox StatusPal API at")

    def gateway(self, sandbox_url: str, index_dir: Path, name: str = "gateway", env: Mapping[str, str] | None = None,
                tree: Path | None = None, cpus: str | None = None) -> Gateway:
        """A gateway process; `env` adds settings (STATUSPAL_MCP_…) to the benchmark's own; `tree` runs another
        checkout's gateway (the same venv), for a comparison with an older revision."""
        keys = Keyring.generate_secret()
        settings = {
            "STATUSPAL_MCP_SANDBOX_EMBEDDED": "false",
            "STATUSPAL_MCP_STATUSPAL_BASE_URL": f"{sandbox_url}/api/v1",
            # The per-key token bucket protects the real StatusPal (10 req/s); the sandbox needs no such care
            # and the benchmark measures the gateway, not the bucket.
            "STATUSPAL_MCP_STATUSPAL_RATE_PER_SECOND": "1000000",
            "STATUSPAL_MCP_STATUSPAL_RATE_BURST": "1000000",
            "STATUSPAL_MCP_SEARCH_INDEX_DIR": str(index_dir),
            "STATUSPAL_MCP_SEALING_KEYS": keys,
            **(env or {}),
        }
        url = self._start(name, ["-m", "gateway", "serve", "--port", "0"], "MCP URL:", settings, tree, cpus=cpus)
        return Gateway(url=url, sealing_keys=keys, pid=self.children[-1].pid)

    def sdk(self, index_dir: Path, name: str = "sdk", workers: int = 1, upstream: str | None = None,
            cpus: str | None = None) -> str:
        """The `mcp` SDK's MCPServer (bench/sdk_server.py); `upstream` serves get_status_page from there."""
        argv = ["-m", "bench.sdk_server", str(index_dir), "--workers", str(workers)]
        return self._start(name, [*argv, "--upstream", upstream] if upstream else argv, "LISTENING", cpus=cpus)

    def ts_sdk(self, major: int, peer_json: Path, upstream: str, workers: int = 1, cpus: str | None = None) -> str:
        """The TypeScript SDK's server (bench/ts_sdk_server.cjs) of `major` (1 or 2), as installed under .node/
        by scripts/install_node.sh, on the project's Node 22."""
        modules = ROOT / ".node" / f"ts-sdk-{major}"
        if not (modules / ".stamp").exists() or not NODE.exists():
            raise SystemExit(f"bench: {modules} is not installed: run `make node` (scripts/install_node.sh)")
        argv = [str(ROOT / "bench" / "ts_sdk_server.cjs"), str(major), str(modules), str(peer_json), str(workers), upstream]
        return self._start(f"ts-sdk-{major}-{workers}w", argv, "LISTENING", program=str(NODE), cpus=cpus)

    def redis(self) -> str:
        """A real redis-server of its own (tests/redis_server.py: a unix socket in a temp dir, no persistence),
        stopped with the other children; its URL."""
        from tests.redis_server import RedisServer

        directory = Path(tempfile.mkdtemp(prefix="redis-"))  # short: a unix socket path is limited to ~100 bytes
        server = RedisServer(directory)
        server.start()
        self.stops.append(server.stop)
        return server.url

    def otlp_sink(self, name: str = "otlp-sink") -> str:
        """A loopback OTLP/HTTP receiver (bench/otlp_sink.py): the endpoint for OTEL_EXPORTER_OTLP_ENDPOINT."""
        return self._start(name, ["-m", "bench.otlp_sink"], "LISTENING")

    def bare(self, forward_to: str) -> str:
        """The bare floors; `POST /forward` on it GETs `forward_to`."""
        return self._start("bare", ["-m", "bench.bare_server", forward_to], "LISTENING")

    @staticmethod
    def create_status_page(sandbox_url: str, key: str, subdomain: str) -> None:
        body = json.dumps({"name": "Bench", "subdomain": subdomain, "timezone": "UTC", "website_url": "https://example.com"}).encode()
        request = urllib.request.Request(
            f"{sandbox_url}/api/v1/status_pages", data=body, method="POST",
            headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json", "Accept": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            assert response.status == 201, response.status

    @staticmethod
    def sealed_token(gateway: Gateway, key: str) -> str:
        """An OAuth access token for `key`, minted with the gateway's own keyring exactly as /token would."""
        port = int(gateway.url.rsplit(":", 1)[1])
        settings = load_settings(DEFAULT_CONFIG, env={}, overrides={"server": {"port": port, "public_url": gateway.url}})
        return mint_access_token(settings, key, " ".join(TOOL_SCOPES), keyring=Keyring.parse(gateway.sealing_keys))


def from_tree(env: dict[str, str], tree: Path | None) -> dict[str, str]:
    """`env` for a child that runs the code of checkout `tree`: its folder first on PYTHONPATH (ahead of the
    venv's editable install of the current checkout, whose finder only answers what sys.path did not)."""
    if tree is None:
        return env
    return {**env, "PYTHONPATH": os.pathsep.join(filter(None, [str(tree), env.get("PYTHONPATH", "")]))}
