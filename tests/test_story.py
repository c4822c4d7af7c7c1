"""The whole user story, through the reference `mcp` client, against a real gateway and sandbox.

It runs once per protocol era (the handshake era and 2026-07-28) on the same endpoint, against a strict
sandbox (422 for any unknown field) and a lenient one (drops unknown fields silently, as a Rails server most
likely does): set up a page with regions and services, live through a major incident, schedule maintenance,
manage a webhook's secret, and clean up. The client validates every `structuredContent` against the tool's
`outputSchema` itself, so a result that drifts from its declared shape fails here too.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, time, timedelta
from typing import Any

import pytest
from mcp.client.client import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client

from gateway.config import DEFAULT_CONFIG, load_settings
from gateway.statuspal.endpoints import EndpointTable
from tests.conftest import DEMO_KEY, RunningServer, bound_socket, gateway_settings, serve_app, shared_arguments

SUBDOMAIN = "acme-story"


@asynccontextmanager
async def connect(mcp_url: str, mode: str) -> AsyncIterator[Client]:
    http = create_mcp_http_client(headers={"Authorization": f"Bearer {DEMO_KEY}"})
    async with http, Client(streamable_http_client(mcp_url, http_client=http), mode=mode) as client:
        yield client


async def call(client: Client, name: str, arguments: dict[str, Any], progress: list | None = None) -> dict[str, Any]:
    """A successful tool call's structured result (the client has already checked it against outputSchema)."""

    async def on_progress(done: float, total: float | None, message: str | None) -> None:
        progress.append((done, total, message))

    result = await client.call_tool(name, arguments, progress_callback=on_progress if progress is not None else None)
    assert not result.is_error, f"{name} failed: {result.content[0].text}"
    # The text block carries the same JSON for clients that ignore structuredContent.
    assert json.loads(result.content[0].text) == result.structured_content
    return result.structured_content


async def fail(client: Client, name: str, arguments: dict[str, Any]) -> str:
    """The text of a tool call that must come back as an isError result."""
    result = await client.call_tool(name, arguments)
    assert result.is_error, f"{name} unexpectedly succeeded: {result.structured_content}"
    return result.content[0].text


def next_sunday(now: datetime) -> datetime:
    """02:00 UTC on the next Sunday strictly after today."""
    days = 6 - now.weekday() or 7
    return datetime.combine(now.date() + timedelta(days=days), time(2, 0), tzinfo=UTC)


@asynccontextmanager
async def stack(index_dir: Any, strictness: str = "strict", sandbox_wire: Any = None, gateway_wire: Any = None) -> AsyncIterator[RunningServer]:
    """A fresh sandbox and a gateway in front of it; each side with its own `[statuspal]` wire settings
    (`{"endpoints": {...}, "notices": {...}}`), so a test can make them disagree."""
    from gateway.app import create_app
    from sandbox.app import create_sandbox_app

    upstream = load_settings(
        DEFAULT_CONFIG, env={}, overrides={"statuspal": sandbox_wire or {}, "sandbox": {"strictness": strictness}}
    )
    sandbox = create_sandbox_app(upstream.sandbox, EndpointTable.from_settings(upstream.statuspal))
    async with serve_app(sandbox, bound_socket()) as sandbox_url:
        sock = bound_socket()
        settings = gateway_settings(
            sock.getsockname()[1], sandbox_url, statuspal=gateway_wire or {}, search={"index_dir": str(index_dir)}
        )
        app = create_app(settings, arguments=shared_arguments())
        async with serve_app(app, sock) as url:
            yield RunningServer(url=url, app=app, settings=settings)


@pytest.mark.parametrize("strictness", ["strict", "lenient"])
@pytest.mark.parametrize("mode", ["legacy", "2026-07-28"])
async def test_the_whole_story(docs_index_dir, mode: str, strictness: str):
    async with stack(docs_index_dir, strictness) as gateway:
        await the_story(gateway.mcp_url, mode)


async def the_story(mcp_url: str, mode: str = "2026-07-28") -> None:
    async with connect(mcp_url, mode) as client:
        listed = {tool.name for tool in (await client.list_tools()).tools}
        assert {"setup_status_page", "create_incident", "rotate_webhook_secret", "search_docs"} <= listed

        # "Configure a new status page with services: API, Web Console, Support Portal and regions: EU, US, Asia."
        steps: list[tuple[float, float | None, str | None]] = []
        setup = await call(
            client,
            "setup_status_page",
            {
                "name": "Acme Status",
                "subdomain": SUBDOMAIN,
                "timezone": "Europe/Berlin",
                "website_url": "https://acme.example",
                "services": ["API", "Web Console", "Support Portal"],
                "regions": ["EU", "US", "Asia"],
            },
            progress=steps,
        )
        assert setup["complete"] is True and setup["not_attempted"] == []
        region = {c["name"]: c["slug"] for c in setup["created"]["containers"]}
        service = {s["name"]: s["slug"] for s in setup["created"]["services"]}
        assert list(region) == ["EU", "US", "Asia"]
        assert list(service) == ["API", "Web Console", "Support Portal"]
        assert [done for done, _, _ in steps] == [1, 2, 3, 4, 5, 6, 7] and steps[-1][1] == 7
        containers = await call(client, "list_containers", {"subdomain": SUBDOMAIN})
        assert {c["slug"] for c in containers["items"]} == {"default", *region.values()}
        for container in containers["items"]:
            assert {s["slug"] for s in container["services"]} == set(service.values()), "the full grid"

        # "Open an incident: elevated error rates on the API in the EU." Whether subscribers hear of it is
        # the user's call: without notify the call is refused, and nothing is published.
        opening = {
            "subdomain": SUBDOMAIN,
            "title": "Elevated API error rates",
            "severity": "major",
            "message": "We are investigating increased error rates on the API in the EU.",
            "affected": [{"service_slug": service["API"], "container_slugs": [region["EU"]]}],
        }
        assert "notify" in await fail(client, "create_incident", opening)
        assert (await call(client, "list_notices", {"subdomain": SUBDOMAIN}))["items"] == []
        incident = await call(client, "create_incident", {**opening, "notify": True})
        notice_id = incident["id"]
        assert (incident["notice_type"], incident["severity"], incident["state"]) == ("incident", "major", "open")

        # "Post an update: the issue is identified, a fix is rolling out now."
        updated = await call(
            client,
            "post_notice_update",
            {"subdomain": SUBDOMAIN, "notice_id": notice_id, "message": "Identified: a fix is rolling out.", "notify": False},
        )
        assert [u["message"] for u in updated["updates"]][-1] == "Identified: a fix is rolling out."

        api = await call(client, "get_service", {"subdomain": SUBDOMAIN, "slug": service["API"]})
        assert api["status"] == "major"
        by_region = {c["container_slug"]: c["status"] for c in api["container_statuses"]}
        assert by_region[region["EU"]] == "major" and by_region[region["US"]] == "ok"
        console = await call(client, "get_service", {"subdomain": SUBDOMAIN, "slug": service["Web Console"]})
        assert console["status"] == "ok"
        page = await call(client, "get_status_page", {"subdomain": SUBDOMAIN})
        assert page["current_status"] == "unavailable"
        open_incidents = await call(client, "list_notices", {"subdomain": SUBDOMAIN, "state": "open"})
        assert [n["id"] for n in open_incidents["items"]] == [notice_id]

        # "Mark the incident as resolved."
        resolved = await call(
            client,
            "resolve_incident",
            {"subdomain": SUBDOMAIN, "notice_id": notice_id, "message": "Fixed.", "notify": True},
        )
        assert resolved["state"] == "resolved"
        api = await call(client, "get_service", {"subdomain": SUBDOMAIN, "slug": service["API"]})
        assert api["status"] == "ok"
        page = await call(client, "get_status_page", {"subdomain": SUBDOMAIN})
        assert page["current_status"] == "operational"

        # "Schedule maintenance on the Support Portal for this Sunday 02:00-04:00 UTC."
        starts = next_sunday(datetime.now(UTC))
        window = {"starts_at": starts.isoformat(), "ends_at": (starts + timedelta(hours=2)).isoformat()}
        mistake = await fail(
            client,
            "schedule_maintenance",
            {
                "subdomain": SUBDOMAIN,
                "title": "Support Portal upgrade",
                "starts_at": window["ends_at"],
                "ends_at": window["starts_at"],
                "message": "The portal will be upgraded.",
                "affected": [{"service_slug": service["Support Portal"]}],
                "notify": False,
            },
        )
        assert "ends_at" in mistake and "after starts_at" in mistake
        maintenance = await call(
            client,
            "schedule_maintenance",
            {
                "subdomain": SUBDOMAIN,
                "title": "Support Portal upgrade",
                **window,
                "message": "The portal will be upgraded; short interruptions are expected.",
                "affected": [{"service_slug": service["Support Portal"]}],
                "notify": False,
            },
        )
        assert (maintenance["notice_type"], maintenance["state"]) == ("maintenance", "scheduled")
        assert datetime.fromisoformat(maintenance["starts_at"]) == starts
        assert datetime.fromisoformat(maintenance["starts_at"]).weekday() == 6
        portal = await call(client, "get_service", {"subdomain": SUBDOMAIN, "slug": service["Support Portal"]})
        assert portal["status"] == "ok", "a window that has not started changes nothing"

        # "Create an outgoing webhook pointing at https://example.com/hooks/statuspal."
        hook = await call(
            client,
            "create_webhook",
            {
                "name": "Incident bridge",
                "url": "https://example.com/hooks/statuspal",
                "events": ["notice.created", "notice.update_posted"],
                "status_page_subdomains": [SUBDOMAIN],
            },
        )
        secret = hook["secret"]
        assert secret.startswith("whs_")
        assert (hook["all_status_pages"], hook["status_page_subdomains"]) == (False, [SUBDOMAIN])
        shown = await client.call_tool("get_webhook", {"webhook_id": hook["id"]})
        assert "secret" not in shown.structured_content
        assert secret not in shown.content[0].text
        rotated = await call(client, "rotate_webhook_secret", {"webhook_id": hook["id"]})
        assert rotated["secret"].startswith("whs_") and rotated["secret"] != secret
        assert await call(client, "delete_webhook", {"webhook_id": hook["id"]}) == {"deleted": True, "webhook_id": hook["id"]}
        gone = await fail(client, "get_webhook", {"webhook_id": hook["id"]})
        assert "no webhook" in gone and hook["id"] in gone

        # Clean up: the page goes, with everything on it.
        assert await call(client, "delete_status_page", {"subdomain": SUBDOMAIN}) == {"deleted": True, "subdomain": SUBDOMAIN}
        gone = await fail(client, "get_status_page", {"subdomain": SUBDOMAIN})
        assert "no status page" in gone and SUBDOMAIN in gone
        pages = await call(client, "list_status_pages", {"all": True})
        assert SUBDOMAIN not in {p["subdomain"] for p in pages["items"]}
