"""`python -m bench.peers`: the gateway with 1 and N workers against the SDK servers a team would pick instead.

Servers, each its own process tree on an ephemeral loopback port, all started before the first load:

- the gateway, `serve` with 1 worker and `serve --workers N`, both on one real redis-server (N > 1 needs it; the
  single worker uses it too, so the pair differs in the worker count only), the inbound limits counted on every
  request with budgets out of reach (as in `python -m bench`), calling one sandbox process;
- the TypeScript SDK's own server, newest 1.x (`@modelcontextprotocol/sdk`) and 2.x (`@modelcontextprotocol/server`
  with `@modelcontextprotocol/node`'s transport), bench/ts_sdk_server.cjs on the project's Node 22, 1 process and
  N `cluster` workers on one port;
- the Python SDK's `MCPServer` (bench/sdk_server.py, uvicorn), 1 process and N forked onto one socket.

Every peer is stateless Streamable HTTP answering JSON, lists exactly the tools the gateway's `/mcp` lists to a
client without the apps extension (`build_catalogue()`, `definition()`: the same 41 KB), answers `search_docs`
with the gateway's own result for each question (the Python peer runs the gateway's handler over the same index,
result cache on; the TypeScript peers answer from the same results, computed once here: the MCP machinery around
a cached search), and forwards `get_status_page` to the sandbox with the caller's key (one pooled HTTP client).

Three loads, each on all eight servers in the same rounds (the order reversed every other round): `tools/list`,
`search_docs` (QUESTIONS questions in turn) and `get_status_page` forwarded to the sandbox. With C cores, wrk is
pinned to the last one (taskset, one thread) and every 1-worker server to the others, so a single worker never
shares its core with the load generator; N-worker servers, the sandbox and Redis run on every core (with 2 cores,
one N-worker process shares wrk's core). The output says how the cores were shared.

Each row also shows the CPU time the server's processes spent per request and how many cores they kept busy
(their threads' run time from /proc around each load): what a second worker could get on this machine.

Targets (medians of per-round ratios, printed with their range): N workers at least 1.3x one worker on
`tools/list`; the gateway ahead of each peer at the same worker count, in each load. Every other ratio
(each server's own N/1 scaling, the forwarded and search rows of the gateway's) is printed for reference.
Nothing here is a test: a missed target is reported (exit code 1), never hidden.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

from bench import wrk
from bench.__main__ import (
    DEMO_KEY,
    LIMITS_COUNTED,
    QUESTIONS,
    SUBDOMAIN,
    Bench,
    Row,
    Target,
    add_load_arguments,
    check,
    is_result,
    mcp_load,
    paired,
    print_targets,
    rotating,
    search_questions,
    tool_ok,
)
from bench.processes import ROOT, Servers
from gateway.config import DEFAULT_CONFIG, load_settings
from gateway.tools import docs as docs_tool
from gateway.tools.base import ToolContext
from gateway.tools.catalogue import build_catalogue
from search.build import build_index
from search.lifecycle import DocsIndex

SCALING_LEAST = 1.3  # N workers / 1 worker on tools/list


def sdk_versions() -> dict[int, str]:
    """The TypeScript SDK versions installed under .node/ (from the manifests scripts/install_node.sh installs)."""
    versions = {}
    for major, package in ((1, "sdk"), (2, "server")):
        manifest = ROOT / ".node" / f"ts-sdk-{major}" / "node_modules" / "@modelcontextprotocol" / package / "package.json"
        versions[major] = json.loads(manifest.read_text())["version"] if manifest.exists() else "?"
    return versions


def peer_data(index_dir: Path, questions: list[str], path: Path) -> None:
    """What the TypeScript peers serve: the tools the gateway lists and the gateway's search_docs result for each
    question (its own handler over the same index, as the Python peer computes them)."""
    settings = load_settings(DEFAULT_CONFIG, env={})
    context = ToolContext(docs=DocsIndex.open(str(index_dir), settings.search))

    async def results() -> dict[str, Any]:
        return {q: await docs_tool.search_docs(context, {"query": q}) for q in questions}

    tools = [tool.definition() for tool in build_catalogue().tools]
    path.write_text(json.dumps({"tools": tools, "search": asyncio.run(results())}))


def cores_plan(cpus: list[int]) -> tuple[str | None, str | None, str]:
    """(wrk's cores, the 1-worker servers' cores, a sentence saying so) for the cores this process may use."""
    if len(cpus) < 2:
        return None, None, f"1 core ({cpus[0]}): wrk and every server share it"
    wrk_core, rest = str(cpus[-1]), ",".join(map(str, cpus[:-1]))
    shared = ("one N-worker process shares wrk's core" if len(cpus) == 2
              else "N-worker processes may run on wrk's core")
    return wrk_core, rest, (f"{len(cpus)} cores: wrk pinned to core {wrk_core} (taskset, 1 thread); every 1-worker "
                            f"server pinned to core(s) {rest}; N-worker servers, the sandbox and Redis on every core "
                            f"({shared})")


def main(argv: list[str] | None = None) -> int:
    cpus = sorted(os.sched_getaffinity(0))
    parser = argparse.ArgumentParser(prog="python -m bench.peers", description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=len(cpus), help=f"N, the larger worker count (default: the cores, {len(cpus)})")
    add_load_arguments(parser)
    parser.add_argument("--json", metavar="PATH", help="also write the figures as JSON here")
    parser.add_argument("--keep-logs", metavar="DIR", help="copy every server's log here at the end")
    args = parser.parse_args(argv)
    if not wrk.available():
        print("bench: wrk is not installed; run `make system-deps` (Debian package wrk)", file=sys.stderr)
        return 2
    n = args.workers
    if n < 2:
        print("bench.peers: --workers must be at least 2 (it is compared with 1 worker)", file=sys.stderr)
        return 2
    wrk_cpus, server_cpus, plan = cores_plan(cpus)
    versions = sdk_versions()

    settings = load_settings(DEFAULT_CONFIG, env={})
    bench = Bench(args.seconds, args.connections, args.warmup, args.repeat, wrk_cpus=wrk_cpus)
    questions = search_questions(QUESTIONS)
    with tempfile.TemporaryDirectory(prefix="statuspal-bench-peers-") as tmp, Servers(Path(tmp)) as servers:
        index_dir, peer_json = Path(tmp) / "index", Path(tmp) / "peer.json"
        build_index(settings.path(settings.search.corpus_dir), index_dir, settings.search.docs_base_url)
        peer_data(index_dir, questions, peer_json)
        sandbox = servers.sandbox()
        upstream = f"{sandbox}/api/v1/status_pages"
        redis = servers.redis()
        on_redis = {**LIMITS_COUNTED, "STATUSPAL_MCP_REDIS_URL": redis}
        # (server label, worker count, URL), gateway first: the pairs compared run next to each other; and the
        # process of each (its children are its workers), whose CPU time is read around every load.
        urls: list[tuple[str, int, str]] = []
        pids: list[int] = []
        for workers in (1, n):
            cores = server_cpus if workers == 1 else None
            urls.append((f"gateway {workers}w", workers, servers.gateway(
                sandbox, index_dir, f"gateway-{workers}w", {**on_redis, "STATUSPAL_MCP_SERVER_WORKERS": str(workers)},
                cpus=cores).url))
            pids.append(servers.children[-1].pid)
            for major in (1, 2):
                urls.append((f"TS SDK {versions[major]} {workers}w", workers,
                             servers.ts_sdk(major, peer_json, upstream, workers, cpus=cores)))
                pids.append(servers.children[-1].pid)
            urls.append((f"Python SDK {workers}w", workers,
                         servers.sdk(index_dir, f"sdk-{workers}w", workers, upstream, cpus=cores)))
            pids.append(servers.children[-1].pid)
        servers.create_status_page(sandbox, DEMO_KEY, SUBDOMAIN)

        print(f"statuspal-mcp against the SDK servers: wrk, {args.connections} connections, {args.seconds} s a load, "
              f"{args.repeat} rounds, 1 and {n} workers, Python {platform.python_version()}\n"
              f"cores: {plan}\n"
              f"search_docs: {len(questions)} questions in turn: " + "; ".join(repr(q) for q in questions), flush=True)

        search_params = [{"name": "search_docs", "arguments": {"query": q}} for q in questions]
        forward_params = {"name": "get_status_page", "arguments": {"subdomain": SUBDOMAIN}}
        shapes: list[tuple[str, Callable[[str], wrk.Load], Callable[[Any], bool]]] = [
            ("tools/list", lambda url: mcp_load(f"{url}/mcp", DEMO_KEY, "tools/list"), is_result("tools")),
            (f"search_docs ({len(questions)} questions)",
             lambda url: rotating(f"{url}/mcp", DEMO_KEY, "tools/call", search_params), tool_ok),
            ("get_status_page (forwarded)",
             lambda url: mcp_load(f"{url}/mcp", DEMO_KEY, "tools/call", forward_params), forwarded_ok),
        ]
        rows: dict[tuple[str, str], Row] = {}
        listed = {}
        for label, make, expect in shapes:
            runs = []
            for server, _, url in urls:
                load = make(url)
                answers = check(load, expect, f"{server} {label}")
                if label == "tools/list":
                    listed[server] = json.loads(answers[0])["result"]["tools"]
                runs.append((label, server, load))
            for row in bench.compare(runs, pids=pids):
                rows[(label, row.server)] = row
        for label, workers, _ in urls:
            if label.startswith("gateway"):
                refused = answers_not_ok(Path(tmp) / f"gateway-{workers}w.log")
                if refused:
                    print(f"{label} answered, besides 200: {refused} (a 400 is a request wrk cut off when a load "
                          "ended: it never reaches wrk)", flush=True)
        if args.keep_logs:
            Path(args.keep_logs).mkdir(parents=True, exist_ok=True)
            for log in Path(tmp).glob("*.log"):
                shutil.copy(log, args.keep_logs)
        definitions = [tool.definition() for tool in build_catalogue().tools]
        differ = [server for server, tools in listed.items() if tools != definitions]
        print(f"tools/list: every server listed the gateway's {len(definitions)} tool definitions"
              if not differ else f"tools/list: these servers list other definitions than the gateway: {differ}", flush=True)

    targets: list[Target] = []

    def ratio(name: str, a: Row, b: Row, least: float | None, strictly: bool = False) -> Target:
        rounds = paired(a, b, lambda x, y: x / y)
        value = statistics.median(rounds)
        if least is None:
            return Target(name, value, "reference", True, rounds)
        goal = f"> {least:g}x" if strictly else f">= {least:g}x"
        return Target(name, value, goal, value > least if strictly else value >= least, rounds)

    servers_by_workers = {w: [s for s, sw, _ in urls if sw == w and not s.startswith("gateway")] for w in (1, n)}
    for label, _, _ in shapes:
        for server in ("gateway", *(s.rsplit(" ", 1)[0] for s in servers_by_workers[1])):
            least = SCALING_LEAST if label == "tools/list" and server == "gateway" else None
            targets.append(ratio(f"{label}: {server} {n}w / 1w", rows[(label, f"{server} {n}w")],
                                 rows[(label, f"{server} 1w")], least))
        for workers in (1, n):
            for peer in servers_by_workers[workers]:
                targets.append(ratio(f"{label}: gateway / {peer}", rows[(label, f"gateway {workers}w")],
                                     rows[(label, peer)], 1.0, strictly=True))

    print(f"\nTargets (median over {args.repeat} rounds of per-round ratios of throughput; range in brackets)")
    print_targets(targets)
    errors = sum(row.errors for row in bench.rows)
    if errors:
        print(f"\nbench: {errors} requests failed during the load; the figures above are not trustworthy", file=sys.stderr)
    if args.json:
        Path(args.json).write_text(json.dumps({
            "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "cpus": cpus, "cores": plan,
            "workers": n, "python": platform.python_version(), "ts_sdk": versions, "seconds": args.seconds,
            "search_docs_questions": questions, "rows": [asdict(r) for r in bench.rows],
            "targets": [asdict(t) for t in targets],
        }, indent=2))
    return 0 if all(t.met for t in targets) and not errors else 1


def answers_not_ok(log: Path) -> dict[str, int]:
    """Statuses other than 200 in a gateway's access lines (each worker logs its own), with how many."""
    counts: dict[str, int] = {}
    for line in log.read_text(errors="replace").splitlines():
        if '"gateway.access"' not in line:
            continue
        try:
            status = str(json.loads(line).get("status"))
        except ValueError:
            continue
        if status != "200":
            counts[status] = counts.get(status, 0) + 1
    return counts


def forwarded_ok(body: Any) -> bool:
    """A get_status_page answer that carries the sandbox's page (every server is checked to really forward)."""
    if not tool_ok(body):
        return False
    structured = body["result"].get("structuredContent") or {}
    page = structured.get("data", structured)
    return isinstance(page, dict) and page.get("subdomain") == SUBDOMAIN


if __name__ == "__main__":
    raise SystemExit(main())
