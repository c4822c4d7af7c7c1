"""The official MCP conformance suite against the real gateway, as any MCP client vendor would run it.

Every scenario that applies to an arbitrary server runs (the rest need the suite's "everything server" fixture
tools, resources and prompts, which a StatusPal gateway has no business exposing). The suite cannot send an
Authorization header, so it talks to a loopback proxy that adds the sandbox's demo key and passes everything else,
Host and Origin included, through untouched (tests/conformance/proxy.py).

Expected failures live in tests/conformance/baseline-*.yml, each with the reason beside it; the suite itself
enforces them (a new failure, or a baseline entry that now passes, fails the run) and this test repeats the verdict
with every failed check spelled out.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.conformance.node import CONFORMANCE, Check, expected, read_baseline, read_checks, require, run_node
from tests.conformance.proxy import auth_proxy, proxy_allowances
from tests.conftest import DEMO_KEY, bound_socket

pytestmark = pytest.mark.node

BASELINES = Path(__file__).parent / "conformance"

# (suite, spec version or None for the suite's default, scenario). Chosen from `conformance list --server`:
# the scenarios that need no fixture of the suite's own.
HANDSHAKE_ERA = [
    ("0.1", None, s)
    for s in (
        "server-initialize", "ping", "tools-list", "tools-call-error", "resources-list", "prompts-list",
        "dns-rebinding-protection", "logging-set-level",
    )
]
PRERELEASE = [
    ("0.2", None, s)
    for s in ("http-header-validation", "caching", "server-stateless", "server-session-lifecycle", "server-initialize",
              "ping", "tools-list", "tools-call-error", "resources-list", "prompts-list", "dns-rebinding-protection")
]
# The 2026-07-28 requirement set: the same scenarios spoken in the modern era (no handshake, _meta envelope),
# plus reading an unknown resource (our docs pages are resources).
MODERN_ERA = [
    ("0.2", "2026-07-28", s)
    for s in ("http-header-validation", "caching", "server-stateless", "tools-list", "tools-call-error",
              "resources-list", "prompts-list", "dns-rebinding-protection", "sep-2164-resource-not-found")
]
SCENARIOS = HANDSHAKE_ERA + PRERELEASE + MODERN_ERA


def baseline_path(suite: str, spec: str | None) -> Path:
    return BASELINES / f"baseline-{suite}-{spec or 'default'}.yml"


def verdict(checks: list[Check], baseline: set[str], scenario: str) -> list[str]:
    """Problems to report: unexpected failures, and baseline entries for this scenario that no longer fail."""
    failed = [c for c in checks if c.status == "FAILURE"]
    problems = [f"unexpected failure: {c.line()}" for c in failed if not expected(c, baseline)]
    for entry in sorted(baseline):
        name, _, check_id = entry.partition(":")
        if name != scenario:
            continue
        still_failing = [c for c in failed if c.scenario == name and (not check_id or c.id == check_id)]
        if not still_failing:
            problems.append(f"stale baseline entry (it passes now; remove it): {entry}")
    return problems


@pytest.fixture(scope="module")
async def proxy_url(make_module_gateway) -> AsyncIterator[str]:
    """One gateway and its proxy for every scenario: each scenario opens sessions of its own, and the gateway's
    settings depend only on the proxy's port."""
    proxy_sock = bound_socket()
    gateway = await make_module_gateway(server=proxy_allowances(proxy_sock))
    async with auth_proxy(proxy_sock, gateway.url, DEMO_KEY) as url:
        yield url


@pytest.mark.parametrize(
    ("suite", "spec", "scenario"), SCENARIOS, ids=[f"{s}-{v or 'default'}-{n}" for s, v, n in SCENARIOS]
)
async def test_conformance_scenario(proxy_url, sandbox_admin, tmp_path, suite, spec, scenario):
    require(CONFORMANCE[suite])
    baseline_file = baseline_path(suite, spec)
    baseline = read_baseline(baseline_file)
    results = tmp_path / "results"
    args = ["server", "--url", f"{proxy_url}/mcp", "--scenario", scenario, "-o", str(results),
            "--expected-failures", str(baseline_file)]
    if spec:
        args += ["--spec-version", spec]
    run = await run_node(CONFORMANCE[suite], *args, home=tmp_path)

    checks = read_checks(results)
    assert checks, f"the suite recorded no checks for {scenario}:\n{run.describe()}"
    problems = verdict(checks, baseline, scenario)
    warnings = [c.line() for c in checks if c.status == "WARNING"]
    report = "\n  ".join(problems + [f"(warning) {w}" for w in warnings])
    assert not problems, f"conformance {suite} {spec or ''} {scenario}:\n  {report}"
    # The suite's own verdict must agree (it also knows things we do not parse, such as a crashed scenario).
    assert run.returncode == 0, f"the suite failed {scenario} although every failed check is expected:\n{run.describe()}"
