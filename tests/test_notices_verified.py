"""Notice writes are confirmed against what StatusPal applied, in both sandbox modes, and never reported as a
success when a field was dropped.

A `RailsLike` proxy (tests/test_tools_verified.py) sits in front of a fresh sandbox in strict or lenient mode
and drops the body keys a test names, as a StatusPal that reads other field names would. In lenient mode the
sandbox then accepts the rest, as Rails most likely does, and the gateway must say what was not applied; in
strict mode the sandbox refuses a notice without its text or notify choice, which the gateway passes on.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from gateway.config import DEFAULT_CONFIG, load_settings
from gateway.statuspal.endpoints import EndpointTable
from gateway.statuspal.errors import UpstreamError, describe
from tests.conftest import SandboxAdmin, bound_socket, serve_app
from tests.mcp_wire import mcp_client
from tests.test_tools_verified import RailsLike, failure
from tests.toolkit import PAGE, make_page, open_api, run

MODES = ["strict", "lenient"]
NOTICES = r"/status_pages/acme/notices"
ONE_NOTICE = r"/status_pages/acme/notices/[^/]+"
INCIDENT = {
    "subdomain": "acme",
    "title": "API errors",
    "severity": "major",
    "message": "Investigating.",
    "affected": [{"service_slug": "api", "container_slugs": ["eu"]}],
    "notify": True,
}
CHECK_API = (
    "if StatusPal ignores it again, it does not accept that field under this name: the operator should run "
    "`statuspal-mcp check-api` to see which fields this StatusPal accepts."
)


class Proxy(RailsLike):
    """RailsLike, plus actions StatusPal acknowledges without doing: answered with the record as it stands."""

    def __init__(self, sandbox_url: str, http: aiohttp.ClientSession) -> None:
        super().__init__(sandbox_url, http)
        self.not_done: set[tuple[str, str]] = set()

    async def handle(self, request: web.Request) -> web.Response:
        path = request.path.removeprefix("/api/v1")
        if any(m == request.method and re.fullmatch(p, path) for m, p in self.not_done):
            record = request.path.rsplit("/", 1)[0]
            async with self.http.get(self.sandbox_url + record, headers={"Authorization": request.headers["Authorization"]}) as answer:
                return web.Response(status=200, body=await answer.read(), content_type="application/json")
        return await super().handle(request)


class Upstream:
    """A fresh sandbox in one strictness mode behind a RailsLike proxy; `url` is the proxy's."""

    def __init__(self, mode: str, proxy: Proxy, url: str, admin: SandboxAdmin) -> None:
        self.mode, self.proxy, self.url, self.admin = mode, proxy, url, admin

    async def endpoints(self) -> list[str]:
        """The endpoints StatusPal was called on since the last clear, in order."""
        return [r["endpoint"] for r in await self.admin.requests()]


@asynccontextmanager
async def upstream(strictness: str, notices: dict[str, Any] | None = None) -> AsyncIterator[Upstream]:
    from sandbox.app import create_sandbox_app

    settings = load_settings(
        DEFAULT_CONFIG, env={}, overrides={"sandbox": {"strictness": strictness}, "statuspal": {"notices": notices or {}}}
    )
    sandbox = create_sandbox_app(settings.sandbox, EndpointTable.from_settings(settings.statuspal))
    async with serve_app(sandbox, bound_socket()) as sandbox_url, aiohttp.ClientSession() as http:
        proxy = Proxy(sandbox_url, http)
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", proxy.handle)
        async with serve_app(app, bound_socket()) as url:
            yield Upstream(strictness, proxy, url, SandboxAdmin(sandbox_url, http))


@pytest.fixture(params=MODES)
async def up(request) -> AsyncIterator[Upstream]:
    async with upstream(request.param) as found:
        yield found


async def page_with_regions(api: Any) -> None:
    await make_page(api, "acme", ("API",))
    await run(api, "create_container", {"subdomain": "acme", "name": "EU"})


@pytest.fixture
async def api(up):
    async for api in open_api(up.url):
        await page_with_regions(api)
        yield api


def window(start_in: timedelta, hours: int = 2) -> dict[str, str]:
    starts = datetime.now(UTC).replace(microsecond=0) + start_in
    return {"starts_at": starts.isoformat(), "ends_at": (starts + timedelta(hours=hours)).isoformat()}


# ---------------------------------------------------------------- what each write costs and confirms


async def test_an_answer_with_every_field_costs_no_extra_read_and_one_without_costs_one(api, up) -> None:
    await up.admin.clear_requests()
    opened = await run(api, "create_incident", {**INCIDENT, "notify": False})
    assert await up.endpoints() == ["notices_create"]
    up.proxy.unanswered[("POST", ONE_NOTICE + "/updates")] = ("updates",)
    await up.admin.clear_requests()
    posted = await run(api, "post_notice_update", {"subdomain": "acme", "notice_id": opened["id"], "message": "Fixing.", "notify": False})
    assert await up.endpoints() == ["notices_post_update", "notices_get"]
    assert [u["message"] for u in posted["updates"]] == ["Investigating.", "Fixing."]


async def test_an_edited_window_statuspal_ignored_is_an_error(api, up) -> None:
    planned = await run(api, "schedule_maintenance", {
        "subdomain": "acme", "title": "Upgrade", **window(timedelta(days=1)), "message": "Planned.",
        "affected": [{"service_slug": "api"}], "notify": False})
    up.proxy.drop("PATCH", ONE_NOTICE, "ends_at")
    later = window(timedelta(days=1), hours=4)["ends_at"]
    text = await failure(api, "update_notice", {"subdomain": "acme", "notice_id": planned["id"], "ends_at": later})
    assert text.splitlines()[2:4] == [
        f'Not applied: ends_at (asked "{later}", StatusPal has "{planned["ends_at"]}").',
        f"Live on the public page of 'acme' now: the maintenance's end is \"{planned['ends_at']}\".",
    ]


async def test_a_resolve_that_left_the_incident_open_is_an_error(api, up) -> None:
    opened = await run(api, "create_incident", {**INCIDENT, "notify": False})
    up.proxy.not_done.add(("POST", ONE_NOTICE + "/resolve"))  # acknowledged, not done
    text = await failure(api, "resolve_incident", {"subdomain": "acme", "notice_id": opened["id"], "message": "Fixed.", "notify": False})
    key = f"subdomain 'acme', notice_id {opened['id']!r}"
    assert text.splitlines()[1:] == [
        "Applied: none of the fields checked.",
        'Not applied: state (asked "resolved", StatusPal has "open"); message (asked "Fixed.", StatusPal has '
        '"Investigating.").',
        "Live on the public page of 'acme' now: the incident's state is \"open\"; the incident's newest timeline "
        "text is \"Investigating.\"; whether subscribers were notified of that text is unknown.",
        f"To correct it, call resolve_incident ({key}) again; call post_notice_update ({key}) and "
        f"pass message again; {CHECK_API}",
    ]


async def test_a_close_by_ends_at_that_statuspal_ignored_is_an_error(up) -> None:
    async for api in open_api(up.url, notices={"close_strategy": "patch_ends_at"}):
        await page_with_regions(api)
        running = await run(api, "schedule_maintenance", {
            "subdomain": "acme", "title": "Upgrade", **window(-timedelta(hours=1)), "message": "Started.",
            "affected": [{"service_slug": "api"}], "notify": False})
        up.proxy.drop("PATCH", ONE_NOTICE, "ends_at")
        await up.admin.clear_requests()
        text = await failure(api, "close_maintenance", {"subdomain": "acme", "notice_id": running["id"], "message": "Done.", "notify": False})
        assert await up.endpoints() == ["notices_update"], "the closing text waits for an ending that happened"
    lines = text.splitlines()
    assert lines[1] == "Applied: none of the fields checked."
    assert lines[2].startswith('Not applied: ends_at (asked "') and lines[2].endswith(
        f'StatusPal has "{running["ends_at"]}"); state (asked "completed", StatusPal has "in_progress").')
    assert lines[4] == f"To correct it, call close_maintenance (subdomain 'acme', notice_id {running['id']!r}) again; {CHECK_API}"


async def test_a_lost_create_is_settled_by_one_list_read_when_unambiguous(api, up) -> None:
    up.proxy.lost[("POST", NOTICES)] = 502  # applied, its answer lost
    await up.admin.clear_requests()
    settled = await run(api, "create_incident", INCIDENT)
    assert await up.endpoints() == ["notices_create", "notices_list"], "sent once, then one read"
    assert (settled["title"], settled["affected"]) == ("API errors", [{"service_slug": "api", "container_slugs": ["eu"]}])

    text = await failure(api, "create_incident", INCIDENT)  # a second one with the same title: ambiguous
    assert text == (
        "StatusPal gave no usable answer to the create (502 bad_gateway: 502 Bad Gateway), "
        "and one read cannot settle it: 2 incidents titled 'API errors' were created in the last 10 minutes. Do not "
        "call create_incident again blindly, since a second create would publish a second incident and could "
        "message subscribers twice: call list_notices (subdomain 'acme', notice_type 'incident') and create it only "
        "if no incident titled 'API errors' is there."
    )


async def test_a_lost_create_that_no_read_finds_stays_unknown(api, up) -> None:
    await up.admin.faults(error_rate=1.0, error_status=502, only=["notices_create"])  # refused, nothing made
    text = await failure(api, "create_incident", INCIDENT)
    assert text == (
        "StatusPal gave no usable answer to the create (502 service_unavailable: Injected upstream failure), and one "
        "read shows no incident titled 'API errors' created in the last 10 minutes; StatusPal may still be "
        "processing it, so its outcome is unknown. Do not call create_incident again blindly, since a second create "
        "would publish a second incident and could message subscribers twice: call list_notices (subdomain 'acme', "
        "notice_type 'incident') and create it only if no incident titled 'API errors' is there."
    )


async def test_a_closing_text_dropped_after_an_ending_by_ends_at_says_the_notice_has_ended(up) -> None:
    async for api in open_api(up.url, notices={"close_strategy": "patch_ends_at"}):
        await page_with_regions(api)
        running = await run(api, "schedule_maintenance", {
            "subdomain": "acme", "title": "Upgrade", **window(-timedelta(hours=1)), "message": "Started.",
            "affected": [{"service_slug": "api"}], "notify": False})
        up.proxy.not_done.add(("POST", ONE_NOTICE + "/updates"))
        text = await failure(api, "close_maintenance", {"subdomain": "acme", "notice_id": running["id"], "message": "Done.", "notify": True})
        assert (await run(api, "get_notice", {"subdomain": "acme", "notice_id": running["id"]}))["state"] == "completed"
    lines = text.splitlines()
    assert lines[0].startswith("The notice has ended (its ends_at is now ")
    assert lines[0].endswith("); do not end it again. Its closing update was not applied in full:")
    assert lines[3] == 'Not applied: message (asked "Done.", StatusPal has "Started.").'
    assert lines[5].startswith(f"To correct it, call post_notice_update (subdomain 'acme', notice_id {running['id']!r}) and pass message again")


async def test_an_update_with_no_usable_answer_is_reported_unknown_not_sent_again(api, up) -> None:
    opened = await run(api, "create_incident", {**INCIDENT, "notify": False})
    up.proxy.lost[("POST", ONE_NOTICE + "/updates")] = 502
    await up.admin.clear_requests()
    with pytest.raises(UpstreamError) as lost:
        await run(api, "post_notice_update", {"subdomain": "acme", "notice_id": opened["id"], "message": "Fixing.", "notify": True})
    assert await up.endpoints() == ["notices_post_update"], "sent once, never again blindly"
    assert describe(lost.value) == (
        "The request reached StatusPal but no usable answer came back (502 bad_gateway: 502 Bad Gateway), so it is "
        "unknown whether it took effect. Do not repeat it blindly: first call list_notices with subdomain 'acme' (or "
        "the matching get tool) to see whether the notice change is there, and call the tool again only if the "
        "change is missing."
    )


# ---------------------------------------------------------------- through the `mcp` client, word for word


@asynccontextmanager
async def client_on(make_gateway, up: Upstream, **statuspal: Any):
    gateway = await make_gateway(statuspal={"base_url": f"{up.url}/api/v1", **statuspal})
    async with mcp_client(gateway.mcp_url, "legacy") as client:
        for step in (
            ("create_status_page", {"subdomain": "acme", **PAGE}),
            ("create_service", {"subdomain": "acme", "name": "API"}),
            ("create_container", {"subdomain": "acme", "name": "EU"}),
        ):
            assert (await client.call_tool(*step)).is_error is False
        yield client


async def error_text(client: Any, tool: str, args: dict[str, Any]) -> str:
    result = await client.call_tool(tool, args)
    assert result.is_error is True and result.structured_content is None, f"{tool} reported success"
    return result.content[0].text


async def listed(client: Any) -> list[dict[str, Any]]:
    result = await client.call_tool("list_notices", {"subdomain": "acme"})
    return result.structured_content["items"]


async def test_a_dropped_affected_list(make_gateway, up) -> None:
    up.proxy.drop("POST", NOTICES, "affected")
    async with client_on(make_gateway, up) as client:
        text = await error_text(client, "create_incident", INCIDENT)
        (notice,) = await listed(client)
    assert notice["affected"] == [], "the incident is live with no affected services"
    key = f"subdomain 'acme', notice_id {notice['id']!r}"
    assert text == (
        f"StatusPal accepted the write to incident {notice['id']!r} on status page 'acme' but did not apply all of "
        "it, so this is not a success.\n"
        'Applied: title "API errors"; severity "major"; message "Investigating."; notify true.\n'
        "Not applied: affected (asked api (eu), StatusPal has no service).\n"
        "Live on the public page of 'acme' now: the incident is titled \"API errors\"; the incident's severity is "
        "\"major\"; the incident's newest timeline text is \"Investigating.\"; StatusPal's timeline says subscribers "
        "were notified of that text; the incident marks no service affected.\n"
        f"To correct it, call update_notice ({key}) and pass affected again; {CHECK_API}"
    )


async def test_a_dropped_text(make_gateway, up) -> None:
    up.proxy.drop("POST", NOTICES, "message")
    async with client_on(make_gateway, up) as client:
        text = await error_text(client, "create_incident", INCIDENT)
        notices = await listed(client)
    if up.mode == "strict":
        assert notices == []
        assert text == (
            "StatusPal rejected the request (422 unprocessable_entity): Validation failed. message: can't be blank. "
            "Fix the fields above and call the tool again."
        )
        return
    (notice,) = notices
    key = f"subdomain 'acme', notice_id {notice['id']!r}"
    assert text == (
        f"StatusPal accepted the write to incident {notice['id']!r} on status page 'acme' but did not apply all of "
        "it, so this is not a success.\n"
        'Applied: title "API errors"; severity "major"; affected api (eu).\n'
        'Not applied: message (asked "Investigating.", StatusPal has no timeline text).\n'
        "Live on the public page of 'acme' now: the incident is titled \"API errors\"; the incident's severity is "
        "\"major\"; the incident marks api (eu) affected; the incident's timeline shows no text; whether "
        "subscribers were notified of that text is unknown.\n"
        f"To correct it, call post_notice_update ({key}) and pass message again; {CHECK_API}"
    )


async def test_a_dropped_notify(make_gateway, up) -> None:
    up.proxy.drop("POST", NOTICES, "notify")
    up.proxy.drop("POST", ONE_NOTICE + "/updates", "notify")
    async with client_on(make_gateway, up) as client:
        text = await error_text(client, "create_incident", INCIDENT)
        notices = await listed(client)
        if up.mode == "strict":
            assert notices == []
            assert text == (
                "StatusPal rejected the request (422 unprocessable_entity): Validation failed. notify: can't be blank. "
                "Fix the fields above and call the tool again."
            )
            return
        (notice,) = notices
        key = f"subdomain 'acme', notice_id {notice['id']!r}"
        assert text == (
            f"StatusPal accepted the write to incident {notice['id']!r} on status page 'acme' but did not apply all "
            "of it, so this is not a success.\n"
            'Applied: title "API errors"; severity "major"; affected api (eu); message "Investigating.".\n'
            "Not applied: notify (asked true, StatusPal has false).\n"
            "Live on the public page of 'acme' now: the incident is titled \"API errors\"; the incident's severity "
            "is \"major\"; the incident marks api (eu) affected; the incident's newest timeline text is "
            "\"Investigating.\"; StatusPal's timeline says no subscriber was notified of that text.\n"
            f"To correct it, call post_notice_update ({key}) and pass notify again; {CHECK_API}"
        )
        posted = await error_text(
            client, "post_notice_update", {"subdomain": "acme", "notice_id": notice["id"], "message": "Fixing.", "notify": True}
        )
    assert posted.splitlines()[1:4] == [
        'Applied: message "Fixing.".',
        "Not applied: notify (asked true, StatusPal has false).",
        "Live on the public page of 'acme' now: the incident's newest timeline text is \"Fixing.\"; StatusPal's "
        "timeline says no subscriber was notified of that text.",
    ]


async def test_an_info_notice_is_verified_like_the_others(make_gateway, up) -> None:
    up.proxy.drop("POST", NOTICES, "message")
    info = {"subdomain": "acme", "title": "New region", "message": "EU is live.", "notify": False}
    async with client_on(make_gateway, up) as client:
        text = await error_text(client, "create_info_notice", info)
        notices = await listed(client)
    if up.mode == "strict":
        assert notices == [] and "message: can't be blank" in text
        return
    (notice,) = notices
    assert notice["notice_type"] == "info"
    assert text.splitlines()[:3] == [
        f"StatusPal accepted the write to info {notice['id']!r} on status page 'acme' but did not apply all of it, "
        "so this is not a success.",
        'Applied: title "New region".',
        'Not applied: message (asked "EU is live.", StatusPal has no timeline text).',
    ]


async def test_subscribers_notified_against_notify_false_is_not_called_correctable(make_gateway, up) -> None:
    """A notification cannot be recalled: the verdict says so and never tells the model to pass notify again."""
    up.proxy.override("POST", NOTICES, notify=True)
    async with client_on(make_gateway, up) as client:
        text = await error_text(client, "create_incident", {**INCIDENT, "notify": False})
        (notice,) = await listed(client)
    key = f"subdomain 'acme', notice_id {notice['id']!r}"
    lines = text.splitlines()
    assert lines[2] == "Not applied: notify (asked false, StatusPal has true)."
    assert "notify again" not in text and "To correct it" not in text
    assert lines[-1] == (
        "This cannot be undone: subscribers were already notified and a notification cannot be recalled. Tell the "
        f"user; if subscribers should hear that it was sent by mistake, call post_notice_update ({key}) with a "
        "message saying so and notify: true, once the user agrees. Do not repeat the write: it would notify them again."
    )


async def test_a_missing_notices_route(make_gateway, up) -> None:
    routes = {"notices_create": "POST /status_pages/{subdomain}/incidents"}
    async with client_on(make_gateway, up, endpoints=routes) as client:
        text = await error_text(client, "create_incident", INCIDENT)
        assert await listed(client) == []
    # The lenient sandbox answers Rails' 404 itself; in front of the strict one the proxy writes it (with spaces).
    raw = '{"status":404,"error":"Not Found"}' if up.mode == "lenient" else '{"status": 404, "error": "Not Found"}'
    assert text == (
        "StatusPal answered 404 to POST /status_pages/acme/incidents without its record-not-found answer, so this "
        "route may not exist on this StatusPal; it does not mean that a status page or record is missing. Raw "
        f"answer: '{raw}'. The operator should run `statuspal-mcp check-api` "
        "and correct the route under [statuspal.endpoints] in config.toml."
    )


async def test_a_403_on_one_pages_notices(make_gateway, up) -> None:
    async with client_on(make_gateway, up) as client:
        assert (await client.call_tool("create_status_page", {"subdomain": "other", **PAGE})).is_error is False
        await up.admin.faults(error_rate=1.0, error_status=403, only=["* /status_pages/other/notices"])
        text = await error_text(client, "create_incident", {**INCIDENT, "subdomain": "other"})
        opened = await client.call_tool("create_incident", INCIDENT)
    assert text == (
        "This API key cannot reach the notices of status page 'other': StatusPal answered 403 forbidden (This API "
        "key is not allowed to do that). Other calls with this key still work; to reach it, use a key whose "
        "organization and permissions cover it. Call list_status_pages to see the pages this key can reach."
    )
    assert opened.is_error is False, "the key still works on the page it can reach"
