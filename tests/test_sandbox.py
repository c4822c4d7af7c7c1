"""The sandbox behaves like StatusPal Next: envelopes, pagination, errors, derived statuses, webhooks,
key isolation, faults, the request log and persistence, on a real server and a real HTTP client."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import pytest

from gateway.statuspal.endpoints import DEFAULT_ENDPOINTS, WEBHOOK_EVENTS, EndpointTable
from gateway.statuspal.notice_wire import NoticeWire
from sandbox import create_sandbox_app, start_sandbox
from sandbox.resources import HANDLERS
from sandbox.settings import SandboxConfigError, SandboxSettings
from tests.conftest import DEMO_KEY
from tests.test_wire_mapping import ALT_NOTICES, ALT_ROUTES

NOT_FOUND = {"error": "not_found", "message": "The requested resource was not found"}
TYPEID = re.compile(r"^wbk_[0-7][0-9abcdefghjkmnpqrstvwxyz]{25}$")


class Api:
    """A thin JSON client for the sandbox: returns (status, parsed body or None)."""

    def __init__(self, http: aiohttp.ClientSession, url: str, key: str | None = DEMO_KEY) -> None:
        self.http, self.base, self.key = http, f"{url}/api/v1", key

    async def request(self, method: str, path: str, json: Any = None, **kw: Any) -> tuple[int, Any]:
        headers = {"Authorization": f"Bearer {self.key}"} if self.key else {}
        async with self.http.request(method, self.base + path, json=json, headers=headers, **kw) as r:
            text = await r.text()
            return r.status, (await r.json() if text else None)

    async def get(self, path: str, **kw: Any) -> tuple[int, Any]:
        return await self.request("GET", path, **kw)

    async def post(self, path: str, json: Any = None) -> tuple[int, Any]:
        return await self.request("POST", path, json)

    async def patch(self, path: str, json: Any) -> tuple[int, Any]:
        return await self.request("PATCH", path, json)

    async def delete(self, path: str) -> tuple[int, Any]:
        return await self.request("DELETE", path)

    async def ok(self, method: str, path: str, json: Any = None) -> Any:
        status, body = await self.request(method, path, json)
        assert status in (200, 201), (status, body)
        return body["data"]


def page_body(subdomain: str = "acme", **extra: Any) -> dict[str, Any]:
    return {"name": "Acme", "subdomain": subdomain, "timezone": "Europe/Berlin", "website_url": "https://acme.example", **extra}


def iso(delta: timedelta) -> str:
    return (datetime.now(UTC) + delta).strftime("%Y-%m-%dT%H:%M:%SZ")


@pytest.fixture
async def api(sandbox_url: str, sandbox_admin) -> Api:
    async with aiohttp.ClientSession() as http:
        yield Api(http, sandbox_url)


async def test_status_page_crud_envelopes_and_default_container(api: Api) -> None:
    status, body = await api.post("/status_pages", page_body(notification_settings={"slack_enabled": True}))
    assert status == 201
    page = body["data"]
    assert page["subdomain"] == "acme" and page["current_status"] == "operational"
    assert page["require_authentication"] is False
    assert page["notification_settings"] == {"email_enabled": True, "slack_enabled": True, "rss_feed_enabled": True}
    assert page["created_at"].endswith("Z") and datetime.fromisoformat(page["created_at"].replace("Z", "+00:00"))

    containers = await api.ok("GET", "/status_pages/acme/containers")
    assert [(c["slug"], c["name"]) for c in containers] == [("default", "Default")]

    # PATCH changes only what it is given; explicit false is applied.
    updated = await api.ok("PATCH", "/status_pages/acme", {"name": "Acme Inc", "notification_settings": {"email_enabled": False}})
    assert updated["name"] == "Acme Inc" and updated["timezone"] == "Europe/Berlin"
    assert updated["notification_settings"] == {"email_enabled": False, "slack_enabled": True, "rss_feed_enabled": True}

    status, listing = await api.get("/status_pages")
    assert status == 200 and set(listing) == {"data", "meta"}
    assert listing["meta"] == {"current_page": 1, "per_page": 20, "total_count": 1, "total_pages": 1}

    async with api.http.delete(api.base + "/status_pages/acme", headers={"Authorization": f"Bearer {DEMO_KEY}"}) as r:
        assert r.status == 204 and await r.read() == b""
    assert await api.get("/status_pages/acme") == (404, NOT_FOUND)


async def test_validation_errors_list_every_bad_field(api: Api) -> None:
    status, body = await api.post("/status_pages", {"website_url": "ftp://x", "colour": "red"})
    assert status == 422
    assert body["error"] == "unprocessable_entity" and body["message"] == "Validation failed"
    assert body["details"]["name"] == ["can't be blank"]
    assert body["details"]["subdomain"] == ["can't be blank"]
    assert body["details"]["timezone"] == ["can't be blank"]
    assert body["details"]["website_url"] == ["must be an http or https URL"]
    assert body["details"]["colour"] == ["is not a permitted field"]

    # URLs the standard library cannot even split are a field error too, not a 500.
    for broken in ("http://[::1", "http://[not-an-address]/"):
        status, body = await api.post("/status_pages", page_body(website_url=broken))
        assert (status, body["details"]) == (422, {"website_url": ["must be an http or https URL"]}), broken
        status, body = await api.post("/outgoing_webhooks", {"url": broken.replace("http:", "https:"), "events": ["notice.created"]})
        assert (status, body["details"].get("url")) == (422, ["must be an https URL"]), broken

    await api.ok("POST", "/status_pages", page_body())
    status, body = await api.post("/status_pages", page_body(timezone="Mars/Olympus"))
    assert status == 422
    assert body["details"] == {
        "subdomain": ["has already been taken"],
        "timezone": ["is not a valid IANA time zone (e.g. Europe/Berlin)"],
    }

    async with api.http.post(api.base + "/status_pages", data=b"{nope", headers={"Authorization": f"Bearer {DEMO_KEY}"}) as r:
        assert r.status == 400 and (await r.json())["error"] == "bad_request"
    status, body = await api.post("/status_pages", [1, 2])
    assert status == 400 and body["message"] == "The request body must be a JSON object"


async def test_pagination_meta_bounds_and_bad_values(api: Api) -> None:
    await api.ok("POST", "/status_pages", page_body())
    for n in range(45):
        await api.ok("POST", "/status_pages/acme/services", {"name": f"Service {n:02d}"})

    status, first = await api.get("/status_pages/acme/services")
    assert status == 200 and len(first["data"]) == 20
    assert first["meta"] == {"current_page": 1, "per_page": 20, "total_count": 45, "total_pages": 3}
    _, last = await api.get("/status_pages/acme/services", params={"page": "3"})
    assert [s["name"] for s in last["data"]] == [f"Service {n}" for n in range(40, 45)]
    _, beyond = await api.get("/status_pages/acme/services", params={"page": "4"})
    assert beyond["data"] == [] and beyond["meta"]["total_pages"] == 3
    _, everything = await api.get("/status_pages/acme/services", params={"per_page": "100"})
    assert len(everything["data"]) == 45 and everything["meta"]["total_pages"] == 1

    for params, field, message in [
        ({"per_page": "101"}, "per_page", "must be less than or equal to 100"),
        ({"page": "0"}, "page", "must be an integer greater than or equal to 1"),
        ({"per_page": "lots"}, "per_page", "must be an integer greater than or equal to 1"),
    ]:
        status, body = await api.get("/status_pages/acme/services", params=params)
        assert status == 422 and body["details"] == {field: [message]}, params


async def test_unauthorized_for_missing_unknown_and_revoked_keys(api: Api, sandbox_admin) -> None:
    for key in (None, "sk_nobody"):
        status, body = await Api(api.http, sandbox_admin.url, key).get("/status_pages")
        assert status == 401 and body["error"] == "unauthorized", key
    async with api.http.get(api.base + "/status_pages", headers={"Authorization": f"Basic {DEMO_KEY}"}) as r:
        assert r.status == 401

    await sandbox_admin.add_key("sk_revoke_me")
    other = Api(api.http, sandbox_admin.url, "sk_revoke_me")
    assert (await other.get("/status_pages"))[0] == 200
    await sandbox_admin.add_key("sk_revoke_me", revoked=True)
    status, body = await other.get("/status_pages")
    assert status == 401 and body == {"error": "unauthorized", "message": "This API key has been revoked"}


async def test_each_key_is_its_own_organization(api: Api, sandbox_admin) -> None:
    await sandbox_admin.add_key("sk_other_org")
    other = Api(api.http, sandbox_admin.url, "sk_other_org")
    await api.ok("POST", "/status_pages", page_body())
    await api.ok("POST", "/outgoing_webhooks", {"name": "w", "url": "https://hooks.example/a", "events": ["notice.created"]})

    assert (await other.get("/status_pages"))[1]["data"] == []
    assert (await other.get("/outgoing_webhooks"))[1]["data"] == []
    assert await other.get("/status_pages/acme") == (404, NOT_FOUND)
    assert await other.get("/status_pages/acme/services") == (404, NOT_FOUND)
    # Subdomains are host names: taken across all of StatusPal, even by another organization.
    status, body = await other.post("/status_pages", page_body())
    assert status == 422 and body["details"] == {"subdomain": ["has already been taken"]}


async def test_services_and_containers_grid_slugs_and_renames(api: Api) -> None:
    await api.ok("POST", "/status_pages", page_body())
    web = await api.ok("POST", "/status_pages/acme/services", {"name": "Web Console", "description": "UI"})
    again = await api.ok("POST", "/status_pages/acme/services", {"name": "Web  console!"})
    assert (web["slug"], again["slug"]) == ("web-console", "web-console-2")
    assert (web["order"], again["order"]) == (1, 2)
    assert web["status"] == "ok" and web["container_statuses"] == [{"container_slug": "default", "status": "ok"}]

    eu = await api.ok("POST", "/status_pages/acme/containers", {"name": "EU Region"})
    assert eu["slug"] == "eu-region"
    assert [s["slug"] for s in eu["services"]] == ["web-console", "web-console-2"]  # attached to every service
    service = await api.ok("GET", "/status_pages/acme/services/web-console")
    assert [c["container_slug"] for c in service["container_statuses"]] == ["default", "eu-region"]

    status, body = await api.post("/status_pages/acme/services", {"name": "X", "slug": "web-console"})
    assert status == 422 and body["details"] == {"slug": ["has already been taken"]}

    renamed = await api.ok("PATCH", "/status_pages/acme/services/web-console", {"slug": "console"})
    assert renamed["slug"] == "console" and renamed["description"] == "UI"  # untouched fields stay
    assert await api.get("/status_pages/acme/services/web-console") == (404, NOT_FOUND)
    await api.ok("PATCH", "/status_pages/acme/containers/eu-region", {"slug": "eu", "name": "EU"})
    assert (await api.ok("GET", "/status_pages/acme/containers/eu"))["name"] == "EU"

    seeded = await api.ok(
        "POST", "/status_pages/acme/services", {"name": "Legacy", "container_statuses": [{"container_slug": "eu", "status": "minor"}]}
    )
    assert seeded["status"] == "minor"
    assert (await api.ok("GET", "/status_pages/acme"))["current_status"] == "degraded"

    assert (await api.delete("/status_pages/acme/containers/eu"))[0] == 204
    status, body = await api.delete("/status_pages/acme/containers/default")
    assert status == 422 and "at least one container" in body["details"]["base"][0]


async def _story_page(api: Api) -> None:
    await api.ok("POST", "/status_pages", page_body())
    for name in ("EU", "US"):
        await api.ok("POST", "/status_pages/acme/containers", {"name": name})
    for name in ("API", "Web"):
        await api.ok("POST", "/status_pages/acme/services", {"name": name})


async def _statuses(api: Api) -> tuple[str, dict[str, str], dict[str, dict[str, str]]]:
    page = await api.ok("GET", "/status_pages/acme")
    services = await api.ok("GET", "/status_pages/acme/services")
    return (
        page["current_status"],
        {s["slug"]: s["status"] for s in services},
        {s["slug"]: {c["container_slug"]: c["status"] for c in s["container_statuses"]} for s in services},
    )


async def test_incidents_drive_service_and_page_status(api: Api) -> None:
    await _story_page(api)
    major = await api.ok(
        "POST",
        "/status_pages/acme/notices",
        {"title": "API down in EU", "notice_type": "incident", "severity": "major", "message": "Investigating",
         "affected": [{"service_slug": "api", "container_slugs": ["eu"]}], "notify": True},
    )
    assert major["state"] == "open" and major["updates"][0]["message"] == "Investigating"
    assert major["updates"][0]["notified"] is True
    page, services, cells = await _statuses(api)
    assert (page, services) == ("unavailable", {"api": "major", "web": "ok"})
    assert cells["api"] == {"default": "ok", "eu": "major", "us": "ok"}
    eu = await api.ok("GET", "/status_pages/acme/containers/eu")
    assert {s["slug"]: s["status"] for s in eu["services"]} == {"api": "major", "web": "ok"}

    minor = await api.ok(
        "POST",
        "/status_pages/acme/notices",
        {"title": "Web slow", "notice_type": "incident", "severity": "minor", "message": "Slow",
         "affected": [{"service_slug": "web"}], "notify": False},
    )
    assert minor["affected"] == [{"service_slug": "web", "container_slugs": ["default", "eu", "us"]}]

    updated = await api.ok("POST", f"/status_pages/acme/notices/{major['id']}/updates", {"message": "Fix deployed", "notify": False})
    assert [u["message"] for u in updated["updates"]] == ["Investigating", "Fix deployed"]

    resolved = await api.ok("POST", f"/status_pages/acme/notices/{major['id']}/resolve", {"message": "All good", "notify": True})
    assert resolved["state"] == "resolved" and resolved["resolved_at"] and resolved["updates"][-1]["message"] == "All good"
    assert (await _statuses(api))[:2] == ("degraded", {"api": "ok", "web": "minor"})

    await api.ok("POST", f"/status_pages/acme/notices/{minor['id']}/resolve", {"notify": False})
    assert (await _statuses(api))[:2] == ("operational", {"api": "ok", "web": "ok"})

    status, body = await api.post(f"/status_pages/acme/notices/{minor['id']}/resolve", {"notify": False})
    assert status == 422 and body["details"] == {"state": ["is already resolved"]}


async def test_maintenance_window_states_and_close(api: Api) -> None:
    await _story_page(api)
    running = await api.ok(
        "POST",
        "/status_pages/acme/notices",
        {"title": "DB upgrade", "notice_type": "maintenance", "starts_at": iso(-timedelta(hours=1)),
         "ends_at": iso(timedelta(hours=1)), "message": "Upgrading", "affected": [{"service_slug": "api"}], "notify": False},
    )
    later = await api.ok(
        "POST",
        "/status_pages/acme/notices",
        {"title": "Sunday work", "notice_type": "maintenance", "starts_at": "2099-01-04T02:00:00+00:00",
         "ends_at": "2099-01-04T04:00:00Z", "message": "Planned", "affected": [{"service_slug": "web"}], "notify": True},
    )
    assert (running["state"], later["state"]) == ("in_progress", "scheduled")
    assert later["starts_at"] == "2099-01-04T02:00:00Z" and later["severity"] is None
    # Maintenance alone keeps the page operational (planned work, not an outage).
    assert (await _statuses(api))[:2] == ("operational", {"api": "maintenance", "web": "ok"})

    notices = await api.ok("GET", "/status_pages/acme/notices")
    assert [n["id"] for n in notices] == [later["id"], running["id"]]  # newest first
    only = await api.ok("GET", "/status_pages/acme/notices?state=scheduled")
    assert [n["id"] for n in only] == [later["id"]]

    closed = await api.ok("POST", f"/status_pages/acme/notices/{running['id']}/close", {"notify": False})
    assert closed["state"] == "completed" and closed["closed_at"]
    assert (await _statuses(api))[1] == {"api": "ok", "web": "ok"}

    status, body = await api.post(f"/status_pages/acme/notices/{later['id']}/resolve", {"notify": False})
    assert status == 422 and "cannot be resolved" in body["details"]["notice_type"][0]

    moved = await api.ok("PATCH", f"/status_pages/acme/notices/{later['id']}", {"ends_at": "2099-01-04T05:00:00Z"})
    assert moved["ends_at"] == "2099-01-04T05:00:00Z" and moved["title"] == "Sunday work"
    status, body = await api.patch(f"/status_pages/acme/notices/{later['id']}", {"ends_at": "2099-01-04T01:00:00Z"})
    assert status == 422 and body["details"] == {"ends_at": ["must be after starts_at"]}

    assert (await api.delete(f"/status_pages/acme/notices/{later['id']}"))[0] == 204
    assert await api.get(f"/status_pages/acme/notices/{later['id']}") == (404, NOT_FOUND)


async def test_notice_rules_are_enforced(api: Api) -> None:
    await _story_page(api)
    base = {"title": "T", "notice_type": "incident", "severity": "major", "message": "M"}
    cases = [
        ({**base}, {"notify": ["can't be blank"]}),
        ({**base, "notify": "yes"}, {"notify": ["must be true or false"]}),
        ({**base, "notify": True, "affected": [{"service_slug": "nope"}]}, {"affected": ["unknown service_slug 'nope'"]}),
        ({**base, "notify": True, "affected": [{"service_slug": "api", "container_slugs": ["mars"]}]},
         {"affected": ["unknown container_slug 'mars'"]}),
        ({**base, "severity": None, "notify": True}, {"severity": ["can't be blank for an incident (minor or major)"]}),
        ({**base, "notice_type": "outage", "notify": True}, {"notice_type": ["is not included in the list (incident, maintenance, info)"]}),
        ({"title": "W", "notice_type": "maintenance", "severity": "minor", "message": "M", "notify": False,
          "starts_at": "2099-01-01T04:00:00Z", "ends_at": "2099-01-01T02:00:00Z"},
         {"severity": ["must be blank for a maintenance notice"], "ends_at": ["must be after starts_at"]}),
        ({"title": "W", "notice_type": "maintenance", "message": "M", "notify": False, "starts_at": "2099-01-01T04:00:00"},
         {"starts_at": ["must include a time zone offset (e.g. Z for UTC)"], "ends_at": ["can't be blank for maintenance"]}),
    ]
    for body, details in cases:
        status, answer = await api.post("/status_pages/acme/notices", body)
        assert status == 422 and answer["details"] == details, body

    incident = await api.ok("POST", "/status_pages/acme/notices", {**base, "notify": False})
    status, answer = await api.post(f"/status_pages/acme/notices/{incident['id']}/close", {"notify": False})
    assert status == 422 and "cannot be closed" in answer["details"]["notice_type"][0]
    status, answer = await api.post(f"/status_pages/acme/notices/{incident['id']}/updates", {"message": "x"})
    assert status == 422 and answer["details"] == {"notify": ["can't be blank"]}
    # notify is not an editable field of a notice: the table's body fields are enforced.
    status, answer = await api.patch(f"/status_pages/acme/notices/{incident['id']}", {"notify": True})
    assert status == 422 and answer["details"] == {"notify": ["is not a permitted field"]}


async def test_webhook_secret_is_shown_once_and_rotates(api: Api) -> None:
    await api.ok("POST", "/status_pages", page_body())
    created = await api.ok(
        "POST", "/outgoing_webhooks", {"name": "Ops", "url": "https://hooks.example/in", "events": list(WEBHOOK_EVENTS)}
    )
    assert TYPEID.match(created["id"]), created["id"]
    assert created["secret"].startswith("whs_") and len(created["secret"]) > 20
    assert created["enabled"] is True and created["all_status_pages"] is True
    assert created["last_triggered_at"] is None and created["last_attempted_at"] is None
    assert "status_page_subdomains" not in created

    path = f"/outgoing_webhooks/{created['id']}"
    assert "secret" not in await api.ok("GET", path)
    assert all("secret" not in w for w in await api.ok("GET", "/outgoing_webhooks"))
    scoped = await api.ok("PATCH", path, {"all_status_pages": False, "status_page_subdomains": ["acme"], "enabled": False})
    assert "secret" not in scoped
    assert (scoped["status_page_subdomains"], scoped["enabled"], scoped["name"]) == (["acme"], False, "Ops")

    rotated = await api.ok("POST", path + "/regenerate_secret")
    assert rotated["secret"].startswith("whs_") and rotated["secret"] != created["secret"]
    assert "secret" not in await api.ok("GET", path)

    # all_status_pages wins: the server clears an explicit scope.
    cleared = await api.ok("PATCH", path, {"all_status_pages": True, "status_page_subdomains": ["acme"]})
    assert cleared["all_status_pages"] is True and "status_page_subdomains" not in cleared

    status, body = await api.post(
        "/outgoing_webhooks",
        {"name": "x", "url": "http://hooks.example/in", "events": ["notice.exploded"], "all_status_pages": False,
         "status_page_subdomains": ["ghost"]},
    )
    assert status == 422
    assert body["details"]["url"] == ["must be an https URL"]
    assert body["details"]["events"][0].startswith("unknown event(s) notice.exploded")
    assert body["details"]["status_page_subdomains"] == ["unknown status page 'ghost'"]
    status, body = await api.post("/outgoing_webhooks", {"name": "x", "url": "https://h.example", "events": []})
    assert status == 422 and body["details"] == {"events": ["must list at least one event"]}

    assert (await api.delete(path))[0] == 204
    assert await api.post(path + "/regenerate_secret") == (404, NOT_FOUND)


async def test_every_table_endpoint_has_a_route(api: Api) -> None:
    """Drift guard: each endpoint answers from a real route (resource 404, never route 404)."""
    params = {"subdomain": "ghost", "slug": "ghost", "notice_id": "ghost", "webhook_id": "wbk_ghost"}
    for endpoint in EndpointTable():
        body = {} if endpoint.method in ("POST", "PATCH") else None
        status, answer = await api.request(endpoint.method, endpoint.render(params), body)
        assert not (status == 404 and answer["error"] == "route_not_found"), endpoint.name
        if endpoint.path_params:
            assert (status, answer) == (404, NOT_FOUND), endpoint.name
    status, answer = await api.get("/status_pages/ghost/regions")
    assert status == 404 and answer["error"] == "route_not_found"


def test_the_operation_registry_and_the_endpoint_table_name_the_same_endpoints() -> None:
    """An endpoint with no sandbox operation, or an operation no endpoint routes to, is a drift to fix."""
    endpoints = {e.name for e in DEFAULT_ENDPOINTS}
    assert not endpoints - set(HANDLERS), f"endpoints with no sandbox operation: {sorted(endpoints - set(HANDLERS))}"
    assert not set(HANDLERS) - endpoints, f"sandbox operations with no endpoint: {sorted(set(HANDLERS) - endpoints)}"


async def test_a_path_override_moves_the_sandbox_route() -> None:
    table = EndpointTable({"notices_resolve": "POST /status_pages/{subdomain}/notices/{notice_id}/actions/resolve"})
    runner, url = await start_sandbox(SandboxSettings(port=0), table)
    try:
        async with aiohttp.ClientSession() as http:
            api = Api(http, url)
            await _story_page(api)
            notice = await api.ok(
                "POST", "/status_pages/acme/notices",
                {"title": "T", "notice_type": "incident", "severity": "minor", "message": "M", "notify": False},
            )
            old = await api.post(f"/status_pages/acme/notices/{notice['id']}/resolve", {"notify": False})
            assert old[0] == 404 and old[1]["error"] == "route_not_found"
            moved = await api.ok("POST", f"/status_pages/acme/notices/{notice['id']}/actions/resolve", {"notify": False})
            assert moved["state"] == "resolved"
    finally:
        await runner.cleanup()


async def test_faults_admin_and_injection(api: Api, sandbox_admin) -> None:
    async with api.http.get(f"{sandbox_admin.url}/_sandbox/faults") as r:
        off = (await r.json())["data"]
    assert off["error_rate"] == off["drop_rate"] == off["rate_limit_rate"] == 0 and off["latency_ms"] == 0

    await api.ok("POST", "/status_pages", page_body())
    await sandbox_admin.faults(error_rate=1.0, error_status=502, only=["status_pages_list"])
    assert (await api.get("/status_pages"))[0] == 502
    assert (await api.get("/status_pages/acme"))[0] == 200  # not targeted

    await sandbox_admin.faults(rate_limit_rate=1.0, retry_after_seconds=7, only=["GET /status_pages/acme"])
    async with api.http.get(api.base + "/status_pages/acme", headers={"Authorization": f"Bearer {DEMO_KEY}"}) as r:
        assert r.status == 429 and r.headers["Retry-After"] == "7"
        assert (await r.json())["error"] == "too_many_requests"

    await sandbox_admin.faults(drop_rate=1.0, only=["POST /status_pages"])
    with pytest.raises(aiohttp.ServerDisconnectedError):
        await api.post("/status_pages", page_body("dropped"))
    await sandbox_admin.faults()
    assert await api.get("/status_pages/dropped") == (404, NOT_FOUND)  # a faulted request changes nothing

    for bad in ({"error_rate": 2}, {"error_status": 404}, {"only": ["no_such_endpoint"]}, {"jitter": 1}):
        async with api.http.post(f"{sandbox_admin.url}/_sandbox/faults", json=bad) as r:
            assert r.status == 400, bad
            assert (await r.json())["error"] == "bad_request"


async def test_config_faults_apply_from_start_and_survive_reset() -> None:
    runner, url = await start_sandbox(SandboxSettings(port=0, error_rate=1.0, error_status=500), EndpointTable())
    try:
        async with aiohttp.ClientSession() as http:
            api = Api(http, url)
            assert (await api.get("/status_pages"))[0] == 500
            async with http.post(f"{url}/_sandbox/faults", json={}) as r:
                assert r.status == 200
            assert (await api.get("/status_pages"))[0] == 200
            async with http.post(f"{url}/_sandbox/reset") as r:
                assert r.status == 204
            assert (await api.get("/status_pages"))[0] == 500  # reset goes back to the configured faults
    finally:
        await runner.cleanup()


async def test_bad_start_up_settings_are_one_line_config_errors(tmp_path) -> None:
    with pytest.raises(SandboxConfigError, match=r"bad fault setting in \[sandbox\]: error_status must be 403 or a 5xx status"):
        create_sandbox_app(SandboxSettings(error_status=404), EndpointTable())
    broken = tmp_path / "state.json"
    broken.write_text("{not json")
    with pytest.raises(SandboxConfigError, match="sandbox.persist_path .* cannot be loaded"):
        create_sandbox_app(SandboxSettings(persist_path=str(broken)), EndpointTable())


async def test_seeded_fault_rates_repeat_exactly(api: Api, sandbox_admin) -> None:
    runs = []
    for _ in range(2):
        await sandbox_admin.faults(error_rate=0.5, seed=7)
        runs.append([(await api.get("/status_pages"))[0] for _ in range(12)])
    assert runs[0] == runs[1] and {200, 503} <= set(runs[0])


async def test_request_log_records_calls_but_never_the_key(api: Api, sandbox_admin) -> None:
    await sandbox_admin.clear_requests()
    await api.get("/status_pages", params={"per_page": "5"})
    await api.post("/status_pages", page_body())
    entries = await sandbox_admin.requests()
    assert [(e["method"], e["path"], e["query"], e["status"], e["endpoint"]) for e in entries] == [
        ("GET", "/api/v1/status_pages", {"per_page": "5"}, 200, "status_pages_list"),
        ("POST", "/api/v1/status_pages", {}, 201, "status_pages_create"),
    ]
    assert entries[0]["time"] <= entries[1]["time"]
    async with api.http.get(f"{sandbox_admin.url}/_sandbox/requests") as r:
        assert DEMO_KEY not in await r.text()
    await sandbox_admin.clear_requests()
    assert await sandbox_admin.requests() == []


async def test_reset_wipes_data_and_added_keys(api: Api, sandbox_admin) -> None:
    await sandbox_admin.add_key("sk_temporary")
    await api.ok("POST", "/status_pages", page_body())
    await sandbox_admin.reset()
    assert (await api.get("/status_pages"))[1]["data"] == []
    assert (await Api(api.http, sandbox_admin.url, "sk_temporary").get("/status_pages"))[0] == 401


async def test_persistence_round_trip(tmp_path) -> None:
    path = tmp_path / "state" / "sandbox.json"
    settings = SandboxSettings(port=0, persist_path=str(path))
    runner, url = await start_sandbox(settings, EndpointTable())
    async with aiohttp.ClientSession() as http:
        try:
            api = Api(http, url)
            await _story_page(api)
            incident = await api.ok(
                "POST", "/status_pages/acme/notices",
                {"title": "T", "notice_type": "incident", "severity": "major", "message": "M",
                 "affected": [{"service_slug": "api", "container_slugs": ["eu"]}], "notify": False},
            )
            hook = await api.ok("POST", "/outgoing_webhooks", {"name": "w", "url": "https://h.example", "events": ["notice.created"]})
            async with http.post(f"{url}/_sandbox/keys", json={"key": "sk_persisted_key"}) as r:
                assert r.status == 201
        finally:
            await runner.cleanup()

        text = path.read_text()
        assert DEMO_KEY not in text and "sk_persisted_key" not in text and hook["secret"] not in text

        runner, url = await start_sandbox(settings, EndpointTable())
        try:
            api = Api(http, url)
            assert (await api.ok("GET", f"/status_pages/acme/notices/{incident['id']}"))["title"] == "T"
            assert (await _statuses(api))[:2] == ("unavailable", {"api": "major", "web": "ok"})
            assert (await api.ok("GET", f"/outgoing_webhooks/{hook['id']}"))["name"] == "w"
            assert (await Api(http, url, "sk_persisted_key").get("/status_pages"))[0] == 200
        finally:
            await runner.cleanup()


# ---------------------------------------------------------------- strictness and notice shapes


async def _own_sandbox(settings: SandboxSettings, table: EndpointTable):
    runner, url = await start_sandbox(settings, table)
    http = aiohttp.ClientSession()
    return runner, http, Api(http, url)


async def test_lenient_drops_unknown_keys_and_answers_unknown_routes_like_rails() -> None:
    runner, http, api = await _own_sandbox(SandboxSettings(port=0, strictness="lenient"), EndpointTable())
    try:
        await _story_page(api)
        # A misnamed field is dropped without a word: 201, and the notice simply lacks it.
        notice = await api.ok("POST", "/status_pages/acme/notices", {
            "title": "T", "notice_type": "incident", "severity": "minor", "body": "Looking.",
            "affected_services": {"api": ["eu"]}, "notify_subscribers": True})
        assert (notice["affected"], notice["updates"], notice["state"]) == ([], [], "open")
        page = await api.ok("PATCH", "/status_pages/acme", {"colour": "red", "name": "Acme 2"})
        assert page["name"] == "Acme 2" and "colour" not in page
        rails_404 = {"status": 404, "error": "Not Found"}
        assert await api.get("/status_pages/acme/regions") == (404, rails_404)
        assert await api.request("PUT", "/status_pages/acme") == (404, rails_404)  # a wrong method too
        # A missing record keeps StatusPal's own envelope, so the two stay distinguishable.
        assert await api.get("/status_pages/ghost") == (404, NOT_FOUND)
    finally:
        await http.close()
        await runner.cleanup()


async def test_strict_refuses_the_same_misnamed_fields_loudly() -> None:
    runner, http, api = await _own_sandbox(SandboxSettings(port=0), EndpointTable())
    try:
        await _story_page(api)
        status, answer = await api.post("/status_pages/acme/notices", {
            "title": "T", "notice_type": "incident", "severity": "minor", "body": "Looking.", "notify": True})
        assert status == 422 and answer["details"] == {"body": ["is not a permitted field"], "message": ["can't be blank"]}
        assert (await api.request("PUT", "/status_pages/acme"))[1]["error"] == "method_not_allowed"
    finally:
        await http.close()
        await runner.cleanup()


async def test_the_sandbox_serves_notices_in_the_mapped_shape() -> None:
    runner, http, api = await _own_sandbox(SandboxSettings(port=0), EndpointTable(ALT_ROUTES, NoticeWire(**ALT_NOTICES)))
    try:
        await _story_page(api)
        body = {"title": "T", "notice_type": "incident", "severity": "major", "description": "Looking.",
                "affected_services": {"api": ["eu"], "web": []}, "notify_subscribers": False}
        status, answer = await api.post("/notices", body)
        assert status == 422 and answer["details"] == {"status_page_subdomain": ["can't be blank"]}
        notice = await api.ok("POST", "/notices", {**body, "status_page_subdomain": "acme"})
        assert notice["affected_services"] == {"api": ["eu"], "web": ["default", "eu", "us"]}
        assert [(u["description"], u["subscribers_notified"]) for u in notice["notice_updates"]] == [("Looking.", False)]
        # Org-scoped: the page comes from the query, or from the notice itself.
        listed = await api.ok("GET", "/notices?status_page_subdomain=acme&state=open")
        assert [n["id"] for n in listed] == [notice["id"]]
        assert (await api.ok("GET", f"/notices/{notice['id']}"))["id"] == notice["id"]
        # Resolved by PATCHing ends_at: the action routes are not served at all.
        assert (await api.post(f"/status_pages/acme/notices/{notice['id']}/resolve", {}))[1]["error"] == "route_not_found"
        ended = await api.ok("PATCH", f"/notices/{notice['id']}", {"ends_at": iso(timedelta(0)), "status_page_subdomain": "acme"})
        assert ended["state"] == "resolved"
        assert (await _statuses(api))[0] == "operational"
    finally:
        await http.close()
        await runner.cleanup()
