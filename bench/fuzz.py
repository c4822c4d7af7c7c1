"""`python -m bench.fuzz`: the property-based fuzz of tests/test_fuzz.py, at a size no test run can afford.

Not a test: it starts its own gateway (`statuspal-mcp serve` with the embedded sandbox, in a child process),
sends `--examples` random and mutated requests of every kind from a fresh seed (printed, so a failure can be
replayed with `--seed`), and stops at the first answer that breaks the rule: a 5xx, a stack trace in the
answer, no answer within the bound, a dead process, or an ERROR in the gateway's log. Exit code 1 then,
with the request that did it (shrunk by Hypothesis to its simplest form).

    .venv/bin/python -m bench.fuzz                    # 20,000 examples
    .venv/bin/python -m bench.fuzz --examples 100000 --seed 42
"""

from __future__ import annotations

import argparse
import collections
import random
import sys
import time
import warnings

from hypothesis import HealthCheck, given, seed, settings
from hypothesis.errors import HypothesisWarning

from tests.fuzzing import Sent, check, requests, start_target, stop_target, temporary_workdir


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.fuzz", description=__doc__.split("\n\n")[0])
    parser.add_argument("--examples", type=int, default=20_000, help="how many requests to send (default 20,000)")
    parser.add_argument("--seed", type=int, default=None, help="replay a run (default: a fresh random seed)")
    args = parser.parse_args(argv)
    warnings.filterwarnings("ignore", "Generating overly large repr", HypothesisWarning)  # the deep-nesting examples
    run_seed = args.seed if args.seed is not None else random.randrange(2**32)
    statuses: collections.Counter[int | None] = collections.Counter()

    for workdir in temporary_workdir():
        target = start_target(workdir)
        print(f"fuzzing the gateway on port {target.port}: {args.examples} examples, seed {run_seed}", flush=True)
        started = time.monotonic()
        try:
            @seed(run_seed)
            @settings(max_examples=args.examples, deadline=None, database=None, print_blob=True,
                      suppress_health_check=list(HealthCheck))
            @given(requests(target))
            def fuzz(sent: Sent) -> None:
                # Runs before the loop moves on, so `target` is still this iteration's.
                statuses[check(target, sent).status] += 1  # noqa: B023

            try:
                fuzz()
            except AssertionError as exc:
                print(f"FAILED (seed {run_seed}): {exc}", file=sys.stderr)
                return 1
            problems = target.log_problems()
            if problems:
                print(f"FAILED (seed {run_seed}): the gateway logged an error:\n" + "\n".join(p[:2000] for p in problems[:5]), file=sys.stderr)
                return 1
        finally:
            stop_target(target)
        elapsed = time.monotonic() - started
        print(f"ok: {sum(statuses.values())} requests in {elapsed:.0f}s, no 5xx, no stack trace, no hang, no ERROR logged")
        print("statuses: " + ", ".join(f"{status or 'closed'}: {count}" for status, count in sorted(statuses.items(), key=lambda i: i[0] or 0)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
