"""`serve --workers 2` as an operator runs it: a real supervisor and its worker processes on one socket, a real
redis-server they share, the embedded sandbox, real signals.

Every step of a sign-in is repeated over fresh connections until both workers (told apart by X-Gateway-Worker)
have served it, so each step is shown to work whichever process the supervisor hands a connection to, including a
code issued by one worker and redeemed, or replayed, at the other. Starting the workers costs more than most
tests here, so the module shares one host; the last test stops it.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlencode

import aiohttp
import pytest
from mcp_types import CLIENT_CAPABILITIES_META_KEY
from prometheus_client.parser import text_string_to_metric_families

from gateway.config import DEFAULT_CONFIG
from tests.conftest import DEMO_KEY
from tests.mcp_wire import modern_headers, modern_meta
from tests.oauth_browser import Page, pkce, query_of
from tests.processes import Child, run, serving
from tests.redis_server import RedisServer, redis_server_fixture  # noqa: F401  (pytest fixture)

pytestmark = pytest.mark.redis

REDIRECT = "http://127.0.0.1:7777/cb"
MCP_HEADERS = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json", "MCP-Protocol-Version": "2025-11-25"}
# Enough tries that both workers serve a step unless one never does (dealt in turn, a few tries suffice).
TRIES = 60
T = TypeVar("T")


def worker_of(headers: Any) -> tuple[int, int]:
    """(index, pid) from X-Gateway-Worker: "2; pid=4242"."""
    index, _, pid = headers["X-Gateway-Worker"].partition("; pid=")
    return int(index), int(pid)


class Host:
    """The running host: its URLs, and requests each on a connection of its own."""

    def __init__(self, child: Child) -> None:
        self.child = child
        self.mcp_url = child.url_after("MCP URL:")
        self.url = self.mcp_url.removesuffix("/mcp")
        self.sandbox = child.url_after("Sandbox StatusPal API at").removesuffix("/api/v1")

    async def fresh(self, method: str, url: str, **kw: Any) -> tuple[int, Any, str]:
        """One request on a new connection (a new connection may reach either worker)."""
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(force_close=True)) as http:
            async with http.request(method, url, allow_redirects=False, **kw) as r:
                return r.status, r.headers, await r.text()

    async def mcp(self, body: dict[str, Any], bearer: str = DEMO_KEY, modern: bool = False) -> tuple[int, Any, dict[str, Any]]:
        headers = {**MCP_HEADERS, "Authorization": f"Bearer {bearer}"}
        if modern:
            headers.update(modern_headers(body["method"], body["params"].get("name")))
        status, answered, text = await self.fresh("POST", self.mcp_url, json=body, headers=headers)
        return status, answered, json.loads(text)

    async def until_both(self, step: Callable[[], Awaitable[tuple[Any, T]]]) -> list[T]:
        """Run `step` (which returns the answer's headers and what it showed) until both workers have served it.

        The supervisor deals connections in turn, so a step that opens an even number of connections would land
        its answer on the same worker every time: after a try that found no new worker, one connection more
        moves the turn on."""
        served: set[int] = set()
        results = []
        for _ in range(TRIES):
            headers, result = await step()
            index = worker_of(headers)[0]
            results.append(result)
            if index not in served:
                served.add(index)
                if served == {1, 2}:
                    return results
            else:
                await self.fresh("GET", f"{self.url}/healthz")
        raise AssertionError(f"only worker(s) {served} served this step in {TRIES} tries")


@pytest.fixture(scope="module")
def index_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("workers-index")


@pytest.fixture(scope="module")
async def host(redis_server: RedisServer, index_dir: Path) -> AsyncIterator[Host]:
    redis_server.flush()
    built = await run(["build-index", "--output", str(index_dir), "--quiet"], timeout=120)
    assert built.proc.returncode == 0, built.stderr
    env = {
        "STATUSPAL_MCP_REDIS_URL": redis_server.url, "STATUSPAL_MCP_SANDBOX_PORT": "0",
        "STATUSPAL_MCP_SEARCH_INDEX_DIR": str(index_dir), "STATUSPAL_MCP_SEARCH_RELOAD_INTERVAL_SECONDS": "0.2",
        # Every sign-in here comes from 127.0.0.1, and the sandbox has no rate limit for the client to pace to.
        "STATUSPAL_MCP_OAUTH_RATE_LIMIT_ATTEMPTS": "10000", "STATUSPAL_MCP_STATUSPAL_RATE_PER_SECOND": "1000",
        "STATUSPAL_MCP_STATUSPAL_RATE_BURST": "1000", "STATUSPAL_MCP_LIMITS_KEY_CHECKS_PER_SECOND": "1000",
    }
    async with serving(["serve", "--workers", "2", "--port", "0"], env=env) as child:
        yield Host(child)


async def test_more_than_one_worker_without_redis_is_refused_in_one_line() -> None:
    child = await run(["serve", "--workers", "2", "--port", "0"], env={"STATUSPAL_MCP_SANDBOX_PORT": "0"})
    assert child.proc.returncode == 2
    assert child.stderr == (
        "statuspal-mcp: error: 2 workers need a shared store: set STATUSPAL_MCP_REDIS_URL (single-use codes, budgets "
        "and confirmations must be shared by every process), or run one worker\n"
    )
    assert child.stdout == ""


async def test_an_unreachable_redis_is_one_line_before_any_worker_starts(tmp_path: Path) -> None:
    env = {"STATUSPAL_MCP_REDIS_URL": f"unix://{tmp_path}/absent.sock", "STATUSPAL_MCP_SANDBOX_PORT": "0"}
    child = await run(["serve", "--workers", "2", "--port", "0"], env=env)
    assert child.proc.returncode == 2
    assert child.stderr == f"statuspal-mcp: error: the Redis store at unix:{tmp_path}/absent.sock did not answer (ConnectionError)\n"


async def test_one_process_names_itself_too(make_gateway) -> None:
    gateway = await make_gateway()
    async with aiohttp.ClientSession() as http:
        for path in ("/healthz", "/mcp", "/nowhere"):  # an answer, a refusal, a route that does not exist
            async with http.get(gateway.url + path) as r:
                assert r.headers["X-Gateway-Worker"] == f"1; pid={os.getpid()}", path


async def test_a_full_oauth_sign_in_and_a_confirmed_write_work_whichever_worker_serves_each_step(host: Host) -> None:
    async def register() -> tuple[Any, str]:
        status, headers, text = await host.fresh("POST", f"{host.url}/register", json={"redirect_uris": [REDIRECT], "client_name": "Two"})
        assert status == 201, text
        return headers, json.loads(text)["client_id"]

    # A client registered at either worker is known to both: its id is signed with the keyring they share.
    client_id = (await host.until_both(register))[-1]
    verifier, challenge = pkce()
    query = urlencode({"response_type": "code", "client_id": client_id, "redirect_uri": REDIRECT, "state": "s",
                       "code_challenge": challenge, "code_challenge_method": "S256", "resource": host.mcp_url})

    async def login_page() -> tuple[Any, Page]:
        status, headers, html = await host.fresh("GET", f"{host.url}/authorize?{query}")
        page = Page.parse(status, headers, html)
        assert status == 200 and set(page.fields) >= {"csrf", "client_id"}, html
        return headers, page

    pages = await host.until_both(login_page)

    async def submit() -> tuple[Any, str]:
        # The form one worker rendered (its CSRF token) is accepted by whichever worker it reaches.
        form = {**pages[len(codes) % len(pages)].fields, "access": "full", "action": "allow", "key": DEMO_KEY}
        status, headers, text = await host.fresh("POST", f"{host.url}/authorize", data=form,
                                                 headers={"Origin": host.url, "Sec-Fetch-Site": "same-origin"})
        assert status == 302, text
        return headers, query_of(headers["Location"])["code"]

    codes: list[str] = []
    codes += await host.until_both(submit)

    redeemed: dict[str, int] = {}

    async def exchange() -> tuple[Any, dict[str, Any]]:
        code = next(c for c in codes if c not in redeemed)
        form = {"grant_type": "authorization_code", "code": code, "client_id": client_id, "redirect_uri": REDIRECT,
                "resource": host.mcp_url, "code_verifier": verifier}
        status, headers, text = await host.fresh("POST", f"{host.url}/token", data=form)
        assert status == 200, text
        redeemed[code] = worker_of(headers)[0]
        return headers, json.loads(text)

    while len(codes) < TRIES:  # a code for each try of the exchange
        codes.append((await submit())[1])
    tokens = await host.until_both(exchange)
    assert all(t["scope"] == "statuspal:read statuspal:write" for t in tokens)

    # A code redeemed at one worker is refused at the other: the single-use mark is in the Redis they share.
    code, first = next(iter(redeemed.items()))
    for _ in range(TRIES):
        form = {"grant_type": "authorization_code", "code": code, "client_id": client_id, "redirect_uri": REDIRECT,
                "resource": host.mcp_url, "code_verifier": verifier}
        status, headers, text = await host.fresh("POST", f"{host.url}/token", data=form)
        assert status == 400 and json.loads(text)["error"] == "invalid_grant", text
        if worker_of(headers)[0] != first:
            break
    else:
        raise AssertionError("the replay never reached the other worker")

    refresh = [tokens[-1]["refresh_token"]]

    async def rotate() -> tuple[Any, str]:
        form = {"grant_type": "refresh_token", "refresh_token": refresh[-1], "client_id": client_id}
        status, headers, text = await host.fresh("POST", f"{host.url}/token", data=form)
        assert status == 200, text
        refresh.append(json.loads(text)["refresh_token"])
        return headers, json.loads(text)["access_token"]

    access = (await host.until_both(rotate))[-1]

    async def read() -> tuple[Any, dict[str, Any]]:
        status, headers, body = await host.mcp({"jsonrpc": "2.0", "id": 1, "method": "tools/call",
                                                "params": {"name": "list_status_pages", "arguments": {}}}, access)
        assert status == 200 and body["result"]["isError"] is False, body
        return headers, body

    await host.until_both(read)
    made: list[str] = []

    async def write() -> tuple[Any, str]:
        subdomain = f"two-workers-{len(made)}"
        page = {"name": "Two", "subdomain": subdomain, "timezone": "UTC", "website_url": "https://two.example"}
        status, headers, body = await host.mcp({"jsonrpc": "2.0", "id": 2, "method": "tools/call",
                                                "params": {"name": "create_status_page", "arguments": page}}, access)
        assert status == 200 and body["result"]["isError"] is False, body
        made.append(subdomain)
        return headers, subdomain

    await host.until_both(write)
    # Every page either worker created is there for both: one sandbox for the host, not one per worker.
    for listed in await host.until_both(read):
        assert set(made) <= {p["subdomain"] for p in listed["result"]["structuredContent"]["items"]}
    assert host.child.stdout.count("Sandbox StatusPal API at") == 1

    # A confirmed write: the form one worker asks with carries sealed state that whichever worker takes the answer
    # opens, and once used it is refused everywhere (the mark is in Redis).
    notice = {"subdomain": made[0], "title": "Maintenance window", "message": "Work tonight.", "notify": False}
    used: list[tuple[str, int]] = []

    async def confirmed() -> tuple[Any, None]:
        status, asked, first = await host.mcp(confirm_call(notice), access, modern=True)
        assert status == 200 and first["result"]["resultType"] == "input_required", first
        state = first["result"]["requestState"]
        answer = {"confirm": {"action": "accept", "content": {"publish": True}}}
        status, headers, done = await host.mcp(confirm_call(notice, inputResponses=answer, requestState=state), access, modern=True)
        assert status == 200 and done["result"]["resultType"] == "complete" and done["result"]["isError"] is False, done
        used.append((state, worker_of(headers)[0]))
        return headers, None

    await host.until_both(confirmed)
    state, taken = used[0]
    for _ in range(TRIES):
        answer = {"confirm": {"action": "accept", "content": {"publish": True}}}
        status, headers, again = await host.mcp(confirm_call(notice, inputResponses=answer, requestState=state), access, modern=True)
        assert status == 200 and again["result"]["isError"] is True, again
        assert "This approval cannot be used" in again["result"]["content"][0]["text"]
        if worker_of(headers)[0] != taken:
            break
    else:
        raise AssertionError("the replayed approval never reached the other worker")


def confirm_call(arguments: dict[str, Any], **params: Any) -> dict[str, Any]:
    """create_info_notice in 2026-07-28 from a client that answers forms: the gateway asks a person first."""
    meta = {**modern_meta(), CLIENT_CAPABILITIES_META_KEY: {"elicitation": {"form": {}}}}
    return {"jsonrpc": "2.0", "id": 3, "method": "tools/call",
            "params": {"name": "create_info_notice", "arguments": arguments, **params, "_meta": meta}}


async def test_metrics_answer_for_the_whole_host(host: Host) -> None:
    async def ping() -> tuple[Any, None]:
        status, headers, _ = await host.fresh("GET", f"{host.url}/healthz")
        assert status == 200
        return headers, None

    await host.until_both(ping)
    answers = []

    async def scrape() -> tuple[Any, dict[str, Any]]:
        status, headers, text = await host.fresh("GET", f"{host.url}/metrics")
        assert status == 200 and headers["Content-Type"].startswith("text/plain; version=0.0.4")
        families = {f.name: f for f in text_string_to_metric_families(text)}  # raises on anything Prometheus cannot read
        answers.append(families)
        return headers, families

    await host.until_both(scrape)
    for families in answers:
        assert [s.value for s in families["statuspal_mcp_workers"].samples] == [2]
        for family in ("http_requests", "upstream_calls", "tool_calls"):
            total = families[f"statuspal_mcp_{family}"].samples
            parts = families[f"statuspal_mcp_worker_{family}"].samples
            for sample in total:
                mine = [p.value for p in parts if {k: v for k, v in p.labels.items() if k != "worker"} == sample.labels]
                assert sample.value == sum(mine) and len(mine) >= 1, (family, sample)
        healthz = [s for s in families["statuspal_mcp_worker_http_requests"].samples if s.labels["route"] == "/healthz"]
        assert {s.labels["worker"] for s in healthz} == {"1", "2"}


async def test_each_worker_picks_up_a_new_docs_index(host: Host, index_dir: Path) -> None:
    async def ready() -> tuple[Any, str]:
        status, headers, text = await host.fresh("GET", f"{host.url}/readyz")
        assert status == 200, text
        return headers, json.loads(text)["docs_index"]

    before = set(await host.until_both(ready))
    assert len(before) == 1
    rebuilt = await run(["build-index", "--output", str(index_dir), "--quiet"], timeout=120)
    assert rebuilt.proc.returncode == 0, rebuilt.stderr
    # Each worker's own reload loop picks the new build up, with no restart and no signal.
    fresh: dict[int, str] = {}
    async with asyncio.timeout(60):  # a guard against a worker that never reloads, not a measurement
        while set(fresh) != {1, 2}:
            headers, build = await ready()
            if build not in before:
                fresh[worker_of(headers)[0]] = build
            await asyncio.sleep(0.02)
    assert len(set(fresh.values())) == 1


async def test_connections_opened_together_are_dealt_to_both_workers(host: Host) -> None:
    """A client that opens its keep-alive pool at once (a proxy, a load generator) gets every worker: the
    supervisor deals connections in turn. On one shared socket the first worker to wake accepted them all (8 to 0)."""
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=8)) as http:
        async def one() -> tuple[int, int]:
            async with http.get(f"{host.url}/healthz") as r:
                await r.read()
                assert r.status == 200
                return worker_of(r.headers)[0], id(r.connection and r.connection.transport)

        opened = await asyncio.gather(*(one() for _ in range(8)))  # eight requests at once: eight connections
        reused = await asyncio.gather(*(one() for _ in range(40)))  # the same eight, kept alive
    # In turn, unless one worker has not yet read what it was given: about half each, never all on one.
    served = [index for index, _ in opened]
    assert min(served.count(1), served.count(2)) >= 2, opened
    assert {index for index, _ in reused} == {1, 2}


async def test_a_killed_worker_is_replaced_while_the_other_keeps_serving(host: Host) -> None:
    status, headers, _ = await host.fresh("GET", f"{host.url}/healthz")
    index, pid = worker_of(headers)
    os.kill(pid, signal.SIGKILL)
    served_by_other = 0
    async with asyncio.timeout(120):  # a guard against a host that never replaces it, not a measurement
        while True:
            status, headers, _ = await host.fresh("GET", f"{host.url}/healthz")
            assert status == 200  # no request is refused or lost while one worker is gone
            answered, answered_pid = worker_of(headers)
            if answered == index and answered_pid != pid:
                break
            served_by_other += answered != index
            await asyncio.sleep(0.02)
    assert served_by_other >= 1
    logged = [json.loads(line) for line in host.child.stderr_lines if '"gateway.workers"' in line]
    assert any(
        r["msg"] == f"worker {index} (pid {pid}) ended with signal SIGKILL; started a replacement, pid {answered_pid}" for r in logged
    ), logged


async def test_sigterm_drains_every_worker(host: Host) -> None:
    """Last in the module: it stops the shared host."""
    async def warm() -> tuple[Any, None]:
        status, headers, _ = await host.mcp({"jsonrpc": "2.0", "id": 1, "method": "tools/list"})
        assert status == 200
        return headers, None

    await host.until_both(warm)  # both workers know the key, so the slow part below is the tool's own call
    async with aiohttp.ClientSession() as http:
        # Long enough that every call is still waiting on StatusPal when the signal comes, well inside the drain time.
        async with http.post(f"{host.sandbox}/_sandbox/faults", json={"latency_ms": 5000}) as r:
            assert r.status in (200, 204)
        async with http.delete(f"{host.sandbox}/_sandbox/requests") as r:
            assert r.status in (200, 204)

        async def slow() -> tuple[int, Any, dict[str, Any]]:
            return await host.mcp({"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {"name": "list_status_pages", "arguments": {}}})

        async def reached_upstream(count: int) -> None:
            while True:
                async with http.get(f"{host.sandbox}/_sandbox/requests") as r:
                    entries = (await r.json())["data"]
                if sum(e["endpoint"] == "status_pages_list" for e in entries) >= count:
                    return
                await asyncio.sleep(0.01)

        # One connection at a time, each held by its worker before the next opens, so every call is in flight
        # (at StatusPal) when the signal comes.
        calls = []
        for n in range(1, 13):
            calls.append(asyncio.create_task(slow()))
            await asyncio.wait_for(reached_upstream(n), 30)
        async with http.get(f"{host.sandbox}/_sandbox/requests") as r:
            assert all(e["status"] is None for e in (await r.json())["data"])  # none answered yet: all in flight
        host.child.terminate()
        answers = await asyncio.wait_for(asyncio.gather(*calls), 30)
    assert all(status == 200 and body["result"]["isError"] is False for status, _, body in answers), answers
    # Twelve calls over fresh connections: both workers had some in flight when the signal came.
    assert {worker_of(headers)[0] for _, headers, _ in answers} == {1, 2}
    assert await host.child.finish() == 0, host.child.stderr
    messages = [json.loads(line)["msg"] for line in host.child.stderr_lines if line.startswith("{")]
    assert "shutting down: every worker finishes its requests in flight" in messages
    assert messages.count("stopped") == 3  # each worker, then the supervisor


def test_workers_setting_reads_auto_as_the_cores() -> None:
    from gateway.config import load_settings

    assert load_settings(DEFAULT_CONFIG, env={"STATUSPAL_MCP_SERVER_WORKERS": "auto"}).server.workers == len(os.sched_getaffinity(0))
