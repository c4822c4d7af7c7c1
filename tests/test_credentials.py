"""From the Authorization header to an API key: direct keys checked once and cached, sealed tokens, refusals."""

from __future__ import annotations

import asyncio

import aiohttp
import pytest

from gateway.auth.identity import AuthError, Credentials, key_id
from gateway.auth.scopes import READ, WRITE
from gateway.web.services import GATEWAY
from tests.clock import Clock
from tests.mcp_wire import DEMO_KEY, post, request
from tests.tokens import mint_access_token

TOOLS_LIST = request("tools/list")


@pytest.fixture
async def http():
    async with aiohttp.ClientSession() as session:
        yield session


async def key_checks(sandbox_admin) -> int:
    """How many key checks reached StatusPal (the check is a one-item page of status pages)."""
    return sum(
        1 for r in await sandbox_admin.requests()
        if r["endpoint"] == "status_pages_list" and r["query"] == {"per_page": "1"}
    )


async def test_a_direct_key_is_checked_once_then_served_from_the_cache(make_gateway, sandbox_admin, http):
    server = await make_gateway()
    await sandbox_admin.clear_requests()
    for _ in range(3):
        assert (await post(http, server.mcp_url, TOOLS_LIST)).status == 200
    assert await key_checks(sandbox_admin) == 1


async def test_the_cached_check_expires(make_gateway, sandbox_admin, http):
    server = await make_gateway(statuspal={"key_cache_seconds": 60})
    clock = server.app[GATEWAY].credentials.clock = Clock()
    await sandbox_admin.clear_requests()
    assert (await post(http, server.mcp_url, TOOLS_LIST)).status == 200
    clock.advance(59)
    assert (await post(http, server.mcp_url, TOOLS_LIST)).status == 200
    assert await key_checks(sandbox_admin) == 1
    clock.advance(2)
    assert (await post(http, server.mcp_url, TOOLS_LIST)).status == 200
    assert await key_checks(sandbox_admin) == 2


async def test_a_rejected_key_is_remembered_briefly(make_gateway, sandbox_admin, http):
    """A rejection is cached for a short while (a client retrying a bad key in a loop costs StatusPal one call);
    once that passes, a key created a moment after the failed attempt works."""
    server = await make_gateway(limits={"rejected_key_cache_seconds": 30})
    clock = server.app[GATEWAY].credentials.clock = Clock()
    await sandbox_admin.clear_requests()
    for _ in range(3):
        answer = await post(http, server.mcp_url, TOOLS_LIST, key="sk_test_not_yet_created")
        assert answer.status == 401
        assert answer.json["error_description"] == "StatusPal rejected this API key (it is unknown or was revoked)."
    assert await key_checks(sandbox_admin) == 1
    await sandbox_admin.add_key("sk_test_not_yet_created")
    clock.advance(31)
    assert (await post(http, server.mcp_url, TOOLS_LIST, key="sk_test_not_yet_created")).status == 200
    assert await key_checks(sandbox_admin) == 2


async def test_concurrent_first_requests_share_one_check(make_gateway, sandbox_admin, http):
    server = await make_gateway()
    await sandbox_admin.faults(latency_ms=200)
    await sandbox_admin.clear_requests()
    answers = await asyncio.gather(*(post(http, server.mcp_url, TOOLS_LIST) for _ in range(8)))
    assert [a.status for a in answers] == [200] * 8
    assert await key_checks(sandbox_admin) == 1


@pytest.mark.parametrize(
    "faults",
    [{"error_rate": 1.0, "error_status": 503}, {"drop_rate": 1.0}, {"rate_limit_rate": 1.0, "retry_after_seconds": 0}],
    ids=["statuspal-5xx", "connection-dropped", "rate-limited"],
)
async def test_statuspal_unreachable_during_the_key_check_is_503_not_401(make_gateway, sandbox_admin, http, faults):
    server = await make_gateway(statuspal={"max_retries": 1})
    await sandbox_admin.faults(**faults)
    answer = await post(http, server.mcp_url, TOOLS_LIST)
    assert answer.status == 503
    assert answer.json == {
        "error": "temporarily_unavailable",
        "error_description": "StatusPal could not be reached to check the API key; try again in a moment.",
    }
    assert answer.headers["Retry-After"] == "5"
    assert "WWW-Authenticate" not in answer.headers  # nothing is wrong with the credentials
    # Once StatusPal is back, the same key works: the failure was not remembered as a verdict.
    await sandbox_admin.faults()
    assert (await post(http, server.mcp_url, TOOLS_LIST)).status == 200


async def test_malformed_and_foreign_tokens_never_reach_statuspal(make_gateway, sandbox_admin, http):
    server = await make_gateway()
    await sandbox_admin.clear_requests()
    for key in ("sk_", "sk_" + "a" * 300, "sk_bad/key", "ghp_github_token", "eyJhbGciOiJIUzI1NiJ9.e30.sig"):
        assert (await post(http, server.mcp_url, TOOLS_LIST, key=key)).status == 401
    assert await sandbox_admin.requests() == []


def sealed(server, scope: str) -> str:
    """An access token as /token would issue it to this gateway, for the demo key and `scope`."""
    return mint_access_token(server.settings, DEMO_KEY, scope, keyring=server.app[GATEWAY].keyring)


async def test_a_sealed_token_carries_the_key_and_its_scopes(gateway, http):
    token = sealed(gateway, f"{READ} {WRITE}")
    listed = await post(http, gateway.mcp_url, TOOLS_LIST, key=token)
    assert listed.status == 200
    names = {t["name"] for t in listed.result["tools"]}
    assert {"list_status_pages", "delete_status_page"} <= names
    created = await post(http, gateway.mcp_url, request("tools/call", {"name": "create_status_page", "arguments": {
        "name": "Sealed", "subdomain": "sealed-page", "timezone": "UTC", "website_url": "https://example.com"}}), key=token)
    assert created.result["isError"] is False


async def test_a_sealed_key_no_api_key_can_look_like_is_a_401_not_a_500(gateway, http):
    """The key inside a sealed token is whatever was sealed; one the upstream client refuses on sight (here with a
    space) must end like a key StatusPal rejects: 401 with the challenge, not an unhandled exception."""
    token = mint_access_token(gateway.settings, "sk_not a key", f"{READ} {WRITE}", keyring=gateway.app[GATEWAY].keyring)
    answer = await post(http, gateway.mcp_url, request("tools/call", {"name": "list_status_pages", "arguments": {}}), key=token)
    assert answer.status == 401, answer.text
    assert answer.json["error"] == "invalid_token"
    assert answer.headers["WWW-Authenticate"].startswith('Bearer error="invalid_token", scope="statuspal:read statuspal:write", resource_metadata=')
    assert "not a key" not in answer.text


async def test_a_token_sealed_for_another_deployment_is_refused(make_gateway, sandbox_admin, http):
    """Same keys, other public URL (staging vs production): the audience check refuses it."""
    ours = await make_gateway()
    other = await make_gateway()
    token = mint_access_token(other.settings, DEMO_KEY, READ, keyring=ours.app[GATEWAY].keyring)
    answer = await post(http, ours.mcp_url, TOOLS_LIST, key=token)
    assert answer.status == 401
    assert answer.json["error"] == "invalid_token"
    assert answer.headers["WWW-Authenticate"].startswith('Bearer error="invalid_token", scope="statuspal:read statuspal:write", resource_metadata=')


async def test_missing_credentials_get_the_discovery_challenge_without_an_error_code(gateway, http):
    """RFC 6750 §3.1: a request with no credentials gets no error code, only where to find out how to sign in and
    which scopes to ask for (every tool scope; never offline_access, which a challenge should not carry)."""
    answer = await post(http, gateway.mcp_url, TOOLS_LIST, key=None)
    assert answer.status == 401
    assert answer.headers["WWW-Authenticate"] == (
        f'Bearer scope="{READ} {WRITE}", resource_metadata="{gateway.settings.server.resource_metadata_url}"'
    )


def test_credentials_never_show_the_key():
    credentials = Credentials(api_key="sk_live_secret_value", scopes=frozenset({READ}), kind="direct", key_id=key_id("sk_live_secret_value"))
    assert "sk_live_secret_value" not in repr(credentials)
    assert credentials.key_id == key_id("sk_live_secret_value") and len(credentials.key_id) == 16
    assert "sk_live" not in str(AuthError(401, "invalid_token", "The API key is malformed."))
