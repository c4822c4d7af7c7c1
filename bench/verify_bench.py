"""What verifying a notice write costs: latency and upstream calls, with verification on and off.

    python -m bench.verify_bench [--rounds 200]

A verified write costs at most one extra upstream read, and none when StatusPal's answer already carries
the fields. Shown here with `create_incident` and `post_notice_update` run through the tools' own handlers
against the sandbox in another process (over loopback TCP), in two shapes of answer:

- full answer: the sandbox answers with the whole notice, so verification reads nothing more;
- answer without timeline: a small proxy in this process drops `updates` from the answers to POSTs (as a
  StatusPal that answers with less would), so the text and notify echo need the one follow-up GET.

"Off" is a switch of this benchmark only: it replaces the handlers' `confirm` with one that takes the answer
as it is. Operators get no such setting, since it would report unverified writes as success. On and off run
in the same rounds, alternating which goes first; the upstream calls per tool call are counted by the
sandbox itself (its request log), not inferred.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import tempfile
import time
import urllib.request
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

from bench.processes import Servers
from gateway.config import DEFAULT_CONFIG, load_settings
from gateway.statuspal.client import StatusPalAPI, StatusPalClient
from gateway.statuspal.endpoints import EndpointTable
from gateway.tools import notices
from gateway.tools.base import ToolContext

DEMO_KEY = "sk_sandbox_demo"
PAGE = "bench-verify"
TOOLS = {tool.name: tool for tool in notices.TOOLS}


@contextmanager
def verification(on: bool) -> Iterator[None]:
    """Bench-only switch: with `on` false, the notice handlers take StatusPal's answer unchecked."""
    original = notices.confirm

    async def unchecked(write: Any, answer: Mapping[str, Any] | None) -> dict[str, Any]:
        return dict(answer or {})

    notices.confirm = original if on else unchecked
    try:
        yield
    finally:
        notices.confirm = original


def sandbox_call(sandbox: str, method: str, path: str, body: Any = None) -> Any:
    request = urllib.request.Request(
        f"{sandbox}{path}", data=json.dumps(body).encode() if body is not None else None, method=method,
        headers={"Authorization": f"Bearer {DEMO_KEY}", "Content-Type": "application/json", "Accept": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        raw = response.read()
    return json.loads(raw) if raw else None


async def strip_timeline_proxy(sandbox: str, http: aiohttp.ClientSession) -> web.AppRunner:
    """Forward to the sandbox; drop `updates` from the answer to every POST."""

    async def handle(request: web.Request) -> web.Response:
        headers = {k: request.headers[k] for k in ("Authorization", "Content-Type", "Accept") if k in request.headers}
        async with http.request(request.method, sandbox + request.path_qs, data=await request.read() or None, headers=headers) as answer:
            status, raw = answer.status, await answer.read()
        if request.method == "POST" and raw:
            envelope = json.loads(raw)
            if isinstance(envelope.get("data"), dict):
                envelope["data"].pop("updates", None)
            raw = json.dumps(envelope).encode()
        return web.Response(status=status, body=raw, content_type="application/json" if raw else None)

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    return runner


async def open_api(base_url: str) -> tuple[StatusPalClient, StatusPalAPI]:
    # The per-key token bucket protects the real StatusPal; here it would only measure the bucket.
    upstream = {"base_url": f"{base_url}/api/v1", "rate_per_second": 1_000_000.0, "rate_burst": 1_000_000}
    settings = load_settings(DEFAULT_CONFIG, env={}, overrides={"statuspal": upstream}).statuspal
    client = StatusPalClient(settings, EndpointTable.from_settings(settings))
    await client.start()
    return client, client.for_key(DEMO_KEY)


class Figures:
    def __init__(self) -> None:
        self.ms: dict[tuple[str, str, str], list[float]] = {}
        self.calls: dict[tuple[str, str, str], list[int]] = {}

    def add(self, key: tuple[str, str, str], ms: float, calls: int) -> None:
        self.ms.setdefault(key, []).append(ms)
        self.calls.setdefault(key, []).append(calls)


async def timed_call(api: StatusPalAPI, sandbox: str, http: aiohttp.ClientSession, name: str, args: dict[str, Any]) -> tuple[dict[str, Any], float, int]:
    """One tool call: its result, its wall time in ms, and how many requests reached the sandbox for it."""
    async with http.delete(f"{sandbox}/_sandbox/requests"):
        pass
    start = time.perf_counter()
    result = dict(await TOOLS[name].handler(ToolContext(api=api), args))
    elapsed = (time.perf_counter() - start) * 1000
    async with http.get(f"{sandbox}/_sandbox/requests") as r:
        log = (await r.json())["data"]
    return result, elapsed, len(log)


async def measure(sandbox: str, rounds: int) -> Figures:
    figures = Figures()
    incident = {
        "subdomain": PAGE, "title": "Elevated API errors", "severity": "major", "message": "Investigating.",
        "affected": [{"service_slug": "api"}], "notify": False,
    }
    async with aiohttp.ClientSession() as http:
        proxy = await strip_timeline_proxy(sandbox, http)
        proxy_url = f"http://127.0.0.1:{proxy.addresses[0][1]}"
        shapes: dict[str, tuple[StatusPalClient, StatusPalAPI]] = {
            "full answer": await open_api(sandbox),
            "answer without timeline": await open_api(proxy_url),
        }
        try:
            for number in range(rounds):
                for shape, (_, api) in shapes.items():
                    modes = (True, False) if number % 2 == 0 else (False, True)
                    for on in modes:
                        label = "on" if on else "off"
                        with verification(on):
                            made, ms, calls = await timed_call(api, sandbox, http, "create_incident", incident)
                            figures.add(("create_incident", shape, label), ms, calls)
                            update = {"subdomain": PAGE, "notice_id": made["id"], "message": "Fix rolling out.", "notify": False}
                            _, ms, calls = await timed_call(api, sandbox, http, "post_notice_update", update)
                            figures.add(("post_notice_update", shape, label), ms, calls)
                        await TOOLS["delete_notice"].handler(ToolContext(api=api), {"subdomain": PAGE, "notice_id": made["id"]})
        finally:
            for client, _ in shapes.values():
                await client.close()
            await proxy.cleanup()
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.verify_bench", description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=200, help="tool calls per tool, shape and mode (default 200)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="statuspal-verify-bench-") as tmp, Servers(Path(tmp)) as servers:
        sandbox = servers.sandbox()
        servers.create_status_page(sandbox, DEMO_KEY, PAGE)
        sandbox_call(sandbox, "POST", f"/api/v1/status_pages/{PAGE}/services", {"name": "API"})
        figures = asyncio.run(measure(sandbox, args.rounds))

    print(f"verified notice writes against the sandbox (another process), {args.rounds} rounds; on and off in the same "
          "rounds, alternating which goes first")
    print(f"  {'tool':<20} {'answer':<25} {'verify':<6} {'p50 ms':>8} {'p90 ms':>8} {'upstream calls per tool call':>30}")
    failed = False
    for tool, shape, mode in sorted(figures.ms, key=lambda k: (k[0], k[1] != "full answer", k[2] != "on")):
        times, calls = figures.ms[(tool, shape, mode)], figures.calls[(tool, shape, mode)]
        spread = f"{min(calls)}" if min(calls) == max(calls) else f"{min(calls)}-{max(calls)}"
        p90 = statistics.quantiles(times, n=10)[-1] if len(times) > 1 else times[0]
        print(f"  {tool:<20} {shape:<25} {mode:<6} {statistics.median(times):>8.2f} {p90:>8.2f} {spread:>30}")
    for tool in ("create_incident", "post_notice_update"):
        for shape in ("full answer", "answer without timeline"):
            extra = max(figures.calls[(tool, shape, "on")]) - min(figures.calls[(tool, shape, "off")])
            allowed = 0 if shape == "full answer" else 1
            verdict = "ok  " if extra <= allowed else "MISS"
            failed |= extra > allowed
            print(f"  {verdict} {tool} ({shape}): at most {extra} extra upstream read(s) with verification (target <= {allowed})")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
