"""`python -m bench.against REV` (or `python -m bench --against REV`): this checkout's gateway against revision
REV's, loaded in the same rounds, so "no scenario slower" is a measurement rather than two runs minutes apart.

REV is checked out into a temporary git worktree (removed on exit); its docs index is built by its own code and
its gateway runs from that tree (the same venv, the tree first on PYTHONPATH) beside the current one. Both call
one sandbox process (this checkout's, outside either gateway as in `python -m bench`), so the forwarded call
compares the gateways, not two sandboxes. Both gateways count the inbound limits on every request with budgets
out of reach, as in `python -m bench`: that counting is part of what each costs.

Scenarios both revisions support: `tools/list`, `search_docs` (the same questions in turn), `get_status_page`
forwarded to the sandbox (on one connection, so the figure is latency, and on all of them), and `tools/list`
with a sealed OAuth token when REV's own benchmark code can mint one. Each is loaded on both gateways back to
back in every round, the order reversed every other round. Per scenario it prints the median over the rounds
of current/before throughput (target >= `--least`, 1x by default: no scenario slower) with its range, and, for
reference, each gateway's CPU time per request (its threads' run time from /proc over the same loads, which
drifts far less with the machine's load than throughput). Every request is checked once on both gateways
before the load. Nothing here is a test: a miss is reported with exit code 1.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench import wrk
from bench.__main__ import (
    DEMO_KEY,
    LIMITS_COUNTED,
    QUESTIONS,
    SUBDOMAIN,
    Target,
    add_load_arguments,
    check,
    is_result,
    mcp_load,
    rotating,
    search_questions,
    shown,
    tool_ok,
)
from bench.processes import Gateway, Servers, from_tree
from gateway.config import DEFAULT_CONFIG, load_settings
from search.build import build_index

ROOT = Path(__file__).resolve().parent.parent

# Run inside REV's tree: its own benchmark code mints the token with its own token format.
# Its Gateway record may have fields this one lacks or has (a later one has `pid`, unused for minting).
MINT_OLD_TOKEN = """
import dataclasses, sys
from bench.processes import Gateway, Servers
fields = {f.name for f in dataclasses.fields(Gateway)}
known = {"url": sys.argv[1], "sealing_keys": sys.argv[2], "pid": 0}
print(Servers.sealed_token(Gateway(**{k: v for k, v in known.items() if k in fields}), sys.argv[3]))
"""


@contextlib.contextmanager
def checked_out(rev: str, parent: Path) -> Iterator[Path]:
    """REV in a detached temporary worktree of this repository, removed (and pruned) however the block ends."""
    tree = parent / "before"
    subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", "--quiet", str(tree), rev], check=True)
    try:
        yield tree
    finally:
        subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(tree)], check=False)
        subprocess.run(["git", "-C", str(ROOT), "worktree", "prune"], check=False)


def build_old_index(tree: Path, output: Path) -> None:
    """REV's docs index, built by REV's own `build-index` from REV's corpus."""
    done = subprocess.run([sys.executable, "-m", "gateway", "build-index", "--output", str(output), "--quiet"],
                          cwd=tree, env=from_tree(_environ(), tree), capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(f"bench: {tree.name} could not build its index:\n{done.stderr[-2000:]}")


def old_sealed_token(tree: Path, gateway: Gateway, key: str) -> str | None:
    """A sealed token minted by REV's own code, or None when REV's benchmark cannot mint one."""
    done = subprocess.run([sys.executable, "-c", MINT_OLD_TOKEN, gateway.url, gateway.sealing_keys, key],
                          cwd=tree, env=from_tree(_environ(), tree), capture_output=True, text=True)
    return done.stdout.strip() if done.returncode == 0 and done.stdout.strip() else None


def _environ() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("STATUSPAL_MCP_")}


def cpu_seconds(pid: int) -> float:
    """Run time of every thread of `pid` so far (schedstat, nanoseconds; the log writer thread included)."""
    total = 0
    for task in Path(f"/proc/{pid}/task").iterdir():
        with contextlib.suppress(FileNotFoundError):
            total += int((task / "schedstat").read_text().split()[0])
    return total / 1e9


@dataclass
class Side:
    """One gateway's figures for one scenario, round by round."""

    rps: list[float]
    p50_ms: list[float]
    cpu_us: list[float]  # CPU time of the gateway process per request answered
    errors: int = 0


def load_pair(loads: tuple[wrk.Load, wrk.Load], pids: tuple[int, int], *, seconds: int, warmup: int, repeat: int,
              connections: int) -> tuple[Side, Side]:
    """Both loads back to back in each of `repeat` rounds, the order reversed every other round."""
    if warmup:
        for load in loads:
            wrk.run(load, seconds=warmup, connections=connections)
    sides = (Side([], [], []), Side([], [], []))
    for number in range(repeat):
        for i in (0, 1) if number % 2 == 0 else (1, 0):
            before = cpu_seconds(pids[i])
            result = wrk.run(loads[i], seconds=seconds, connections=connections)
            spent = cpu_seconds(pids[i]) - before
            side = sides[i]
            side.rps.append(result.rps)
            side.p50_ms.append(result.p50_ms)
            side.cpu_us.append(spent / result.requests * 1e6 if result.requests else float("nan"))
            side.errors += result.bad_status + result.socket_errors
    return sides


@dataclass
class Comparison:
    scenario: str
    connections: int
    current: Side
    before: Side

    @property
    def ratios(self) -> list[float]:
        """current/before throughput, round by round; a round where `before` measured nothing gives none."""
        return [c / b for c, b in zip(self.current.rps, self.before.rps, strict=True) if b]

    def target(self, least: float) -> Target:
        ratios = self.ratios
        return Target(f"{self.scenario}, {self.connections} conn", statistics.median(ratios), f">= {least:g}x",
                      statistics.median(ratios) >= least, ratios)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.against", description=__doc__.splitlines()[0])
    parser.add_argument("rev", help="the revision to compare with (a commit, tag or branch of this repository)")
    add_load_arguments(parser)
    parser.add_argument("--least", type=float, default=1.0, help="current/before throughput each scenario must reach (default 1)")
    args = parser.parse_args(argv)
    if not wrk.available():
        print("bench: wrk is not installed; run `make system-deps` (Debian package wrk)", file=sys.stderr)
        return 2
    head = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    dirty = subprocess.run(["git", "-C", str(ROOT), "status", "--porcelain", "--untracked-files=no"],
                           capture_output=True, text=True).stdout.strip()
    current_name = f"{head}{'+changes' if dirty else ''}"

    settings = load_settings(DEFAULT_CONFIG, env={})
    comparisons: list[Comparison] = []
    with tempfile.TemporaryDirectory(prefix="statuspal-bench-against-") as tmp, checked_out(args.rev, Path(tmp)) as tree, \
            Servers(Path(tmp)) as servers:
        old_rev = subprocess.run(["git", "-C", str(tree), "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
        index_now, index_old = Path(tmp) / "index-current", Path(tmp) / "index-before"
        build_index(settings.path(settings.search.corpus_dir), index_now, settings.search.docs_base_url)
        build_old_index(tree, index_old)
        sandbox = servers.sandbox()
        current = servers.gateway(sandbox, index_now, "gateway-current", LIMITS_COUNTED)
        # Both count the inbound limits with budgets out of reach: a revision with [limits] would otherwise answer
        # 429 once its default per-address budget is spent, and the comparison would measure refusals.
        before = servers.gateway(sandbox, index_old, "gateway-before", LIMITS_COUNTED, tree=tree)
        servers.create_status_page(sandbox, DEMO_KEY, SUBDOMAIN)
        print(f"statuspal-mcp, current ({current_name}) against {args.rev} ({old_rev}): wrk, {args.seconds} s a load, "
              f"{args.repeat} rounds; current / before throughput, and each gateway's CPU per request", flush=True)

        questions = search_questions(QUESTIONS)
        search_params = [{"name": "search_docs", "arguments": {"query": q}} for q in questions]
        forward_params = {"name": "get_status_page", "arguments": {"subdomain": SUBDOMAIN}}
        tokens = {current.url: DEMO_KEY, before.url: DEMO_KEY}
        # (scenario, connections, the load for a gateway URL and token, what a good answer looks like)
        scenarios: list[tuple[str, int, Callable[[str, str], wrk.Load], Callable[[Any], bool]]] = [
            ("tools/list", args.connections, lambda url, token: mcp_load(f"{url}/mcp", token, "tools/list"), is_result("tools")),
            (f"tools/call search_docs ({len(questions)} questions)", args.connections,
             lambda url, token: rotating(f"{url}/mcp", token, "tools/call", search_params), tool_ok),
            ("get_status_page (forwarded)", 1,
             lambda url, token: mcp_load(f"{url}/mcp", token, "tools/call", forward_params), tool_ok),
            ("get_status_page (forwarded)", args.connections,
             lambda url, token: mcp_load(f"{url}/mcp", token, "tools/call", forward_params), tool_ok),
        ]
        old_token = old_sealed_token(tree, before, DEMO_KEY)
        if old_token is None:
            print(f"  ({args.rev} cannot mint a sealed token with its own code: that scenario is left out)", flush=True)
        else:
            sealed = {current.url: servers.sealed_token(current, DEMO_KEY), before.url: old_token}
            scenarios.append(("tools/list, sealed OAuth token", args.connections,
                              lambda url, _: mcp_load(f"{url}/mcp", sealed[url], "tools/list"), is_result("tools")))

        for scenario, connections, make, expect in scenarios:
            loads = (make(current.url, tokens[current.url]), make(before.url, tokens[before.url]))
            for load, who in zip(loads, ("current", args.rev), strict=True):
                check(load, expect, f"{who} gateway, {scenario}")
            now, old = load_pair(loads, (current.pid, before.pid), seconds=args.seconds, warmup=args.warmup,
                                 repeat=args.repeat, connections=connections)
            comparison = Comparison(scenario, connections, now, old)
            comparisons.append(comparison)
            for name, side in (("current", now), (args.rev, old)):
                print(f"  {scenario:<40} {connections:>2} conn  {name:<10} {statistics.median(side.rps):>8.0f} req/s  "
                      f"p50 {statistics.median(side.p50_ms):>6.2f} ms  CPU {statistics.median(side.cpu_us):>6.1f} µs/request"
                      f"{f'  ({side.errors} errors)' if side.errors else ''}", flush=True)

    print(f"\ncurrent / {args.rev} (median over {args.repeat} rounds, each comparing loads run back to back; range in brackets)")
    errors = sum(c.current.errors + c.before.errors for c in comparisons)
    targets = [c.target(args.least) for c in comparisons]
    for c, t in zip(comparisons, targets, strict=True):
        cpu = [n / o for n, o in zip(c.current.cpu_us, c.before.cpu_us, strict=True) if o]
        print(f"  {'ok  ' if t.met else 'MISS'} {t.name:<48} throughput {shown(t):>5.2f}x "
              f"[{min(t.rounds):.2f}-{max(t.rounds):.2f}] (target {t.goal})   "
              f"CPU per request {statistics.median(cpu):.2f}x [{min(cpu):.2f}-{max(cpu):.2f}] (for reference)")
    if errors:
        print(f"\nbench: {errors} requests failed during the load; the figures above are not trustworthy", file=sys.stderr)
    return 0 if all(t.met for t in targets) and not errors else 1


if __name__ == "__main__":
    raise SystemExit(main())
