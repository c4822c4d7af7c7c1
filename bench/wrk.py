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
from dataclasses import dataclass
from typing import Mapping

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


def run(load: Load, *, seconds: int, connections: int, threads: int = 2) -> Result:
    """Run wrk for `seconds` (bounded by a hard timeout) and parse its result line."""
    with tempfile.NamedTemporaryFile("w", suffix=".lua") as script:
        script.write(load.script())
        script.flush()
        command = [
            "wrk", f"-t{min(threads, connections)}", f"-c{connections}", f"-d{seconds}s", "--timeout", "10s",
            "-s", script.name, load.url,
        ]
        done = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 30, check=False)
    for line in done.stdout.splitlines():
        if line.startswith("WRK_RESULT "):
            requests, duration_us, p50_us, p99_us, bad_status, socket_errors = map(int, line.split()[1:])
            return Result(requests, duration_us / 1e6, p50_us / 1000, p99_us / 1000, bad_status, socket_errors)
    raise RuntimeError(f"wrk printed no result (exit {done.returncode}): {done.stderr.strip() or done.stdout.strip()}")


def _lua(value: str) -> str:
    """A Lua string literal: for ASCII text, JSON's escapes (\\ \" \n) read the same in Lua."""
    if not value.isascii():
        raise ValueError("wrk scripts take ASCII request bodies and headers only")
    return json.dumps(value)
