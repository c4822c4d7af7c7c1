"""`statuspal-mcp check-api` against a sandbox on loopback.

The verdicts are checked by running the check in this process (`run_check`, what the command runs), the way
the command is configured; what only the process shows (exit codes, the usage lines, the key not taken from
argv, what reaches stdout and stderr, signals) is checked on the real CLI in a child process.

The sandbox plays the StatusPal under test: strict, Rails-like lenient, or serving notices in an alternative
shape (other routes, field names, affected services as a map, notices ended by PATCHing ends_at). The checker
is configured the way the gateway would be, through STATUSPAL_MCP_STATUSPAL_* variables, so each verdict shown
is what `serve` would meet with that config. After every run the sandbox is searched for anything left behind.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import signal
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import aiohttp
import pytest

from gateway.check_api import KEY_ENV, run_check
from gateway.config import load_settings
from gateway.statuspal.endpoints import DEFAULT_ENDPOINTS, EndpointTable
from gateway.statuspal.notice_wire import NoticeWire
from sandbox import start_sandbox
from sandbox.app import SANDBOX, SandboxState
from sandbox.settings import SandboxSettings
from tests.processes import Child, run, start
from tests.test_cli import Refusal, run_main
from tests.test_notice_states import WORDS as STATE_WORDS
from tests.test_wire_mapping import ALT, ALT_NOTICES, ALT_ROUTES

KEY = f"sk_check_{secrets.token_hex(8)}"
ALL_ENDPOINTS = [e.name for e in DEFAULT_ENDPOINTS]
NOTICES = [name for name in ALL_ENDPOINTS if name.startswith("notices_")]
CONFIRMED = [name for name in ALL_ENDPOINTS if not name.startswith("notices_")]


@asynccontextmanager
async def sandbox(strictness: str, wire: dict[str, Any] | None = None, key: str = KEY) -> AsyncIterator[tuple[str, SandboxState]]:
    wire = wire or {}
    table = EndpointTable(wire.get("endpoints"), NoticeWire(**wire.get("notices", {})))
    runner, url = await start_sandbox(SandboxSettings(port=0, strictness=strictness, demo_key=key), table)
    try:
        yield url, runner.app[SANDBOX]
    finally:
        await runner.cleanup()


# The client paces calls to StatusPal's per-key limit (10 a second), so a check's ~40 calls would wait ~4 s for a
# limit the sandbox does not have. Nothing here is about the pacing (tests/test_statuspal_client.py is).
UNPACED = {"STATUSPAL_MCP_STATUSPAL_RATE_PER_SECOND": "1000", "STATUSPAL_MCP_STATUSPAL_RATE_BURST": "1000"}


def config_env(wire: dict[str, Any] | None) -> dict[str, str]:
    """The checker's mapping, as an operator would set it in the environment."""
    env = dict(UNPACED)
    for name, spec in (wire or {}).get("endpoints", {}).items():
        env[f"STATUSPAL_MCP_STATUSPAL_ENDPOINTS_{name.upper()}"] = spec
    for name, value in (wire or {}).get("notices", {}).items():
        env[f"STATUSPAL_MCP_STATUSPAL_NOTICES_{name.upper()}"] = value
    return env


async def check(url: str, *, subdomain: str | None = None, wire: dict[str, Any] | None = None,
                **options: Any) -> tuple[int, dict[str, Any]]:
    """`check-api --json` (on `subdomain`, else `--create-page`) run in this process: its exit code and report."""
    settings = load_settings(env=config_env(wire), overrides={"statuspal": {"base_url": f"{url}/api/v1"}})
    report = await run_check(settings, KEY, subdomain, create_page=subdomain is None, **options)
    # The note that stands for a traceback in the command's log: a walk that crashed is not a verdict.
    assert not any(note.startswith("the check stopped on an unexpected error") for note in report.notes), report.notes
    return report.exit_code, json.loads(json.dumps(report.as_json()))


async def check_in_child(url: str, *args: str, key: str = KEY, env: dict[str, str] | None = None) -> Child:
    """The real `check-api` command in a child process, configured like `check`."""
    child = await run(["check-api", "--base-url", f"{url}/api/v1", *args],
                      env={KEY_ENV: key, **config_env(None), **(env or {})}, timeout=90)
    assert "Traceback" not in child.stderr, child.stderr
    return child


def verdicts(report: dict[str, Any]) -> dict[str, str]:
    return {row["endpoint"]: row["label"] for row in report["endpoints"]}


def fixes(report: dict[str, Any]) -> dict[str, str]:
    return {f["line"]: f["section"] for f in report["config"]}


def assert_nothing_left(state: SandboxState, pages: tuple[str, ...] = ()) -> None:
    """Only the pages named remain, without a notice, a service or a region the check made; no webhook."""
    org = next(iter(state.orgs.values()))
    assert sorted(org.pages) == sorted(pages)
    for page in org.pages.values():
        assert not page.notices and not page.services
        assert [c.slug for c in page.containers.values()] == ["default"]
    assert not org.webhooks


# ---------------------------------------------------------------- verdicts per mode


@pytest.mark.parametrize("strictness", ["strict", "lenient"])
async def test_a_statuspal_that_matches_the_table_is_ok_everywhere(strictness) -> None:
    async with sandbox(strictness) as (url, state):
        code, report = await check(url)
        assert_nothing_left(state)
    assert code == 0, report
    assert verdicts(report) == {name: "ok" for name in ALL_ENDPOINTS}
    assert report["ok"] and report["created_page"] and not report["config"]
    assert not report["cleanup"]["left_behind"]


@pytest.mark.parametrize("strictness", ["strict", "lenient"])
async def test_configured_for_the_alternative_shape_every_endpoint_is_ok(strictness) -> None:
    async with sandbox(strictness, ALT) as (url, state):
        code, report = await check(url, wire=ALT)
        assert_nothing_left(state)
    assert code == 0, report
    assert verdicts(report) == {name: "ok" for name in ALL_ENDPOINTS}
    rows = {row["endpoint"]: row for row in report["endpoints"]}
    # The table with this config: org-scoped routes, and ending by PATCH instead of the action routes.
    assert (rows["notices_create"]["method"], rows["notices_create"]["path"]) == ("POST", "/notices")
    assert rows["notices_resolve"]["path"] == "/notices/{notice_id} (resolve_strategy = patch_ends_at)"


@pytest.mark.parametrize("strictness", ["strict", "lenient"])
async def test_unconfigured_for_the_alternative_shape_every_notices_route_is_missing(strictness) -> None:
    async with sandbox(strictness, ALT) as (url, state):
        code, report = await check(url)
        assert_nothing_left(state)
    assert code == 1
    found = verdicts(report)
    assert {name: found[name] for name in CONFIRMED} == {name: "ok" for name in CONFIRMED}
    assert {name: found[name] for name in NOTICES} == {name: "route missing" for name in NOTICES}
    create = next(row for row in report["endpoints"] if row["endpoint"] == "notices_create")
    assert create["evidence"][0].startswith("incident: POST /status_pages/")
    assert "answered 404 without StatusPal's record-not-found body" in create["evidence"][0]
    # The lines to correct, with today's value, commented out: a 404 does not say what the route is.
    assert fixes(report) == {
        f'# {e.name} = "{e.method} {e.path}"': "statuspal.endpoints" for e in DEFAULT_ENDPOINTS if e.name in NOTICES
    }
    assert not report["ok"]


async def test_misnamed_fields_on_a_rails_like_statuspal_are_named_with_the_config_that_fixes_them() -> None:
    """Right routes, but the first text, notify flag and affected services sent under the default names: a
    Rails-like server drops them and answers 201. The check says which were dropped, shows the answer's own
    keys as evidence, and suggests the lines; applying them makes every endpoint ok."""
    misnamed = {k: v for k, v in ALT_NOTICES.items() if k not in ("text_field", "notify_field", "affected_field", "affected_shape")}
    wire = {"endpoints": ALT_ROUTES, "notices": misnamed}
    async with sandbox("lenient", ALT) as (url, state):
        code, report = await check(url, wire=wire)
        assert_nothing_left(state)
        assert code == 1
        found = verdicts(report)
        assert found["notices_create"] == "fields ignored: message; answer lacks: affected"
        assert found["notices_post_update"] == "error"
        create = next(row for row in report["endpoints"] if row["endpoint"] == "notices_create")
        assert "affected_services: {}" in " ".join(create["evidence"])
        suggested = {f["key"]: f["value"] for f in report["config"] if f["section"] == "statuspal.notices"}
        assert suggested == {"affected_field": "affected_services", "affected_shape": "map", "text_field": "description"}
        assert found["notices_get"] == "answer lacks: affected"
        # The closing texts go through notices_post_update too, so ending by PATCH is not ok either.
        assert (found["notices_resolve"], found["notices_close"]) == ("error", "error")
        assert {name for name, verdict in found.items() if verdict != "ok"} == {
            "notices_create", "notices_get", "notices_post_update", "notices_resolve", "notices_close"}

        fixed = {"endpoints": ALT_ROUTES, "notices": {**misnamed, **suggested}}
        code, report = await check(url, wire=fixed)
        assert_nothing_left(state)
    assert code == 0, report
    assert verdicts(report) == {name: "ok" for name in ALL_ENDPOINTS}


async def test_a_strict_statuspal_refusing_the_names_gets_the_names_it_asked_for() -> None:
    """A server that answers 422 to unknown fields: the names it wants ("can't be blank") become config lines;
    the notices routes it has are told apart from those it lacks, with a made-up id."""
    wire = {"endpoints": ALT_ROUTES, "notices": {k: v for k, v in ALT_NOTICES.items() if k.endswith("_strategy")}}
    async with sandbox("strict", ALT) as (url, state):
        code, report = await check(url, wire=wire)
        assert_nothing_left(state)
    assert code == 1
    rows = {row["endpoint"]: row for row in report["endpoints"]}
    assert rows["notices_create"]["verdict"] == "error"
    assert '"message":["is not a permitted field"]' in rows["notices_create"]["evidence"][0]
    for name in ("notices_get", "notices_update", "notices_post_update", "notices_delete"):
        assert (rows[name]["verdict"], rows[name]["evidence"]) == ("not run", [
            "the route exists (404 record-not-found for a made-up id), but no notice could be made to exercise it"])
    assert rows["notices_resolve"]["path"] == "/notices/{notice_id} (resolve_strategy = patch_ends_at)"
    assert fixes(report) == {'text_field = "description"': "statuspal.notices",
                             'notify_field = "notify_subscribers"': "statuspal.notices"}
    assert report["notes"] == ["affected: StatusPal refused the field 'affected' (statuspal.notices.affected_field): "
                               "[\"is not a permitted field\"]; its right name cannot be read from the answer."]


async def test_a_missing_resolve_route_suggests_ending_by_patch() -> None:
    actions = {"endpoints": ALT_ROUTES, "notices": {k: v for k, v in ALT_NOTICES.items() if not k.endswith("_strategy")}}
    async with sandbox("lenient", ALT) as (url, state):
        code, report = await check(url, wire=actions)
        assert_nothing_left(state)
    assert code == 1
    found = verdicts(report)
    assert (found["notices_resolve"], found["notices_close"]) == ("route missing", "route missing")
    assert {name for name, verdict in found.items() if verdict != "ok"} == {"notices_resolve", "notices_close"}
    assert fixes(report) == {'resolve_strategy = "patch_ends_at"': "statuspal.notices",
                             'close_strategy = "patch_ends_at"': "statuspal.notices"}


@pytest.mark.parametrize("strictness", ["strict", "lenient"])
async def test_state_words_and_naive_times_are_inferred_and_applying_them_passes(strictness) -> None:
    """A StatusPal that names every state its own way and writes times without an offset, in the page's zone:
    the check says which words mean which state and how to read the times, and with those lines it passes."""
    served = {"endpoints": ALT_ROUTES, "notices": {**ALT_NOTICES, **STATE_WORDS, "naive_times": "page"}}
    async with sandbox(strictness, served) as (url, state):
        code, report = await check(url, wire=ALT)
        assert_nothing_left(state)
        assert code == 1
        found = verdicts(report)
        assert found["notices_create"] == "fields ignored: starts_at, ends_at; answer lacks: state"
        assert found["notices_resolve"] == "fields ignored: ends_at, state; answer lacks: state"
        suggested = {f["key"]: f["value"] for f in report["config"] if f["section"] == "statuspal.notices"}
        assert suggested == {**STATE_WORDS, "naive_times": "page"}
        envs = {f["env"] for f in report["config"]}
        assert {"STATUSPAL_MCP_STATUSPAL_NOTICES_STATE_INCIDENT_OPEN=active",
                "STATUSPAL_MCP_STATUSPAL_NOTICES_NAIVE_TIMES=page"} <= envs
        assert any(f["reason"].startswith("StatusPal wrote 20") and "the page's time zone (Asia/Kolkata)" in f["reason"]
                   for f in report["config"] if f["key"] == "naive_times")

        code, report = await check(url, wire={"endpoints": ALT_ROUTES, "notices": {**ALT_NOTICES, **suggested}})
        assert_nothing_left(state)
    assert code == 0, report
    assert verdicts(report) == {name: "ok" for name in ALL_ENDPOINTS} and not report["config"]


async def test_the_text_report_shows_each_endpoint_and_the_config_lines() -> None:
    async with sandbox("lenient", ALT) as (url, _):
        child = await check_in_child(url, "--create-page")
    assert child.proc.returncode == 1
    lines = child.stdout.splitlines()
    assert any(line.startswith("notices_create ") and "| POST /status_pages/{subdomain}/notices " in line
               and line.endswith("| route missing") for line in lines), child.stdout
    assert any(line.startswith("services_create ") and line.endswith("| ok") for line in lines)
    assert "[statuspal.endpoints]" in lines
    assert any(line.startswith('# notices_create = "POST /status_pages/{subdomain}/notices"  # answered 404') for line in lines)
    assert "# STATUSPAL_MCP_STATUSPAL_ENDPOINTS_NOTICES_CREATE='POST /status_pages/{subdomain}/notices'" in lines
    assert lines[-1] == f"Result: {len(NOTICES)} of {len(ALL_ENDPOINTS)} endpoints are not ok."


# ---------------------------------------------------------------- safety


async def _api(http: aiohttp.ClientSession, url: str, method: str, path: str, body: Any = None) -> Any:
    async with http.request(method, f"{url}/api/v1{path}", json=body, headers={"Authorization": f"Bearer {KEY}"}) as r:
        assert r.status < 300, (method, path, r.status, await r.text())
        return (await r.json())["data"] if r.status != 204 else None


async def test_only_the_given_page_is_touched_and_it_is_left_as_it_was() -> None:
    async with sandbox("lenient") as (url, state), aiohttp.ClientSession() as http:
        for page in ("check", "bystander"):
            await _api(http, url, "POST", "/status_pages", {"name": page, "subdomain": page, "timezone": "UTC",
                                                             "website_url": "https://example.com"})
        await _api(http, url, "POST", "/status_pages/bystander/services", {"name": "API"})
        await _api(http, url, "POST", "/status_pages/bystander/notices", {
            "title": "Real incident", "notice_type": "incident", "severity": "major", "message": "Down.", "notify": False})
        await _api(http, url, "POST", "/outgoing_webhooks", {"name": "real", "url": "https://hooks.example.com",
                                                             "events": ["notice.created"]})
        before = {path: await _api(http, url, "GET", path) for path in (
            "/status_pages/bystander", "/status_pages/check", "/status_pages/bystander/notices",
            "/status_pages/bystander/services", "/outgoing_webhooks")}
        state.requests.clear()

        # As `--subdomain check --skip-page-endpoints --i-have-no-subscribers` runs it.
        code, report = await check(url, subdomain="check", skip_page_endpoints=True, post_notices=True)

        touched = {entry["path"] for entry in state.requests}
        after = {path: await _api(http, url, "GET", path) for path in before}
    assert code == 0, report
    assert report["page"] == "check" and not report["created_page"]
    assert verdicts(report) == {name: "skipped" if name in ("status_pages_create", "status_pages_delete") else "ok"
                                for name in ALL_ENDPOINTS}
    assert all(not p.startswith("/api/v1/status_pages/") or p.startswith("/api/v1/status_pages/check") for p in touched), touched
    # The check page's name was written back unchanged (only its updated_at moves).
    for snapshot in (before, after):
        snapshot["/status_pages/check"].pop("updated_at")
    assert after == before  # the other page, its notice and service, the org's webhook, and the check page itself


async def test_on_a_given_page_what_the_check_did_not_see_is_not_ok() -> None:
    """--subdomain alone: the page routes it cannot try and the notices it will not post to a page that may
    have subscribers are skipped, and a skip that was not accepted is not a pass."""
    async with sandbox("lenient") as (url, state), aiohttp.ClientSession() as http:
        await _api(http, url, "POST", "/status_pages", {"name": "check", "subdomain": "check", "timezone": "UTC",
                                                         "website_url": "https://example.com"})
        state.requests.clear()
        code, report = await check(url, subdomain="check")
        posted = [e for e in state.requests if e["endpoint"] and e["endpoint"].startswith("notices_")]
        assert not posted  # nothing was sent that could reach a subscriber
        assert_nothing_left(state, ("check",))
        rows = {row["endpoint"]: row for row in report["endpoints"]}
        assert code == 1
        assert {name for name, row in rows.items() if row["verdict"] != "ok"} == {
            "status_pages_create", "status_pages_delete", *NOTICES}
        assert all(rows[name]["verdict"] == "skipped" for name in NOTICES)
        assert "Confirm the field with --notify-field NAME" in rows["notices_create"]["evidence"][0]
        assert rows["status_pages_create"]["evidence"] == [
            "--subdomain: the check uses the given page and never creates or deletes a page; unproven, so not ok "
            "(accept with --skip-page-endpoints)"]

        # The page routes accepted as unchecked, the notify field confirmed: every endpoint is ok.
        code, report = await check(url, subdomain="check", skip_page_endpoints=True, post_notices=True)
        assert_nothing_left(state, ("check",))
    assert code == 0, report


async def test_a_notify_false_statuspal_does_not_echo_is_named_in_the_summary_line() -> None:
    served = {"notices": {"update_notify_key": "delivered"}}  # the timeline says it under a key the gateway does not read
    async with sandbox("lenient", served) as (url, state):
        child = await check_in_child(url, "--create-page")
        assert_nothing_left(state)
    assert child.proc.returncode == 0, child.stdout
    assert child.stdout.splitlines()[-1] == (
        "Result: every endpoint is ok; notify: false is unconfirmed (no answer said whether subscribers were "
        "notified, so a misnamed notify field would look the same).")


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
async def test_an_interrupted_check_deletes_everything_it_made(sig) -> None:
    async with sandbox("strict") as (url, state), aiohttp.ClientSession() as http:
        await _api(http, url, "POST", "/status_pages", {"name": "Check", "subdomain": "check", "timezone": "UTC",
                                                         "website_url": "https://example.com"})
        # Slow answers, so the signal arrives while the check is midway, with things made and not yet deleted.
        async with http.post(f"{url}/_sandbox/faults", json={"latency_ms": 50}) as r:
            assert r.status == 200
        child = await start(["check-api", "--base-url", f"{url}/api/v1", "--subdomain", "check", "--i-have-no-subscribers",
                             "--json"],
                            env={KEY_ENV: KEY, **config_env(None)})
        page = next(iter(state.orgs.values())).pages["check"]
        for _ in range(600):
            if page.notices or child.proc.returncode is not None:
                break
            await asyncio.sleep(0.02)
        assert page.notices and page.services and len(page.containers) == 2, child.stderr
        child.proc.send_signal(sig)
        code = await child.finish(60)
        assert_nothing_left(state, pages=("check",))
    assert code == 130, child.stderr
    report = json.loads(child.stdout)
    assert report["interrupted"] and not report["ok"] and not report["cleanup"]["left_behind"]
    assert any(label.startswith("incident ") for label in report["cleanup"]["deleted"])
    assert "interrupted; deleting what the check made" in child.stderr


async def test_the_key_never_appears_in_output_or_logs() -> None:
    canary = f"sk_canary_{secrets.token_hex(12)}"
    async with sandbox("lenient", ALT, key=canary) as (url, _):
        # DEBUG logging, failing endpoints with evidence, and errors: every path that writes text.
        child = await check_in_child(url, "--create-page", "--json", key=canary, env={"STATUSPAL_MCP_LOGGING_LEVEL": "DEBUG"})
        report = json.loads(child.stdout)
        refused = await run(["check-api", "--base-url", f"{url}/api/v1", "--create-page"],
                            env={KEY_ENV: canary + "x", "STATUSPAL_MCP_LOGGING_LEVEL": "DEBUG"})
    assert child.proc.returncode == 1 and report["endpoints"]
    assert refused.proc.returncode == 2
    assert refused.stderr.strip().splitlines()[-1] == (
        f"statuspal-mcp: error: StatusPal refused the key in {KEY_ENV} (401 unauthorized)")
    for text in (child.stdout, child.stderr, refused.stdout, refused.stderr):
        assert canary not in text
        assert "whs_" not in text  # nor a webhook secret


def assert_one_line(child, text: str) -> None:
    assert (child.returncode if isinstance(child, Refusal) else child.proc.returncode) == 2, (child.stdout, child.stderr)
    lines = [line for line in child.stderr.strip().splitlines() if not line.startswith("{")]
    assert lines == [f"statuspal-mcp: error: {text}"], child.stderr
    assert "Traceback" not in child.stderr and not child.stdout


async def test_a_key_on_the_command_line_is_refused_without_echoing_it() -> None:
    canary = f"sk_canary_{secrets.token_hex(12)}"
    message = (f"check-api takes the API key only from the environment variable {KEY_ENV} (a key on the command "
               "line ends up in shell history and process listings)")
    for args in (["--key", canary], [f"--api-key={canary}"]):
        child = await run(["check-api", "--create-page", *args], env={KEY_ENV: KEY})
        assert_one_line(child, message)
        assert canary not in child.stderr
    child = await run(["check-api", "--create-page", canary], env={KEY_ENV: KEY})
    assert_one_line(child, f"check-api takes no positional arguments (the API key goes in the environment variable {KEY_ENV})")
    assert canary not in child.stderr


async def test_usage_problems_exit_2_with_one_line() -> None:
    child = await run(["check-api", "--create-page"])
    assert_one_line(child, f"set {KEY_ENV} to a throwaway StatusPal API key for the check")
    async with sandbox("strict") as (url, state):
        child = await run(["check-api", "--base-url", f"{url}/api/v1", "--subdomain", "nope"], env={KEY_ENV: KEY})
        assert_one_line(child, "status page 'nope' cannot be used for the check: GET /status_pages/nope answered "
                               "404 not_found: The requested resource was not found")
        assert not next(iter(state.orgs.values())).pages


@pytest.mark.parametrize(("env", "text"), [
    ({"STATUSPAL_MCP_STATUSPAL_ENDPOINTS_NOTICES_RESOLVE": "RESOLVE it"},
     "bad value for statuspal.endpoints.notices_resolve: 'RESOLVE it' (expected \"METHOD /path\", METHOD one of GET, POST, "
     "PATCH, PUT, DELETE)"),
    ({"STATUSPAL_MCP_STATUSPAL_NOTICES_TEXT_FIELD": "two words"},
     "bad value for statuspal.notices.text_field: 'two words' (expected a JSON field name: a letter or _, then letters, "
     "digits or _)"),
    ({"STATUSPAL_MCP_STATUSPAL_NOTICES_STATE_INFO_CLOSED": "open"},
     "statuspal.notices.state_info_open and statuspal.notices.state_info_closed both name 'open': within one notice "
     "type each wire word names one state"),
], ids=["endpoint", "notice-field", "state-words"])
def test_a_bad_mapping_value_is_one_line_and_exit_2(env, text, monkeypatch, capsys) -> None:
    """The command's `main` in this process (the check refuses before it starts; a refusal in a real child is
    shown above): a mapping value the gateway would refuse at start-up stops the check the same way."""
    assert_one_line(run_main(["check-api", "--create-page"], {KEY_ENV: KEY, **env}, monkeypatch, capsys), text)


def test_a_notify_field_named_otherwise_than_configured_is_one_line_and_exit_2(monkeypatch, capsys) -> None:
    refusal = run_main(["check-api", "--subdomain", "acme", "--notify-field", "notify_subscribers"], {KEY_ENV: KEY},
                       monkeypatch, capsys)
    assert_one_line(refusal, "--notify-field 'notify_subscribers' is not the configured notify field 'notify': set "
                             "statuspal.notices.notify_field (or STATUSPAL_MCP_STATUSPAL_NOTICES_NOTIFY_FIELD) to the "
                             "name this StatusPal reads")
