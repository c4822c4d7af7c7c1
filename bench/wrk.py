"""Drive Debian's `wrk` with a generated Lua script (method, headers, body) and read its figures back.

wrk is a separate C process, so the load generator costs the server under test nothing but the other
core. The script's `done` hook prints one machine-readable line; latencies come from wrk's own
histogram (microseconds).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass

_DONE = """
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("WRK_RESULT %d %d %d %d %d %d\\n", summary.requests, summary.duration,
    latency:percentile(50), latency:percentile(99), e.status, e.connect + e.read + e.write + e.timeout))
end
"""


@dataclass(frozen=True)
class Load:
    """One request shape, repeated by every connection; or, with `variants`, several taken in turn.

    A variant is (path or None for the URL's own, body). Each wrk connection cycles through them, so a server
    that caches answers is measured over all of them rather than one answer repeated.
    """

    url: str
    method: str = "POST"
    headers: Mapping[str, str] | None = None
    body: str | None = None
    variants: tuple[tuple[str | None, str], ...] = ()
    # Each request carries `Authorization: Bearer <fresh_bearer><never used before>`: a flood of made-up keys.
    fresh_bearer: str | None = None
    # A pause before each request on a connection, to pace a load (wrk has no rate option).
    delay_ms: int = 0

    def script(self) -> str:
        lines = [f"wrk.method = {_lua(self.method)}"]
        for name, value in (self.headers or {}).items():
            lines.append(f"wrk.headers[{_lua(name)}] = {_lua(value)}")
        if self.body is not None:
            lines.append(f"wrk.body = {_lua(self.body)}")
        if self.variants:
            # Formatted once here; request() only picks the next one. Every thread starts at a different place.
            entries = ", ".join(
                f"wrk.format(nil, {_lua(path) if path else 'nil'}, nil, {_lua(body)})" for path, body in self.variants
            )
            lines += [
                "local requests, n = nil, 0",
                f"init = function(args) requests = {{{entries}}}; n = math.random(#requests) end",
                "request = function() n = n % #requests + 1; return requests[n] end",
            ]
        elif self.fresh_bearer is not None:
            # Thread number and start time make every key new, also across runs a second or more apart.
            lines += [
                "local threads, n = 0, 0  -- id: each thread's own global, set by setup",
                "setup = function(thread) threads = threads + 1; thread:set('id', threads) end",
                "init = function(args) n = 0; started = os.time() end",
                "request = function()",
                "  n = n + 1",
                "  local headers = {}",
                "  for name, value in pairs(wrk.headers) do headers[name] = value end",
                f"  headers['Authorization'] = 'Bearer ' .. {_lua(self.fresh_bearer)} .. started .. '_' .. id .. '_' .. n",
                "  return wrk.format(nil, nil, headers, nil)",
                "end",
            ]
        if self.delay_ms:
            lines.append(f"delay = function() return {int(self.delay_ms)} end")
        return "\n".join(lines) + "\n" + _DONE


@dataclass(frozen=True)
class Result:
    requests: int
    seconds: float
    p50_ms: float
    p99_ms: float
    bad_status: int
    socket_errors: int

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


def available() -> bool:
    return shutil.which("wrk") is not None


def run(load: Load, *, seconds: int, connections: int, threads: int = 2, cpus: str | None = None) -> Result:
    """Run wrk for `seconds` (bounded by a hard timeout) and parse its result line; with `cpus` (a taskset
    list such as "1"), on those cores only."""
    return start(load, seconds=seconds, connections=connections, threads=threads, cpus=cpus).result()


class Running:
    """A wrk run in the background (a load that must overlap another measurement); `result()` waits for it."""

    def __init__(self, command: list[str], script: tempfile._TemporaryFileWrapper[str], seconds: int) -> None:
        self._script = script
        self._seconds = seconds
        self._process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def result(self) -> Result:
        try:
            stdout, stderr = self._process.communicate(timeout=self._seconds + 30)
        except subprocess.TimeoutExpired:
            self._process.kill()
            stdout, stderr = self._process.communicate()
        finally:
            self._script.close()
        return _parse(stdout, stderr, self._process.returncode)


def start(load: Load, *, seconds: int, connections: int, threads: int = 2, cpus: str | None = None) -> Running:
    script = tempfile.NamedTemporaryFile("w", suffix=".lua")
    script.write(load.script())
    script.flush()
    command = [
        "wrk", f"-t{min(threads, connections)}", f"-c{connections}", f"-d{seconds}s", "--timeout", "10s",
        "-s", script.name, load.url,
    ]
    if cpus is not None:
        command = ["taskset", "-c", cpus, *command]
    return Running(command, script, seconds)


def _parse(stdout: str, stderr: str, returncode: int | None) -> Result:
    for line in stdout.splitlines():
        if line.startswith("WRK_RESULT "):
            requests, duration_us, p50_us, p99_us, bad_status, socket_errors = map(int, line.split()[1:])
            return Result(requests, duration_us / 1e6, p50_us / 1000, p99_us / 1000, bad_status, socket_errors)
    raise RuntimeError(f"wrk printed no result (exit {returncode}): {stderr.strip() or stdout.strip()}")


def _lua(value: str) -> str:
    """A Lua string literal: for ASCII text, JSON's escapes (\\ \" \n) read the same in Lua."""
    if not value.isascii():
        raise ValueError("wrk scripts take ASCII request bodies and headers only")
    return json.dumps(value)
