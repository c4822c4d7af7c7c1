"""Writes are verified against what StatusPal applied, and errors stay honest on a StatusPal that differs.

The sandbox refuses any unknown body key with a 422, which hides what the real server (a Rails
application) most likely does: drop a key it does not permit and answer success. `RailsLike` is a small
loopback stand-in for such a server: it forwards every request to the real sandbox, after removing the
body keys a rule says it does not permit, and answers a route the sandbox does not have with Rails' own
404 body instead of StatusPal's record-not-found envelope.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Callable
from typing import Any

import aiohttp
import orjson
import pytest
from aiohttp import web

from gateway.tools.base import ToolError
from tests.conftest import bound_socket, serve_app
from tests.mcp_wire import error_text, mcp_client
from tests.toolkit import PAGE, make_page, open_api, run

Rewrite = Callable[[str, str, dict[str, Any]], dict[str, Any]]
NOTIFICATION_DEFAULTS = {"email_enabled": True, "slack_enabled": False, "rss_feed_enabled": True}


class RailsLike:
    """Forward to the sandbox, rewriting request bodies the way a server that differs would read them."""

    def __init__(self, sandbox_url: str, http: aiohttp.ClientSession) -> None:
        self.sandbox_url = sandbox_url
        self.http = http
        self.rewrites: list[Rewrite] = []
        # (method, path pattern) -> answer keys left out of `data`, or a status answered after forwarding
        self.unanswered: dict[tuple[str, str], tuple[str, ...]] = {}
        self.lost: dict[tuple[str, str], int] = {}
        # (method, path pattern) whose next request is applied, then its connection cut before the answer
        self.cut_once: set[tuple[str, str]] = set()

    def _rule(self, rules: dict[tuple[str, str], Any], method: str, path: str) -> Any:
        return next((v for (m, p), v in rules.items() if m == method and re.fullmatch(p, path)), None)

    def drop(self, method: str, path: str, *keys: str) -> None:
        """Ignore `keys` in the body of `method` requests whose path (below /api/v1) matches `path`."""

        def rewrite(m: str, p: str, body: dict[str, Any]) -> dict[str, Any]:
            if m == method and re.fullmatch(path, p):
                return {k: v for k, v in body.items() if k not in keys}
            return body

        self.rewrites.append(rewrite)

    def override(self, method: str, path: str, **values: Any) -> None:
        """Store `values` whatever was sent for them (a setting this StatusPal ignores and defaults)."""

        def rewrite(m: str, p: str, body: dict[str, Any]) -> dict[str, Any]:
            return {**body, **values} if m == method and re.fullmatch(path, p) else body

        self.rewrites.append(rewrite)

    def replace_notification_settings(self) -> None:
        """Read a partial notification_settings as the whole object, the keys left out at their defaults."""

        def rewrite(m: str, p: str, body: dict[str, Any]) -> dict[str, Any]:
            if m == "PATCH" and isinstance(body.get("notification_settings"), dict):
                return {**body, "notification_settings": {**NOTIFICATION_DEFAULTS, **body["notification_settings"]}}
            return body

        self.rewrites.append(rewrite)

    async def handle(self, request: web.Request) -> web.Response:
        raw = await request.read()
        if raw:
            body = orjson.loads(raw)
            for rewrite in self.rewrites:
                body = rewrite(request.method, request.path.removeprefix("/api/v1"), body)
            raw = orjson.dumps(body)
        headers = {name: request.headers[name] for name in ("Authorization", "Content-Type", "Accept") if name in request.headers}
        async with self.http.request(request.method, self.sandbox_url + request.path_qs, data=raw or None, headers=headers) as answer:
            status, answered = answer.status, await answer.read()
        path = request.path.removeprefix("/api/v1")
        if status == 404 and b"route_not_found" in answered:
            return web.json_response({"status": 404, "error": "Not Found"}, status=404)
        cut = next(((m, p) for m, p in self.cut_once if m == request.method and re.fullmatch(p, path)), None)
        if cut is not None:
            self.cut_once.discard(cut)
            assert request.transport is not None
            request.transport.close()
            return web.Response(status=204)
        lost = self._rule(self.lost, request.method, path)
        if lost is not None:  # applied, but the answer never makes it back intact
            return web.Response(status=lost, text="<html><body>502 Bad Gateway</body></html>", content_type="text/html")
        left_out = self._rule(self.unanswered, request.method, path)
        if left_out and answered:
            envelope = orjson.loads(answered)
            envelope["data"] = {k: v for k, v in envelope["data"].items() if k not in left_out}
            answered = orjson.dumps(envelope)
        return web.Response(status=status, body=answered, content_type="application/json" if answered else None)


@pytest.fixture
async def rails(sandbox_url, sandbox_admin) -> AsyncIterator[tuple[RailsLike, str]]:
    async with aiohttp.ClientSession() as http:
        proxy = RailsLike(sandbox_url, http)
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", proxy.handle)
        async with serve_app(app, bound_socket()) as url:
            yield proxy, url


@pytest.fixture
async def api(rails):
    _, url = rails
    async for api in open_api(url):
        await make_page(api, "acme", ("API",))
        yield api


async def failure(api: Any, tool: str, args: dict[str, Any]) -> str:
    with pytest.raises(ToolError) as refused:
        await run(api, tool, args)
    return str(refused.value)


async def test_a_description_statuspal_ignores_is_an_error_naming_what_is_live_and_the_fix(api, rails):
    proxy, _ = rails
    proxy.drop("PATCH", r"/status_pages/acme/services/[^/]+", "description")
    text = await failure(api, "update_service", {"subdomain": "acme", "slug": "api", "name": "Public API", "description": "Our REST API"})
    assert text == (
        "StatusPal accepted the write to service 'api' on status page 'acme' but did not apply all of it, so this is not a success.\n"
        'Applied: name "Public API".\n'
        'Not applied: description (asked "Our REST API", StatusPal has null).\n'
        'Live on the public page now: the service\'s name is "Public API"; the service\'s description is null.\n'
        "To correct it, call update_service (subdomain 'acme', slug 'api') and pass description again; if StatusPal "
        "ignores it again, it does not accept that field under this name: the operator should run "
        "`statuspal-mcp check-api` to see which fields this StatusPal accepts."
    )
    assert (await run(api, "get_service", {"subdomain": "acme", "slug": "api"}))["name"] == "Public API"


async def test_a_created_service_missing_its_order_is_not_reported_as_created(api, rails):
    proxy, _ = rails
    proxy.drop("POST", r"/status_pages/acme/services", "order")
    text = await failure(api, "create_service", {"subdomain": "acme", "name": "Web Console", "order": 1})
    assert text.splitlines()[0] == (
        "StatusPal accepted the write to service 'web-console' on status page 'acme' but did not apply all of it, so "
        "this is not a success."
    )
    assert text.splitlines()[2] == "Not applied: order (asked 1, StatusPal has 2)."
    assert "call update_service (subdomain 'acme', slug 'web-console') and pass order again" in text


async def test_a_page_setting_statuspal_ignores_is_an_error(api, rails):
    proxy, _ = rails
    proxy.drop("PATCH", r"/status_pages/acme", "timezone")
    text = await failure(api, "update_status_page", {"subdomain": "acme", "timezone": "Europe/Berlin"})
    assert text == (
        "StatusPal accepted the write to status page 'acme' but did not apply all of it, so this is not a success.\n"
        "Applied: none of the fields checked.\n"
        'Not applied: timezone (asked "Europe/Berlin", StatusPal has "UTC").\n'
        'Live on the public page now: the page\'s time zone is "UTC".\n'
        "To correct it, call update_status_page (subdomain 'acme') and pass timezone again; if StatusPal ignores it "
        "again, it does not accept that field under this name: the operator should run `statuspal-mcp check-api` "
        "to see which fields this StatusPal accepts."
    )


HOOK = {"name": "Bridge", "url": "https://hooks.example/statuspal", "events": ["notice.created"]}


async def test_a_webhook_statuspal_scoped_to_every_page_instead_of_one_is_an_error(api, rails):
    proxy, _ = rails
    proxy.drop("POST", r"/outgoing_webhooks", "status_page_subdomains", "all_status_pages")
    text = await failure(api, "create_webhook", {**HOOK, "status_page_subdomains": ["acme"]})
    hooks = (await run(api, "list_webhooks", {}))["items"]
    assert len(hooks) == 1 and hooks[0]["all_status_pages"] is True, "the webhook exists, firing for every page"
    assert text == (
        f"StatusPal accepted the write to webhook {hooks[0]['id']!r} but did not apply all of it, so this is not a success.\n"
        'Applied: name "Bridge"; url "https://hooks.example/statuspal"; events ["notice.created"].\n'
        'Not applied: status_page_subdomains (asked only the pages ["acme"], StatusPal has every status page of the organization).\n'
        "Live at StatusPal now: the webhook's name is \"Bridge\"; the webhook's delivery URL is "
        '"https://hooks.example/statuspal"; the webhook\'s event list is ["notice.created"]; the webhook\'s page scope '
        "is every status page of the organization.\n"
        f"To correct it, call update_webhook (webhook_id {hooks[0]['id']!r}) and pass status_page_subdomains again; "
        "if StatusPal ignores it again, it does not accept that field under this name: the operator should run "
        "`statuspal-mcp check-api` to see which fields this StatusPal accepts."
    )


async def test_a_webhook_field_statuspal_ignores_on_update_is_an_error(api, rails):
    proxy, _ = rails
    created = await run(api, "create_webhook", HOOK)
    proxy.drop("PATCH", r"/outgoing_webhooks/[^/]+", "enabled")
    text = await failure(api, "update_webhook", {"webhook_id": created["id"], "enabled": False})
    assert text.splitlines()[2:4] == [
        "Not applied: enabled (asked false, StatusPal has true).",
        "Live at StatusPal now: the webhook's enabled flag is true.",
    ]


async def test_an_answer_with_every_field_costs_no_extra_read(api, sandbox_admin):
    await sandbox_admin.clear_requests()
    updated = await run(api, "update_service", {"subdomain": "acme", "slug": "api", "order": 1})
    assert updated["order"] == 1
    assert [r["method"] for r in await sandbox_admin.requests()] == ["PATCH"]


async def test_an_answer_without_the_fields_is_checked_with_one_read(api, rails, sandbox_admin):
    """A StatusPal whose answer omits a field is checked with one GET, not failed and not trusted blindly."""
    proxy, _ = rails
    proxy.unanswered[("PATCH", r"/status_pages/acme/services/api")] = ("description", "name")
    await sandbox_admin.clear_requests()
    updated = await run(api, "update_service", {"subdomain": "acme", "slug": "api", "description": "Our REST API"})
    assert updated["description"] == "Our REST API" and updated["name"] == "API"
    assert [r["method"] for r in await sandbox_admin.requests()] == ["PATCH", "GET"]

    proxy.drop("PATCH", r"/status_pages/acme/services/api", "name")
    text = await failure(api, "update_service", {"subdomain": "acme", "slug": "api", "name": "Public API"})
    assert text.splitlines()[1:4] == [
        "Applied: none of the fields checked.",
        'Not applied: name (asked "Public API", StatusPal has "API").',
        "Live on the public page now: the service's name is \"API\".",
    ], "the read shows the live value the answer left out"


async def test_setup_stops_at_a_step_statuspal_applied_differently(api, rails):
    proxy, _ = rails
    proxy.override("POST", r"/status_pages", timezone="UTC")
    report = await run(api, "setup_status_page", {"subdomain": "beta", **PAGE, "timezone": "Europe/Berlin", "services": ["API"]})
    assert report["complete"] is False
    assert report["failed"]["step"] == "create_status_page"
    assert report["failed"]["error"].splitlines()[2] == 'Not applied: timezone (asked "Europe/Berlin", StatusPal has "UTC").'
    assert "call update_status_page (subdomain 'beta') and pass timezone again" in report["failed"]["error"]
    assert report["not_attempted"] == [{"step": "create_service", "name": "API"}]


async def test_a_partial_notification_settings_update_keeps_the_settings_not_mentioned(api, rails):
    proxy, _ = rails
    proxy.replace_notification_settings()  # this StatusPal resets what a PATCH leaves out
    await run(api, "update_status_page",
              {"subdomain": "acme", "notification_settings": {"email_enabled": False, "slack_enabled": False, "rss_feed_enabled": True}})
    updated = await run(api, "update_status_page", {"subdomain": "acme", "notification_settings": {"slack_enabled": True}})
    assert api.sent[-1] == (
        "status_pages_update",
        {"notification_settings": {"email_enabled": False, "slack_enabled": True, "rss_feed_enabled": True}},
    )
    assert updated["notification_settings"] == {"email_enabled": False, "slack_enabled": True, "rss_feed_enabled": True}


async def test_a_rotation_answer_without_a_secret_is_not_a_success(api, rails):
    proxy, _ = rails
    created = await run(api, "create_webhook", HOOK)
    proxy.unanswered[("POST", r"/outgoing_webhooks/[^/]+/regenerate_secret")] = ("secret",)
    text = await failure(api, "rotate_webhook_secret", {"webhook_id": created["id"]})
    assert text == (
        f"StatusPal accepted the rotation of webhook {created['id']!r} but answered with no secret in its answer, so "
        "this is not a success: if the secret was replaced, the old one no longer verifies deliveries and the new one "
        "cannot be read back. Live at StatusPal now: unknown which secret signs deliveries. Keep the old secret in the "
        "receiver and watch whether deliveries still verify (get_webhook shows the last attempts); the operator "
        "should run `statuspal-mcp check-api` to see which fields this StatusPal accepts, since this StatusPal may "
        "rotate secrets differently."
    )


async def test_a_create_with_no_usable_answer_is_settled_by_reading_its_identifier(api, rails, sandbox_admin):
    """Never sent again blindly: one read by the slug the caller chose says whether the create happened."""
    proxy, _ = rails
    await sandbox_admin.faults(error_rate=1.0, error_status=502, only=["POST /status_pages/acme/containers"])
    text = await failure(api, "create_container", {"subdomain": "acme", "name": "EU", "slug": "eu"})
    assert text == (
        "StatusPal gave no usable answer to the create (502 service_unavailable: Injected upstream failure), so one "
        "read settled it: there is no container (region) 'eu' on status page 'acme', so the create did not take "
        "effect. It is safe to call create_container again."
    )
    await sandbox_admin.faults()
    proxy.lost[("POST", r"/status_pages/acme/containers")] = 502
    await sandbox_admin.clear_requests()
    settled = await run(api, "create_container", {"subdomain": "acme", "name": "EU", "slug": "eu"})
    assert (settled["slug"], settled["name"]) == ("eu", "EU")
    assert [r["method"] for r in await sandbox_admin.requests()] == ["POST", "GET"], "sent once, then read"


async def test_a_delete_whose_answer_was_lost_is_done_when_the_retry_finds_nothing(api, rails, sandbox_admin):
    """The first DELETE was applied but its answer lost; the retry's 404 means gone, as asked, not an error."""
    proxy, _ = rails
    proxy.cut_once.add(("DELETE", r"/status_pages/acme/services/api"))
    await sandbox_admin.clear_requests()
    assert await run(api, "delete_service", {"subdomain": "acme", "slug": "api"}) == {"deleted": True, "subdomain": "acme", "slug": "api"}
    assert [(r["method"], r["status"]) for r in await sandbox_admin.requests()] == [("DELETE", 204), ("DELETE", 404)]
    # A first attempt that finds nothing is still an error, naming the slugs that do exist.
    with pytest.raises(ToolError, match="has no service with slug 'api'. Its service slugs: \\(none\\)"):
        await run(api, "delete_service", {"subdomain": "acme", "slug": "api"})


# --- through the gateway and the `mcp` client --------------------------------------------------------------


async def test_a_403_on_one_page_is_a_tool_error_and_the_key_keeps_working(make_gateway, sandbox_admin):
    gateway = await make_gateway()
    async with mcp_client(gateway.mcp_url, "legacy") as client:
        for subdomain in ("acme", "other"):
            made = await client.call_tool("create_status_page", {"subdomain": subdomain, **PAGE})
            assert made.is_error is False
        await sandbox_admin.faults(error_rate=1.0, error_status=403, only=["* /status_pages/other"])
        assert await error_text(client, "list_services", {"subdomain": "other"}) == (
            "This API key cannot reach the services of status page 'other': StatusPal answered 403 forbidden (This "
            "API key is not allowed to do that). Other calls with this key still work; to reach it, use a key "
            "whose organization and permissions cover it. Call list_status_pages to see the pages this key can reach."
        )
        after = await client.call_tool("list_services", {"subdomain": "acme"})
        assert after.is_error is False, "the connection's credentials survived the 403"


async def test_a_404_without_the_record_envelope_names_the_route_and_check_api(make_gateway, rails):
    _, url = rails
    gateway = await make_gateway(
        statuspal={"base_url": f"{url}/api/v1", "endpoints": {"status_pages_get": "GET /pages/{subdomain}"}}
    )
    async with mcp_client(gateway.mcp_url, "legacy") as client:
        assert (await client.call_tool("create_status_page", {"subdomain": "acme", **PAGE})).is_error is False
        assert await error_text(client, "get_status_page", {"subdomain": "acme"}) == (
            "StatusPal answered 404 to GET /pages/acme without its record-not-found answer, so this route may not "
            "exist on this StatusPal; it does not mean that a status page or record is missing. Raw answer: "
            "'{\"status\": 404, \"error\": \"Not Found\"}'. The operator should run `statuspal-mcp check-api` and "
            "correct the route under [statuspal.endpoints] in config.toml."
        )
        gone = await client.call_tool("update_status_page", {"subdomain": "nope", "name": "X"})
        assert gone.content[0].text.startswith("StatusPal found no status page with subdomain 'nope'"), "the envelope still means a missing page"


async def test_a_dropped_field_reaches_the_model_as_an_error_result(make_gateway, rails):
    proxy, url = rails
    proxy.drop("POST", r"/status_pages/acme/containers", "slug")
    gateway = await make_gateway(statuspal={"base_url": f"{url}/api/v1"})
    async with mcp_client(gateway.mcp_url, "legacy") as client:
        assert (await client.call_tool("create_status_page", {"subdomain": "acme", **PAGE})).is_error is False
        text = await error_text(client, "create_container", {"subdomain": "acme", "name": "EU West", "slug": "eu"})
        assert text.splitlines()[2] == 'Not applied: slug (asked "eu", StatusPal has "eu-west").'
