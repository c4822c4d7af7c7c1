"""Every tool result fits a client's window: at most 20 KB of text, every tool called at its schema's limits.

Through a real gateway and the reference `mcp` client, on a page as large as setup_status_page can make (50
services in 51 regions, every name and URL at its maximum length), with notices whose every text is at its
maximum and that affect every service in every region. A list cut to fit must be resumable to the last record
by its cursor, with nothing repeated or lost.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from mcp.client.client import Client

from gateway.statuspal.endpoints import MAX_PER_PAGE, WEBHOOK_EVENTS
from gateway.tools.fit import RESULT_LIMIT
from tests.mcp_wire import mcp_client
from tests.toolkit import CATALOGUE

SUBDOMAIN = "s" * 62 + "1"  # 63 characters, the most a subdomain may have
NAME = 255
TEXT = 10_000
URL = "https://" + "u" * (2048 - len("https://"))


def long_name(label: str) -> str:
    """A distinct name of the maximum length."""
    return (label + " " + "n" * NAME)[:NAME]


class Sized:
    """Calls tools and checks that every answer's text fits; remembers which tools were called."""

    def __init__(self, client: Client) -> None:
        self.client = client
        self.called: set[str] = set()
        self.largest: dict[str, int] = {}

    async def __call__(self, name: str, arguments: dict[str, Any]) -> dict[str, Any]:
        result = await self.client.call_tool(name, arguments)
        text = result.content[0].text
        size = len(text.encode())
        self.called.add(name)
        self.largest[name] = max(self.largest.get(name, 0), size)
        assert size <= RESULT_LIMIT, f"{name} answered {size} bytes of text, over {RESULT_LIMIT}"
        assert not result.is_error, f"{name} failed: {text[:500]}"
        assert json.loads(text) == result.structured_content
        return result.structured_content

    async def every(self, name: str, arguments: dict[str, Any], key: str) -> list[Any]:
        """Every record of a list, following next_cursor; checks each cut says how many remain."""
        answer = await self(name, arguments)
        records = list(answer["items"])
        while "next_cursor" in answer:
            assert answer["remaining"] > 0 and str(answer["remaining"]) in answer["cut"]
            answer = await self(name, {**arguments, "cursor": answer["next_cursor"]})
            records += answer["items"]
        keys = [r[key] for r in records]
        assert len(keys) == len(set(keys)), f"{name}: a record came twice across cursors"
        return records


@pytest.mark.parametrize("mode", ["legacy"])
async def test_every_tool_at_its_schemas_limits_answers_within_20_kb(gateway, mode):
    async with mcp_client(gateway.mcp_url, mode) as client:
        call = Sized(client)
        services = [long_name(f"Service {n:02d}") for n in range(50)]
        regions = [long_name(f"Region {n:02d}") for n in range(50)]
        setup = await call(
            "setup_status_page",
            {"subdomain": SUBDOMAIN, "name": long_name("Page"), "timezone": "America/Argentina/ComodRivadavia",
             "website_url": URL, "services": services, "regions": regions},
        )
        # Too large in full: a summary with counts and every slug, and where the full records are.
        assert setup["complete"] is True and "50 regions" in setup["summary"] and "50 services" in setup["summary"]
        service_slugs = [s["slug"] for s in setup["created"]["services"]]
        region_slugs = [c["slug"] for c in setup["created"]["containers"]] + ["default"]
        assert len(service_slugs) == 50 and len(region_slugs) == 51

        page = {"subdomain": SUBDOMAIN}
        await call("get_status_page", page)
        await call("update_status_page", {**page, "name": long_name("Renamed page"), "website_url": URL})
        for n in range(3):
            await call("create_status_page", {"subdomain": f"p{n}-" + "x" * 59, "name": long_name(f"P{n}"),
                                              "timezone": "UTC", "website_url": URL})
        assert len(await call.every("list_status_pages", {"per_page": MAX_PER_PAGE}, "subdomain")) == 4
        assert len(await call.every("list_status_pages", {"all": True}, "subdomain")) == 4

        # 50 services of 51 regions each: a default page of 20 is already past 20 KB, so it is cut.
        first = await call("list_services", page)
        assert 0 < len(first["items"]) < 20 and first["remaining"] == 20 - len(first["items"])
        assert "next_cursor" in first["cut"] and first["total_count"] == 50
        listed = await call.every("list_services", page, "slug")
        assert len(listed) == 20
        every = await call.every("list_services", {**page, "all": True, "per_page": MAX_PER_PAGE}, "slug")
        assert sorted(s["slug"] for s in every) == sorted(service_slugs)
        assert len(await call.every("list_services", {**page, "all": True, "per_page": 7}, "slug")) == 50
        service = {**page, "slug": service_slugs[0]}
        await call("get_service", service)
        await call("create_service", {**page, "name": long_name("New service"), "description": "d" * 1000,
                                       "order": 1, "slug": "n" * 100})
        await call("update_service", {**service, "name": long_name("Renamed service"), "description": "e" * 1000})
        await call("delete_service", {**page, "slug": "n" * 100})

        containers = await call.every("list_containers", {**page, "all": True}, "slug")
        assert len(containers) == 51
        assert len(await call.every("list_containers", {**page, "per_page": MAX_PER_PAGE}, "slug")) == 51
        region = {**page, "slug": region_slugs[0]}
        await call("get_container", region)
        await call("create_container", {**page, "name": long_name("New region"), "slug": "r" * 100})
        await call("update_container", {**page, "slug": "r" * 100, "name": long_name("Renamed region")})
        await call("delete_container", {**page, "slug": "r" * 100})

        everywhere = [{"service_slug": s, "container_slugs": region_slugs} for s in service_slugs]
        incident = await call("create_incident", {**page, "title": long_name("Incident"), "severity": "major",
                                                  "message": "m" * TEXT, "affected": everywhere, "notify": False})
        notice = {**page, "notice_id": incident["id"]}
        for n in range(3):
            await call("post_notice_update", {**notice, "message": str(n) * TEXT, "notify": False})
        got = await call("get_notice", notice)
        # A record too large on its own says what it leaves out; a timeline loses its oldest entries first.
        assert got["updates"][-1]["message"] == "2" * TEXT and got["omitted"] and "StatusPal keeps them" in got["cut"]
        await call("update_notice", {**notice, "title": long_name("Edited incident"), "severity": "minor"})
        await call("resolve_incident", {**notice, "message": "r" * TEXT, "notify": False})

        start = datetime.now(UTC).replace(microsecond=0) + timedelta(days=1)
        window = {"starts_at": start.isoformat(), "ends_at": (start + timedelta(hours=2)).isoformat()}
        maintenance = await call("schedule_maintenance", {**page, "title": long_name("Maintenance"), **window,
                                                          "message": "w" * TEXT, "affected": everywhere, "notify": False})
        await call("close_maintenance", {**page, "notice_id": maintenance["id"], "message": "c" * TEXT, "notify": False})
        info = await call("create_info_notice", {**page, "title": long_name("Info"), "message": "i" * TEXT,
                                                 "affected": everywhere, "notify": False})
        notices = await call.every("list_notices", {**page, "per_page": MAX_PER_PAGE}, "id")
        assert len(notices) == 3
        assert len(await call.every("list_notices", {**page, "all": True, "notice_type": "incident"}, "id")) == 1
        await call("delete_notice", {**page, "notice_id": info["id"]})

        hooks = []
        for n in range(12):
            hooks.append(await call("create_webhook", {"name": long_name(f"Hook {n}"), "url": URL,
                                                       "events": list(WEBHOOK_EVENTS), "enabled": True,
                                                       "status_page_subdomains": [SUBDOMAIN]}))
        assert len(await call.every("list_webhooks", {"per_page": MAX_PER_PAGE}, "id")) == 12
        assert len(await call.every("list_webhooks", {"all": True}, "id")) == 12
        hook = {"webhook_id": hooks[0]["id"]}
        await call("get_webhook", hook)
        await call("update_webhook", {**hook, "name": long_name("Renamed hook"), "url": URL})
        await call("rotate_webhook_secret", hook)
        await call("delete_webhook", hook)

        await call("search_docs", {"query": "status page service region notice webhook key " * 20, "limit": 20})
        await call("delete_status_page", page)

        assert call.called == {tool.name for tool in CATALOGUE.tools}, "every tool is called at its limits"
