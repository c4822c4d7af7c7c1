"""Runs `python -m gateway …` as a real child process, as an operator would, for the CLI and canary tests.

Both pipes are drained all the time (a chatty child must never block on a full pipe), and everything it
wrote is kept so a test can read the banner on stdout and grep every JSON log line on stderr.
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import aiohttp

READY_LINE = "Stop with Ctrl-C"
# Posts one body to a served sandbox's admin route (`keys`, `faults`, ...).
Admin = Callable[[str, dict[str, Any]], Awaitable[None]]
START_TIMEOUT = 30.0


def child_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The test's environment without any STATUSPAL_MCP_* the developer may have set, plus `extra`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("STATUSPAL_MCP_", "OTEL_"))}
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra or {})
    return env


@dataclass
class Child:
    proc: asyncio.subprocess.Process
    stdout_lines: list[str] = field(default_factory=list)
    stderr_lines: list[str] = field(default_factory=list)
    _readers: list[asyncio.Task] = field(default_factory=list)

    @property
    def stdout(self) -> str:
        return "".join(self.stdout_lines)

    @property
    def stderr(self) -> str:
        return "".join(self.stderr_lines)

    def url_after(self, label: str) -> str:
        """The first http URL printed after `label` in the banner."""
        match = re.search(re.escape(label) + r"\s*(http://[^\s;]+)", self.stdout)
        assert match, f"no {label!r} URL in:\n{self.stdout}\n{self.stderr}"
        return match.group(1)

    async def wait_ready(self) -> None:
        async def ready() -> None:
            while READY_LINE not in self.stdout:
                if self.proc.returncode is not None:
                    raise AssertionError(f"exited with {self.proc.returncode}:\n{self.stdout}\n{self.stderr}")
                await asyncio.sleep(0.05)

        await asyncio.wait_for(ready(), START_TIMEOUT)

    async def finish(self, timeout: float = 30.0) -> int:
        code = await asyncio.wait_for(self.proc.wait(), timeout)
        await asyncio.gather(*self._readers)
        return code

    def terminate(self) -> None:
        if self.proc.returncode is None:
            self.proc.send_signal(signal.SIGTERM)


async def _drain(stream: asyncio.StreamReader, into: list[str]) -> None:
    while line := await stream.readline():
        into.append(line.decode(errors="replace"))


async def start(args: Sequence[str], env: Mapping[str, str] | None = None) -> Child:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "gateway", *args,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=child_env(env),
    )
    child = Child(proc)
    assert proc.stdout and proc.stderr
    child._readers = [
        asyncio.create_task(_drain(proc.stdout, child.stdout_lines)),
        asyncio.create_task(_drain(proc.stderr, child.stderr_lines)),
    ]
    return child


async def run(args: Sequence[str], env: Mapping[str, str] | None = None, timeout: float = 30.0) -> Child:
    """Run a command that is expected to exit by itself."""
    child = await start(args, env)
    await child.finish(timeout)
    return child


@asynccontextmanager
async def serving(args: Sequence[str], env: Mapping[str, str] | None = None) -> AsyncIterator[Child]:
    """A `serve`/`sandbox` child that has printed its banner; stopped with SIGTERM afterwards."""
    async with serving_together([args], env) as (child,):
        yield child


@asynccontextmanager
async def serving_together(commands: Sequence[Sequence[str]], env: Mapping[str, str] | None = None) -> AsyncIterator[list[Child]]:
    """Several such children, started at once so their start-ups overlap; all stopped afterwards."""
    children = []
    try:
        for args in commands:
            children.append(await start(args, env))
        await asyncio.gather(*(child.wait_ready() for child in children))
        yield children
    finally:
        for child in children:
            child.terminate()
        for child in children:
            try:
                await child.finish()
            except TimeoutError:
                child.proc.kill()
                await child.finish()


def sandbox_admin(http: aiohttp.ClientSession, child: Child) -> Admin:
    """The admin routes of the sandbox a `serve` child embeds; a refused setup call fails the test there."""
    origin = child.url_after("Sandbox StatusPal API at").removesuffix("/api/v1")

    async def admin(path: str, body: dict[str, Any]) -> None:
        async with http.post(f"{origin}/_sandbox/{path}", json=body) as r:
            assert r.status in (200, 201, 204), await r.text()

    return admin
