"""check-api and the tools reach the same verdict on the same StatusPal answers.

A recorded StatusPal (a loopback server that replays fixed answers, as a real one gave them) answers one write
and the GET after it. The same write is made once through a tool, once through check-api's walk, each
configured the same way; both must call it applied, or both name the same fields as not applied. The answers
are the ones that used to split them: times without an offset, fractions of a second, a closing text that is
not the newest entry, a state under another word (mapped, then not) or none at all, and a URL StatusPal gave a
trailing slash.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiohttp import web

from gateway.check_api.report import OK
from gateway.check_api.walk import Checker
from gateway.tools.base import ToolError
from gateway.tools.notice_checks import naive_zone
from tests.conftest import bound_socket, serve_app
from tests.toolkit import Recording, open_api, run

NOTICE = "/api/v1/status_pages/acme/notices/n1"
HOOK = "/api/v1/outgoing_webhooks/wbk_1"
MARKER = "spmcp-check-replay"
CLOSING = f"Check incident ended ({MARKER})."
PAGE = {"subdomain": "acme", "name": "Acme", "timezone": "Asia/Kolkata", "website_url": "https://acme.example"}


def notice(**fields: Any) -> dict[str, Any]:
    return {"id": "n1", "title": "Upgrade", "notice_type": "maintenance", "severity": None, "state": "scheduled",
            "starts_at": "2099-01-01T02:00:00Z", "ends_at": "2099-01-01T04:00:00Z", "affected": [], "updates": [], **fields}


def incident(**fields: Any) -> dict[str, Any]:
    base = {"title": "Errors", "notice_type": "incident", "severity": "major", "state": "open",
            "starts_at": "2026-01-01T00:00:00Z", "ends_at": None}
    return notice(**{**base, **fields})


@dataclass
class Case:
    """One recorded write: StatusPal's answers by (method, path), the tool call, and the walk's own step."""

    answers: dict[tuple[str, str], Any]
    tool: tuple[str, dict[str, Any]]
    walk: Callable[[Checker], Awaitable[Any]]
    row: str
    applied: bool
    fields: set[str] = field(default_factory=set)
    notices: dict[str, str] = field(default_factory=dict)


MOVE = {"starts_at": "2099-01-01T02:00:00Z"}


def _moved(**answer: Any) -> dict[tuple[str, str], Any]:
    record = notice(**answer)
    return {("PATCH", NOTICE): record, ("GET", NOTICE): record}


CASES = {
    "time without an offset, read as UTC": Case(
        _moved(starts_at="2099-01-01T02:00:00"), ("update_notice", MOVE),
        lambda c: c.update_notice("n1", "maintenance", MOVE), "notices_update", True, notices={"naive_times": "utc"}),
    "time without an offset, in the page's zone": Case(
        _moved(starts_at="2099-01-01T07:30:00"), ("update_notice", MOVE),
        lambda c: c.update_notice("n1", "maintenance", MOVE), "notices_update", True, notices={"naive_times": "page"}),
    "time without an offset, not configured": Case(
        _moved(starts_at="2099-01-01T02:00:00"), ("update_notice", MOVE),
        lambda c: c.update_notice("n1", "maintenance", MOVE), "notices_update", False, {"starts_at"}),
    "time without an offset, read in the wrong zone": Case(
        _moved(starts_at="2099-01-01T02:00:00"), ("update_notice", MOVE),
        lambda c: c.update_notice("n1", "maintenance", MOVE), "notices_update", False, {"starts_at"},
        notices={"naive_times": "page"}),
    "fractions of a second and an offset": Case(
        _moved(starts_at="2099-01-01T07:30:00.250+05:30"), ("update_notice", MOVE),
        lambda c: c.update_notice("n1", "maintenance", MOVE), "notices_update", True),
    "the closing text is not the newest entry": Case(
        {("POST", NOTICE + "/resolve"): incident(state="resolved", ends_at="2026-01-01T01:00:00Z", updates=[
            {"message": CLOSING, "notified": False, "posted_at": "2026-01-01T01:00:00Z"},
            {"message": "Someone else's note.", "notified": False, "posted_at": "2026-01-01T01:00:05Z"}])},
        ("resolve_incident", {"message": CLOSING, "notify": False}),
        lambda c: c.end_notice("n1", "incident", "resolve_strategy", "notices_resolve"), "notices_resolve", False, {"message"}),
    "the closing text with white space around it": Case(
        {("POST", NOTICE + "/resolve"): incident(state="resolved", ends_at="2026-01-01T01:00:00Z", updates=[
            {"message": f"  {CLOSING}\n", "notified": False, "posted_at": "2026-01-01T01:00:00Z"}])},
        ("resolve_incident", {"message": CLOSING, "notify": False}),
        lambda c: c.end_notice("n1", "incident", "resolve_strategy", "notices_resolve"), "notices_resolve", True),
    "a state under another word, mapped": Case(
        {("POST", NOTICE + "/resolve"): incident(state="ended", ends_at="2026-01-01T01:00:00Z", updates=[
            {"message": CLOSING, "notified": False, "posted_at": "2026-01-01T01:00:00Z"}])},
        ("resolve_incident", {"message": CLOSING, "notify": False}),
        lambda c: c.end_notice("n1", "incident", "resolve_strategy", "notices_resolve"), "notices_resolve", True,
        notices={"state_incident_resolved": "resolved,ended"}),
    "a state word the mapping does not know": Case(
        {("POST", NOTICE + "/resolve"): incident(state="ended", ends_at="2026-01-01T01:00:00Z", updates=[
            {"message": CLOSING, "notified": False, "posted_at": "2026-01-01T01:00:00Z"}])},
        ("resolve_incident", {"message": CLOSING, "notify": False}),
        lambda c: c.end_notice("n1", "incident", "resolve_strategy", "notices_resolve"), "notices_resolve", False, {"state"}),
    "a URL given a trailing slash": Case(
        {("PATCH", HOOK): {"id": "wbk_1", "name": "Hook", "url": "https://Hooks.example/in/"}},
        ("update_webhook", {"webhook_id": "wbk_1", "url": "https://hooks.example/in"}),
        lambda c: _walk_webhook(c, {"url": "https://hooks.example/in"}), "webhooks_update", True),
    "a URL StatusPal changed": Case(
        {("PATCH", HOOK): {"id": "wbk_1", "name": "Hook", "url": "https://hooks.example/other"}},
        ("update_webhook", {"webhook_id": "wbk_1", "url": "https://hooks.example/in"}),
        lambda c: _walk_webhook(c, {"url": "https://hooks.example/in"}), "webhooks_update", False, {"url"}),
    "an ending with no state, its ends_at passed": Case(
        {("POST", NOTICE + "/resolve"): {k: v for k, v in incident(ends_at="2026-01-01T01:00:00Z", updates=[
            {"message": CLOSING, "notified": False, "posted_at": "2026-01-01T01:00:00Z"}]).items() if k != "state"}},
        ("resolve_incident", {"message": CLOSING, "notify": False}),
        lambda c: c.end_notice("n1", "incident", "resolve_strategy", "notices_resolve"), "notices_resolve", True),
    "an ending with no state, its ends_at still ahead": Case(
        {("POST", NOTICE + "/resolve"): {k: v for k, v in incident(ends_at="2099-01-01T01:00:00Z", updates=[
            {"message": CLOSING, "notified": False, "posted_at": "2026-01-01T01:00:00Z"}]).items() if k != "state"}},
        ("resolve_incident", {"message": CLOSING, "notify": False}),
        lambda c: c.end_notice("n1", "incident", "resolve_strategy", "notices_resolve"), "notices_resolve", False, {"state"}),
}


async def _walk_webhook(checker: Checker, asked: dict[str, Any]) -> None:
    params = {"webhook_id": "wbk_1"}
    result = await checker.call("webhooks_update", params, body=asked)
    await checker.verified("webhooks_update", "webhooks_get", params, asked, result, "webhook")


def replaying(answers: dict[tuple[str, str], Any]) -> web.Application:
    """StatusPal as recorded: each (method, path) answers its `data`; anything else is a record-not-found."""

    async def handle(request: web.Request) -> web.Response:
        answers.setdefault(("GET", "/api/v1/status_pages/acme"), PAGE)
        data = answers.get((request.method, request.path))
        if data is None:
            return web.json_response({"error": "not_found", "message": "The requested resource was not found"}, status=404)
        return web.json_response({"data": data})

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handle)
    return app


def _fields(text: str) -> set[str]:
    """The fields an isError text names as not applied or not confirmed."""
    named = set()
    for line in text.splitlines():
        if line.startswith(("Not applied: ", "Not confirmed: ")):
            named |= set(re.findall(r"(?:^Not \w+: |; )(\w+) \(", line))
    return named


@pytest.mark.parametrize("name", list(CASES))
async def test_the_check_and_the_tool_reach_the_same_verdict(name) -> None:
    case = CASES[name]
    async with serve_app(replaying(dict(case.answers)), bound_socket()) as url:
        async for api in open_api(url, notices=case.notices):
            tool, arguments = case.tool
            key = {} if "webhook_id" in arguments else {"subdomain": "acme", "notice_id": "n1"}
            try:
                await run(api, tool, {**key, **arguments})
            except ToolError as err:
                tool_verdict = (False, _fields(str(err)))
            else:
                tool_verdict = (True, set())

            checker = _checker(api)
            await case.walk(checker)
            row = checker.row(case.row)
            check_verdict = (row.verdict == OK, set(row.ignored) | set(row.lacking))
    assert tool_verdict == check_verdict == (case.applied, case.fields), (tool_verdict, check_verdict, row.evidence)


def _checker(api: Recording) -> Checker:
    """check-api's walk on page acme, as `run_check` sets it up once it has read the page."""
    checker = Checker(api, api.endpoints, subdomain="acme", create_page=False)  # type: ignore[arg-type]
    checker.marker = MARKER
    checker.page_timezone = PAGE["timezone"]
    checker.zone = naive_zone(checker.wire, checker.page_timezone)
    return checker


async def test_an_affected_list_naming_the_checks_service_by_id_is_recognised() -> None:
    """A StatusPal that took the slugs but answers with ids, under another key, in a map: check-api's walk sees
    the id of the service it made and prints the field, shape and reference lines."""
    made = incident(id="n1", affected=None, affected_services={"svc_123": ["reg_456"]},
                    updates=[{"message": "Opened.", "notified": False, "posted_at": "2026-01-01T00:00:00Z"}])
    del made["affected"]
    answers = {("POST", "/api/v1/status_pages/acme/notices"): made, ("GET", NOTICE): made}
    async with serve_app(replaying(answers), bound_socket()) as url:
        async for api in open_api(url):
            checker = _checker(api)
            checker.ids = {"services": ("check-service", "svc_123"), "containers": ("check-region", "reg_456")}
            asked = {"title": "Errors", "notice_type": "incident", "severity": "major", "message": "Opened.",
                     "affected": [{"service_slug": "check-service", "container_slugs": ["check-region"]}], "notify": False}
            await checker.create_notice(asked, "incident", "open")
    assert checker.row("notices_create").lacking == ["affected"]
    assert {(f.key, f.value) for f in checker.fixes.values()} == {
        ("affected_ref", "id"), ("affected_field", "affected_services"), ("affected_shape", "map")}
