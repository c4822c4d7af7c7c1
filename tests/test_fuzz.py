"""Property-based: no request, however random or mangled, gets a 5xx, a stack trace, no answer in time, kills the
gateway or logs an ERROR. The requests are built in tests/fuzzing.py (both protocol eras, every method, every
tool's inputSchema, mutated bytes, other routes); `python -m bench.fuzz` runs the same with far more examples.

Bounded for `make test`: a fixed number of examples from a fixed seed (derandomize), so a run is repeatable
and a failure found once is found again.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, given, settings

from tests.fuzzing import FuzzTarget, Sent, check, mcp_messages, mutated_heads, other_routes, raw_bodies, start_target, stop_target, temporary_workdir

FUZZ = settings(max_examples=1200, deadline=None, derandomize=True, database=None, print_blob=True,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.large_base_example])


@pytest.fixture(scope="module")
def target() -> Iterator[FuzzTarget]:
    for workdir in temporary_workdir():
        target = start_target(workdir)
        try:
            yield target
        finally:
            stop_target(target)


@pytest.fixture(autouse=True)
def no_error_was_logged(target: FuzzTarget) -> Iterator[None]:
    yield
    assert target.alive(), "the gateway died"
    problems = target.log_problems()
    assert not problems, "the gateway logged an error:\n" + "\n".join(p[:1500] for p in problems[:3])


def test_json_rpc_messages_in_both_eras(target: FuzzTarget) -> None:
    @FUZZ
    @given(mcp_messages(target))
    def run(sent: Sent) -> None:
        check(target, sent)

    run()


def test_bodies_that_are_not_json_rpc(target: FuzzTarget) -> None:
    @settings(FUZZ, max_examples=400)
    @given(raw_bodies(target))
    def run(sent: Sent) -> None:
        check(target, sent)

    run()


def test_mangled_http_heads(target: FuzzTarget) -> None:
    @settings(FUZZ, max_examples=400)
    @given(mutated_heads(target))
    def run(sent: Sent) -> None:
        check(target, sent)

    run()


def test_the_other_routes(target: FuzzTarget) -> None:
    @settings(FUZZ, max_examples=400)
    @given(other_routes(target))
    def run(sent: Sent) -> None:
        check(target, sent)

    run()
