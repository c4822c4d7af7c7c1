"""Runs the Node 22 tools that `make node` (scripts/install_node.sh) installs under .node/.

A missing install fails the test with the command that fixes it, never a silent skip: these tests are part of
`make test`, and a skip would hide that CI checked nothing.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
from collections.abc import AsyncIterator, Iterable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
NODE_DIR = ROOT / ".node"
NODE = NODE_DIR / "node22" / "node_modules" / ".bin" / "node"
_CONFORMANCE_JS = Path("node_modules/@modelcontextprotocol/conformance/dist/index.js")
CONFORMANCE = {"0.1": NODE_DIR / "conformance-0.1" / _CONFORMANCE_JS, "0.2": NODE_DIR / "conformance-0.2" / _CONFORMANCE_JS}
INSPECTOR = NODE_DIR / "inspector/node_modules/@modelcontextprotocol/inspector/clients/launcher/build/index.js"
# A guard against a hung child, not a performance assertion: a scenario takes about a second.
RUN_TIMEOUT = 180.0


def require(*paths: Path) -> None:
    """Fail (not skip) when the Node tools are not installed."""
    missing = [str(p.relative_to(ROOT)) for p in (NODE, *paths) if not p.exists()]
    if missing:
        pytest.fail(f"Node 22 tools are not installed ({', '.join(missing)} missing): run `make node`", pytrace=False)


@dataclass
class Completed:
    args: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str

    def describe(self) -> str:
        return f"exit {self.returncode}\n--- stdout ---\n{self.stdout[-6000:]}\n--- stderr ---\n{self.stderr[-3000:]}"


def node_env(home: Path, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment for a Node tool: Node 22 first on PATH, HOME at a scratch folder, colour off.

    The Inspector keeps a catalogue under ~/.mcp-inspector and must not touch the developer's; without colour,
    failure messages read cleanly.
    """
    return {
        **os.environ,
        "HOME": str(home),
        "NO_COLOR": "1",
        "FORCE_COLOR": "0",
        "PATH": f"{NODE.parent}{os.pathsep}{os.environ.get('PATH', '')}",
        **(extra or {}),
    }


@asynccontextmanager
async def node_process(
    script: Path, *args: str, home: Path, env: Mapping[str, str] | None = None
) -> AsyncIterator[asyncio.subprocess.Process]:
    """`node script args…` as a running child with piped stdout/stderr, for a CLI the test must talk to mid-run
    (the suite's `authorization` command prints an authorization URL and waits for the browser's callback).
    The child is killed on exit if still running; it never blocks the event loop the gateway is served from."""
    require(script)
    proc = await asyncio.create_subprocess_exec(
        str(NODE), str(script), *args,
        stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        env=node_env(home, env), cwd=str(home),
    )
    try:
        yield proc
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


async def run_node(script: Path, *args: str, home: Path, env: Mapping[str, str] | None = None) -> Completed:
    """Run `node script args…` to completion and collect its output."""
    async with node_process(script, *args, home=home, env=env) as proc:
        try:
            out, err = await asyncio.wait_for(proc.communicate(), RUN_TIMEOUT)
        except TimeoutError:
            proc.kill()
            out, err = await proc.communicate()
            err += f"\n[test harness: killed after {RUN_TIMEOUT:.0f} s]".encode()
    return Completed((str(script), *args), proc.returncode if proc.returncode is not None else -9,
                     out.decode(errors="replace"), err.decode(errors="replace"))


# ---- conformance results ----------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Check:
    scenario: str
    id: str
    status: str  # SUCCESS | FAILURE | WARNING | INFO | SKIPPED
    description: str
    error: str
    details: Any

    def line(self) -> str:
        why = self.error or self.description
        detail = json.dumps(self.details, default=str)[:400] if self.details else ""
        return f"{self.scenario} / {self.id}: {why}" + (f"\n      details: {detail}" if detail else "")


def read_checks(results_dir: Path) -> list[Check]:
    """Every check of every scenario the suite wrote under `results_dir` (`<dir>/server-<scenario>-<ts>/checks.json`)."""
    checks = []
    for path in sorted(results_dir.glob("*/checks.json")):
        scenario = re.sub(r"^server-(.*)-\d{4}-\d\d-\d\dT.*$", r"\1", path.parent.name)
        for item in json.loads(path.read_text()):
            checks.append(Check(scenario, item.get("id", "?"), item.get("status", "?"), item.get("description", ""),
                                item.get("errorMessage", "") or "", item.get("details")))
    return checks


def read_baseline(path: Path) -> set[str]:
    """Entries (`scenario` or `scenario:check-id`) of our own baseline file's `server:` list.

    The file is YAML as the suite reads it; our files only ever hold a `server:` list of plain scalars with a
    comment each, so this reads exactly that shape (and refuses anything else rather than misreading it).
    """
    entries: set[str] = set()
    for raw in path.read_text().splitlines():
        line = raw.split("#", 1)[0].rstrip()
        if not line.strip() or line.strip() in ("server:", "server: []"):
            continue
        match = re.fullmatch(r"\s+-\s+([\w.:/-]+)", line)
        if not match:
            raise ValueError(f"{path.name}: unexpected baseline line {raw!r}")
        entries.add(match.group(1))
    return entries


def expected(check: Check, baseline: Iterable[str]) -> bool:
    entries = set(baseline)
    return check.scenario in entries or f"{check.scenario}:{check.id}" in entries
