"""setup_status_page against the sandbox: the full grid on success, an exact account of a partial failure."""

from __future__ import annotations

import pytest

from gateway.statuspal.errors import UpstreamError
from tests.toolkit import PAGE, Progress, open_api, run

ARGS = {"subdomain": "acme", **PAGE, "services": ["API", "Web Console"], "regions": ["EU", "US"]}


@pytest.fixture
async def api(sandbox_url, sandbox_admin):
    async for api in open_api(sandbox_url):
        yield api


async def test_it_builds_the_page_with_every_service_in_every_region(api):
    progress = Progress()
    done = await run(api, "setup_status_page", ARGS, progress)
    assert done["complete"] is True and "failed" not in done and done["not_attempted"] == []
    assert [c["slug"] for c in done["created"]["containers"]] == ["eu", "us"]
    assert [s["slug"] for s in done["created"]["services"]] == ["api", "web-console"]
    for region in done["created"]["containers"]:  # as StatusPal holds it after setup, not as first created
        assert [s["slug"] for s in region["services"]] == ["api", "web-console"]
    assert "Region slugs: eu (EU), us (US), default. Service slugs: api (API), web-console (Web Console)." in done["summary"]
    assert [(step, total) for step, total, _ in progress.steps] == [(1, 5), (2, 5), (3, 5), (4, 5), (5, 5)]
    assert progress.steps[-1][2] == "Created service Web Console"
    services = await run(api, "list_services", {"subdomain": "acme"})
    for service in services["items"]:
        assert {c["container_slug"] for c in service["container_statuses"]} == {"default", "eu", "us"}


async def test_regions_are_optional(api):
    without_regions = {k: v for k, v in ARGS.items() if k != "regions"}
    done = await run(api, "setup_status_page", without_regions)
    assert done["complete"] is True and done["created"]["containers"] == []
    assert len(done["created"]["services"]) == 2


@pytest.mark.parametrize(
    ("failing", "created", "failed", "not_attempted"),
    [
        (
            "containers_create",
            ([], []),
            ("create_container", "EU"),
            [("create_container", "US"), ("create_service", "API"), ("create_service", "Web Console")],
        ),
        (
            "services_create",
            (["eu", "us"], []),
            ("create_service", "API"),
            [("create_service", "Web Console")],
        ),
    ],
)
async def test_a_failed_step_stops_and_reports_exactly_what_exists(api, sandbox_admin, failing, created, failed, not_attempted):
    await sandbox_admin.faults(error_rate=1.0, error_status=500, only=[failing])
    report = await run(api, "setup_status_page", ARGS)
    await sandbox_admin.faults()
    assert report["complete"] is False
    assert report["created"]["page"]["subdomain"] == "acme"
    assert ([c["slug"] for c in report["created"]["containers"]], [s["slug"] for s in report["created"]["services"]]) == created
    assert (report["failed"]["step"], report["failed"]["name"]) == failed
    assert "500" in report["failed"]["error"]
    assert [(s["step"], s["name"]) for s in report["not_attempted"]] == not_attempted
    assert report["summary"].startswith("Incomplete:") and "delete_status_page" in report["summary"]
    # The report matches StatusPal: the page and what it lists as created exist, nothing else does.
    containers = await run(api, "list_containers", {"subdomain": "acme"})
    assert [c["slug"] for c in containers["items"]] == ["default", *created[0]]
    assert (await run(api, "list_services", {"subdomain": "acme"}))["items"] == []


async def test_when_the_page_itself_fails_nothing_is_created_and_the_error_is_statuspals(api):
    await run(api, "create_status_page", {"subdomain": "acme", **PAGE})
    with pytest.raises(UpstreamError) as taken:
        await run(api, "setup_status_page", ARGS)
    assert taken.value.status == 422
    assert (await run(api, "list_services", {"subdomain": "acme"}))["items"] == []
