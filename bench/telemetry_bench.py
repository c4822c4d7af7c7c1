"""What OpenTelemetry costs the gateway: off (the default), and on, exporting to a loopback OTLP receiver.

    python -m bench.telemetry_bench [--before REV] [--repeat N] [--seconds S] [--connections C]

Four gateway processes in front of one sandbox, loaded by wrk in the same rounds (back to back, the order
reversed every other round, as `python -m bench` does):

- `before`: revision REV (default BEFORE_TELEMETRY, the last one without any telemetry code), run from a
  temporary worktree with its own docs index, as `python -m bench.against` does (once other work lands after
  it, pass the revision just before the telemetry merge to keep the comparison to telemetry alone);
- `off`: this checkout with no OTEL_* variable, as every deployment starts;
- `on 10%`: OTLP/HTTP export of traces and metrics to a receiver process on loopback (`bench/otlp_sink.py`,
  which decodes every export as a collector would), sampled by a parent-based 10% ratio sampler;
- `on 100%`: the same, every request sampled.

Per scenario (`tools/list`, and `get_status_page` forwarded to the sandbox, which adds a StatusPal CLIENT span)
it prints each gateway's throughput, p50 and CPU time per request (its threads' run time from /proc, which
drifts far less with the machine than throughput), and the ratios with their spread over the rounds:

- off / before: telemetry off costs nothing measurable (target >= 0.97x on `tools/list`, within this 2-core
  machine's round-to-round noise), with the CPU per request beside it; and, measured in process on the
  gateway's own dispatcher, what the off path adds to a `tools/list` (the one check on the request path);
- on 10% / off: at most 10% on `tools/list` (target >= 0.90x);
- on 100% / off: for reference.

The receivers' counts (spans received per request answered) show the exports really happened. The receiver
and the exporter's thread share the machine's two cores with wrk and the gateway: that is part of what
exporting costs here. The traced gateways send their batches every 0.5 s (`OTEL_BSP_SCHEDULE_DELAY`, 5 s by
default) and each of their loads is followed by a one-second pause, so the spans of one load are sent and
decoded before the next load starts rather than during another gateway's. Nothing here is a test: a missed
target is reported (exit code 1), never hidden.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import statistics
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from bench import wrk
from bench.__main__ import DEMO_KEY, LIMITS_COUNTED, SUBDOMAIN, Target, add_load_arguments, check, is_result, mcp_load, print_targets, tool_ok
from bench.against import Side, build_old_index, checked_out, cpu_seconds
from bench.processes import Servers
from gateway.config import DEFAULT_CONFIG, load_settings
from search.build import build_index

# The last revision before OpenTelemetry came in (issue 21): what "off costs nothing" is measured against.
BEFORE_TELEMETRY = "d1e8d90"
SIDES = ("before", "off", "on 10%", "on 100%")
SAMPLERS = {"on 10%": {"OTEL_TRACES_SAMPLER": "parentbased_traceidratio", "OTEL_TRACES_SAMPLER_ARG": "0.1"},
            "on 100%": {"OTEL_TRACES_SAMPLER": "parentbased_always_on"}}
# The batch processor sends what is left of a load's spans on its schedule (5 s by default), which would land in
# whichever gateway's load came next; at 0.5 s the rest leaves during the pause after each traced load.
BATCH_DELAY = {"OTEL_BSP_SCHEDULE_DELAY": "500"}
SETTLE_SECONDS = 1.0


def load_rounds(loads: list[wrk.Load], pids: list[int], *, seconds: int, warmup: int, repeat: int, connections: int,
                exporting: frozenset[int]) -> list[Side]:
    """Every load back to back in each of `repeat` rounds, the order reversed every other round; after a load on
    a gateway that exports (`exporting`), a pause while its last spans leave and the receiver decodes them."""
    if warmup:
        for load in loads:
            wrk.run(load, seconds=warmup, connections=connections)
    sides = [Side([], [], []) for _ in loads]
    order = list(range(len(loads)))
    for number in range(repeat):
        for i in order if number % 2 == 0 else reversed(order):
            spent = cpu_seconds(pids[i])
            result = wrk.run(loads[i], seconds=seconds, connections=connections)
            spent = cpu_seconds(pids[i]) - spent
            sides[i].rps.append(result.rps)
            sides[i].p50_ms.append(result.p50_ms)
            sides[i].cpu_us.append(spent / result.requests * 1e6 if result.requests else math.nan)
            sides[i].errors += result.bad_status + result.socket_errors
            if i in exporting:
                time.sleep(SETTLE_SECONDS)
    return sides


def ratio(name: str, a: Side, b: Side, least: float | None) -> Target:
    rounds = [x / y for x, y in zip(a.rps, b.rps, strict=True) if y]
    value = statistics.median(rounds)
    return Target(name, value, f">= {least:g}x" if least is not None else "reference", least is None or value >= least, rounds)


def off_path_us(rounds: int = 200_000) -> tuple[float, float]:
    """Microseconds, in this process on the gateway's own objects, of a `tools/list` through `Dispatcher.dispatch`
    (which checks whether telemetry is on) and through the method it calls (no check at all); best of 5 each."""
    from gateway.app import create_app
    from gateway.auth.identity import Credentials
    from gateway.auth.scopes import TOOL_SCOPES
    from gateway.observability.tracing import ACTIVE
    from gateway.protocol.dispatcher import Call
    from gateway.protocol.jsonrpc import Message
    from gateway.web.transport import TRANSPORT

    settings = load_settings(DEFAULT_CONFIG, env={}, overrides={"sandbox": {"embedded": False}})
    dispatcher = create_app(settings)[TRANSPORT].dispatcher
    assert not ACTIVE.on
    credentials = Credentials("sk_bench", frozenset(TOOL_SCOPES), "direct", "0123456789abcdef")

    async def notify(message: object) -> None:
        return None

    call = Call(Message("tools/list", 1, {}), "2025-11-25", credentials, notify, "bench")

    async def best(step) -> float:
        fastest = math.inf
        for _ in range(5):
            started = time.perf_counter()
            for _ in range(rounds):
                await step(call)
            fastest = min(fastest, (time.perf_counter() - started) / rounds * 1e6)
        return fastest

    async def both() -> tuple[float, float]:
        return await best(dispatcher.dispatch), await best(dispatcher._dispatch)

    return asyncio.run(both())


def sink_counts(url: str) -> dict[str, int]:
    with urllib.request.urlopen(f"{url}/count", timeout=10) as response:
        return json.loads(response.read())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.telemetry_bench", description=__doc__.splitlines()[0])
    parser.add_argument("--before", default=BEFORE_TELEMETRY, help=f"the revision without telemetry (default {BEFORE_TELEMETRY})")
    add_load_arguments(parser)
    args = parser.parse_args(argv)
    if not wrk.available():
        print("bench: wrk is not installed; run `make system-deps` (Debian package wrk)", file=sys.stderr)
        return 2

    settings = load_settings(DEFAULT_CONFIG, env={})
    with tempfile.TemporaryDirectory(prefix="statuspal-bench-otel-") as tmp, checked_out(args.before, Path(tmp)) as tree, \
            Servers(Path(tmp)) as servers:
        index, old_index = Path(tmp) / "index", Path(tmp) / "old-index"
        build_index(settings.path(settings.search.corpus_dir), index, settings.search.docs_base_url)
        build_old_index(tree, old_index)
        sandbox = servers.sandbox()
        servers.create_status_page(sandbox, DEMO_KEY, SUBDOMAIN)
        sinks = {side: servers.otlp_sink(f"otlp-sink-{side.split()[-1].rstrip('%')}") for side in SAMPLERS}
        gateways = {
            "before": servers.gateway(sandbox, old_index, "gateway-before", LIMITS_COUNTED, tree=tree),
            "off": servers.gateway(sandbox, index, "gateway-telemetry-off", LIMITS_COUNTED),
            **{side: servers.gateway(sandbox, index, f"gateway-telemetry-{side.split()[-1].rstrip('%')}", {
                **LIMITS_COUNTED, **SAMPLERS[side], **BATCH_DELAY, "OTEL_EXPORTER_OTLP_ENDPOINT": sinks[side]}) for side in SAMPLERS},
        }
        pids = [gateways[side].pid for side in SIDES]
        print(f"telemetry benchmark: wrk, {args.connections} connections, {args.seconds} s a load, {args.repeat} rounds; "
              f"before = {args.before}", flush=True)

        forward = {"name": "get_status_page", "arguments": {"subdomain": SUBDOMAIN}}
        scenarios = [("tools/list", "tools/list", None, is_result("tools")),
                     ("get_status_page (forwarded)", "tools/call", forward, tool_ok)]
        figures: dict[str, list[Side]] = {}
        for label, method, params, expect in scenarios:
            loads = [mcp_load(f"{gateways[side].url}/mcp", DEMO_KEY, method, params) for side in SIDES]
            for side, load in zip(SIDES, loads, strict=True):
                check(load, expect, f"{side} gateway {label}")
            answered = {side: 0 for side in SAMPLERS}
            spans_before = {side: sink_counts(sinks[side])["spans"] for side in SAMPLERS}
            sides = load_rounds(loads, pids, seconds=args.seconds, warmup=args.warmup, repeat=args.repeat,
                                connections=args.connections, exporting=frozenset({2, 3}))
            figures[label] = sides
            for side, figure in zip(SIDES, sides, strict=True):
                print(f"  {label:<30} {side:<8} {statistics.median(figure.rps):>8.0f} req/s  p50 "
                      f"{statistics.median(figure.p50_ms):>6.2f} ms  cpu {statistics.median(figure.cpu_us):>6.1f} µs/req"
                      f"{f'  ({figure.errors} errors)' if figure.errors else ''}", flush=True)
                if side in answered:
                    answered[side] = round(sum(figure.rps) * args.seconds)
            time.sleep(2)  # the batch processors' schedule: what was queued reaches the receivers
            for side in SAMPLERS:
                spans = sink_counts(sinks[side])["spans"] - spans_before[side]
                print(f"  {label:<30} {side:<8} receiver got {spans} spans for about {answered[side]} measured "
                      f"requests (and the warm-up's): {spans / max(answered[side], 1):.2f} a request", flush=True)

    with_check, without = off_path_us()
    tools = figures["tools/list"]
    off_rps = statistics.median(tools[1].rps)
    print(f"\noff path in process: tools/list through Dispatcher.dispatch {with_check:.3f} µs, through the method it calls "
          f"{without:.3f} µs: the check adds {with_check - without:.3f} µs, {(with_check - without) * off_rps / 1e6:.2%} of a "
          f"request at the measured {off_rps:.0f} req/s", flush=True)

    targets: list[Target] = []
    for label, sides in figures.items():
        before, off, ten, hundred = sides
        first = label == "tools/list"
        targets.append(ratio(f"{label}: telemetry off / before telemetry", off, before, 0.97 if first else None))
        cpu = [o / b for o, b in zip(off.cpu_us, before.cpu_us, strict=True) if b and not math.isnan(o)]
        targets.append(Target(f"{label}: CPU per request, off / before", statistics.median(cpu), "reference", True, cpu))
        targets.append(ratio(f"{label}: on, 10% parent-based ratio / off", ten, off, 0.9 if first else None))
        targets.append(ratio(f"{label}: on, 100% sampled / off", hundred, off, None))
    print(f"\nTargets (median over {args.repeat} rounds, each comparing loads run back to back; range in brackets)")
    print_targets(targets)
    errors = sum(side.errors for sides in figures.values() for side in sides)
    if errors:
        print(f"\nbench: {errors} requests failed during the load; the figures above are not trustworthy", file=sys.stderr)
    return 0 if all(t.met for t in targets) and not errors else 1


if __name__ == "__main__":
    raise SystemExit(main())
