"""The upstream client against the real sandbox (and a small probe server for header-level checks):
envelopes, error texts, retries and Retry-After, POSTs never repeated, timeouts, per-key throttling,
paging with progress, and the key never leaking."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import pytest
from aiohttp import web

from gateway.statuspal.client import MAX_PAUSE_SECONDS, StatusPalClient
from gateway.statuspal.endpoints import EndpointTable
from gateway.statuspal.errors import UpstreamAuthError, UpstreamError, UpstreamUnavailable, describe
from gateway.statuspal.settings import StatusPalSettings
from tests.conftest import DEMO_KEY, bound_socket, serve_app

PAGE = {"name": "Acme", "subdomain": "acme", "timezone": "UTC", "website_url": "https://acme.example"}


def settings_for(url: str, **overrides: Any) -> StatusPalSettings:
    base = StatusPalSettings(base_url=f"{url}/api/v1", retry_backoff_seconds=0.01, max_retries=2)
    return replace(base, **overrides)


@asynccontextmanager
async def started(settings: StatusPalSettings) -> AsyncIterator[tuple[StatusPalClient, list[tuple[str, int]]]]:
    calls: list[tuple[str, int]] = []
    client = StatusPalClient(settings, EndpointTable(), on_call=lambda name, status: calls.append((name, status)))
    await client.start()
    try:
        yield client, calls
    finally:
        await client.close()


async def api_requests(admin, method: str | None = None) -> list[dict[str, Any]]:
    return [r for r in await admin.requests() if method is None or r["method"] == method]


async def test_envelopes_204_and_programming_errors(sandbox_admin) -> None:
    async with started(settings_for(sandbox_admin.url)) as (client, _):
        api = client.for_key(DEMO_KEY)
        created = await api.call("status_pages_create", body=PAGE)
        assert created.status == 201 and created.data["subdomain"] == "acme" and created.meta is None
        listed = await api.call("status_pages_list", query={"per_page": 1})
        assert [p["subdomain"] for p in listed.data] == ["acme"]
        assert listed.meta == {"current_page": 1, "per_page": 1, "total_count": 1, "total_pages": 1}
        deleted = await api.call("status_pages_delete", {"subdomain": "acme"})
        assert (deleted.status, deleted.data) == (204, None)
        await api.check_key()

        with pytest.raises(ValueError, match="does not take the body field"):
            await api.call("status_pages_create", body={**PAGE, "colour": "red"})
        with pytest.raises(ValueError, match="needs the path parameter subdomain"):
            await api.call("services_list")
        for bad in ("", "sk_with space", "sk_line\r\nX-Evil: 1", "sk_ünï"):
            with pytest.raises(UpstreamAuthError) as rejected:
                client.for_key(bad)
            assert rejected.value.status == 401 and (not bad or bad not in repr(rejected.value))


async def test_errors_become_specific_texts_for_the_model(sandbox_admin) -> None:
    async with started(settings_for(sandbox_admin.url)) as (client, _):
        api = client.for_key(DEMO_KEY)
        await api.call("status_pages_create", body=PAGE)
        with pytest.raises(UpstreamError) as taken:
            await api.call("status_pages_create", body=PAGE)
        assert (taken.value.status, taken.value.code) == (422, "unprocessable_entity")
        assert taken.value.details == {"subdomain": ["has already been taken"]}
        assert describe(taken.value) == (
            "StatusPal rejected the request (422 unprocessable_entity): Validation failed. "
            "subdomain: has already been taken. Fix the fields above and call the tool again."
        )

        with pytest.raises(UpstreamError) as missing:
            await api.call("services_get", {"subdomain": "acme", "slug": "api"})
        text = describe(missing.value)
        assert missing.value.status == 404
        assert "no service 'api' on status page 'acme'" in text and "list_services" in text
        with pytest.raises(UpstreamError) as no_page:
            await api.call("notices_list", {"subdomain": "ghost"})
        assert "no status page with subdomain 'ghost'" in describe(no_page.value)
        assert "list_status_pages" in describe(no_page.value)

        with pytest.raises(UpstreamAuthError) as denied:
            await client.for_key("sk_not_a_key").check_key()
        assert denied.value.status == 401 and "invalid or revoked" in describe(denied.value)


async def test_get_is_retried_on_503_then_reported_as_temporary(sandbox_admin) -> None:
    await sandbox_admin.faults(error_rate=1.0, error_status=503, only=["status_pages_list"])
    await sandbox_admin.clear_requests()
    async with started(settings_for(sandbox_admin.url, max_retries=2)) as (client, calls):
        with pytest.raises(UpstreamUnavailable) as exc:
            await client.for_key(DEMO_KEY).call("status_pages_list")
    assert exc.value.status == 503 and not exc.value.outcome_unknown
    assert len(await api_requests(sandbox_admin, "GET")) == 3  # the first try and two retries
    assert calls == [("status_pages_list", 503)] * 3
    assert "temporarily unavailable" in describe(exc.value) and "try again" in describe(exc.value)


async def test_retry_after_is_honoured_before_the_retry(sandbox_admin) -> None:
    await sandbox_admin.faults(rate_limit_rate=1.0, retry_after_seconds=1, only=["status_pages_list"])
    await sandbox_admin.clear_requests()
    async with started(settings_for(sandbox_admin.url)) as (client, _):
        call = asyncio.create_task(client.for_key(DEMO_KEY).call("status_pages_list"))
        while not await api_requests(sandbox_admin):
            await asyncio.sleep(0.02)
        await sandbox_admin.faults()  # the limit lifts while the client waits out Retry-After
        result = await call
    assert result.status == 200
    first, second = await api_requests(sandbox_admin)
    assert (first["status"], second["status"]) == (429, 200)
    assert second["time"] - first["time"] >= 0.9  # waited for Retry-After, not the 10 ms backoff


async def test_retry_after_beyond_the_bound_gives_up_at_once(sandbox_admin) -> None:
    await sandbox_admin.faults(rate_limit_rate=1.0, retry_after_seconds=30)
    await sandbox_admin.clear_requests()
    async with started(settings_for(sandbox_admin.url, retry_after_max_seconds=5)) as (client, _):
        with pytest.raises(UpstreamUnavailable) as exc:
            await client.for_key(DEMO_KEY).call("webhooks_list")
    assert (exc.value.status, exc.value.retry_after) == (429, 30.0)
    assert len(await api_requests(sandbox_admin)) == 1
    assert describe(exc.value) == "StatusPal is rate limiting requests (429). This is temporary: try again in 30 seconds."


async def test_a_key_statuspal_paused_is_not_sent_again_until_the_pause_is_over(sandbox_admin) -> None:
    """After a 429 naming a long wait, the key's next calls are answered with the time left, unsent (another
    try would keep StatusPal's limit tripped); another key is not held up."""
    other_key = "sk_sandbox_other_paused"
    await sandbox_admin.add_key(other_key)
    await sandbox_admin.faults(rate_limit_rate=1.0, retry_after_seconds=30, only=["webhooks_list"])
    await sandbox_admin.clear_requests()
    async with started(settings_for(sandbox_admin.url, retry_after_max_seconds=5)) as (client, calls):
        with pytest.raises(UpstreamUnavailable):
            await client.for_key(DEMO_KEY).call("webhooks_list")
        await sandbox_admin.faults()  # StatusPal would answer now, but the key was asked to wait 30 s
        for name in ("webhooks_list", "status_pages_list"):
            with pytest.raises(UpstreamUnavailable) as held:
                await client.for_key(DEMO_KEY).call(name)
            assert (held.value.status, held.value.code, held.value.outcome_unknown) == (429, "rate_limited", False)
            assert 25 < (held.value.retry_after or 0) <= 30
            assert describe(held.value) == "StatusPal is rate limiting requests (429). This is temporary: try again in 30 seconds."
        assert (await client.for_key(other_key).call("status_pages_list")).status == 200
    assert calls == [("webhooks_list", 429), ("status_pages_list", 200)]


async def test_calls_queued_for_the_rate_limit_are_not_sent_into_a_pause(sandbox_admin) -> None:
    """Calls already waiting for the key's token when the first one meets a 429 are refused unsent too."""
    await sandbox_admin.faults(rate_limit_rate=1.0, retry_after_seconds=30, only=["webhooks_list"])
    await sandbox_admin.clear_requests()
    settings = settings_for(sandbox_admin.url, rate_per_second=5.0, rate_burst=1, retry_after_max_seconds=5)
    async with started(settings) as (client, calls):
        api = client.for_key(DEMO_KEY)
        outcomes = await asyncio.gather(*(api.call("webhooks_list") for _ in range(4)), return_exceptions=True)
    assert calls == [("webhooks_list", 429)], "only the first call reached StatusPal"
    for refused in outcomes:
        assert isinstance(refused, UpstreamUnavailable), refused
        assert refused.status == 429 and 25 < (refused.retry_after or 0) <= 30


async def test_a_pause_is_capped_so_one_answer_cannot_hold_a_key_for_days(sandbox_admin) -> None:
    await sandbox_admin.faults(rate_limit_rate=1.0, retry_after_seconds=3 * 86400, only=["webhooks_list"])
    await sandbox_admin.clear_requests()
    async with started(settings_for(sandbox_admin.url, retry_after_max_seconds=5)) as (client, calls):
        with pytest.raises(UpstreamUnavailable) as first:
            await client.for_key(DEMO_KEY).call("webhooks_list")
        with pytest.raises(UpstreamUnavailable) as held:
            await client.for_key(DEMO_KEY).call("webhooks_list")
    assert first.value.retry_after == 3 * 86400  # what StatusPal said is what the first answer reports
    assert 295 < (held.value.retry_after or 0) <= MAX_PAUSE_SECONDS
    assert calls == [("webhooks_list", 429)]


@pytest.mark.parametrize("faults", [{"error_rate": 1.0, "error_status": 502}, {"drop_rate": 1.0}])
async def test_a_post_is_never_sent_twice(sandbox_admin, faults: dict[str, Any]) -> None:
    async with started(settings_for(sandbox_admin.url, max_retries=3)) as (client, calls):
        api = client.for_key(DEMO_KEY)
        await api.call("status_pages_create", body=PAGE)
        await sandbox_admin.faults(**faults, only=["POST /status_pages/acme/notices"])
        await sandbox_admin.clear_requests()
        body = {"title": "Down", "notice_type": "incident", "severity": "major", "message": "x", "notify": True}
        with pytest.raises(UpstreamUnavailable) as exc:
            await api.call("notices_create", {"subdomain": "acme"}, body=body)
    assert len(await api_requests(sandbox_admin, "POST")) == 1
    assert calls[-1] == ("notices_create", faults.get("error_status", 0))
    assert exc.value.outcome_unknown
    text = describe(exc.value)
    assert "unknown whether it took effect" in text and "Do not repeat it blindly" in text
    assert "list_notices with subdomain 'acme'" in text


async def test_a_rate_limited_post_is_not_repeated_but_is_safe_to_retry_later(sandbox_admin) -> None:
    await sandbox_admin.faults(rate_limit_rate=1.0, retry_after_seconds=2, only=["POST /status_pages"])
    await sandbox_admin.clear_requests()
    async with started(settings_for(sandbox_admin.url)) as (client, _):
        with pytest.raises(UpstreamUnavailable) as exc:
            await client.for_key(DEMO_KEY).call("status_pages_create", body=PAGE)
    assert len(await api_requests(sandbox_admin, "POST")) == 1
    assert not exc.value.outcome_unknown and exc.value.retry_after == 2.0
    assert "try again in 2 seconds" in describe(exc.value)


async def test_patch_is_retried_after_dropped_connections(sandbox_admin) -> None:
    async with started(settings_for(sandbox_admin.url, max_retries=2)) as (client, calls):
        api = client.for_key(DEMO_KEY)
        await api.call("status_pages_create", body=PAGE)
        await sandbox_admin.faults(drop_rate=1.0, only=["PATCH /status_pages"])
        await sandbox_admin.clear_requests()
        with pytest.raises(UpstreamUnavailable) as exc:
            await api.call("status_pages_update", {"subdomain": "acme"}, body={"name": "New"})
    assert len(await api_requests(sandbox_admin, "PATCH")) == 3
    assert (exc.value.status, exc.value.code, exc.value.outcome_unknown) == (0, "connection_error", False)
    assert calls[-3:] == [("status_pages_update", 0)] * 3


@pytest.mark.parametrize("name,params", [("status_pages_get", {"subdomain": "acme"}), ("status_pages_delete", {"subdomain": "acme"})])
async def test_dropped_connections_cost_exactly_max_retries_plus_one_sends(sandbox_admin, name: str, params: dict[str, str]) -> None:
    """aiohttp would silently resend a GET or DELETE once on a dropped connection; our retry loop is the only one,
    so max_retries=1 means two requests upstream, not four."""
    async with started(settings_for(sandbox_admin.url, max_retries=1)) as (client, calls):
        api = client.for_key(DEMO_KEY)
        await api.call("status_pages_create", body=PAGE)  # warms the pool: the drop hits a reused connection
        await sandbox_admin.faults(drop_rate=1.0, only=[name])
        await sandbox_admin.clear_requests()
        with pytest.raises(UpstreamUnavailable) as exc:
            await api.call(name, params)
    assert len(await api_requests(sandbox_admin)) == 2
    assert exc.value.code == "connection_error" and calls[-2:] == [(name, 0)] * 2


async def test_timeouts_are_reported_as_unavailable(sandbox_admin) -> None:
    await sandbox_admin.faults(latency_ms=800)
    await sandbox_admin.clear_requests()
    async with started(settings_for(sandbox_admin.url, total_timeout_seconds=0.2)) as (client, _):
        api = client.for_key(DEMO_KEY)
        with pytest.raises(UpstreamUnavailable) as read:
            await api.call("status_pages_list")
        with pytest.raises(UpstreamUnavailable) as write:
            await api.call("status_pages_create", body=PAGE)
    assert (read.value.status, read.value.code, read.value.outcome_unknown) == (0, "timeout", False)
    assert "could not be reached (timeout: no answer within 0.2 s)" in describe(read.value)
    assert write.value.outcome_unknown  # the POST may still be applied after we stopped waiting
    assert len(await api_requests(sandbox_admin)) == 2  # the time budget was spent: no retries


async def test_refused_connections_are_retried_for_every_method() -> None:
    sock = bound_socket()
    port = sock.getsockname()[1]
    sock.close()  # nothing listens here now
    async with started(settings_for(f"http://127.0.0.1:{port}", max_retries=2)) as (client, calls):
        api = client.for_key(DEMO_KEY)
        for name, body in (("status_pages_list", None), ("status_pages_create", PAGE)):
            with pytest.raises(UpstreamUnavailable) as exc:
                await api.call(name, body=body)
            # Never connected means never sent: even the POST may be tried again.
            assert (exc.value.code, exc.value.outcome_unknown) == ("connection_error", False)
            assert calls.count((name, 0)) == 3


async def test_token_bucket_spaces_one_key_without_slowing_another(sandbox_admin) -> None:
    await sandbox_admin.add_key("sk_second_org")
    await sandbox_admin.clear_requests()
    async with started(settings_for(sandbox_admin.url, rate_per_second=20.0, rate_burst=2)) as (client, _):
        first, second = client.for_key(DEMO_KEY), client.for_key("sk_second_org")
        await asyncio.gather(
            *(first.call("status_pages_list") for _ in range(6)),
            *(second.call("webhooks_list") for _ in range(2)),
        )
    log = await api_requests(sandbox_admin)
    busy = [r["time"] for r in log if r["endpoint"] == "status_pages_list"]
    other = [r["time"] for r in log if r["endpoint"] == "webhooks_list"]
    assert (len(busy), len(other)) == (6, 2)
    # Six requests with a burst of two at 20/s need at least four refills (0.2 s) between first and last.
    assert busy[-1] - busy[0] >= 0.15
    # The other key has its own bucket: its burst is not queued behind the busy key.
    assert max(other) < busy[-1]


async def test_the_time_budget_includes_waiting_for_the_rate_limit(sandbox_admin) -> None:
    """A call that could not even start within total_timeout_seconds is refused at once, unsent, with a 429 that
    says when to retry, instead of queueing behind the key's bucket past the budget."""
    await sandbox_admin.clear_requests()
    settings = settings_for(sandbox_admin.url, rate_per_second=1.0, rate_burst=1, total_timeout_seconds=0.5)
    async with started(settings) as (client, calls):
        api = client.for_key(DEMO_KEY)
        outcomes = await asyncio.gather(*(api.call("status_pages_list") for _ in range(3)), return_exceptions=True)
    assert outcomes[0].status == 200
    for refused in outcomes[1:]:
        assert isinstance(refused, UpstreamUnavailable), refused
        assert (refused.status, refused.code, refused.outcome_unknown) == (429, "rate_limited", False)
        assert refused.retry_after is not None and 0 < refused.retry_after <= 2
        assert describe(refused).startswith("StatusPal is rate limiting requests (429). This is temporary: try again in ")
    assert len(await api_requests(sandbox_admin)) == 1 and calls == [("status_pages_list", 200)]


async def test_list_all_follows_pages_reports_progress_and_truncates(sandbox_admin) -> None:
    async with started(settings_for(sandbox_admin.url, max_pages=3)) as (client, _):
        api = client.for_key(DEMO_KEY)
        await api.call("status_pages_create", body=PAGE)
        for n in range(7):
            await api.call("services_create", {"subdomain": "acme"}, body={"name": f"S{n}"})
        await sandbox_admin.clear_requests()

        seen: list[tuple[float, float | None]] = []

        async def progress(done: float, total: float | None, message: str | None) -> None:
            seen.append((done, total))

        whole = await api.list_all("services_list", {"subdomain": "acme"}, per_page=2, progress=progress, max_pages=10)
        assert [s["name"] for s in whole.data] == [f"S{n}" for n in range(6)]
        assert whole.meta == {"total_count": 7, "total_pages": 4, "per_page": 2, "pages_fetched": 3, "truncated": True}
        assert seen == [(1, 3), (2, 3), (3, 3)]  # settings.max_pages bounds the caller's larger request
        assert [r["query"] for r in await api_requests(sandbox_admin)] == [
            {"page": str(p), "per_page": "2"} for p in (1, 2, 3)
        ]

        part = await api.list_all("services_list", {"subdomain": "acme"}, per_page=2, max_pages=2)
        assert len(part.data) == 4 and part.meta["truncated"] is True
        full = await api.list_all("services_list", {"subdomain": "acme"}, per_page=3)
        assert len(full.data) == 7 and full.meta["truncated"] is False and full.meta["pages_fetched"] == 3


async def test_list_all_starts_no_page_after_the_time_budget_and_keeps_what_it_fetched(sandbox_admin) -> None:
    """Pages answer in 0.3 s and the budget is 1 s: at most four pages start (at about 0, 0.3, 0.6 and 0.9 s),
    each with 0.7 s to spare against its own timeout."""
    async with started(settings_for(sandbox_admin.url, total_timeout_seconds=1.0, max_pages=10)) as (client, _):
        api = client.for_key(DEMO_KEY)
        await api.call("status_pages_create", body=PAGE)
        for n in range(7):
            await api.call("services_create", {"subdomain": "acme"}, body={"name": f"S{n}"})
        await sandbox_admin.faults(latency_ms=300)
        walked = await api.list_all("services_list", {"subdomain": "acme"}, per_page=1)
        assert walked.meta["truncated"] is True and 1 <= walked.meta["pages_fetched"] <= 4
        assert [s["name"] for s in walked.data] == [f"S{n}" for n in range(walked.meta["pages_fetched"])]
        assert walked.meta["total_count"] == 7


# ---------------------------------------------------------------- header-level checks on a probe upstream

CANARY = "sk_canary_7f3a9c1e5b"


@pytest.fixture
async def probe() -> AsyncIterator[tuple[str, list[dict[str, Any]], list[str]]]:
    """A fake upstream that records what it receives, redirects one route elsewhere and echoes the key
    in an HTML error page, as a badly behaved proxy might."""
    seen: list[dict[str, Any]] = []
    stolen: list[str] = []

    async def record(request: web.Request) -> web.Response:
        seen.append({"method": request.method, "headers": dict(request.headers), "body": await request.text()})
        status = 201 if request.method == "POST" else 200
        return web.json_response({"data": {"ok": True}}, status=status)

    async def leak(request: web.Request) -> web.Response:
        auth = request.headers.get("Authorization", "")
        return web.Response(status=500, text=f"<html><h1>Oops</h1>\n\tdebug: {auth}</html>", content_type="text/html")

    async def thief(request: web.Request) -> web.Response:
        stolen.append(request.headers.get("Authorization", ""))
        return web.json_response({"data": {}})

    async def busy(request: web.Request) -> web.Response:
        later = datetime.now(UTC) + timedelta(seconds=20)
        return web.json_response({"error": "busy"}, status=503, headers={"Retry-After": format_datetime(later, usegmt=True)})

    other = web.Application()
    other.router.add_get("/steal", thief)
    other_sock = bound_socket()
    async with serve_app(other, other_sock) as other_url:

        async def redirect(request: web.Request) -> web.Response:
            raise web.HTTPFound(f"{other_url}/steal")

        app = web.Application()
        app.router.add_get("/api/v1/status_pages", record)
        app.router.add_post("/api/v1/status_pages", record)
        app.router.add_get("/api/v1/status_pages/{subdomain}", redirect)
        app.router.add_delete("/api/v1/status_pages/{subdomain}", leak)
        app.router.add_get("/api/v1/outgoing_webhooks", busy)
        async with serve_app(app, bound_socket()) as url:
            yield url, seen, stolen


async def test_headers_redirects_and_echoed_keys(probe) -> None:
    url, seen, stolen = probe
    async with started(settings_for(url, max_retries=1, retry_after_max_seconds=5)) as (client, _):
        api = client.for_key(CANARY)
        await api.call("status_pages_list")
        await api.call("status_pages_create", body={"name": "X"})
        get, post = seen
        assert get["headers"]["Accept"] == "application/json"
        assert get["headers"]["Authorization"] == f"Bearer {CANARY}"
        assert "Content-Type" not in get["headers"] and get["body"] == ""
        assert post["headers"]["Content-Type"] == "application/json" and post["body"] == '{"name":"X"}'

        with pytest.raises(UpstreamError) as redirected:
            await api.call("status_pages_get", {"subdomain": "acme"})
        assert (redirected.value.status, redirected.value.code) == (302, "unexpected_redirect")
        assert stolen == []  # the key never went to the other host

        with pytest.raises(UpstreamUnavailable) as dated:  # Retry-After as an HTTP date, beyond the bound
            await api.call("webhooks_list")
        assert dated.value.status == 503 and 15 <= (dated.value.retry_after or 0) <= 20

        with pytest.raises(UpstreamUnavailable) as leaked:
            await api.call("status_pages_delete", {"subdomain": "acme"})
    err = leaked.value
    assert err.code == "internal_server_error" and err.message == "Oops debug: Bearer [redacted]"
    for text in (str(err), repr(err), describe(err), repr(api), repr(redirected.value), describe(redirected.value)):
        assert CANARY not in text


async def test_an_unknown_key_never_appears_in_errors(sandbox_admin) -> None:
    async with started(settings_for(sandbox_admin.url)) as (client, _):
        api = client.for_key(CANARY)
        with pytest.raises(UpstreamAuthError) as exc:
            await api.call("status_pages_get", {"subdomain": "acme"})
    err = exc.value
    assert err.status == 401
    for text in (str(err), repr(err), describe(err), repr(err.args), repr(api)):
        assert CANARY not in text
