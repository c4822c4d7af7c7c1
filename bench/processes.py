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
import threading
import time
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from gateway.auth.scopes import TOOL_SCOPES
from gateway.auth.sealing import Keyring
from gateway.config import DEFAULT_CONFIG, load_settings
from tests.tokens import mint_access_token

START_TIMEOUT = 60.0
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

    def _start(self, name: str, argv: list[str], ready: str, env: Mapping[str, str] | None = None,
               tree: Path | None = None) -> str:
        """Start `python <argv>`, wait for the line containing `ready`, return the first loopback URL on it.
        With `tree`, the child runs that checkout's code (see `from_tree`)."""
        log = open(self.workdir / f"{name}.log", "w")
        child_env = from_tree({k: v for k, v in os.environ.items() if not k.startswith(("STATUSPAL_MCP_", "OTEL_"))}, tree)
        child_env.update(env or {})
        child = subprocess.Popen([sys.executable, *argv], stdout=subprocess.PIPE, stderr=log, stdin=subprocess.DEVNULL,
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
                tree: Path | None = None) -> Gateway:
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
        url = self._start(name, ["-m", "gateway", "serve", "--port", "0"], "MCP URL:", settings, tree)
        return Gateway(url=url, sealing_keys=keys, pid=self.children[-1].pid)

    def sdk(self, index_dir: Path) -> str:
        return self._start("sdk", ["-m", "bench.sdk_server", str(index_dir)], "LISTENING")

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
