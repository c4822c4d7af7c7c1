"""Notice tools against the sandbox: what each intent sends, the statuses it drives, and the local checks."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from gateway.statuspal.errors import UpstreamError
from gateway.tools.base import ToolError
from tests.toolkit import make_page, open_api, run

AT = "acme"


@pytest.fixture
async def api(sandbox_url, sandbox_admin):
    async for api in open_api(sandbox_url):
        await make_page(api, AT, ("API", "Web Console"))
        await run(api, "create_container", {"subdomain": AT, "name": "EU"})
        yield api


def window(start_in: timedelta, hours: int = 2) -> dict[str, str]:
    starts = datetime.now(UTC).replace(microsecond=0) + start_in
    return {"starts_at": starts.isoformat(), "ends_at": (starts + timedelta(hours=hours)).isoformat()}


async def incident(api, severity: str = "major", **extra) -> dict:
    return await run(
        api,
        "create_incident",
        {
            "subdomain": AT,
            "title": "API errors",
            "severity": severity,
            "message": "Investigating.",
            "affected": [{"service_slug": "api", "container_slugs": ["eu"]}],
            "notify": False,
            **extra,
        },
    )


async def maintenance(api, **times) -> dict:
    return await run(
        api,
        "schedule_maintenance",
        {
            "subdomain": AT,
            "title": "Console upgrade",
            **times,
            "message": "Planned upgrade.",
            "affected": [{"service_slug": "web-console"}],
            "notify": True,
        },
    )


async def statuses(api) -> tuple[str, dict[str, str]]:
    page = await run(api, "get_status_page", {"subdomain": AT})
    services = await run(api, "list_services", {"subdomain": AT})
    return page["current_status"], {s["slug"]: s["status"] for s in services["items"]}


async def test_an_incident_is_sent_as_an_incident_notice_with_the_callers_notify(api):
    opened = await incident(api, notify=True)
    endpoint, body = api.sent[-1]
    assert endpoint == "notices_create"
    assert body == {
        "notice_type": "incident",
        "title": "API errors",
        "severity": "major",
        "message": "Investigating.",
        "affected": [{"service_slug": "api", "container_slugs": ["eu"]}],
        "notify": True,
    }
    assert opened["updates"][0]["message"] == "Investigating."


async def test_severity_drives_service_and_page_status_until_resolved(api):
    assert await statuses(api) == ("operational", {"api": "ok", "web-console": "ok"})
    opened = await incident(api, severity="minor")
    assert await statuses(api) == ("degraded", {"api": "minor", "web-console": "ok"})
    await run(api, "update_notice", {"subdomain": AT, "notice_id": opened["id"], "severity": "major"})
    assert await statuses(api) == ("unavailable", {"api": "major", "web-console": "ok"})
    resolved = await run(api, "resolve_incident", {"subdomain": AT, "notice_id": opened["id"], "notify": False})
    assert resolved["state"] == "resolved" and resolved["ends_at"]
    assert await statuses(api) == ("operational", {"api": "ok", "web-console": "ok"})


async def test_resolving_without_a_message_adds_no_timeline_entry_and_sends_no_message(api):
    opened = await incident(api)
    await run(api, "resolve_incident", {"subdomain": AT, "notice_id": opened["id"], "notify": True})
    assert api.sent[-1] == ("notices_resolve", {"notify": True})
    shown = await run(api, "get_notice", {"subdomain": AT, "notice_id": opened["id"]})
    assert [u["message"] for u in shown["updates"]] == ["Investigating."]


async def test_an_update_goes_on_the_timeline_and_changes_nothing_else(api):
    opened = await incident(api)
    posted = await run(
        api, "post_notice_update", {"subdomain": AT, "notice_id": opened["id"], "message": "Fix deployed.", "notify": True}
    )
    assert api.sent[-1] == ("notices_post_update", {"message": "Fix deployed.", "notify": True})
    assert [(u["message"], u["notified"]) for u in posted["updates"]] == [("Investigating.", False), ("Fix deployed.", True)]
    assert (posted["severity"], posted["state"]) == ("major", "open")


async def test_maintenance_in_the_future_changes_nothing_until_its_window(api):
    planned = await maintenance(api, **window(timedelta(days=2)))
    assert (planned["notice_type"], planned["state"], planned["severity"]) == ("maintenance", "scheduled", None)
    assert api.sent[-1][1]["notice_type"] == "maintenance"
    assert await statuses(api) == ("operational", {"api": "ok", "web-console": "ok"})
    running = await maintenance(api, **window(timedelta(minutes=-5)))
    assert running["state"] == "in_progress"
    assert (await statuses(api))[1]["web-console"] == "maintenance"
    closed = await run(api, "close_maintenance", {"subdomain": AT, "notice_id": running["id"], "message": "Done early.", "notify": False})
    assert closed["state"] == "completed"
    assert (await statuses(api))[1]["web-console"] == "ok"


@pytest.mark.parametrize(
    ("times", "complaint"),
    [
        ({"starts_at": "2030-03-03T04:00:00Z", "ends_at": "2030-03-03T02:00:00Z"}, "must be after starts_at"),
        ({"starts_at": "2030-03-03T02:00:00Z", "ends_at": "2030-03-03T02:00:00Z"}, "must be after starts_at"),
        ({"starts_at": "2030-03-03T04:00:00+02:00", "ends_at": "2030-03-03T03:00:00Z"}, None),
        ({"starts_at": "2030-03-03T02:00:00", "ends_at": "2030-03-03T04:00:00Z"}, "no UTC offset"),
        ({"starts_at": "next sunday", "ends_at": "2030-03-03T04:00:00Z"}, "not an ISO 8601 date-time"),
        ({"starts_at": "2020-03-03T02:00:00Z", "ends_at": "2020-03-03T04:00:00Z"}, r"ends_at \(2020-03-03T04:00:00Z\) is in the past"),
    ],
)
async def test_a_bad_window_is_refused_locally_with_the_reason(api, sandbox_admin, times, complaint):
    await sandbox_admin.clear_requests()
    if complaint is None:  # 04:00+02:00 is 02:00Z, an hour before the end: offsets are honoured
        assert (await maintenance(api, **times))["state"] == "scheduled"
        return
    with pytest.raises(ToolError, match=complaint) as refused:
        await maintenance(api, **times)
    # Only a read of the page, for the time it is there, which every refusal of a time states.
    assert [r["method"] for r in await sandbox_admin.requests()] == ["GET"], "no write reaches StatusPal"
    assert f"On page '{AT}' (time zone UTC) it is now " in str(refused.value)


async def test_a_time_without_an_offset_is_refused_with_the_pages_offset_on_that_date_spelled_out(api):
    await run(api, "update_status_page", {"subdomain": AT, "timezone": "Europe/Berlin"})
    for day, offset in (("2030-01-13", "+01:00"), ("2030-07-14", "+02:00")):  # winter and summer time
        with pytest.raises(ToolError) as refused:
            await maintenance(api, starts_at=f"{day}T02:00:00", ends_at=f"{day}T04:00:00Z")
        said = str(refused.value)
        assert "has no UTC offset" in said and "time zone Europe/Berlin" in said
        assert f"that zone is UTC{offset}: if {day}T02:00:00 is the page's local time, send starts_at {day}T02:00:00{offset}" in said
    now = datetime.now(ZoneInfo("Europe/Berlin"))
    assert f"it is now {now.date().isoformat()}T" in said and f", a {now.strftime('%A')}." in said


async def test_editing_a_window_checks_it_and_sends_only_what_changed(api):
    planned = await maintenance(api, **window(timedelta(days=2)))
    with pytest.raises(ToolError, match="must be after starts_at"):
        await run(api, "update_notice", {"subdomain": AT, "notice_id": planned["id"], "starts_at": "2030-01-02T00:00:00Z", "ends_at": "2030-01-01T00:00:00Z"})
    later = (datetime.fromisoformat(planned["ends_at"]) + timedelta(hours=1)).isoformat()
    moved = await run(api, "update_notice", {"subdomain": AT, "notice_id": planned["id"], "ends_at": later})
    assert api.sent[-1] == ("notices_update", {"ends_at": later})
    assert datetime.fromisoformat(moved["ends_at"]) == datetime.fromisoformat(later)
    assert moved["title"] == "Console upgrade"
    with pytest.raises(ToolError, match="title, severity, starts_at, ends_at, affected"):
        await run(api, "update_notice", {"subdomain": AT, "notice_id": planned["id"]})


async def test_the_wrong_ending_or_an_ended_notice_is_answered_with_what_is_true_not_with_bad_fields(api):
    # StatusPal refuses both with a 422 about a field; "fix the fields and call again" would invite a loop.
    opened = await incident(api)
    end = {"subdomain": AT, "notice_id": opened["id"], "notify": False}
    with pytest.raises(ToolError) as wrong:
        await run(api, "close_maintenance", end)
    assert str(wrong.value) == (
        f"Notice '{opened['id']}' is an incident notice, which close_maintenance does not end: call resolve_incident "
        "with the same notice_id, message and notify."
    )
    await run(api, "resolve_incident", end)
    with pytest.raises(ToolError) as again:
        await run(api, "resolve_incident", end)
    assert str(again.value).startswith(f"Notice '{opened['id']}' is already resolved: nothing to do")
    assert "Fix the fields" not in str(again.value)
    planned = await maintenance(api, **window(timedelta(days=2)))
    with pytest.raises(ToolError, match="is a maintenance notice, which resolve_incident does not end: call close_maintenance"):
        await run(api, "resolve_incident", {"subdomain": AT, "notice_id": planned["id"], "notify": False})


async def test_notices_are_listed_newest_first_and_filtered(api):
    first = await incident(api)
    planned = await maintenance(api, **window(timedelta(days=2)))
    second = await incident(api, severity="minor")
    await run(api, "resolve_incident", {"subdomain": AT, "notice_id": first["id"], "notify": False})
    everything = await run(api, "list_notices", {"subdomain": AT})
    assert [n["id"] for n in everything["items"]] == [second["id"], planned["id"], first["id"]]
    open_incidents = await run(api, "list_notices", {"subdomain": AT, "notice_type": "incident", "state": "open"})
    assert [n["id"] for n in open_incidents["items"]] == [second["id"]]
    walked = await run(api, "list_notices", {"subdomain": AT, "notice_type": "maintenance", "all": True, "per_page": 1})
    assert [n["id"] for n in walked["items"]] == [planned["id"]], "filters apply to every page of an all: true walk"


async def test_deleting_a_notice_lifts_its_status_and_erases_it(api):
    opened = await incident(api)
    assert await run(api, "delete_notice", {"subdomain": AT, "notice_id": opened["id"]}) == {
        "deleted": True, "subdomain": AT, "notice_id": opened["id"]
    }
    assert await statuses(api) == ("operational", {"api": "ok", "web-console": "ok"})
    with pytest.raises(UpstreamError) as gone:
        await run(api, "get_notice", {"subdomain": AT, "notice_id": opened["id"]})
    assert gone.value.status == 404


async def test_an_info_notice_is_published_changes_no_status_and_closes(api):
    info = await run(
        api,
        "create_info_notice",
        {"subdomain": AT, "title": "New EU region", "message": "The EU region is live.", "affected": [{"service_slug": "api"}], "notify": False},
    )
    assert (info["notice_type"], info["state"], info["severity"]) == ("info", "open", None)
    assert api.sent[-1][1]["notice_type"] == "info"
    assert [(u["message"], u["notified"]) for u in info["updates"]] == [("The EU region is live.", False)]
    assert await statuses(api) == ("operational", {"api": "ok", "web-console": "ok"})
    listed = await run(api, "list_notices", {"subdomain": AT, "notice_type": "info"})
    assert [n["id"] for n in listed["items"]] == [info["id"]]
    closed = await run(api, "close_maintenance", {"subdomain": AT, "notice_id": info["id"], "notify": False})
    assert closed["state"] == "closed"


@pytest.mark.parametrize(
    "affected",
    [[{"service_slug": "payments"}], [{"service_slug": "api", "container_slugs": ["asia"]}]],
    ids=["unknown-service", "unknown-region"],
)
async def test_a_refused_slug_is_answered_with_the_valid_slugs(api, affected):
    with pytest.raises(ToolError) as refused:
        await incident(api, affected=affected)
    assert str(refused.value).endswith(
        "Valid on status page 'acme': service slugs api, web-console; region slugs default, eu. "
        "To add one: create_service, create_container."
    )
    updated = await incident(api)
    with pytest.raises(ToolError, match="service slugs api, web-console"):
        await run(api, "update_notice", {"subdomain": AT, "notice_id": updated["id"], "affected": affected})
