"""A real redis-server for tests: its own temp dir, a unix socket (no TCP port to race for), no persistence.

Use the fixtures by importing them into a test module::

    from tests.redis_server import redis_server_fixture, redis_url_fixture  # noqa: F401  (pytest fixtures)

The functions carry a ``_fixture`` suffix and the fixtures their short names, so a test's ``redis_url`` parameter
does not shadow an imported function of the same name.

``redis_server`` is one server for the session (``.stop()``/``.start()`` simulate an outage and recovery);
``redis_url`` hands each test an empty database. ``make system-deps`` installs Debian's redis-server.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest


class RedisServer:
    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.socket_path = directory / "redis.sock"
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"unix://{self.socket_path}"

    @property
    def running(self) -> bool:
        return self._process is not None

    def start(self, timeout: float = 10.0) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            pytest.fail("redis-server is not installed: run `make system-deps` (scripts/install_system_deps.sh)")
        # --port 0 turns TCP off entirely; the unix socket is private to this test run's temp dir.
        self._process = subprocess.Popen(
            [
                binary, "--port", "0", "--unixsocket", str(self.socket_path), "--unixsocketperm", "700",
                "--dir", str(self.directory), "--save", "", "--appendonly", "no",
                "--logfile", str(self.directory / "redis.log"),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                log = (self.directory / "redis.log").read_text(errors="replace")[-2000:]
                pytest.fail(f"redis-server exited with {self._process.returncode}:\n{log}")
            try:
                if self.command(b"PING").startswith(b"+PONG"):
                    return
            except OSError:
                time.sleep(0.02)
        self.stop()
        pytest.fail(f"redis-server did not answer on {self.socket_path} within {timeout}s")

    def stop(self) -> None:
        if self._process is not None:
            self._process.terminate()
            try:
                self._process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
            self._process = None
        self.socket_path.unlink(missing_ok=True)

    def command(self, *words: bytes) -> bytes:
        """Send one command (RESP) over the socket and return the raw first reply."""
        frame = b"*%d\r\n" % len(words) + b"".join(b"$%d\r\n%s\r\n" % (len(w), w) for w in words)
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
            conn.settimeout(2)
            conn.connect(str(self.socket_path))
            conn.sendall(frame)
            return conn.recv(65536)

    def flush(self) -> None:
        assert self.command(b"FLUSHALL").startswith(b"+OK")


@pytest.fixture(scope="session", name="redis_server")
def redis_server_fixture() -> Iterator[RedisServer]:
    # A short path under /tmp: unix socket paths are limited to about 100 bytes.
    directory = Path(tempfile.mkdtemp(prefix="redis-"))
    server = RedisServer(directory)
    server.start()
    try:
        yield server
    finally:
        server.stop()
        shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture(name="redis_url")
def redis_url_fixture(redis_server: RedisServer) -> str:
    if not redis_server.running:  # a previous test simulated an outage and did not restart it
        redis_server.start()
    redis_server.flush()
    return redis_server.url
